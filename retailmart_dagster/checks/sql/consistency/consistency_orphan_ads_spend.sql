-- Ad spend rows of a campaign that does not exist: campaign ROI cannot attribute the spend.
-- Table: marketing.ads_spend
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_ads_spend') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT a.spend_id
      FROM marketing.ads_spend AS a
     WHERE a.campaign_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM marketing.campaigns AS c WHERE c.campaign_id = a.campaign_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM marketing.ads_spend) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'spend_id=' || f.spend_id FROM failing AS f
              ORDER BY f.spend_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
