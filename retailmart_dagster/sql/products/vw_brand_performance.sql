-- analytics.vw_brand_performance: how does each brand perform?
-- One row per brand of products.products (a NULL brand is reported as 'Unknown'), over the lines
-- (sales.order_items, line grain) of sales orders dated up to the reference date
-- (analytics.fn_reference_date()); sales orders = orders whose order_status is not in config
-- sales.excluded_order_statuses. A brand is identified by its name (products.brand); categories lists
-- the categories of its products. Sales lines, reviews and stock are each aggregated per brand in
-- their own CTE and joined afterwards (no fan-out). Reviews: customers.reviews dated up to the
-- reference date whose prod_id is a known product (orphans ignored). Stock: inventory rows of known
-- stores only, negative stock_qty counted as 0 (as in mv_top_products).
-- Question: Which brands bring the most net revenue, at what discount, rating and stock?
-- Owner: Product analytics
-- Refresh: daily
-- KPI products: count(*) of catalogue products of the brand
-- KPI categories: count(DISTINCT category) of the brand's products (category_list names them)
-- KPI products_sold: count(DISTINCT prod_id) with at least one sales-order line
-- KPI orders: count(DISTINCT order_id) of sales orders with a line of the brand
-- KPI units: sum(quantity) over the brand's sales-order lines
-- KPI gross_value: sum(quantity * unit_price) (line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) (line grain)
-- KPI net_revenue: sum(quantity * unit_price * (1 - discount / 100)) (line grain)
-- KPI revenue_share_pct: net_revenue / net_revenue of all brands * 100
-- KPI avg_selling_price: net_revenue / units (numeric division)
-- KPI avg_discount_pct: discount_amount / gross_value * 100 (value-weighted)
-- KPI avg_rating: avg(rating) over the reviews of the brand's products (review grain)
-- KPI review_count: count(*) of those reviews
-- KPI current_stock: sum(greatest(stock_qty, 0)) over inventory rows of known stores
-- KPI stock_value: sum(greatest(stock_qty, 0) * products.price) over the same rows
-- KPI revenue_rank: row_number() over (net_revenue DESC, brand)
CREATE VIEW analytics.vw_brand_performance AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

catalogue AS (
    SELECT
        pr.prod_id,
        coalesce(pr.brand, 'Unknown') AS brand,
        coalesce(pr.category, 'Unknown') AS category,
        pr.price
    FROM products.products AS pr
),

sales_orders AS (
    SELECT o.order_id
    FROM sales.orders AS o
    CROSS JOIN bounds AS b
    WHERE o.order_date <= b.ref_date
      AND NOT coalesce(o.order_status = ANY (b.excluded_statuses), false)
),

products_by_brand AS (
    SELECT
        c.brand,
        count(*) AS products,
        count(DISTINCT c.category) AS categories,
        string_agg(DISTINCT c.category, ', ' ORDER BY c.category) AS category_list
    FROM catalogue AS c
    GROUP BY c.brand
),

lines_by_brand AS (
    SELECT
        c.brand,
        count(DISTINCT oi.prod_id) AS products_sold,
        count(DISTINCT oi.order_id) AS orders,
        sum(oi.quantity) AS units,
        sum(oi.quantity * oi.unit_price) AS gross_value,
        sum(oi.quantity * oi.unit_price * oi.discount / 100) AS discount_amount,
        sum(oi.quantity * oi.unit_price * (1 - oi.discount / 100)) AS net_revenue
    FROM sales.order_items AS oi
    JOIN sales_orders AS so ON so.order_id = oi.order_id
    JOIN catalogue AS c ON c.prod_id = oi.prod_id
    GROUP BY c.brand
),

reviews_by_brand AS (
    SELECT
        c.brand,
        avg(r.rating::numeric) AS avg_rating,
        count(*) AS review_count
    FROM customers.reviews AS r
    JOIN catalogue AS c ON c.prod_id = r.prod_id
    CROSS JOIN bounds AS b
    WHERE r.review_date <= b.ref_date
    GROUP BY c.brand
),

stock_by_brand AS (
    SELECT
        c.brand,
        sum(greatest(v.stock_qty, 0)) AS current_stock,
        sum(greatest(v.stock_qty, 0) * c.price) AS stock_value
    FROM products.inventory AS v
    JOIN stores.stores AS s ON s.store_id = v.store_id
    JOIN catalogue AS c ON c.prod_id = v.prod_id
    GROUP BY c.brand
),

combined AS (
    SELECT
        pb.brand,
        pb.products,
        pb.categories,
        pb.category_list,
        coalesce(l.products_sold, 0) AS products_sold,
        coalesce(l.orders, 0) AS orders,
        coalesce(l.units, 0) AS units,
        coalesce(l.gross_value, 0) AS gross_value,
        coalesce(l.discount_amount, 0) AS discount_amount,
        coalesce(l.net_revenue, 0) AS net_revenue,
        r.avg_rating,
        coalesce(r.review_count, 0) AS review_count,
        coalesce(st.current_stock, 0) AS current_stock,
        coalesce(st.stock_value, 0) AS stock_value
    FROM products_by_brand AS pb
    LEFT JOIN lines_by_brand AS l ON l.brand = pb.brand
    LEFT JOIN reviews_by_brand AS r ON r.brand = pb.brand
    LEFT JOIN stock_by_brand AS st ON st.brand = pb.brand
)

SELECT
    c.brand,
    c.products,
    c.categories,
    c.category_list,
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
    row_number() OVER (ORDER BY c.net_revenue DESC, c.brand) AS revenue_rank,
    b.first_date AS period_start,
    b.ref_date AS period_end
FROM combined AS c
CROSS JOIN bounds AS b;
