-- Feedback scores on traces (POST /v1/feedback). A feedback id is unique, so replays collapse.
CREATE TABLE IF NOT EXISTS feedback
(
    feedback_id String,
    trace_id String,
    ts_ms UInt64,
    score Float64,
    label String,
    comment String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts_ms, 1000)))
ORDER BY (trace_id, feedback_id)
