/**
 * Reads the Prometheus text exposition format (version 0.0.4) just far enough to sum the samples of a
 * few named metrics across their label sets: `name{labels} value [timestamp]` lines, `#` comments,
 * label values that may hold spaces, braces and escaped quotes. Only the names asked for are kept, so
 * a large /metrics page costs one pass and no per-line allocation beyond the name.
 */

/** The samples of one metric name: their sum and how many there were (several label sets). */
export interface MetricSum {
  sum: number;
  count: number;
}

/** Every sample of each wanted metric name, summed by name; names never seen are absent. */
export function sumMetrics(text: string, wanted: ReadonlySet<string>): Map<string, MetricSum> {
  const sums = new Map<string, MetricSum>();
  let lineStart = 0;
  const length = text.length;
  while (lineStart < length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = length;
    readLine(text, lineStart, lineEnd, wanted, sums);
    lineStart = lineEnd + 1;
  }
  return sums;
}

function readLine(text: string, start: number, end: number, wanted: ReadonlySet<string>, sums: Map<string, MetricSum>): void {
  let i = start;
  while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  if (i >= end || text.charCodeAt(i) === 35 /* # */) return;
  const nameStart = i;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */ || c === 32 || c === 9) break;
    i++;
  }
  const name = text.slice(nameStart, i);
  if (!wanted.has(name)) return;
  if (i < end && text.charCodeAt(i) === 123) {
    // Skip the label set, honouring quoted values (which may contain '}' and escaped quotes).
    let quoted = false;
    i++;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (quoted) {
        if (c === 92 /* \ */) i++;
        else if (c === 34 /* " */) quoted = false;
      } else if (c === 34) quoted = true;
      else if (c === 125 /* } */) break;
      i++;
    }
    if (i >= end) return; // unterminated label set: not a sample
    i++;
  }
  while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
  let valueEnd = i;
  while (valueEnd < end && text.charCodeAt(valueEnd) !== 32 && text.charCodeAt(valueEnd) !== 9 && text.charCodeAt(valueEnd) !== 13) valueEnd++;
  if (valueEnd === i) return;
  const value = Number(text.slice(i, valueEnd));
  if (!Number.isFinite(value)) return;
  const found = sums.get(name);
  if (found) {
    found.sum += value;
    found.count++;
  } else {
    sums.set(name, { sum: value, count: 1 });
  }
}
