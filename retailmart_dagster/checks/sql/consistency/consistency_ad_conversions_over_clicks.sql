-- Ad spend rows with more conversions than clicks: conversion rates above 100 %.
-- Table: marketing.ads_spend
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_ad_conversions_over_clicks') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT a.spend_id,
           a.conversions > a.clicks AS failed
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
