-- Revenue summary rows whose net profit is not total sales minus total expenses (beyond the configured
-- tolerance quality.amount_tolerance): the finance totals do not add up.
-- Table: finance.revenue_summary
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_revenue_summary_net_profit') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.amount_tolerance') AS tolerance
),
checked AS (
    SELECT rs.store_id,
           rs.summary_date,
           abs(rs.net_profit - (rs.total_sales - rs.total_expenses)) > p.tolerance AS failed
      FROM finance.revenue_summary AS rs
      CROSS JOIN params AS p
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.store_id) FILTER (WHERE c.failed) AS failing_store_id,
           array_agg(c.summary_date) FILTER (WHERE c.failed) AS failing_summary_date
      FROM checked AS c
),
failing AS (
    SELECT f.store_id, f.summary_date
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_store_id, sm.failing_summary_date) AS f (store_id, summary_date)
)
SELECT coalesce(cardinality(sm.failing_store_id), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',summary_date=' || f.summary_date FROM failing AS f
              ORDER BY f.store_id, f.summary_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
