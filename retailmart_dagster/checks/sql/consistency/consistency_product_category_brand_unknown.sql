-- Products whose category or brand name is not in the reference tables (core.dim_category,
-- core.dim_brand): a reference by name, declared nowhere; category and brand KPIs would show names
-- that the dimensions do not know.
-- Table: products.products
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_product_category_brand_unknown') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT pr.prod_id
      FROM products.products AS pr
     WHERE (pr.category IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.dim_category AS dc WHERE dc.category_name = pr.category))
        OR (pr.brand IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.dim_brand AS db WHERE db.brand_name = pr.brand))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM products.products) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
