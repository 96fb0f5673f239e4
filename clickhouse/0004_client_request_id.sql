-- The client's own x-request-id, beside the trace id the gateway now makes for every request (a client
-- could reuse an id; the trace id is unique). ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so the
-- runner skips the statement when the column is already there (see clickhouse-migrations.ts).
-- skip-if: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'requests' AND name = 'client_request_id'
ALTER TABLE requests ADD COLUMN client_request_id String DEFAULT ''
