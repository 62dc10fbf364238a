-- Revenue summary rows of a store that does not exist.
-- Table: finance.revenue_summary
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_revenue_summary') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT rs.store_id, rs.summary_date
      FROM finance.revenue_summary AS rs
     WHERE rs.store_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.stores AS s WHERE s.store_id = rs.store_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM finance.revenue_summary) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',summary_date=' || f.summary_date FROM failing AS f
              ORDER BY f.store_id, f.summary_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
