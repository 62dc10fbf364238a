-- analytics.vw_sales_by_day_of_week: on which weekdays does RetailMart sell most?
-- One row per ISO weekday (1 = Monday .. 7 = Sunday), over the calendar days from the first order
-- date (any status) to the reference date (analytics.fn_reference_date()). Sales orders = orders whose
-- order_status is not in config sales.excluded_order_statuses.
-- Orders and revenue per day are read from analytics.mv_daily_sales_summary (same sales orders,
-- order grain), so the export that reads this view sums stored daily rows instead of every order.
-- KPI days: number of calendar days with that weekday in [first order date, reference date], with or without sales
-- KPI orders: count(*) of sales orders dated on that weekday
-- KPI revenue: sum(orders.total_amount) of those sales orders (order grain)
-- KPI avg_orders_per_day: orders / days (days = calendar days of that weekday, not days with sales)
-- KPI avg_revenue_per_day: revenue / days (days = calendar days of that weekday, not days with sales)
-- KPI revenue_share_pct: revenue / revenue of all weekdays * 100
CREATE VIEW analytics.vw_sales_by_day_of_week AS
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

weekdays AS (
    SELECT wd.iso_dow, wd.day_name
    FROM (
        VALUES
            (1, 'Monday'), (2, 'Tuesday'), (3, 'Wednesday'), (4, 'Thursday'),
            (5, 'Friday'), (6, 'Saturday'), (7, 'Sunday')
    ) AS wd (iso_dow, day_name)
),

calendar_days AS (
    SELECT
        extract(ISODOW FROM gs.day)::int AS iso_dow,
        count(*) AS days
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(b.first_date, b.ref_date, interval '1 day') AS gs (day)
    GROUP BY extract(ISODOW FROM gs.day)::int
),

sales_by_dow AS (
    SELECT
        extract(ISODOW FROM d.sales_date)::int AS iso_dow,
        sum(d.orders)::bigint AS orders,
        sum(d.revenue) AS revenue
    FROM analytics.mv_daily_sales_summary AS d
    CROSS JOIN bounds AS b
    WHERE d.sales_date BETWEEN b.first_date AND b.ref_date
    GROUP BY extract(ISODOW FROM d.sales_date)::int
),

combined AS (
    SELECT
        w.iso_dow,
        w.day_name,
        coalesce(c.days, 0) AS days,
        coalesce(s.orders, 0) AS orders,
        coalesce(s.revenue, 0) AS revenue
    FROM weekdays AS w
    LEFT JOIN calendar_days AS c ON c.iso_dow = w.iso_dow
    LEFT JOIN sales_by_dow AS s ON s.iso_dow = w.iso_dow
)

SELECT
    c.iso_dow,
    c.day_name,
    c.iso_dow IN (6, 7) AS is_weekend,
    c.days,
    c.orders,
    c.revenue,
    round(c.orders / nullif(c.days, 0)::numeric, 2) AS avg_orders_per_day,
    round(c.revenue / nullif(c.days, 0)::numeric, 2) AS avg_revenue_per_day,
    round(c.revenue / nullif(sum(c.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct
FROM combined AS c;
