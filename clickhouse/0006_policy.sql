-- Policies on the trace: the conditional branch a request was routed through, and every guardrail verdict
-- (name, stage, verdict, what kind of thing it found — never the text) as parallel arrays, plus the count
-- of output verdicts that tripped (what a canary guard compares). One ALTER: ClickHouse checks every
-- ADD COLUMN before applying any, so the change is all or nothing, and the skip-if below makes it
-- idempotent (18.16 has no ADD COLUMN IF NOT EXISTS).
-- skip-if: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'requests' AND name = 'guardrail_trips'
ALTER TABLE requests
    ADD COLUMN branch String DEFAULT '',
    ADD COLUMN guardrail_names Array(String),
    ADD COLUMN guardrail_stages Array(String),
    ADD COLUMN guardrail_verdicts Array(String),
    ADD COLUMN guardrail_findings Array(String),
    ADD COLUMN guardrail_trips UInt16 DEFAULT 0
