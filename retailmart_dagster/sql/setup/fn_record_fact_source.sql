-- analytics.fn_record_fact_source(fact, fingerprint, row_count): records, at the end of a fact load,
-- the fingerprint of the fact's whole source table ('rows/hash', e.g. of sales.payments) as the row
-- '<fact>:source' of analytics.fact_partitions, written once instead of in every fact that keeps one
-- (fact_orders, fact_payment_days, fact_shipment_days). The next load compares it with the whole
-- table then, to tell whether any day outside the ones it re-hashes can have changed.
-- partition_date is the latest order day of analytics.fact_orders; without order days nothing is
-- recorded (the next load then takes its full path). The builder deletes the row with the fact's
-- partitions when the fact is re-created or retired. Runs with the caller's rights. VOLATILE: it
-- writes.
CREATE OR REPLACE FUNCTION analytics.fn_record_fact_source(
    p_fact text,
    p_fingerprint text,
    p_row_count bigint
)
RETURNS void
LANGUAGE sql
VOLATILE
AS $$
    DELETE FROM analytics.fact_partitions WHERE fact_name = p_fact || ':source';

    INSERT INTO analytics.fact_partitions (fact_name, partition_date, fingerprint, row_count)
    SELECT
        p_fact || ':source',
        m.last_day,
        p_fingerprint,
        p_row_count
    FROM (
        SELECT max(fp.partition_date) AS last_day
        FROM analytics.fact_partitions AS fp
        WHERE fp.fact_name = 'fact_orders'
    ) AS m
    WHERE m.last_day IS NOT NULL;
$$;
