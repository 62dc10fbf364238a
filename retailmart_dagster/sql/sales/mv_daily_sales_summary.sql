-- analytics.mv_daily_sales_summary: how much did RetailMart sell each day?
-- One row per calendar day from the first order date (any status) to the reference date
-- (analytics.fn_reference_date()); days without sales are rows of zeros, days after the reference
-- date never appear. Sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses (a NULL status is not excluded); Returned orders are sales orders.
-- Read from analytics.fact_sales_days (one row per day with the totals of its sales orders, summed
-- once from analytics.fact_orders' per-order line and refund aggregates, so no join to order lines or
-- returns and no fan-out; loaded incrementally). Materialized because an export
-- (fn_export_sales_daily_summary), vw_sales_recent_trend and the revenue alert read it: it is computed
-- once per build and they read the stored rows.
-- KPI orders: count(*) of sales orders dated that day
-- KPI customers: count(DISTINCT cust_id) of sales orders dated that day
-- KPI items: sum(order_items.quantity) over lines of sales orders dated that day (units)
-- KPI list_value: sum(quantity * unit_price) over lines of sales orders (line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) over lines of sales orders (line grain)
-- KPI revenue: sum(orders.total_amount) of sales orders (order grain; already net of line discounts)
-- KPI refunds: sum(returns.refund_amount) of returns of sales orders, attributed to the ORDER's date
-- KPI net_revenue: revenue - refunds
-- KPI aov: revenue / orders (numeric division; NULL on a day without orders)
-- KPI is_weekend: ISO day of week in (6, 7), i.e. Saturday or Sunday
CREATE MATERIALIZED VIEW analytics.mv_daily_sales_summary AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date
),

bounds AS (
    SELECT
        p.ref_date,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

calendar AS (
    SELECT gs.day::date AS sales_date
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(b.first_date, b.ref_date, interval '1 day') AS gs (day)
),

by_day AS (
    SELECT
        d.order_date,
        d.orders,
        d.customers,
        coalesce(d.revenue, 0) AS revenue,
        d.items,
        d.list_value,
        d.discount_amount,
        d.refunds
    FROM analytics.fact_sales_days AS d
    CROSS JOIN bounds AS b
    WHERE d.order_date BETWEEN b.first_date AND b.ref_date
)

SELECT
    c.sales_date,
    to_char(c.sales_date, 'FMDay') AS day_name,
    extract(ISODOW FROM c.sales_date)::int IN (6, 7) AS is_weekend,
    coalesce(d.orders, 0) AS orders,
    coalesce(d.customers, 0) AS customers,
    coalesce(d.items, 0) AS items,
    coalesce(d.list_value, 0) AS list_value,
    round(coalesce(d.discount_amount, 0), 2) AS discount_amount,
    coalesce(d.revenue, 0) AS revenue,
    coalesce(d.refunds, 0) AS refunds,
    coalesce(d.revenue, 0) - coalesce(d.refunds, 0) AS net_revenue,
    round(d.revenue / nullif(d.orders, 0)::numeric, 2) AS aov
FROM calendar AS c
LEFT JOIN by_day AS d ON d.order_date = c.sales_date;

CREATE UNIQUE INDEX ux_mv_daily_sales_summary ON analytics.mv_daily_sales_summary (sales_date);
