-- Store expenses with a negative amount: store costs and profitability would be understated.
-- Table: stores.expenses
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_store_expense_amount_negative') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT e.expense_id,
           e.amount < 0 AS failed
      FROM stores.expenses AS e
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.expense_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.expense_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (expense_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'expense_id=' || f.expense_id FROM failing AS f
              ORDER BY f.expense_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
