-- E-mail sends to a customer or for a campaign that does not exist.
-- Table: marketing.email_clicks
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_email_clicks') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT m.email_id
      FROM marketing.email_clicks AS m
     WHERE (m.cust_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers.customers AS c WHERE c.cust_id = m.cust_id))
        OR (m.campaign_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM marketing.campaigns AS c WHERE c.campaign_id = m.campaign_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM marketing.email_clicks) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'email_id=' || f.email_id FROM failing AS f
              ORDER BY f.email_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
