-- analytics.object_registry: which version (hash of its SQL file) of each analytics object is built.
-- The asset factory reads it to decide between "refresh" (same version) and "re-create" (changed SQL).
CREATE TABLE IF NOT EXISTS analytics.object_registry (
    object_name   text PRIMARY KEY,
    object_kind   text        NOT NULL,
    code_version  text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_built_at timestamptz NOT NULL DEFAULT now()
);
