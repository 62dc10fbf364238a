-- analytics.vw_customer_demographics: who are our customers and buyers, by gender and age group?
-- One row per gender x age group present among customers, summed from analytics.mv_customer_segments
-- (the customers of analytics.mv_customer_lifetime_value, one row per customer, counted once into
-- segments, and revenue already summed at order grain per customer). Age groups come from config
-- customers.age_band_starts (see mv_customer_lifetime_value); a gender other than M/F or NULL is
-- 'Unknown'. Everything is as of the reference date.
-- Question: How do customers, buyers and revenue split by gender and age group?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of customers in the group
-- KPI buyers: customers in the group with at least one sales order
-- KPI buyer_pct: buyers / customers * 100
-- KPI orders: sum of the group's customers' sales orders
-- KPI revenue: sum of the group's customers' revenue (sum(orders.total_amount) of sales orders)
-- KPI aov: revenue / orders (numeric division; NULL without orders) - not an average of customer AOVs
-- KPI revenue_per_buyer: revenue / buyers
-- KPI customer_share_pct: customers / all customers * 100
-- KPI revenue_share_pct: revenue / revenue of all customers * 100
CREATE VIEW analytics.vw_customer_demographics AS
WITH groups AS (
    SELECT
        s.gender,
        s.age_group,
        s.age_group_order,
        sum(s.customers)::bigint AS customers,
        sum(s.buyers)::bigint AS buyers,
        sum(s.orders) AS orders,
        sum(s.revenue) AS revenue
    FROM analytics.mv_customer_segments AS s
    GROUP BY s.gender, s.age_group, s.age_group_order
)

SELECT
    g.gender,
    CASE g.gender WHEN 'F' THEN 'Female' WHEN 'M' THEN 'Male' ELSE 'Unknown' END AS gender_label,
    g.age_group,
    g.age_group_order,
    g.customers,
    g.buyers,
    round(g.buyers / nullif(g.customers, 0)::numeric * 100, 2) AS buyer_pct,
    g.orders,
    g.revenue,
    round(g.revenue / nullif(g.orders, 0)::numeric, 2) AS aov,
    round(g.revenue / nullif(g.buyers, 0)::numeric, 2) AS revenue_per_buyer,
    round(g.customers / nullif(sum(g.customers) OVER (), 0)::numeric * 100, 2) AS customer_share_pct,
    round(g.revenue / nullif(sum(g.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct
FROM groups AS g;
