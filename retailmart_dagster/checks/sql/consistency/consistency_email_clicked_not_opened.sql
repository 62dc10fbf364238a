-- E-mails marked clicked but not opened (opened false or unknown): a click implies an open, so
-- open and click-through rates disagree.
-- Table: marketing.email_clicks
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_email_clicked_not_opened') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT m.email_id
      FROM marketing.email_clicks AS m
     WHERE m.clicked IS TRUE AND m.opened IS NOT TRUE
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM marketing.email_clicks) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'email_id=' || f.email_id FROM failing AS f
              ORDER BY f.email_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
