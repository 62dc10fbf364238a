-- analytics.fn_fact_source_field(fact, field): field number `field` ('/'-separated, from 1) of the
-- record '<fact>:source' that a fact's load keeps in analytics.fact_partitions (written by
-- analytics.fn_record_fact_source): '' when the record has no such field, NULL when there is no
-- record (the fact was never loaded, or was re-created). Read by the facts that split their source
-- tables at fact_orders' line boundary (analytics.fn_table_print), instead of each spelling out the
-- lookup. Runs with the caller's rights. STABLE: it only reads.
CREATE OR REPLACE FUNCTION analytics.fn_fact_source_field(p_fact text, p_field integer)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT split_part(fp.fingerprint, '/', p_field)
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = p_fact || ':source';
$$;
