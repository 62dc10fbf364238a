-- Revenue summary rows repeating a (store, month) key: the table has no primary key, so a duplicate
-- doubles the store's figures for that month. Every row after the first of a key is counted.
-- Table: finance.revenue_summary
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_revenue_summary') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
ranked AS (
    SELECT t.*,
           row_number() OVER (PARTITION BY t.store_id, t.summary_date ORDER BY t.total_sales, t.total_expenses, t.net_profit) AS position
      FROM finance.revenue_summary AS t
     WHERE t.store_id IS NOT NULL AND t.summary_date IS NOT NULL
),
failing AS (
    SELECT r.* FROM ranked AS r WHERE r.position > 1
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM finance.revenue_summary) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',summary_date=' || f.summary_date FROM failing AS f
              ORDER BY f.store_id, f.summary_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
