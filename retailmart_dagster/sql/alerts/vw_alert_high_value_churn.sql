-- analytics.vw_alert_high_value_churn: business alert "high_value_churn" — which of our most valuable
-- customers have stopped buying?
-- One row (one alert) per Platinum or Gold customer (value tier of analytics.mv_churn_risk, from
-- lifetime revenue) whose days since their last sales order exceed their tier's churn window: config
-- customers.churn_days_platinum for Platinum, customers.churn_days_gold for Gold (the churn windows of
-- the Customers domain, reused through mv_churn_risk.churn_days; "more than", so a customer exactly at
-- the window is not yet an alert). Days are measured from the reference date, never the wall clock.
-- Severity: critical when the churn risk level is 'Critical' (inactive at least
-- customers.risk_critical_ratio times the window), else warning. Alert key: customer:<cust_id>.
-- Question: Which Platinum and Gold customers have been inactive longer than their tier allows?
-- Owner: Business alerts
-- Refresh: daily
-- KPI metric_value: days_since_last_order; threshold_value: the tier's churn window (days)
-- KPI urgency: days_since_last_order / churn window (mv_churn_risk.risk_ratio, unrounded)
CREATE VIEW analytics.vw_alert_high_value_churn AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

inactive AS (
    SELECT
        c.cust_id,
        c.full_name,
        c.city,
        c.value_tier,
        c.orders,
        c.revenue,
        c.last_order_date,
        c.days_since_last_order,
        c.churn_days,
        c.risk_level,
        c.recommended_action
    FROM analytics.mv_churn_risk AS c
    WHERE c.value_tier IN ('Platinum', 'Gold')
      AND c.days_since_last_order > c.churn_days
)

SELECT
    'high_value_churn'::text AS alert_type,
    format('customer:%s', i.cust_id) AS alert_key,
    CASE WHEN i.risk_level = 'Critical' THEN 'critical' ELSE 'warning' END AS severity,
    format('%s customer inactive: %s', i.value_tier, coalesce(i.full_name, 'customer ' || i.cust_id))
        AS title,
    format(
        '%s customer %s (id %s, %s) last ordered on %s, %s days ago (churn window %s days); %s orders, lifetime revenue Rs %s. Suggested: %s.',
        i.value_tier,
        coalesce(i.full_name, 'without a name'),
        i.cust_id,
        coalesce(i.city, 'city unknown'),
        to_char(i.last_order_date, 'YYYY-MM-DD'),
        i.days_since_last_order,
        i.churn_days,
        i.orders,
        to_char(round(i.revenue, 2), 'FM999,999,999,990.00'),
        i.recommended_action
    ) AS detail,
    i.days_since_last_order::numeric AS metric_value,
    i.churn_days::numeric AS threshold_value,
    round(i.days_since_last_order / nullif(i.churn_days, 0)::numeric, 4) AS urgency,
    p.ref_date AS reference_date,
    i.cust_id,
    i.full_name,
    i.value_tier,
    i.orders,
    i.revenue,
    i.last_order_date,
    i.days_since_last_order,
    i.churn_days,
    i.risk_level
FROM inactive AS i
CROSS JOIN params AS p;
