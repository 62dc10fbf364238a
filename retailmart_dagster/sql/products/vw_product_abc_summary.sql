-- analytics.vw_product_abc_summary: how many products, and how much revenue, in each ABC class?
-- One row per class A, B, C of analytics.mv_product_abc (a class without products is a row of zeros).
-- Question: How concentrated is revenue: what share of products makes what share of net revenue?
-- Owner: Product analytics
-- Refresh: daily
-- KPI products: count(*) of products in the class
-- KPI product_share_pct: products / all products * 100
-- KPI units: sum(units) of the class's products
-- KPI net_revenue: sum(net_revenue) of the class's products
-- KPI revenue_share_pct: net_revenue / total net_revenue * 100 (from summed revenue, not an average of shares)
-- KPI avg_revenue_per_product: net_revenue / products (numeric division; NULL for an empty class)
-- KPI cutoff_pct: the class's upper cumulative-share cut-off (as used by the last refresh of mv_product_abc, from config products.abc_a_cutoff_pct / abc_b_cutoff_pct; 100 for C)
CREATE VIEW analytics.vw_product_abc_summary AS
WITH classes AS (
    SELECT
        c.abc_class,
        c.class_order
    FROM (VALUES ('A', 1), ('B', 2), ('C', 3)) AS c (abc_class, class_order)
),

by_class AS (
    SELECT
        a.abc_class,
        count(*) AS products,
        sum(a.units) AS units,
        sum(a.net_revenue) AS net_revenue
    FROM analytics.mv_product_abc AS a
    GROUP BY a.abc_class
),

totals AS (
    SELECT
        count(*) AS products,
        sum(a.net_revenue) AS net_revenue,
        max(a.a_cutoff_pct) AS a_cutoff_pct,
        max(a.b_cutoff_pct) AS b_cutoff_pct
    FROM analytics.mv_product_abc AS a
)

SELECT
    c.abc_class,
    c.class_order,
    coalesce(b.products, 0) AS products,
    round(coalesce(b.products, 0) / nullif(t.products, 0)::numeric * 100, 2) AS product_share_pct,
    coalesce(b.units, 0) AS units,
    coalesce(b.net_revenue, 0) AS net_revenue,
    round(coalesce(b.net_revenue, 0) / nullif(t.net_revenue, 0) * 100, 2) AS revenue_share_pct,
    round(b.net_revenue / nullif(b.products, 0)::numeric, 2) AS avg_revenue_per_product,
    CASE c.abc_class
        WHEN 'A' THEN t.a_cutoff_pct
        WHEN 'B' THEN t.b_cutoff_pct
        ELSE 100
    END AS cutoff_pct
FROM classes AS c
CROSS JOIN totals AS t
LEFT JOIN by_class AS b ON b.abc_class = c.abc_class;
