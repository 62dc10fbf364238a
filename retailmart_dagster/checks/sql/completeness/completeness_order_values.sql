-- Orders missing their date, status or total amount: date-window KPIs drop an order without a date,
-- status filters cannot classify it, and revenue (a sum of total_amount) silently skips a NULL.
-- Table: sales.orders
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_order_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT o.order_id,
           (o.order_date IS NULL
            OR o.order_status IS NULL
            OR btrim(o.order_status) = ''
            OR o.total_amount IS NULL) AS failed
      FROM sales.orders AS o
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.order_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.order_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (order_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
