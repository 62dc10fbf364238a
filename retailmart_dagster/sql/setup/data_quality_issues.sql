-- analytics.data_quality_issues: one row per data-quality finding (check, dimension, severity, table,
-- affected count, sample keys); an issue that no longer occurs is marked resolved, never deleted.
CREATE TABLE IF NOT EXISTS analytics.data_quality_issues (
    issue_id       bigserial PRIMARY KEY,
    check_name     text        NOT NULL,
    dimension      text        NOT NULL,
    severity       text        NOT NULL,
    table_name     text        NOT NULL,
    affected_count bigint      NOT NULL,
    sample_keys    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    detected_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    status         text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved'))
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_data_quality_issues_open
    ON analytics.data_quality_issues (check_name) WHERE status = 'open';
