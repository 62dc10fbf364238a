-- analytics.vw_alert_revenue_anomaly: business alert "revenue_anomaly" — did a recent day sell far
-- less than the week before it?
-- One row (one alert) per day among the last config alerts.revenue_check_days days ending at the
-- reference date (the reference date and the N-1 days before it) whose revenue is below config
-- alerts.revenue_anomaly_share of its baseline: the average revenue of the config
-- alerts.revenue_baseline_days calendar days just before it. Daily revenue comes from
-- analytics.mv_daily_sales_summary (sales orders, order grain, one row per calendar day: a day without
-- sales is a 0 in the baseline, never skipped). A day whose baseline is not complete (fewer previous
-- days in the data than the baseline needs) or is 0 is not judged.
-- Severity: critical below config alerts.revenue_anomaly_critical_share of the baseline, else warning.
-- Alert key: date:<YYYY-MM-DD>; a day leaves the alerts (resolved) when it leaves the checked window.
-- Question: Which of the last days sold far less than the days before them?
-- Owner: Business alerts
-- Refresh: daily
-- KPI baseline_revenue: avg(revenue) over the revenue_baseline_days calendar days before the day
-- KPI revenue_share: revenue / baseline_revenue (numeric division)
-- KPI metric_value: revenue; threshold_value: revenue_anomaly_share * baseline_revenue
-- KPI urgency: 1 - revenue_share (the shortfall, as a share of the baseline)
CREATE VIEW analytics.vw_alert_revenue_anomaly AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('alerts.revenue_check_days') AS check_days,
        analytics.fn_config_int('alerts.revenue_baseline_days') AS baseline_days,
        analytics.fn_config_numeric('alerts.revenue_anomaly_share') AS warning_share,
        analytics.fn_config_numeric('alerts.revenue_anomaly_critical_share') AS critical_share
),

daily AS MATERIALIZED (
    SELECT
        d.sales_date,
        d.orders,
        d.revenue
    FROM analytics.mv_daily_sales_summary AS d
    CROSS JOIN params AS p
    WHERE d.sales_date > p.ref_date - (p.check_days + p.baseline_days)
),

checked AS (
    SELECT
        d.sales_date,
        d.orders,
        d.revenue
    FROM daily AS d
    CROSS JOIN params AS p
    WHERE d.sales_date > p.ref_date - p.check_days
),

baseline AS (
    SELECT
        c.sales_date,
        avg(b.revenue) AS baseline_revenue,
        count(*) AS baseline_days_found
    FROM checked AS c
    CROSS JOIN params AS p
    JOIN daily AS b
        ON b.sales_date >= c.sales_date - p.baseline_days
       AND b.sales_date < c.sales_date
    GROUP BY c.sales_date
),

judged AS (
    SELECT
        c.sales_date,
        c.orders,
        c.revenue,
        b.baseline_revenue,
        c.revenue / b.baseline_revenue AS revenue_share
    FROM checked AS c
    JOIN baseline AS b ON b.sales_date = c.sales_date
    CROSS JOIN params AS p
    WHERE b.baseline_days_found = p.baseline_days
      AND b.baseline_revenue > 0
)

SELECT
    'revenue_anomaly'::text AS alert_type,
    format('date:%s', to_char(j.sales_date, 'YYYY-MM-DD')) AS alert_key,
    CASE WHEN j.revenue_share < p.critical_share THEN 'critical' ELSE 'warning' END AS severity,
    format('Revenue drop on %s', to_char(j.sales_date, 'YYYY-MM-DD')) AS title,
    format(
        'Revenue of %s was Rs %s (%s orders), %s %% of the average of the %s days before (Rs %s); alert below %s %%.',
        to_char(j.sales_date, 'YYYY-MM-DD'),
        to_char(round(j.revenue, 2), 'FM999,999,999,990.00'),
        j.orders,
        round(j.revenue_share * 100, 1),
        p.baseline_days,
        to_char(round(j.baseline_revenue, 2), 'FM999,999,999,990.00'),
        round(p.warning_share * 100, 1)
    ) AS detail,
    round(j.revenue, 2) AS metric_value,
    round(p.warning_share * j.baseline_revenue, 2) AS threshold_value,
    round(1 - j.revenue_share, 4) AS urgency,
    p.ref_date AS reference_date,
    j.sales_date,
    j.orders,
    round(j.revenue, 2) AS revenue,
    round(j.baseline_revenue, 2) AS baseline_revenue,
    round(j.revenue_share, 4) AS revenue_share
FROM judged AS j
CROSS JOIN params AS p
WHERE j.revenue_share < p.warning_share;
