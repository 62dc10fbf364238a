-- analytics.vw_alerts: every business alert that is true on the current data, one row per alert, in
-- one shape: the six alert views (analytics.vw_alert_*) stacked. Each alert is identified by
-- (alert_type, alert_key); the data asset analytics/alert_history_sync records them in
-- analytics.alert_history (first seen, last seen, resolved at, state), so an alert that stays true is
-- one open alert. Severity: 'critical', 'warning' or 'info' (severity_order 1, 2, 3).
-- Question: Which business alerts are true right now, and how severe are they?
-- Owner: Business alerts
-- Refresh: daily
-- KPI severity_order: 1 = critical, 2 = warning, 3 = info (for sorting)
-- KPI urgency: how far past its threshold the alert is, as a ratio (per type, see its view)
CREATE VIEW analytics.vw_alerts AS
WITH all_alerts AS (
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_revenue_anomaly AS a
    UNION ALL
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_critical_inventory AS a
    UNION ALL
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_shipment_delay AS a
    UNION ALL
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_high_value_churn AS a
    UNION ALL
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_return_rate AS a
    UNION ALL
    SELECT a.alert_type, a.alert_key, a.severity, a.title, a.detail, a.metric_value,
           a.threshold_value, a.urgency, a.reference_date
    FROM analytics.vw_alert_payment_concentration AS a
)

SELECT
    aa.alert_type,
    aa.alert_key,
    aa.severity,
    CASE aa.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END AS severity_order,
    aa.title,
    aa.detail,
    aa.metric_value,
    aa.threshold_value,
    aa.urgency,
    aa.reference_date
FROM all_alerts AS aa;
