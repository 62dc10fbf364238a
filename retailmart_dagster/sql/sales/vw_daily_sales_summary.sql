-- analytics.vw_daily_sales_summary: how much did RetailMart sell each day?
-- One row per calendar day from the first order date (any status) to the reference date
-- (analytics.fn_reference_date()); days without sales are rows of zeros, days after the reference
-- date never appear. Sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses (a NULL status is not excluded); Returned orders are sales orders.
-- Order-level amounts are summed at order grain, line amounts at line grain, each in its own CTE.
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
CREATE VIEW analytics.vw_daily_sales_summary AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
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

sales_orders AS (
    SELECT
        o.order_id,
        o.cust_id,
        o.order_date,
        o.total_amount
    FROM sales.orders AS o
    CROSS JOIN bounds AS b
    WHERE o.order_date BETWEEN b.first_date AND b.ref_date
      AND NOT coalesce(o.order_status = ANY (b.excluded_statuses), false)
),

orders_by_day AS (
    SELECT
        so.order_date,
        count(*) AS orders,
        count(DISTINCT so.cust_id) AS customers,
        coalesce(sum(so.total_amount), 0) AS revenue
    FROM sales_orders AS so
    GROUP BY so.order_date
),

lines_by_day AS (
    SELECT
        so.order_date,
        coalesce(sum(oi.quantity), 0) AS items,
        coalesce(sum(oi.quantity * oi.unit_price), 0) AS list_value,
        coalesce(sum(oi.quantity * oi.unit_price * oi.discount / 100), 0) AS discount_amount
    FROM sales.order_items AS oi
    JOIN sales_orders AS so ON so.order_id = oi.order_id
    GROUP BY so.order_date
),

refunds_by_day AS (
    SELECT
        so.order_date,
        coalesce(sum(r.refund_amount), 0) AS refunds
    FROM sales.returns AS r
    JOIN sales_orders AS so ON so.order_id = r.order_id
    GROUP BY so.order_date
)

SELECT
    c.sales_date,
    to_char(c.sales_date, 'FMDay') AS day_name,
    extract(ISODOW FROM c.sales_date)::int IN (6, 7) AS is_weekend,
    coalesce(o.orders, 0) AS orders,
    coalesce(o.customers, 0) AS customers,
    coalesce(l.items, 0) AS items,
    coalesce(l.list_value, 0) AS list_value,
    round(coalesce(l.discount_amount, 0), 2) AS discount_amount,
    coalesce(o.revenue, 0) AS revenue,
    coalesce(r.refunds, 0) AS refunds,
    coalesce(o.revenue, 0) - coalesce(r.refunds, 0) AS net_revenue,
    round(o.revenue / nullif(o.orders, 0)::numeric, 2) AS aov
FROM calendar AS c
LEFT JOIN orders_by_day AS o ON o.order_date = c.sales_date
LEFT JOIN lines_by_day AS l ON l.order_date = c.sales_date
LEFT JOIN refunds_by_day AS r ON r.order_date = c.sales_date;
