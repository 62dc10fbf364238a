-- analytics.kpi_catalog: every analytics object with its domain, description and KPI formulas, as
-- documented in the header comment of its SQL file ("-- KPI <name>: <formula>" lines).
-- Written by every materialization; re-running setup never drops it.
CREATE TABLE IF NOT EXISTS analytics.kpi_catalog (
    object_name  text PRIMARY KEY,
    domain       text        NOT NULL,
    object_kind  text        NOT NULL,
    description  text        NOT NULL DEFAULT '',
    kpis         jsonb       NOT NULL DEFAULT '[]'::jsonb,
    code_version text        NOT NULL,
    sql_path     text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
