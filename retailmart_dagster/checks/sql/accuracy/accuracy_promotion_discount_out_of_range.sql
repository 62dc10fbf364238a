-- Promotions whose discount percentage lies outside the configured range (quality.discount_min_pct
-- .. quality.discount_max_pct).
-- Table: products.promotions
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_promotion_discount_out_of_range') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.discount_min_pct') AS min_pct,
           analytics.fn_config_numeric('quality.discount_max_pct') AS max_pct
),
checked AS (
    SELECT pm.promo_id,
           (pm.discount_percent < p.min_pct OR pm.discount_percent > p.max_pct) AS failed
      FROM products.promotions AS pm
      CROSS JOIN params AS p
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.promo_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.promo_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (promo_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'promo_id=' || f.promo_id FROM failing AS f
              ORDER BY f.promo_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
