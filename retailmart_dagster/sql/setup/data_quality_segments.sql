-- analytics.data_quality_segments: the latest result of each data-quality check on each part of the
-- source it was evaluated on: 'all' rows, or, for a check split by order id, the 'older' rows (order
-- id below the boundary) and the 'recent' ones. input_key is a digest of everything the result depends
-- on (the check's SQL and the setup code it calls, the configuration, the fingerprints of the rows it
-- reads, the reference date or clock where it uses them); the next evaluation reuses a part whose key
-- it computes again instead of running the check on those rows. A cache: dropping it only makes the
-- next evaluation run every check in full.
-- Question: Which check results can the next data-quality evaluation reuse?
-- Owner: Data platform
CREATE TABLE IF NOT EXISTS analytics.data_quality_segments (
    check_name     text        NOT NULL,
    segment        text        NOT NULL CHECK (segment IN ('all', 'older', 'recent')),
    boundary       bigint,
    input_key      text        NOT NULL,
    severity       text        NOT NULL CHECK (severity IN ('ERROR', 'WARN')),
    affected_count bigint      NOT NULL,
    total_rows     bigint      NOT NULL,
    threshold      numeric     NOT NULL,
    sample_keys    jsonb       NOT NULL DEFAULT '[]'::jsonb,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    run_id         text,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (check_name, segment)
);
