-- Reviews whose rating lies outside the rating scale (quality.rating_min .. quality.rating_max):
-- average ratings would be skewed.
-- Table: customers.reviews
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_review_rating_out_of_range') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_int('quality.rating_min') AS rating_min,
           analytics.fn_config_int('quality.rating_max') AS rating_max
),
checked AS (
    SELECT r.review_id,
           (r.rating < p.rating_min OR r.rating > p.rating_max) AS failed
      FROM customers.reviews AS r
      CROSS JOIN params AS p
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.review_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.review_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (review_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'review_id=' || f.review_id FROM failing AS f
              ORDER BY f.review_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;
