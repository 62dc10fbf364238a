-- analytics.vw_store_inventory_status: how healthy is the stock of each store?
-- One row per store of stores.stores, over its rows in products.inventory (one row per store and
-- product). inventory.store_id has no FK: rows whose store_id is not in stores.stores are EXCLUDED here
-- (they belong to no store; the export fn_export_stores_inventory_health reports how many there are).
-- A row is out of stock when stock_qty <= 0 (a negative stock is a data error and counts as 0 units),
-- low when 0 < stock_qty <= config stores.low_stock_units. Health: 'No Inventory' for a store without
-- rows; 'Critical' when at_risk_pct >= config stores.health_critical_pct; 'Needs Attention' when
-- at_risk_pct >= config stores.health_attention_pct; else 'Healthy'. The cut-offs are shares of the
-- store's rows, so they mean the same at any data scale (in the sample data a store's at-risk share
-- has median ~5-7% and 90th percentile ~10-11% at scales 0.05 to 1: the defaults flag about the top
-- third of stores Needs Attention and the top ~10-15% Critical).
-- Question: Which stores run out of stock, how much stock value do they hold, and how healthy is their inventory?
-- Owner: Store operations analytics
-- Refresh: daily
-- KPI products_listed: count(*) of the store's inventory rows (products it carries)
-- KPI stock_units: sum(greatest(stock_qty, 0))
-- KPI stock_value: sum(greatest(stock_qty, 0) * products.price) (current list price)
-- KPI out_of_stock_count: count of rows with stock_qty <= 0
-- KPI low_stock_count: count of rows with 0 < stock_qty <= stores.low_stock_units
-- KPI out_of_stock_pct: out_of_stock_count / products_listed * 100
-- KPI low_stock_pct: low_stock_count / products_listed * 100
-- KPI at_risk_pct: (out_of_stock_count + low_stock_count) / products_listed * 100
-- KPI inventory_health: No Inventory / Critical / Needs Attention / Healthy, as described above
CREATE VIEW analytics.vw_store_inventory_status AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_int('stores.low_stock_units') AS low_stock_units,
        analytics.fn_config_numeric('stores.health_attention_pct') AS attention_pct,
        analytics.fn_config_numeric('stores.health_critical_pct') AS critical_pct
),

by_store AS (
    SELECT
        v.store_id,
        count(*) AS products_listed,
        sum(greatest(v.stock_qty, 0)) AS stock_units,
        sum(greatest(v.stock_qty, 0) * pr.price) AS stock_value,
        count(*) FILTER (WHERE v.stock_qty <= 0) AS out_of_stock_count,
        count(*) FILTER (
            WHERE v.stock_qty > 0 AND v.stock_qty <= p.low_stock_units
        ) AS low_stock_count
    FROM products.inventory AS v
    JOIN products.products AS pr ON pr.prod_id = v.prod_id
    CROSS JOIN params AS p
    GROUP BY v.store_id
),

per_store AS (
    SELECT
        s.store_id,
        s.store_name,
        s.city,
        s.state,
        coalesce(s.region, 'Unknown') AS region,
        coalesce(b.products_listed, 0) AS products_listed,
        coalesce(b.stock_units, 0) AS stock_units,
        coalesce(b.stock_value, 0) AS stock_value,
        coalesce(b.out_of_stock_count, 0) AS out_of_stock_count,
        coalesce(b.low_stock_count, 0) AS low_stock_count,
        b.out_of_stock_count / nullif(b.products_listed, 0)::numeric * 100 AS out_of_stock_share,
        b.low_stock_count / nullif(b.products_listed, 0)::numeric * 100 AS low_stock_share,
        (b.out_of_stock_count + b.low_stock_count)
        / nullif(b.products_listed, 0)::numeric * 100 AS at_risk_share
    FROM stores.stores AS s
    LEFT JOIN by_store AS b ON b.store_id = s.store_id
)

SELECT
    ps.store_id,
    ps.store_name,
    ps.city,
    ps.state,
    ps.region,
    ps.products_listed,
    ps.stock_units,
    round(ps.stock_value, 2) AS stock_value,
    ps.out_of_stock_count,
    ps.low_stock_count,
    round(ps.out_of_stock_share, 2) AS out_of_stock_pct,
    round(ps.low_stock_share, 2) AS low_stock_pct,
    round(ps.at_risk_share, 2) AS at_risk_pct,
    CASE
        WHEN ps.products_listed = 0 THEN 'No Inventory'
        WHEN ps.at_risk_share >= p.critical_pct THEN 'Critical'
        WHEN ps.at_risk_share >= p.attention_pct THEN 'Needs Attention'
        ELSE 'Healthy'
    END AS inventory_health,
    p.low_stock_units
FROM per_store AS ps
CROSS JOIN params AS p;
