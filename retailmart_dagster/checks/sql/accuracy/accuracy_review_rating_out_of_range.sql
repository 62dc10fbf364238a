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
failing AS (
    SELECT r.review_id
      FROM customers.reviews AS r
      CROSS JOIN params AS p
     WHERE r.rating < p.rating_min OR r.rating > p.rating_max
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.reviews) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'review_id=' || f.review_id FROM failing AS f
              ORDER BY f.review_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
