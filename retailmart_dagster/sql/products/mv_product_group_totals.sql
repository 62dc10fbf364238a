-- analytics.mv_product_group_totals: the sales, review and stock totals of every product category and
-- every brand, computed once for analytics.vw_category_performance and analytics.vw_brand_performance.
-- One row per (level, group_name): level 'category' has one row per category of products.products,
-- level 'brand' one row per brand (a NULL category or brand is reported as 'Unknown'). Each product
-- belongs to exactly one category row and one brand row. Amounts are unrounded (the two views round).
-- Sales and reviews: the sums per product of analytics.mv_product_totals (the lines, line grain, of
-- sales orders — order_status not in config sales.excluded_order_statuses — dated up to the reference
-- date (analytics.fn_reference_date()), from the incrementally loaded product facts; reviews dated up
-- to the reference date), added up per group: exact numeric sums, and avg_rating = rating points /
-- ratings of the group's products (the division avg() makes over the group's reviews); reviews of
-- products not in the catalogue are never joined. Orders per group from
-- analytics.fact_product_group_months and fact_product_group_days (distinct orders per month or day,
-- status and group, which add up exactly over days and statuses because an order has one date and
-- one status — never summed over products). Stock: per product from analytics.mv_product_stock
-- (inventory rows of known stores only, negative stock_qty counted as 0, summed there once).
-- Catalogue, sales and reviews, orders and stock are each aggregated per group in their own CTE and
-- joined afterwards (no fan-out).
-- Materialized because the two views and their exports read it: computed once per build.
-- Question: What did each product category and each brand sell, how is it rated and how much is in stock?
-- Owner: Product analytics
-- Refresh: daily
-- KPI products: count(*) of catalogue products of the group
-- KPI categories: count(DISTINCT category) of the group's products (category_list names them)
-- KPI products_sold: count(DISTINCT prod_id) with at least one sales-order line
-- KPI orders: count(DISTINCT order_id) of sales orders with a line of the group
-- KPI units: sum(quantity) over the group's sales-order lines
-- KPI gross_value: sum(quantity * unit_price) (line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) (line grain)
-- KPI net_revenue: sum(quantity * unit_price * (1 - discount / 100)) (line grain)
-- KPI avg_rating: avg(rating) over the reviews of the group's products (review grain)
-- KPI review_count: count(*) of those reviews
-- KPI current_stock: sum(greatest(stock_qty, 0)) over inventory rows of known stores
-- KPI stock_value: sum(greatest(stock_qty, 0) * products.price) over the same rows
CREATE MATERIALIZED VIEW analytics.mv_product_group_totals AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        date_trunc('month', p.ref_date)::date AS ref_month,
        (
            SELECT min(f.order_date)
            FROM analytics.fact_orders AS f
            WHERE f.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

catalogue AS (
    SELECT
        pr.prod_id,
        coalesce(pr.category, 'Unknown') AS category,
        coalesce(pr.brand, 'Unknown') AS brand,
        pr.price
    FROM products.products AS pr
),

-- Each product once per level: its category row and its brand row.
catalogue_groups AS (
    SELECT
        c.prod_id,
        c.category,
        c.price,
        g.level,
        g.group_name
    FROM catalogue AS c
    CROSS JOIN LATERAL (VALUES ('category', c.category), ('brand', c.brand)) AS g (level, group_name)
),

products_by_group AS (
    SELECT
        cg.level,
        cg.group_name,
        count(*) AS products,
        count(DISTINCT cg.category) AS categories,
        string_agg(DISTINCT cg.category, ', ' ORDER BY cg.category) AS category_list
    FROM catalogue_groups AS cg
    GROUP BY cg.level, cg.group_name
),

-- Distinct orders per group (of lines of catalogue products), added up over months and days and
-- statuses: analytics.fact_product_group_months before the reference month, then
-- analytics.fact_product_group_days.
group_periods AS (
    SELECT m.level, m.group_name, m.order_status, m.orders
    FROM analytics.fact_product_group_months AS m
    CROSS JOIN bounds AS b
    WHERE m.level IN ('category', 'brand')
      AND m.order_month < b.ref_month
    UNION ALL
    SELECT g.level, g.group_name, g.order_status, g.orders
    FROM analytics.fact_product_group_days AS g
    CROSS JOIN bounds AS b
    WHERE g.level IN ('category', 'brand')
      AND g.order_date >= b.ref_month
      AND g.order_date <= b.ref_date
),

orders_by_group AS (
    SELECT
        gp.level,
        gp.group_name,
        sum(gp.orders)::bigint AS orders
    FROM group_periods AS gp
    CROSS JOIN bounds AS b
    WHERE NOT coalesce(gp.order_status = ANY (b.excluded_statuses), false)
    GROUP BY gp.level, gp.group_name
),

-- Line amounts and reviews per product from analytics.mv_product_totals (exact numeric sums, so
-- their sums per group are exact too); the group's avg_rating is its rating points over its ratings,
-- the numeric division avg() makes over the group's reviews.
product_totals_by_group AS (
    SELECT
        cg.level,
        cg.group_name,
        count(*) FILTER (WHERE t.has_sales) AS products_sold,
        sum(t.units)::bigint AS units,
        sum(t.gross_value) AS gross_value,
        sum(t.discount_amount) AS discount_amount,
        sum(t.net_revenue) AS net_revenue,
        sum(t.rating_sum) / nullif(sum(t.ratings), 0)::numeric AS avg_rating,
        sum(t.review_count)::bigint AS review_count
    FROM analytics.mv_product_totals AS t
    JOIN catalogue_groups AS cg ON cg.prod_id = t.prod_id
    GROUP BY cg.level, cg.group_name
),

-- Stock per product first (926 k inventory rows at scale 10, one per store and product), then per
-- group: joining every inventory row to its two catalogue groups first cost 0.9 s of 2.4 s.
-- stock_value = price x stock per product, exact in numeric, so its sum per group is the same.
stock_by_group AS (
    SELECT
        cg.level,
        cg.group_name,
        sum(sp.current_stock)::bigint AS current_stock,
        sum(sp.current_stock * cg.price) AS stock_value
    FROM analytics.mv_product_stock AS sp
    JOIN catalogue_groups AS cg ON cg.prod_id = sp.prod_id
    GROUP BY cg.level, cg.group_name
)

SELECT
    pg.level,
    pg.group_name,
    pg.products,
    pg.categories,
    pg.category_list,
    coalesce(l.products_sold, 0) AS products_sold,
    coalesce(o.orders, 0) AS orders,
    coalesce(l.units, 0) AS units,
    coalesce(l.gross_value, 0) AS gross_value,
    coalesce(l.discount_amount, 0) AS discount_amount,
    coalesce(l.net_revenue, 0) AS net_revenue,
    l.avg_rating,
    coalesce(l.review_count, 0) AS review_count,
    coalesce(st.current_stock, 0) AS current_stock,
    coalesce(st.stock_value, 0) AS stock_value,
    b.first_date AS period_start,
    b.ref_date AS period_end
FROM products_by_group AS pg
CROSS JOIN bounds AS b
LEFT JOIN product_totals_by_group AS l ON l.level = pg.level AND l.group_name = pg.group_name
LEFT JOIN orders_by_group AS o ON o.level = pg.level AND o.group_name = pg.group_name
LEFT JOIN stock_by_group AS st ON st.level = pg.level AND st.group_name = pg.group_name;

CREATE UNIQUE INDEX ux_mv_product_group_totals ON analytics.mv_product_group_totals (level, group_name);
