-- Canary controller decisions (promote, hold, roll back…) with the numbers each was based on.
CREATE TABLE IF NOT EXISTS canary_events
(
    event_id String,
    ts_ms UInt64,
    route String,
    decision String,
    from_weight Float64,
    to_weight Float64,
    details String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ms, 1000)))
ORDER BY (route, ts_ms, event_id)
