-- Returns with a negative refund amount: refunds would add to net revenue instead of reducing it.
-- (A zero refund is allowed: a return can be refused a refund.)
-- Table: sales.returns
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_refund_amount_negative') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT r.return_id
      FROM sales.returns AS r
     WHERE r.refund_amount < 0
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.returns) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'return_id=' || f.return_id FROM failing AS f
              ORDER BY f.return_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
