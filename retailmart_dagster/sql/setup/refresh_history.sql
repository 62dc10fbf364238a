-- analytics.refresh_history: one row per build of a materialized view or table — how it was built
-- (create, recreate, refresh concurrently), when, how long it took and how many rows it holds.
-- Append-only; re-running setup never drops it.
CREATE TABLE IF NOT EXISTS analytics.refresh_history (
    refresh_id   bigserial PRIMARY KEY,
    run_id       text,
    object_name  text        NOT NULL,
    method       text        NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    duration_ms  numeric(12, 1) NOT NULL,
    row_count    bigint
);
CREATE INDEX IF NOT EXISTS ix_refresh_history_object ON analytics.refresh_history (object_name, refreshed_at);
