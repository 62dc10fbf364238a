-- analytics.vw_alert_return_rate: business alert "elevated_return_rate" — which product categories
-- come back far more often than usual?
-- One row (one alert) per product category whose return rate exceeds config
-- alerts.return_rate_threshold_pct. The rate is the Operations domain's
-- (analytics.mv_return_analysis's category counts: delivered orders with a return of a product of
-- the category / delivered orders with a line of the category, distinct orders, returns and orders
-- dated up to the reference date). Categories with fewer than config
-- alerts.return_rate_min_delivered_orders delivered orders are not judged (a handful of orders gives
-- no stable rate). The top return reason of the category is named (most returned lines, then name).
-- Severity: warning. Alert key: category:<category>.
-- Question: Which product categories have a return rate above the alert threshold?
-- Owner: Business alerts
-- Refresh: daily
-- KPI return_rate_pct: category_returned_orders / delivered_orders * 100, recomputed unrounded from
--   mv_return_analysis's counts for the comparison (shown rounded to 2 decimals)
-- KPI metric_value: return_rate_pct; threshold_value: alerts.return_rate_threshold_pct
-- KPI urgency: return_rate_pct / return_rate_threshold_pct
CREATE VIEW analytics.vw_alert_return_rate AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_numeric('alerts.return_rate_threshold_pct') AS threshold_pct,
        analytics.fn_config_int('alerts.return_rate_min_delivered_orders') AS min_orders
),

analysis AS MATERIALIZED (
    SELECT
        r.category,
        r.reason,
        r.returns,
        r.delivered_orders,
        r.category_returned_orders,
        r.category_refund_amount
    FROM analytics.mv_return_analysis AS r
),

categories AS (
    SELECT DISTINCT ON (a.category)
        a.category,
        a.delivered_orders,
        a.category_returned_orders,
        a.category_refund_amount,
        a.category_returned_orders / nullif(a.delivered_orders, 0)::numeric * 100 AS return_rate_pct,
        a.reason AS top_reason
    FROM analysis AS a
    ORDER BY a.category, a.returns DESC, a.reason
)

SELECT
    'elevated_return_rate'::text AS alert_type,
    format('category:%s', c.category) AS alert_key,
    'warning'::text AS severity,
    format('High return rate: %s', c.category) AS title,
    format(
        '%s %% of delivered %s orders were returned (%s of %s orders, refunds Rs %s; top reason: %s); alert above %s %%.',
        round(c.return_rate_pct, 2),
        c.category,
        c.category_returned_orders,
        c.delivered_orders,
        to_char(round(c.category_refund_amount, 2), 'FM999,999,999,990.00'),
        c.top_reason,
        p.threshold_pct
    ) AS detail,
    round(c.return_rate_pct, 2) AS metric_value,
    p.threshold_pct AS threshold_value,
    round(c.return_rate_pct / nullif(p.threshold_pct, 0), 4) AS urgency,
    p.ref_date AS reference_date,
    c.category,
    c.delivered_orders,
    c.category_returned_orders AS returned_orders,
    round(c.return_rate_pct, 2) AS return_rate_pct,
    c.category_refund_amount AS refund_amount,
    c.top_reason
FROM categories AS c
CROSS JOIN params AS p
WHERE c.delivered_orders >= p.min_orders
  AND c.return_rate_pct > p.threshold_pct;
