-- Ad spend rows with a negative amount, click count or conversion count: cost per click, conversion
-- rates and ROI would be wrong.
-- Table: marketing.ads_spend
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_ad_spend_negative_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT a.spend_id
      FROM marketing.ads_spend AS a
     WHERE a.amount < 0 OR a.clicks < 0 OR a.conversions < 0
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM marketing.ads_spend) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'spend_id=' || f.spend_id FROM failing AS f
              ORDER BY f.spend_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
