-- Revenue summary rows whose net profit is not total sales minus total expenses (beyond the configured
-- tolerance quality.amount_tolerance): the finance totals do not add up.
-- Table: finance.revenue_summary
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_revenue_summary_net_profit') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.amount_tolerance') AS tolerance
),
failing AS (
    SELECT rs.store_id, rs.summary_date
      FROM finance.revenue_summary AS rs
      CROSS JOIN params AS p
     WHERE abs(rs.net_profit - (rs.total_sales - rs.total_expenses)) > p.tolerance
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM finance.revenue_summary) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',summary_date=' || f.summary_date FROM failing AS f
              ORDER BY f.store_id, f.summary_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
