-- analytics.vw_sales_recent_trend: how did daily sales move over the last N days?
-- One row per day of the last N days (N = config sales.recent_trend_days) ending at the reference
-- date, read from analytics.mv_daily_sales_summary (zero-sales days included). The moving average
-- and the day-over-day change are computed over the FULL daily series before the window is cut, so
-- the first days of the window look back into earlier days.
-- KPI orders: sales orders of the day (from mv_daily_sales_summary)
-- KPI revenue: gross revenue of the day (from mv_daily_sales_summary)
-- KPI net_revenue: revenue - refunds of the day (from mv_daily_sales_summary)
-- KPI moving_avg_revenue: avg(revenue) over the M days ending that day (M = config sales.daily_moving_average_days); NULL when fewer than M days of data exist
-- KPI revenue_change: revenue - revenue of the previous calendar day (NULL on the first day of data)
-- KPI revenue_change_pct: (revenue - previous day revenue) / previous day revenue * 100; NULL when the previous day is 0 or missing
CREATE VIEW analytics.vw_sales_recent_trend AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('sales.recent_trend_days') AS trend_days,
        analytics.fn_config_int('sales.daily_moving_average_days') AS ma_days
),

daily AS (
    SELECT
        d.sales_date,
        d.day_name,
        d.is_weekend,
        d.orders,
        d.customers,
        d.revenue,
        d.net_revenue,
        d.aov,
        avg(d.revenue) OVER ma_window AS ma_revenue,
        count(*) OVER ma_window AS ma_days_available,
        lag(d.revenue) OVER (ORDER BY d.sales_date) AS previous_revenue
    FROM analytics.mv_daily_sales_summary AS d
    WINDOW ma_window AS (
        ORDER BY d.sales_date
        ROWS BETWEEN (SELECT p.ma_days - 1 FROM params AS p) PRECEDING AND CURRENT ROW
    )
)

SELECT
    d.sales_date,
    d.day_name,
    d.is_weekend,
    d.orders,
    d.customers,
    d.revenue,
    d.net_revenue,
    d.aov,
    p.ma_days AS moving_avg_days,
    CASE
        WHEN d.ma_days_available >= p.ma_days THEN round(d.ma_revenue, 2)
    END AS moving_avg_revenue,
    d.revenue - d.previous_revenue AS revenue_change,
    round((d.revenue - d.previous_revenue) / nullif(d.previous_revenue, 0) * 100, 2)
        AS revenue_change_pct
FROM daily AS d
CROSS JOIN params AS p
WHERE d.sales_date > p.ref_date - p.trend_days
  AND d.sales_date <= p.ref_date;
