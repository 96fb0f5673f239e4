-- Replica pools: which replica served a request, why the scheduler chose it, its score then, how much
-- of the prompt prefix it already held (characters) and how long the request queued for it. One ALTER
-- adds all five columns at once, so the skip-if check on the first one covers them all. ClickHouse 18.16
-- has no ADD COLUMN IF NOT EXISTS; the runner skips the statement when the column is already there.
-- skip-if: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'requests' AND name = 'replica'
ALTER TABLE requests ADD COLUMN replica String DEFAULT '', ADD COLUMN replica_reason String DEFAULT '', ADD COLUMN replica_score Float64 DEFAULT 0, ADD COLUMN prefix_match_chars UInt32 DEFAULT 0, ADD COLUMN queue_ms Float64 DEFAULT 0
