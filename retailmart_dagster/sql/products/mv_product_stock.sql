-- analytics.mv_product_stock: how much of each product is in stock, over all stores — computed once.
-- One row per product with at least one row in products.inventory at a known store (stores.stores;
-- inventory rows of unknown stores are left out). products.inventory has ONE row per store and
-- product, so summing it never multiplies; a negative stock_qty (a data error reported by the
-- quality checks) counts as 0. Products without such a row have no row here: readers LEFT JOIN it
-- and read 0.
-- Materialized because mv_top_products, mv_product_group_totals and mv_inventory_turnover all read
-- it: each aggregated the 926 k inventory rows of scale 10 itself (0.33 s each), now once per build.
-- Question: How many units of each product are in stock, and in how many stores?
-- Owner: Product analytics
-- Refresh: daily
-- KPI current_stock: sum(greatest(stock_qty, 0)) over the product's inventory rows of known stores
-- KPI stores_stocking: count of the product's inventory rows of known stores with stock_qty > 0
CREATE MATERIALIZED VIEW analytics.mv_product_stock AS
SELECT
    v.prod_id,
    sum(greatest(v.stock_qty, 0))::bigint AS current_stock,
    count(*) FILTER (WHERE v.stock_qty > 0) AS stores_stocking
FROM products.inventory AS v
JOIN stores.stores AS s ON s.store_id = v.store_id
GROUP BY v.prod_id;

CREATE UNIQUE INDEX ux_mv_product_stock ON analytics.mv_product_stock (prod_id);
