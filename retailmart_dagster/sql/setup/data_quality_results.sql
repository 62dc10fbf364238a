-- analytics.data_quality_results: the history of data-quality check evaluations, one row per check per
-- evaluation (run), passing or not: the check's dimension, severity, table, failing rows, population,
-- failing rate, threshold, sample keys and details, and the data's reference date at the time. The
-- trend of quality.json and the report view read it; analytics.data_quality_issues keeps the open and
-- resolved findings. Append-only; re-running setup never drops it.
-- Question: How did each data-quality check evaluate, run after run?
-- Owner: Data platform
CREATE TABLE IF NOT EXISTS analytics.data_quality_results (
    result_id      bigserial PRIMARY KEY,
    run_id         text,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    reference_date date,
    check_name     text        NOT NULL,
    dimension      text        NOT NULL,
    severity       text        NOT NULL CHECK (severity IN ('ERROR', 'WARN')),
    table_name     text        NOT NULL,
    passed         boolean     NOT NULL,
    affected_count bigint      NOT NULL,
    total_rows     bigint      NOT NULL,
    failing_rate   numeric     NOT NULL,
    threshold      numeric     NOT NULL,
    sample_keys    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS ix_data_quality_results_check
    ON analytics.data_quality_results (check_name, evaluated_at);
CREATE INDEX IF NOT EXISTS ix_data_quality_results_reference_date
    ON analytics.data_quality_results (reference_date, check_name);
