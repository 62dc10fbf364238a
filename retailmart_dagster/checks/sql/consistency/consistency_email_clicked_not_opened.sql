-- E-mails marked clicked but not opened (opened false or unknown): a click implies an open, so
-- open and click-through rates disagree.
-- Table: marketing.email_clicks
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_email_clicked_not_opened') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT m.email_id,
           (m.clicked IS TRUE AND m.opened IS NOT TRUE) AS failed
      FROM marketing.email_clicks AS m
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.email_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.email_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (email_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'email_id=' || f.email_id FROM failing AS f
              ORDER BY f.email_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
