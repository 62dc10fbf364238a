-- Reviews pointing to a product (undeclared reference reviews.prod_id) or a customer that does not
-- exist: product ratings would include reviews of unknown products.
-- Table: customers.reviews
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_reviews') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT r.review_id
      FROM customers.reviews AS r
     WHERE (r.prod_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products.products AS pr WHERE pr.prod_id = r.prod_id))
        OR (r.cust_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers.customers AS c WHERE c.cust_id = r.cust_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.reviews) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'review_id=' || f.review_id FROM failing AS f
              ORDER BY f.review_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
