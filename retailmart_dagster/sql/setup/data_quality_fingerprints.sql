-- analytics.data_quality_fingerprints: the content fingerprint of each source table (for a table split
-- by order id: of its 'older' rows below the boundary) that the last data-quality evaluation took,
-- with the fingerprint of the same rows' versions and the table's columns, all read in one snapshot.
-- The content fingerprint is the row count and the sum of a mixed hash of every row's values; the
-- versions' fingerprint is the row count and the sum of a mixed hash of every row's xmin (the
-- transaction that wrote that version of the row). Any insert, update or delete writes or removes
-- row versions, so while the versions and the columns are the same the content is too, and the next
-- evaluation reads it from here instead of hashing every value again (reading xmin costs less than
-- half of hashing every column). A cache: dropping it only makes the next evaluation hash every
-- table's content again.
-- Question: Which source tables' content fingerprints can the next data-quality evaluation reuse?
-- Owner: Data platform
CREATE TABLE IF NOT EXISTS analytics.data_quality_fingerprints (
    table_name    text        NOT NULL,
    segment       text        NOT NULL CHECK (segment IN ('all', 'older')),
    boundary      bigint,
    columns_key   text        NOT NULL,
    version_rows  bigint      NOT NULL,
    version_sum   numeric     NOT NULL,
    content_rows  bigint      NOT NULL,
    content_sum   numeric     NOT NULL,
    run_id        text,
    evaluated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name)
);
