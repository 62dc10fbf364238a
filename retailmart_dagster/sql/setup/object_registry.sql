-- analytics.object_registry: which version (hash of its SQL file) of each analytics object is built.
-- The asset factory reads it to decide between "refresh" (same version) and "re-create" (changed SQL).
CREATE TABLE IF NOT EXISTS analytics.object_registry (
    object_name   text PRIMARY KEY,
    object_kind   text        NOT NULL,
    code_version  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_built_at timestamptz NOT NULL DEFAULT now(),
    row_count     bigint
);
-- row_count: a fact table's rows after its last build (NULL for other kinds, or not counted); the
-- next incremental load adds the rows it inserted and subtracts those it deleted instead of counting
-- the table again (retailmart_dagster/assets/builder.py, _loaded_row_count).
ALTER TABLE analytics.object_registry ADD COLUMN IF NOT EXISTS row_count bigint;
