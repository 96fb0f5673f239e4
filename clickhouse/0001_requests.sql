-- One row per client request. ReplacingMergeTree collapses the duplicates a spool replay can produce
-- (identical rows share the sorting key); queries read it with FINAL so each trace counts once.
-- Times are epoch milliseconds: ClickHouse 18.16 has no DateTime64. Partitioned by day so retention
-- can drop whole partitions (no TTL on 18.16).
CREATE TABLE IF NOT EXISTS requests
(
    trace_id String,
    ts_ms UInt64,
    key_id String,
    route String,
    operation String,
    provider String,
    model String,
    requested_model String,
    variant String,
    stream UInt8,
    status UInt16,
    error_code String,
    latency_ms Float64,
    upstream_ms Float64,
    ttft_ms Nullable(Float64),
    attempts UInt16,
    retries UInt16,
    fallbacks UInt16,
    cache String,
    input_tokens UInt32,
    output_tokens UInt32,
    usage_estimated UInt8,
    cost_usd Nullable(Float64),
    user String,
    metadata_keys Array(String),
    metadata_values Array(String),
    request_body String,
    response_body String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ms, 1000)))
ORDER BY (ts_ms, trace_id)
