-- analytics.vw_weekend_vs_weekday: do weekends sell more per day than weekdays?
-- Two rows, 'weekend' (Saturday, Sunday: ISO day of week 6, 7) and 'weekday' (Monday..Friday), over
-- the calendar days from the first order date (any status) to the reference date
-- (analytics.fn_reference_date()). Sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses.
-- Orders and revenue per day are read from analytics.mv_daily_sales_summary (same sales orders,
-- order grain), so the export that reads this view sums stored daily rows instead of every order.
-- KPI days: number of calendar days of that type in [first order date, reference date], with or without sales
-- KPI orders: count(*) of sales orders dated on days of that type
-- KPI revenue: sum(orders.total_amount) of those sales orders (order grain)
-- KPI avg_orders_per_day: orders / days (calendar days, not days with sales)
-- KPI avg_revenue_per_day: revenue / days (calendar days, not days with sales)
-- KPI revenue_share_pct: revenue / revenue of both day types * 100
CREATE VIEW analytics.vw_weekend_vs_weekday AS
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

day_types AS (
    SELECT dt.day_type, dt.is_weekend
    FROM (VALUES ('weekday', false), ('weekend', true)) AS dt (day_type, is_weekend)
),

calendar_days AS (
    SELECT
        extract(ISODOW FROM gs.day)::int IN (6, 7) AS is_weekend,
        count(*) AS days
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(b.first_date, b.ref_date, interval '1 day') AS gs (day)
    GROUP BY extract(ISODOW FROM gs.day)::int IN (6, 7)
),

sales_by_type AS (
    SELECT
        extract(ISODOW FROM d.sales_date)::int IN (6, 7) AS is_weekend,
        sum(d.orders)::bigint AS orders,
        sum(d.revenue) AS revenue
    FROM analytics.mv_daily_sales_summary AS d
    CROSS JOIN bounds AS b
    WHERE d.sales_date BETWEEN b.first_date AND b.ref_date
    GROUP BY extract(ISODOW FROM d.sales_date)::int IN (6, 7)
),

combined AS (
    SELECT
        t.day_type,
        t.is_weekend,
        coalesce(c.days, 0) AS days,
        coalesce(s.orders, 0) AS orders,
        coalesce(s.revenue, 0) AS revenue
    FROM day_types AS t
    LEFT JOIN calendar_days AS c ON c.is_weekend = t.is_weekend
    LEFT JOIN sales_by_type AS s ON s.is_weekend = t.is_weekend
)

SELECT
    c.day_type,
    c.is_weekend,
    c.days,
    c.orders,
    c.revenue,
    round(c.orders / nullif(c.days, 0)::numeric, 2) AS avg_orders_per_day,
    round(c.revenue / nullif(c.days, 0)::numeric, 2) AS avg_revenue_per_day,
    round(c.revenue / nullif(sum(c.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct
FROM combined AS c;
