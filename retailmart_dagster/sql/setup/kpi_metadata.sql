-- analytics.kpi_metadata: the KPI catalog — every analytics object with its domain, kind,
-- description, business question, KPI formulas, source tables (from the parsed lineage), refresh
-- frequency and owner, all read from the header of its SQL file; and, updated on each build, when it
-- was last refreshed, its row count and how long the build took.
-- Written by every materialization; re-running setup never drops it.
-- Question: Which KPIs exist, how is each one computed, from which tables, and how fresh is it?
-- Owner: Data platform
CREATE TABLE IF NOT EXISTS analytics.kpi_metadata (
    object_name       text PRIMARY KEY,
    domain            text        NOT NULL,
    object_kind       text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    business_question text        NOT NULL DEFAULT '',
    kpis              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    source_tables     text[]      NOT NULL DEFAULT '{}',
    refresh_frequency text        NOT NULL DEFAULT 'daily',
    owner             text        NOT NULL DEFAULT '',
    code_version      text        NOT NULL,
    sql_path          text        NOT NULL,
    last_refreshed_at timestamptz,
    last_row_count    bigint,
    last_duration_ms  numeric(12, 1),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
