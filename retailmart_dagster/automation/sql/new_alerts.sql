-- Business alerts opened after a given alert_id (the new-alert sensor's cursor) that are still open,
-- oldest first; bounded by %(limit)s. Placeholders: %(after_id)s, %(limit)s (psycopg).
SELECT
    h.alert_id,
    h.alert_type,
    h.alert_key,
    h.severity,
    h.title,
    h.detail,
    h.first_seen_at,
    h.first_reference_date
FROM analytics.alert_history AS h
WHERE h.alert_id > %(after_id)s
  AND h.state = 'open'
ORDER BY h.alert_id
LIMIT %(limit)s;
