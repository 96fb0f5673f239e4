/**
 * What a failed request is, defined once for everything that counts failures: the gateway answered 5xx,
 * or a stream broke after it had started (it ended with a `stream_interrupted` event, under a 200). A 4xx
 * is the client's mistake or the client's limit, not a failure of the gateway or its upstreams.
 *
 * The Prometheus metric (`gateway_requests_total{outcome="failure"}`, and through it the shipped alerts
 * and Grafana panels) uses `isFailedRequest`; the dashboard and the canary guards, which read trace rows,
 * use `FAILED_REQUEST_SQL` over the same two fields (`status`, `error_code`).
 */
const INTERRUPTED = 'stream_interrupted';

export function isFailedRequest(status: number, errorCode: string | undefined): boolean {
  return status >= 500 || errorCode === INTERRUPTED;
}

export const FAILED_REQUEST_SQL = `(status >= 500 OR error_code = '${INTERRUPTED}')`;
