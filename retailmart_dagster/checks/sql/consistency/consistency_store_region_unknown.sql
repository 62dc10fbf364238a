-- Stores whose region is not in core.dim_region (a reference by name, declared nowhere): regional
-- store KPIs would show an unknown region.
-- Table: stores.stores
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_store_region_unknown') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT s.store_id
      FROM stores.stores AS s
     WHERE s.region IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.dim_region AS dr WHERE dr.region_name = s.region)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM stores.stores) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id FROM failing AS f
              ORDER BY f.store_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;
