-- analytics.fn_record_fact_partitions(fact, partition_column, changed_key): the bookkeeping step that
-- ends an incremental fact load (retailmart_dagster/sql/facts/), written once instead of in every fact.
-- A fact's load first builds its work list pg_temp.<fact>_changed — one row per partition to (re)load,
-- the partition in column changed_key ('day' unless said otherwise) and its new fingerprint (NULL for a
-- partition that left the source) — then deletes and re-inserts those partitions' rows. This records
-- the result in analytics.fact_partitions: the changed partitions' old entries are deleted, and every
-- changed partition that still exists gets its fingerprint and its row count in the fact
-- (analytics.<fact> rows whose partition_column equals it; 0 when it has none left).
-- Names are quoted with format('%I'), so the function can only touch analytics.<fact>, its own work
-- list and analytics.fact_partitions. Runs with the caller's rights (the pipeline role). VOLATILE: it
-- writes.
CREATE OR REPLACE FUNCTION analytics.fn_record_fact_partitions(
    p_fact text,
    p_partition_column text,
    p_changed_key text DEFAULT 'day'
)
RETURNS void
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
    EXECUTE format(
        'DELETE FROM analytics.fact_partitions AS fp USING pg_temp.%I AS c'
        ' WHERE fp.fact_name = %L AND fp.partition_date = c.%I',
        p_fact || '_changed', p_fact, p_changed_key
    );
    EXECUTE format(
        'INSERT INTO analytics.fact_partitions (fact_name, partition_date, fingerprint, row_count)'
        ' SELECT %L, c.%I, c.fingerprint, coalesce(n.row_count, 0)'
        ' FROM pg_temp.%I AS c'
        ' LEFT JOIN (SELECT f.%I AS partition_date, count(*) AS row_count'
        '            FROM analytics.%I AS f'
        '            JOIN pg_temp.%I AS cd ON cd.%I = f.%I'
        '            GROUP BY f.%I) AS n ON n.partition_date = c.%I'
        ' WHERE c.fingerprint IS NOT NULL',
        p_fact, p_changed_key,
        p_fact || '_changed',
        p_partition_column,
        p_fact,
        p_fact || '_changed', p_changed_key, p_partition_column,
        p_partition_column, p_changed_key
    );
END;
$$;
