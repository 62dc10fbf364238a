-- analytics.execution_log: one row per asset materialization attempt (success or failure), with its
-- Dagster run id, action, duration and row count. Append-only; re-running setup never drops it.
CREATE TABLE IF NOT EXISTS analytics.execution_log (
    log_id        bigserial PRIMARY KEY,
    run_id        text,
    object_name   text        NOT NULL,
    action        text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('success', 'failed')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    duration_ms   numeric(12, 1) NOT NULL,
    row_count     bigint,
    error_message text
);
CREATE INDEX IF NOT EXISTS ix_execution_log_object ON analytics.execution_log (object_name, started_at);
