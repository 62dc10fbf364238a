-- Ad spend rows with a negative amount, click count or conversion count: cost per click, conversion
-- rates and ROI would be wrong.
-- Table: marketing.ads_spend
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_ad_spend_negative_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT a.spend_id,
           (a.amount < 0 OR a.clicks < 0 OR a.conversions < 0) AS failed
      FROM marketing.ads_spend AS a
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.spend_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.spend_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (spend_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'spend_id=' || f.spend_id FROM failing AS f
              ORDER BY f.spend_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
