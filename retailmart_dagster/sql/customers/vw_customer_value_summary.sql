-- analytics.vw_customer_value_summary: how are customers and revenue spread over value tiers and statuses?
-- One row per value tier x customer status present in analytics.mv_customer_lifetime_value (one row per
-- customer, so each customer is counted once; tiers and statuses from config, see that view), summed
-- from its segments in analytics.mv_customer_segments. Customers
-- who never purchased form the row 'No Purchase' x 'Never Purchased'. Averages are ratios of sums
-- (never averages of per-customer averages), so the AOV of a group is its revenue / its orders.
-- Question: How many customers, and how much revenue, sit in each value tier and activity status?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of customers in the tier and status
-- KPI customer_share_pct: customers / all customers * 100
-- KPI orders: sum of the customers' sales orders
-- KPI revenue: sum of the customers' lifetime revenue (order grain)
-- KPI revenue_share_pct: revenue / revenue of all customers * 100
-- KPI revenue_per_customer: revenue / customers
-- KPI orders_per_customer: orders / customers
-- KPI aov: revenue / orders (NULL without orders)
-- KPI avg_days_since_last_order: avg(days_since_last_order) of the group's buyers (NULL without buyers)
-- KPI avg_tenure_days: avg(tenure_days) of the group (customers with a known tenure)
-- KPI loyalty_points: sum(loyalty_points) of the group
-- KPI avg_loyalty_points: loyalty_points / customers
-- KPI reviews_given: sum(reviews_given)
CREATE VIEW analytics.vw_customer_value_summary AS
-- Averages from the segments' sums and counts of the non-NULL values: sum / count in numeric, the
-- same division avg() does.
WITH groups AS (
    SELECT
        s.value_tier,
        s.value_tier_order,
        s.customer_status,
        s.customer_status_order,
        sum(s.customers)::bigint AS customers,
        sum(s.orders) AS orders,
        sum(s.revenue) AS revenue,
        sum(s.days_since_last_order_sum)
        / nullif(sum(s.days_since_last_order_count), 0)::numeric AS avg_days_since_last_order,
        sum(s.tenure_days_sum) / nullif(sum(s.tenure_days_count), 0)::numeric AS avg_tenure_days,
        sum(s.loyalty_points)::bigint AS loyalty_points,
        sum(s.reviews_given) AS reviews_given
    FROM analytics.mv_customer_segments AS s
    GROUP BY s.value_tier, s.value_tier_order, s.customer_status, s.customer_status_order
)

SELECT
    g.value_tier,
    g.value_tier_order,
    g.customer_status,
    g.customer_status_order,
    g.customers,
    round(g.customers / nullif(sum(g.customers) OVER (), 0)::numeric * 100, 2) AS customer_share_pct,
    g.orders,
    g.revenue,
    round(g.revenue / nullif(sum(g.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(g.revenue / nullif(g.customers, 0)::numeric, 2) AS revenue_per_customer,
    round(g.orders / nullif(g.customers, 0)::numeric, 2) AS orders_per_customer,
    round(g.revenue / nullif(g.orders, 0)::numeric, 2) AS aov,
    round(g.avg_days_since_last_order, 2) AS avg_days_since_last_order,
    round(g.avg_tenure_days, 2) AS avg_tenure_days,
    g.loyalty_points,
    round(g.loyalty_points / nullif(g.customers, 0)::numeric, 2) AS avg_loyalty_points,
    g.reviews_given
FROM groups AS g;
