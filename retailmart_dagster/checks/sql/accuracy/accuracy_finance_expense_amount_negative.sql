-- Finance expenses with a negative amount: costs and profitability would be understated.
-- Table: finance.expenses
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_finance_expense_amount_negative') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT e.expense_id
      FROM finance.expenses AS e
     WHERE e.amount < 0
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM finance.expenses) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'expense_id=' || f.expense_id FROM failing AS f
              ORDER BY f.expense_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
