// The gateway dashboard: plain ES module, no build step. Everything it shows comes from /api/*.
// uPlot (served by the gateway, no internet needed) draws the charts.

const state = {
  range: sessionStorage.getItem('range') ?? '1h',
  tab: 'overview',
  offset: 0,
  limit: 25,
  filters: {},
  selected: undefined,
  charts: [],
};

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
};

// ---------------------------------------------------------------- formatting
const fmt = {
  int: (n) => (n ?? 0).toLocaleString('en-US'),
  ms: (n) => (n === null || n === undefined ? '–' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 0)} ms`),
  pct: (n) => `${((n ?? 0) * 100).toFixed(1)}%`,
  usd: (n) => (n === null || n === undefined ? '–' : n < 0.01 && n > 0 ? `$${n.toFixed(5)}` : `$${n.toFixed(2)}`),
  time: (ms) => new Date(ms).toLocaleTimeString('en-GB'),
  datetime: (ms) => new Date(ms).toLocaleString('en-GB'),
};

// ---------------------------------------------------------------- API
// The session cookie (HttpOnly, SameSite=Strict) authenticates every call; when it expires the page
// reloads into the sign-in page.
async function api(path, init = {}) {
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.reload();
    throw new Error('session expired');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

function status(message) {
  const line = $('#status-line');
  line.hidden = !message;
  line.textContent = message ?? '';
}

// ---------------------------------------------------------------- overview
function card(label, value, testid, bad = false) {
  return el('div', { class: 'card', 'data-testid': testid }, el('div', { class: 'label' }, label), el('div', { class: `value${bad ? ' bad' : ''}` }, value));
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chart(container, title, times, lines) {
  const box = el('div', { class: 'chart' }, el('h3', {}, title));
  container.append(box);
  const width = Math.max(320, box.clientWidth - 24);
  const colors = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'].map(cssVar);
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--border'), width: 1 }, ticks: { stroke: cssVar('--border') } };
  const plot = new window.uPlot(
    {
      width,
      height: 190,
      // Points as well as lines: a lone busy minute between quiet ones is still visible.
      series: [{}, ...lines.map((line, i) => ({ label: line.label, stroke: colors[i % colors.length], width: 2, points: { show: true, size: 4 }, value: (_u, v) => (v === null ? '–' : line.format(v)) }))],
      axes: [{ ...axis }, { ...axis, size: 80, values: (_u, ticks) => ticks.map((v) => lines[0].format(v)) }],
      scales: { x: { time: true } },
      legend: { live: true },
    },
    [times.map((t) => t / 1000), ...lines.map((line) => line.values)],
    box,
  );
  state.charts.push(plot);
}

async function loadOverview() {
  const data = await api(`/api/overview?range=${state.range}`);
  const t = data.totals;
  $('#cards').replaceChildren(
    card('Requests', fmt.int(t.requests), 'total-requests'),
    card('Errors', fmt.int(t.errors), 'total-errors', t.errors > 0),
    card('Error rate', fmt.pct(t.errorRate), 'error-rate', t.errorRate > 0.05),
    card('Latency p50', fmt.ms(t.p50), 'p50'),
    card('Latency p95', fmt.ms(t.p95), 'p95'),
    card('Latency p99', fmt.ms(t.p99), 'p99'),
    card('TTFT p95', fmt.ms(t.ttftP95), 'ttft-p95'),
    card('Tokens', fmt.int(t.inputTokens + t.outputTokens), 'tokens'),
    card('Cost', fmt.usd(t.costUsd), 'cost'),
    card('Cache hits', fmt.pct(t.cacheHitRate), 'cache-hit-rate'),
  );
  for (const plot of state.charts) plot.destroy();
  state.charts = [];
  const charts = $('#charts');
  charts.replaceChildren();
  const s = data.series;
  const times = s.map((p) => p.t);
  const num = (v) => (v === null ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
  chart(charts, 'Requests / min', times, [{ label: 'requests/min', values: s.map((p) => p.requestsPerMin), format: num }]);
  chart(charts, 'Error rate', times, [{ label: 'errors', values: s.map((p) => p.errorRate), format: fmt.pct }]);
  chart(charts, 'Latency', times, [
    { label: 'p50', values: s.map((p) => p.p50), format: fmt.ms },
    { label: 'p95', values: s.map((p) => p.p95), format: fmt.ms },
    { label: 'p99', values: s.map((p) => p.p99), format: fmt.ms },
  ]);
  chart(charts, 'Time to first token (p95, streams)', times, [{ label: 'TTFT p95', values: s.map((p) => p.ttftP95), format: fmt.ms }]);
  chart(charts, 'Tokens', times, [{ label: 'tokens', values: s.map((p) => p.tokens), format: num }]);
  chart(charts, 'Cost (USD)', times, [{ label: 'cost', values: s.map((p) => p.costUsd), format: (v) => `$${v.toFixed(4)}` }]);
}

// ---------------------------------------------------------------- routes and targets
function breakdownTable(table, rows, keyLabel) {
  const head = el('thead', {}, el('tr', {}, [keyLabel, 'Share', 'Requests', 'Error rate', 'p95', 'TTFT p95', 'Tokens', 'Cost', 'Cache hits', 'Retries', 'Fallbacks'].map((h, i) => el('th', { class: i > 0 ? 'num' : undefined }, h))));
  const body = el(
    'tbody',
    {},
    rows.length === 0
      ? el('tr', {}, el('td', { colspan: 11, class: 'empty' }, 'No traffic in this range.'))
      : rows.map((r) =>
          el('tr', { 'data-key': r.key },
            el('td', {}, r.key || '(unrouted)'),
            el('td', { class: 'num' }, fmt.pct(r.share)),
            el('td', { class: 'num' }, fmt.int(r.requests)),
            el('td', { class: `num${r.errorRate > 0.05 ? ' status-5' : ''}` }, fmt.pct(r.errorRate)),
            el('td', { class: 'num' }, fmt.ms(r.p95)),
            el('td', { class: 'num' }, fmt.ms(r.ttftP95)),
            el('td', { class: 'num' }, fmt.int(r.inputTokens + r.outputTokens)),
            el('td', { class: 'num' }, fmt.usd(r.costUsd)),
            el('td', { class: 'num' }, fmt.pct(r.cacheHitRate)),
            el('td', { class: 'num' }, fmt.int(r.retries)),
            el('td', { class: 'num' }, fmt.int(r.fallbacks)),
          ),
        ),
  );
  table.replaceChildren(head, body);
}

async function loadRoutes() {
  const data = await api(`/api/breakdown?range=${state.range}`);
  breakdownTable($('#routes-table'), data.routes, 'Route');
  breakdownTable($('#targets-table'), data.targets, 'Target');
}

// ---------------------------------------------------------------- traces
async function loadTraces() {
  const params = new URLSearchParams({ range: state.range, limit: String(state.limit), offset: String(state.offset) });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  const data = await api(`/api/traces?${params}`);
  const head = el('thead', {}, el('tr', {}, ['Time', 'Route', 'Target', 'Status', 'Latency', 'TTFT', 'Tokens', 'Cost', 'Cache', 'Variant', 'Attempts', 'Guardrails'].map((h, i) => el('th', { class: i >= 4 && i <= 7 ? 'num' : undefined }, h))));
  const body = el(
    'tbody',
    {},
    data.rows.length === 0
      ? el('tr', {}, el('td', { colspan: 12, class: 'empty' }, 'No traces match.'))
      : data.rows.map((r) =>
          el('tr', { 'data-trace-id': r.trace_id, class: r.trace_id === state.selected ? 'selected' : undefined, onclick: () => openTrace(r.trace_id) },
            el('td', {}, fmt.time(r.ts_ms)),
            el('td', {}, r.route),
            el('td', {}, r.provider ? `${r.provider}/${r.model}` : '–'),
            el('td', { class: `status-${String(r.status)[0]}` }, r.error_code ? `${r.status} ${r.error_code}` : r.status),
            el('td', { class: 'num' }, fmt.ms(r.latency_ms)),
            el('td', { class: 'num' }, fmt.ms(r.ttft_ms)),
            el('td', { class: 'num' }, fmt.int(r.input_tokens + r.output_tokens)),
            el('td', { class: 'num' }, fmt.usd(r.cost_usd)),
            el('td', {}, r.cache),
            el('td', {}, r.variant || '–'),
            el('td', {}, r.attempts),
            el('td', {}, guardrailSummary(r) || '–'),
          ),
        ),
  );
  $('#traces-table').replaceChildren(head, body);
  const last = Math.min(state.offset + data.rows.length, data.total);
  $('#page-info').textContent = data.total ? `${state.offset + 1}–${last} of ${fmt.int(data.total)}` : '0 traces';
  $('#prev').disabled = state.offset === 0;
  $('#next').disabled = last >= data.total;
}

/** What the guardrails did besides pass (`pii redact · schema retry`). */
function guardrailSummary(t) {
  return (t.guardrail_verdicts ?? []).map((verdict, i) => (verdict === 'pass' ? '' : `${t.guardrail_names[i]} ${verdict}`)).filter(Boolean).join(' · ');
}

function definition(label, value) {
  return [el('dt', {}, label), el('dd', {}, value)];
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function openTrace(id) {
  state.selected = id;
  for (const row of document.querySelectorAll('#traces-table tbody tr')) row.classList.toggle('selected', row.dataset.traceId === id);
  const { trace: t, feedback } = await api(`/api/traces/${encodeURIComponent(id)}`);
  const gatewayMs = Math.max(0, t.latency_ms - t.upstream_ms);
  const bar = el('div', { class: 'timing-bar' }, el('span', { class: 'timing-gateway' }), el('span', { class: 'timing-upstream' }));
  const total = Math.max(t.latency_ms, 0.001);
  bar.children[0].style.width = `${(gatewayMs / total) * 100}%`;
  bar.children[1].style.width = `${(t.upstream_ms / total) * 100}%`;
  const metadata = t.metadata_keys.map((k, i) => `${k}=${t.metadata_values[i]}`).join(', ');
  const form = el('form', { class: 'feedback-form', 'data-testid': 'feedback-form' },
    el('label', { for: 'fb-score' }, 'Score'), el('input', { id: 'fb-score', name: 'score', type: 'number', step: '0.1', required: '', value: '1' }),
    el('label', { for: 'fb-label' }, 'Label'), el('input', { id: 'fb-label', name: 'label', placeholder: 'e.g. helpful' }),
    el('label', { for: 'fb-comment' }, 'Comment'), el('input', { id: 'fb-comment', name: 'comment' }),
    el('button', { type: 'submit' }, 'Add feedback'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    await api('/api/feedback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ trace_id: id, score: Number(data.get('score')), label: data.get('label') || undefined, comment: data.get('comment') || undefined }),
    });
    await openTrace(id);
  });
  const detail = $('#trace-detail');
  detail.hidden = false;
  detail.replaceChildren(
    el('h3', {}, t.trace_id),
    el('div', { class: 'muted' }, `${fmt.datetime(t.ts_ms)} · ${t.operation}${t.stream ? ' · stream' : ''}`),
    el('h2', {}, 'Timings'),
    bar,
    el('div', { class: 'muted' }, 'orange: in the gateway · blue: upstream'),
    el('dl', {},
      definition('Total', fmt.ms(t.latency_ms)),
      definition('In the gateway', fmt.ms(gatewayMs)),
      definition('Upstream', fmt.ms(t.upstream_ms)),
      definition('First token', fmt.ms(t.ttft_ms)),
      definition('Attempts', `${t.attempts} (${t.retries} retries, ${t.fallbacks} fallbacks)`),
    ),
    ...(t.replica
      ? [
          el('h2', {}, 'Replica'),
          el('dl', { 'data-testid': 'trace-replica' },
            definition('Replica', t.replica),
            definition('Chosen by', t.replica_reason),
            definition('Score', String(t.replica_score)),
            definition('Prefix already cached', `${fmt.int(t.prefix_match_chars)} characters`),
            definition('Queued', fmt.ms(t.queue_ms)),
          ),
        ]
      : []),
    el('h2', {}, 'Request'),
    el('dl', {},
      definition('Client request id', t.client_request_id || '–'),
      definition('Route', t.route),
      definition('Requested', t.requested_model),
      definition('Target', t.provider ? `${t.provider}/${t.model}` : '–'),
      definition('Status', t.error_code ? `${t.status} ${t.error_code}` : t.status),
      definition('Variant', t.variant || '–'),
      definition('Branch', t.branch || '–'),
      definition('Cache', t.cache),
      definition('Tokens', `${fmt.int(t.input_tokens)} in · ${fmt.int(t.output_tokens)} out${t.usage_estimated ? ' (estimated)' : ''}`),
      definition('Cost', fmt.usd(t.cost_usd)),
      definition('Key', t.key_id || '–'),
      definition('User', t.user || '–'),
      definition('Metadata', metadata || '–'),
    ),
    ...(t.guardrail_names.length > 0
      ? [
          el('h2', {}, 'Guardrails'),
          el('table', { class: 'guardrail-verdicts', 'data-testid': 'trace-guardrails' },
            el('thead', {}, el('tr', {}, el('th', {}, 'Guardrail'), el('th', {}, 'On'), el('th', {}, 'Verdict'), el('th', {}, 'Found'))),
            el('tbody', {}, t.guardrail_names.map((name, i) =>
              el('tr', {},
                el('td', {}, name),
                el('td', {}, t.guardrail_stages[i]),
                el('td', { class: t.guardrail_verdicts[i] === 'pass' ? 'status-2' : t.guardrail_verdicts[i] === 'deny' || t.guardrail_verdicts[i] === 'error' ? 'status-5' : 'status-4' }, t.guardrail_verdicts[i]),
                el('td', {}, t.guardrail_findings[i] || '–'),
              ))),
          ),
        ]
      : []),
    ...(t.request_body ? [el('h2', {}, 'Request body'), el('pre', {}, pretty(t.request_body))] : []),
    ...(t.response_body ? [el('h2', {}, 'Response body'), el('pre', {}, pretty(t.response_body))] : []),
    el('h2', {}, `Feedback (${feedback.length})`),
    el('ul', { class: 'feedback-list', 'data-testid': 'feedback-list' }, feedback.map((f) => el('li', {}, `${f.score}${f.label ? ` · ${f.label}` : ''}${f.comment ? ` — ${f.comment}` : ''}`))),
    form,
  );
}

// ---------------------------------------------------------------- canary
const GUARD_LABELS = {
  errorRateIncrease: 'Error-rate increase',
  guardrailRateIncrease: 'Guardrail-trip rate increase',
  p95Ratio: 'p95 latency ratio',
  ttftRatio: 'TTFT ratio',
  costRatio: 'Cost ratio',
  feedbackDrop: 'Feedback drop',
  agreement: 'Answer agreement (ROUGE-L)',
  canaryReachable: 'Canary targets skipped (breaker open or unhealthy)',
};

function guardNumber(check, value) {
  if (value === null || value === undefined) return '–';
  if (check.guard === 'canaryReachable') return String(value);
  return check.guard === 'errorRateIncrease' || check.guard === 'guardrailRateIncrease' || check.guard === 'feedbackDrop' ? value.toFixed(3) : value.toFixed(2);
}

function controlledCanary(view) {
  const { state } = view;
  const controls = el('div', { class: 'canary-controls', 'data-testid': `canary-controls-${view.id}` },
    ...['pause', 'resume', 'promote', 'rollback', 'restart'].map((action) =>
      el('button', {
        class: action === 'rollback' ? 'danger' : 'ghost',
        'data-action': action,
        onclick: async () => {
          await api(`/admin/canaries/${encodeURIComponent(view.id)}/${action}`, { method: 'POST' });
          await loadCanary();
        },
      }, action),
    ),
  );
  const checks = view.lastEvaluation?.checks ?? [];
  return el('div', { class: 'canary-state' },
    el('div', { class: 'canary-summary' },
      el('span', { class: `badge badge-${state.status}`, 'data-testid': `canary-status-${view.id}` }, state.status.replace('_', ' ')),
      el('span', {}, `weight ${state.weight}%`),
      el('span', { class: 'muted' }, `steps ${view.steps.map((w, i) => (i === state.stepIndex && state.status === 'running' ? `[${w}]` : w)).join(' → ')}`),
      el('span', { class: 'muted' }, `step since ${fmt.time(state.stepStartedAt)}`),
    ),
    controls,
    view.lastEvaluation ? el('p', { class: 'muted' }, `Last evaluation: ${view.lastEvaluation.decision} — ${view.lastEvaluation.reason}`) : el('p', { class: 'muted' }, 'Not evaluated yet.'),
    checks.length === 0 ? null : el('div', { class: 'table-wrap' }, el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'Guard'), el('th', { class: 'num' }, 'Value'), el('th', { class: 'num', title: 'The confidence bound a breach is judged on' }, 'Bound'), el('th', { class: 'num' }, 'Threshold'), el('th', {}, 'State'))),
      el('tbody', {}, checks.map((c) => el('tr', {},
        el('td', {}, GUARD_LABELS[c.guard] ?? c.guard),
        el('td', { class: 'num' }, guardNumber(c, c.value)),
        el('td', { class: 'num' }, guardNumber(c, c.bound)),
        el('td', { class: 'num' }, String(c.threshold)),
        el('td', { class: c.breached ? 'status-5' : c.passing ? 'status-2' : 'status-4' }, c.breached ? 'breached' : c.passing ? 'ok' : 'over, not yet significant'),
      ))),
    )),
    el('h4', {}, 'Decisions'),
    view.decisions.length === 0
      ? el('p', { class: 'muted' }, 'No decisions yet.')
      : el('ul', { class: 'decision-log', 'data-testid': `canary-log-${view.id}` }, view.decisions.map((d) => el('li', {}, `${fmt.datetime(d.tsMs)} · ${d.decision} · ${d.fromWeight}% → ${d.toWeight}%`))),
  );
}

async function loadCanary() {
  const { canaries, controller } = await api(`/api/canaries?range=${state.range}`);
  const panels = $('#canary-panels');
  const routes = new Set([...canaries.map((c) => c.route), ...controller.map((v) => v.id)]);
  if (routes.size === 0) {
    panels.replaceChildren(el('p', { class: 'empty' }, 'No canary traffic in this range. Routes with strategy: canary appear here, baseline against canary.'));
    return;
  }
  panels.replaceChildren(
    ...[...routes].sort().map((route) => {
      const c = canaries.find((candidate) => candidate.route === route) ?? { route, variants: [], agreement: null, agreementByVariant: {} };
      const view = controller.find((candidate) => candidate.id === route);
      const variant = (name) => c.variants.find((v) => v.variant === name);
      const rows = [
        ['Requests', (v) => fmt.int(v.requests)],
        ['Error rate', (v) => fmt.pct(v.errorRate)],
        ['Latency p95', (v) => fmt.ms(v.p95)],
        ['TTFT p95', (v) => fmt.ms(v.ttftP95)],
        ['Cost / request', (v) => fmt.usd(v.costPerRequest)],
        ['Feedback', (v) => (v.feedback === null ? '–' : `${v.feedback.toFixed(2)} (${v.feedbackCount})`)],
      ];
      const columns = ['baseline', 'canary', ...(variant('shadow') ? ['shadow'] : [])];
      const agreementRow = (name) => {
        const a = c.agreementByVariant[name];
        return a ? `${a.rougeL.toFixed(2)} / ${a.bleu.toFixed(2)} (${a.count})` : '–';
      };
      return el('div', { class: 'canary', 'data-route': route },
        el('h3', {}, route),
        el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, el('th', {}, ''), ...columns.map((name) => el('th', { class: 'num' }, name[0].toUpperCase() + name.slice(1))))),
          el('tbody', {},
            rows.map(([label, f]) => el('tr', {}, el('td', {}, label), ...columns.map((name) => el('td', { class: 'num' }, variant(name) ? f(variant(name)) : '–')))),
            c.agreement ? el('tr', {}, el('td', {}, 'Shadow agreement ROUGE-L / BLEU'), ...columns.map((name) => el('td', { class: 'num' }, agreementRow(name)))) : null,
          ),
        )),
        c.agreement
          ? el('p', { class: 'muted', 'data-testid': `agreement-${route}` }, `Shadow answers agree with primaries: ROUGE-L ${c.agreement.rougeL.toFixed(2)}, BLEU ${c.agreement.bleu.toFixed(2)} over ${c.agreement.count}.`)
          : null,
        view ? controlledCanary(view) : el('p', { class: 'muted' }, 'Static split (no plan): change canaryWeight in the config.'),
      );
    }),
  );
}

// ---------------------------------------------------------------- fleet
// Replica pools as they are now (not over the range): each replica's load as its engine reports it,
// what this gateway has in flight there, and whether it takes new requests.
function replicaState(r) {
  if (!r.healthy) return ['unhealthy', 'status-5'];
  if (r.breaker === 'open') return ['breaker open', 'status-5'];
  if (r.saturated) return ['saturated', 'status-4'];
  return [r.breaker === 'half_open' ? 'probing' : 'ok', ''];
}

function fleetPanel(pool) {
  const num = (v, digits = 0) => (v === undefined || v === null ? '–' : Number(v).toFixed(digits));
  const head = el('thead', {}, el('tr', {}, ['Replica', 'Address', 'State', 'Engine', 'In flight', 'Running', 'Queue', 'KV cache', 'Score', 'Picks', 'Metrics'].map((h, i) => el('th', { class: i >= 4 && i <= 9 ? 'num' : undefined }, h))));
  const body = el('tbody', {},
    pool.replicas.length === 0
      ? el('tr', {}, el('td', { colspan: 11, class: 'empty' }, 'No replicas (discovery found none yet).'))
      : pool.replicas.map((r) => {
          const [label, cls] = replicaState(r);
          return el('tr', { 'data-replica': r.label },
            el('td', {}, r.label),
            el('td', {}, r.address),
            el('td', { class: cls }, label),
            el('td', {}, r.engine ?? '–'),
            el('td', { class: 'num' }, fmt.int(r.inFlight)),
            el('td', { class: 'num' }, num(r.running)),
            el('td', { class: 'num' }, num(r.waiting)),
            el('td', { class: 'num' }, r.kvUsage === undefined || r.kvUsage === null ? '–' : fmt.pct(r.kvUsage)),
            el('td', { class: 'num' }, num(r.score, 1)),
            el('td', { class: 'num' }, fmt.int(r.picks)),
            el('td', { class: r.metricsFresh ? '' : 'muted' }, r.metricsFresh ? 'fresh' : (r.scrapeError ?? 'none')),
          );
        }),
  );
  return el('div', { class: 'fleet', 'data-testid': `fleet-${pool.provider}` },
    el('h2', {}, pool.provider),
    el('div', { class: 'muted' }, `engine ${pool.engine} · ${pool.strategy} · ${pool.queued} queued in the gateway`),
    el('div', { class: 'table-wrap' }, el('table', {}, head, body)),
  );
}

async function loadFleet() {
  const { data } = await api('/api/fleet');
  $('#fleet-panels').replaceChildren(...(data.length === 0 ? [el('p', { class: 'empty' }, 'No replica pools are configured.')] : data.map(fleetPanel)));
}

// ---------------------------------------------------------------- wiring
const loaders = { overview: loadOverview, routes: loadRoutes, traces: loadTraces, canary: loadCanary, fleet: loadFleet };

async function refresh() {
  try {
    await loaders[state.tab]();
    status(`Updated ${fmt.time(Date.now())}`);
  } catch (error) {
    status(String(error.message ?? error));
  }
}

function selectTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll('.tabs button')) button.setAttribute('aria-selected', String(button.dataset.tab === tab));
  for (const panel of document.querySelectorAll('[data-panel]')) panel.hidden = panel.dataset.panel !== tab;
  void refresh();
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('theme', theme);
}

function start() {
  applyTheme(localStorage.getItem('theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  $('#theme').addEventListener('click', () => {
    applyTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
    void refresh();
  });
  $('#range').value = state.range;
  $('#range').addEventListener('change', (event) => {
    state.range = event.target.value;
    sessionStorage.setItem('range', state.range);
    state.offset = 0;
    void refresh();
  });
  for (const button of document.querySelectorAll('.tabs button')) button.addEventListener('click', () => selectTab(button.dataset.tab));
  $('#filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries(new FormData(event.target).entries());
    state.offset = 0;
    void refresh();
  });
  $('#prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); void refresh(); });
  $('#next').addEventListener('click', () => { state.offset += state.limit; void refresh(); });
  setInterval(() => {
    // Traces keep their place while someone reads them; the other tabs follow the traffic.
    if ($('#auto-refresh').checked && state.tab !== 'traces') void refresh();
  }, 10_000);
  selectTab(new URLSearchParams(location.search).get('tab') ?? 'overview');
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
