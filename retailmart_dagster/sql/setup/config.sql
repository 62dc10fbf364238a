-- analytics.config: thresholds, tiers and windows, one row per key "<section>.<name>".
-- Filled from retailmart_dagster/config/analytics.toml by the `config` asset (upsert: keys that are no
-- longer in the file are kept but marked stale, so history is never dropped).
-- SQL reads it only through analytics.fn_config_int / fn_config_numeric / fn_config_text / fn_config_text_array.
CREATE TABLE IF NOT EXISTS analytics.config (
    key         text PRIMARY KEY,
    section     text        NOT NULL,
    value       jsonb       NOT NULL,
    value_type  text        NOT NULL CHECK (value_type IN ('int', 'numeric', 'text', 'text_array', 'bool')),
    description text        NOT NULL DEFAULT '',
    is_stale    boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
