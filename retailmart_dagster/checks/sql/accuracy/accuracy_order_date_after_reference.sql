-- Orders dated after the data's reference date (analytics.fn_reference_date(), the latest order date
-- not after the machine's date): orders from the future, which no KPI window should contain.
-- Table: sales.orders
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_order_date_after_reference') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_reference_date() AS reference_date
),
failing AS (
    SELECT o.order_id
      FROM sales.orders AS o
      CROSS JOIN params AS p
     WHERE o.order_date > p.reference_date
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.orders) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
