-- analytics.vw_category_performance: how does each product category perform?
-- One row per category of products.products (a NULL category is reported as 'Unknown'), over the
-- lines (sales.order_items, line grain) of sales orders dated up to the reference date
-- (analytics.fn_reference_date()); sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses. Sales lines, reviews and stock are each aggregated per category on
-- their own (in mv_product_group_totals) and joined afterwards (no fan-out). Reviews:
-- customers.reviews dated up to the reference date whose prod_id is a known product (orphans
-- ignored). Stock: inventory rows of known stores only, negative stock_qty counted as 0 (as in
-- mv_top_products).
-- The per-category totals are computed once in analytics.mv_product_group_totals (level 'category',
-- shared with vw_brand_performance); this view adds shares, averages, rounding and the rank.
-- Question: Which product categories bring the most net revenue, at what discount, rating and stock?
-- Owner: Product analytics
-- Refresh: daily
-- KPI products: count(*) of catalogue products in the category
-- KPI products_sold: count(DISTINCT prod_id) with at least one sales-order line
-- KPI orders: count(DISTINCT order_id) of sales orders with a line of the category (an order with two categories counts in both)
-- KPI units: sum(quantity) over the category's sales-order lines
-- KPI gross_value: sum(quantity * unit_price) (line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) (line grain)
-- KPI net_revenue: sum(quantity * unit_price * (1 - discount / 100)) (line grain)
-- KPI revenue_share_pct: net_revenue / net_revenue of all categories * 100
-- KPI avg_selling_price: net_revenue / units (numeric division)
-- KPI avg_discount_pct: discount_amount / gross_value * 100 (value-weighted)
-- KPI avg_rating: avg(rating) over the reviews of the category's products (review grain, not an average of product averages)
-- KPI review_count: count(*) of those reviews
-- KPI current_stock: sum(greatest(stock_qty, 0)) over inventory rows of known stores
-- KPI stock_value: sum(greatest(stock_qty, 0) * products.price) over the same rows
-- KPI revenue_rank: row_number() over (net_revenue DESC, category)
CREATE VIEW analytics.vw_category_performance AS
WITH totals AS (
    SELECT
        g.group_name AS category,
        g.products,
        g.products_sold,
        g.orders,
        g.units,
        g.gross_value,
        g.discount_amount,
        g.net_revenue,
        g.avg_rating,
        g.review_count,
        g.current_stock,
        g.stock_value,
        g.period_start,
        g.period_end
    FROM analytics.mv_product_group_totals AS g
    WHERE g.level = 'category'
)

SELECT
    c.category,
    c.products,
    c.products_sold,
    c.orders,
    c.units,
    round(c.gross_value, 2) AS gross_value,
    round(c.discount_amount, 2) AS discount_amount,
    round(c.net_revenue, 2) AS net_revenue,
    round(c.net_revenue / nullif(sum(c.net_revenue) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(c.net_revenue / nullif(c.units, 0)::numeric, 2) AS avg_selling_price,
    round(c.discount_amount / nullif(c.gross_value, 0) * 100, 2) AS avg_discount_pct,
    round(c.avg_rating, 2) AS avg_rating,
    c.review_count,
    c.current_stock,
    round(c.stock_value, 2) AS stock_value,
    row_number() OVER (ORDER BY c.net_revenue DESC, c.category) AS revenue_rank,
    c.period_start,
    c.period_end
FROM totals AS c;
