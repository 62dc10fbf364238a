-- analytics.mv_product_totals: what each product sold and how it is reviewed, summed once.
-- One row per product of products.products (products never sold or reviewed are rows of zeros), as
-- of the reference date (analytics.fn_reference_date()). Amounts are unrounded exact numeric sums, so
-- that readers can add them up further (per category, per brand) and round only what they show.
-- Sales: the lines (sales.order_items, line grain) of sales orders (order_status not in config
-- sales.excluded_order_statuses) dated up to the reference date, read from the incrementally loaded
-- facts: analytics.fact_product_months for the months before the reference month and
-- analytics.fact_product_days for the reference month's days (exact line sums per month or day,
-- product and order status), so a refresh never scans the order lines. Distinct orders per month or
-- day add up exactly to distinct orders per product (an order has one date and one status).
-- Reviews: customers.reviews dated up to the reference date (reviews of products not in the
-- catalogue are never joined); rating_sum and ratings let a reader compute avg(rating) exactly, for
-- one product or for a group of them (rating_sum / ratings is the numeric division avg() makes).
-- Materialized because analytics.mv_top_products and analytics.mv_product_group_totals both read
-- it: each summed the 300 k product-month rows and the 300 k reviews of scale 10 itself (about
-- 0.33 s each), now once per build.
-- Question: What did each product sell, and how many reviews and rating points did it get, in total?
-- Owner: Product analytics
-- Refresh: daily
-- KPI has_sales: the product has at least one sales-order line dated up to the reference date
-- KPI orders: count(DISTINCT order_id) of sales-order lines of the product
-- KPI units: sum(order_items.quantity) over the product's sales-order lines
-- KPI gross_value: sum(quantity * unit_price) (list value, line grain)
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) (line grain)
-- KPI net_revenue: sum(quantity * unit_price * (1 - discount / 100)) (line grain)
-- KPI review_count: count(*) of the product's reviews
-- KPI ratings: count(rating) of those reviews (reviews with a rating)
-- KPI rating_sum: sum(rating) of those reviews (NULL without a rating)
CREATE MATERIALIZED VIEW analytics.mv_product_totals AS
WITH params AS MATERIALIZED (
    SELECT
        r.ref_date,
        date_trunc('month', r.ref_date)::date AS ref_month,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
    FROM (SELECT analytics.fn_reference_date() AS ref_date) AS r
),

product_periods AS (
    SELECT m.prod_id, m.order_status, m.orders, m.units, m.list_value, m.discount_amount, m.net_value
    FROM analytics.fact_product_months AS m
    CROSS JOIN params AS p
    WHERE m.order_month < p.ref_month
    UNION ALL
    SELECT d.prod_id, d.order_status, d.orders, d.units, d.list_value, d.discount_amount, d.net_value
    FROM analytics.fact_product_days AS d
    CROSS JOIN params AS p
    WHERE d.order_date >= p.ref_month
      AND d.order_date <= p.ref_date
),

line_totals AS (
    SELECT
        pp.prod_id,
        sum(pp.orders)::bigint AS orders,
        sum(pp.units)::bigint AS units,
        sum(pp.list_value) AS gross_value,
        sum(pp.discount_amount) AS discount_amount,
        sum(pp.net_value) AS net_revenue
    FROM product_periods AS pp
    CROSS JOIN params AS p
    WHERE NOT coalesce(pp.order_status = ANY (p.excluded_statuses), false)
    GROUP BY pp.prod_id
),

review_totals AS (
    SELECT
        r.prod_id,
        count(*) AS review_count,
        count(r.rating) AS ratings,
        sum(r.rating::numeric) AS rating_sum
    FROM customers.reviews AS r
    CROSS JOIN params AS p
    WHERE r.review_date <= p.ref_date
    GROUP BY r.prod_id
)

SELECT
    pr.prod_id,
    l.prod_id IS NOT NULL AS has_sales,
    coalesce(l.orders, 0) AS orders,
    coalesce(l.units, 0) AS units,
    coalesce(l.gross_value, 0) AS gross_value,
    coalesce(l.discount_amount, 0) AS discount_amount,
    coalesce(l.net_revenue, 0) AS net_revenue,
    coalesce(r.review_count, 0) AS review_count,
    coalesce(r.ratings, 0) AS ratings,
    r.rating_sum
FROM products.products AS pr
LEFT JOIN line_totals AS l ON l.prod_id = pr.prod_id
LEFT JOIN review_totals AS r ON r.prod_id = pr.prod_id;

CREATE UNIQUE INDEX ux_mv_product_totals ON analytics.mv_product_totals (prod_id);
