-- analytics.mv_product_abc: the Pareto (ABC) classification of products by net revenue.
-- One row per product of analytics.mv_top_products (every catalogue product). Products are ordered by
-- net revenue descending, ties broken by prod_id (the revenue_rank of mv_top_products), so the
-- classification never changes between two refreshes of the same data. The cumulative share is the
-- running sum of net revenue in that order (the product itself included) over the total. A product is
-- class A while that cumulative share is <= config products.abc_a_cutoff_pct, class B while it is
-- <= config products.abc_b_cutoff_pct, class C otherwise (products without revenue are always C).
-- Question: Which few products make most of the revenue (A), which are the middle (B) and the long tail (C)?
-- Owner: Product analytics
-- Refresh: daily
-- KPI abc_rank: revenue_rank of mv_top_products (net_revenue DESC, prod_id)
-- KPI net_revenue: net revenue of the product (line grain, see mv_top_products)
-- KPI revenue_share_pct: net_revenue / total net_revenue * 100
-- KPI cumulative_revenue: sum(net_revenue) over products ranked at or above it (ROWS frame, deterministic order)
-- KPI cumulative_share_pct: cumulative_revenue / total net_revenue * 100
-- KPI abc_class: 'A' when cumulative_share_pct <= abc_a_cutoff_pct, 'B' when <= abc_b_cutoff_pct, else 'C'
CREATE MATERIALIZED VIEW analytics.mv_product_abc AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_numeric('products.abc_a_cutoff_pct') AS a_cutoff_pct,
        analytics.fn_config_numeric('products.abc_b_cutoff_pct') AS b_cutoff_pct
),

ranked AS (
    SELECT
        t.prod_id,
        t.prod_name,
        t.category,
        t.brand,
        t.units,
        t.net_revenue,
        t.revenue_rank AS abc_rank,
        sum(t.net_revenue) OVER (
            ORDER BY t.revenue_rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS cumulative_revenue,
        sum(t.net_revenue) OVER () AS total_revenue,
        t.period_start,
        t.period_end
    FROM analytics.mv_top_products AS t
),

classified AS (
    SELECT
        r.*,
        r.cumulative_revenue / nullif(r.total_revenue, 0) * 100 AS cumulative_share,
        CASE
            WHEN r.net_revenue > 0
                AND r.cumulative_revenue / nullif(r.total_revenue, 0) * 100 <= p.a_cutoff_pct
                THEN 'A'
            WHEN r.net_revenue > 0
                AND r.cumulative_revenue / nullif(r.total_revenue, 0) * 100 <= p.b_cutoff_pct
                THEN 'B'
            ELSE 'C'
        END AS abc_class
    FROM ranked AS r
    CROSS JOIN params AS p
)

SELECT
    c.prod_id,
    c.prod_name,
    c.category,
    c.brand,
    c.abc_rank,
    c.abc_class,
    c.units,
    c.net_revenue,
    round(c.net_revenue / nullif(c.total_revenue, 0) * 100, 2) AS revenue_share_pct,
    c.cumulative_revenue,
    round(c.cumulative_share, 2) AS cumulative_share_pct,
    p.a_cutoff_pct,
    p.b_cutoff_pct,
    c.period_start,
    c.period_end
FROM classified AS c
CROSS JOIN params AS p;

CREATE UNIQUE INDEX ux_mv_product_abc ON analytics.mv_product_abc (prod_id);
