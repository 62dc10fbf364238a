-- Returns missing their order, product, date or refund amount: refunds and return rates cannot be
-- attributed or dated without them.
-- Table: sales.returns
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_return_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT r.return_id
      FROM sales.returns AS r
     WHERE r.order_id IS NULL
        OR r.prod_id IS NULL
        OR r.return_date IS NULL
        OR r.refund_amount IS NULL
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.returns) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'return_id=' || f.return_id FROM failing AS f
              ORDER BY f.return_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
