-- The newest alert_id of analytics.alert_history (0 when empty): where the new-alert sensor starts on
-- its first tick, so alerts that are already open are not announced.
SELECT coalesce(max(h.alert_id), 0) AS latest_alert_id
FROM analytics.alert_history AS h;
