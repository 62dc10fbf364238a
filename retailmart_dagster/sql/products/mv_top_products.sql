-- analytics.mv_top_products: which products sell best, how are they rated and how much is in stock?
-- One row per product of products.products (products never sold are rows of zeros), over the lines
-- (sales.order_items, line grain) of sales orders dated up to the reference date
-- (analytics.fn_reference_date()). Sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses (Returned orders are sales orders, as in the Sales domain). The line
-- sums, distinct orders and review counts per product are read from analytics.mv_product_totals
-- (summed there once, from the incrementally loaded product facts, so a refresh never scans the
-- order lines; also read by mv_product_group_totals), avg_rating as its rating points over its
-- ratings (the division avg() makes). Reviews: customers.reviews dated up to the reference date;
-- reviews.prod_id has no FK, so reviews of unknown products are simply never joined (ignored).
-- Stock: products.inventory has ONE row per store and product; only rows of stores that exist in
-- stores.stores count (inventory.store_id has no FK), and a negative stock_qty (a data error reported
-- by the quality checks) counts as 0: summed once per product in analytics.mv_product_stock, read
-- here. Sales, reviews and stock are each aggregated per product before they are joined (no
-- fan-out).
-- Question: Which products bring the most net revenue, overall and within their category, and how are they rated and stocked?
-- Owner: Product analytics
-- Refresh: daily
-- KPI orders: count(DISTINCT order_id) of sales-order lines of the product
-- KPI units: sum(order_items.quantity) over the product's sales-order lines
-- KPI gross_value: sum(quantity * unit_price) (list value, line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) (line grain)
-- KPI net_revenue: sum(quantity * unit_price * (1 - discount / 100)) (line grain) = gross_value - discount_amount
-- KPI avg_selling_price: net_revenue / units (numeric division; NULL without units)
-- KPI avg_discount_pct: discount_amount / gross_value * 100 (value-weighted; NULL without sales)
-- KPI revenue_share_pct: net_revenue / net_revenue of all products * 100
-- KPI category_revenue_share_pct: net_revenue / net_revenue of the product's category * 100
-- KPI revenue_rank: row_number() over (net_revenue DESC, prod_id) — unique, deterministic
-- KPI category_rank: row_number() over (PARTITION BY category ORDER BY net_revenue DESC, prod_id)
-- KPI units_rank: row_number() over (units DESC, net_revenue DESC, prod_id)
-- KPI avg_rating: avg(reviews.rating) over the product's reviews (review grain); NULL without reviews
-- KPI review_count: count(*) of the product's reviews
-- KPI current_stock: sum(greatest(stock_qty, 0)) over the product's inventory rows of known stores (one row per store: never multiplied)
-- KPI stores_stocking: count of the product's inventory rows of known stores with stock_qty > 0
-- KPI stock_value: current_stock * products.price (current list price)
CREATE MATERIALIZED VIEW analytics.mv_top_products AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

bounds AS MATERIALIZED (
    SELECT
        p.ref_date,
        (
            SELECT min(f.order_date)
            FROM analytics.fact_orders AS f
            WHERE f.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

per_product AS (
    SELECT
        pr.prod_id,
        pr.prod_name,
        pr.category,
        pr.brand,
        pr.supplier_id,
        pr.price,
        t.orders,
        t.units,
        t.gross_value,
        t.discount_amount,
        t.net_revenue,
        t.rating_sum / nullif(t.ratings, 0)::numeric AS avg_rating,
        t.review_count,
        coalesce(st.current_stock, 0) AS current_stock,
        coalesce(st.stores_stocking, 0) AS stores_stocking
    FROM products.products AS pr
    JOIN analytics.mv_product_totals AS t ON t.prod_id = pr.prod_id
    LEFT JOIN analytics.mv_product_stock AS st ON st.prod_id = pr.prod_id
)

SELECT
    pp.prod_id,
    pp.prod_name,
    pp.category,
    pp.brand,
    pp.supplier_id,
    pp.price AS list_price,
    pp.orders,
    pp.units,
    round(pp.gross_value, 2) AS gross_value,
    round(pp.discount_amount, 2) AS discount_amount,
    round(pp.net_revenue, 2) AS net_revenue,
    round(pp.net_revenue / nullif(pp.units, 0)::numeric, 2) AS avg_selling_price,
    round(pp.discount_amount / nullif(pp.gross_value, 0) * 100, 2) AS avg_discount_pct,
    round(pp.net_revenue / nullif(sum(pp.net_revenue) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(
        pp.net_revenue / nullif(sum(pp.net_revenue) OVER (PARTITION BY pp.category), 0) * 100, 2
    ) AS category_revenue_share_pct,
    row_number() OVER (ORDER BY pp.net_revenue DESC, pp.prod_id) AS revenue_rank,
    row_number() OVER (
        PARTITION BY pp.category ORDER BY pp.net_revenue DESC, pp.prod_id
    ) AS category_rank,
    row_number() OVER (ORDER BY pp.units DESC, pp.net_revenue DESC, pp.prod_id) AS units_rank,
    round(pp.avg_rating, 2) AS avg_rating,
    pp.review_count,
    pp.current_stock,
    pp.stores_stocking,
    round(pp.current_stock * pp.price, 2) AS stock_value,
    b.first_date AS period_start,
    b.ref_date AS period_end
FROM per_product AS pp
CROSS JOIN bounds AS b;

CREATE UNIQUE INDEX ux_mv_top_products ON analytics.mv_top_products (prod_id);
