-- Orders still in an open status (quality.open_order_statuses: not yet shipped) more than
-- quality.open_order_max_days after they were placed, measured from the data's reference date
-- (analytics.fn_reference_date()). The population is every order old enough to have moved on; the
-- check fails when the stuck share exceeds quality.stuck_open_orders_max_rate (some backlog is
-- normal, a growing one is not).
-- Table: sales.orders
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.timeliness_stuck_open_orders') AS severity,
           analytics.fn_config_numeric('quality.stuck_open_orders_max_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_text_array('quality.open_order_statuses') AS open_statuses,
           analytics.fn_reference_date() - analytics.fn_config_int('quality.open_order_max_days')
               AS placed_before
),
aged AS (
    SELECT o.order_id, o.order_status
      FROM sales.orders AS o
      CROSS JOIN params AS p
     WHERE o.order_date < p.placed_before
),
checked AS (
    SELECT a.order_id,
           a.order_status = ANY (p.open_statuses) AS failed
      FROM aged AS a
      CROSS JOIN params AS p
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
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys,
       jsonb_build_object('placed_before', p.placed_before) AS details
  FROM params AS p
  CROSS JOIN summary AS sm;
