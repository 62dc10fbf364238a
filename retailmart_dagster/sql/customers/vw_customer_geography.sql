-- analytics.vw_customer_geography: where do our customers live and how much do they buy?
-- One row per (state, city) of customers.customers, summed from analytics.mv_customer_segments (the
-- customers of analytics.mv_customer_lifetime_value, one row per customer, counted once into
-- segments; revenue at order grain). A customer's place is
-- the city/state of their customer record, wherever they placed their orders; a NULL state or city is
-- 'Unknown'. State totals are repeated on each city row. Every rank has a deterministic tie-breaker.
-- Question: Which states and cities have the most customers and bring the most revenue?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of customers living in the city
-- KPI buyers: those customers with at least one sales order
-- KPI orders: sum of their sales orders
-- KPI revenue: sum of their revenue (sum(orders.total_amount) of sales orders, order grain)
-- KPI aov: revenue / orders (numeric division; NULL without orders)
-- KPI revenue_per_customer: revenue / customers
-- KPI revenue_share_pct: revenue / revenue of all customers * 100
-- KPI state_customers: sum(customers) over the state's cities
-- KPI state_revenue: sum(revenue) over the state's cities
-- KPI state_rank: dense_rank() over (state_revenue DESC, state) - one rank per state
-- KPI city_rank_in_state: row_number() over (PARTITION BY state ORDER BY revenue DESC, customers DESC, city)
-- KPI city_rank: row_number() over (ORDER BY revenue DESC, customers DESC, state, city)
CREATE VIEW analytics.vw_customer_geography AS
WITH by_city AS (
    SELECT
        s.state,
        s.city,
        sum(s.customers)::bigint AS customers,
        sum(s.buyers)::bigint AS buyers,
        sum(s.orders) AS orders,
        sum(s.revenue) AS revenue
    FROM analytics.mv_customer_segments AS s
    GROUP BY s.state, s.city
),

with_state AS (
    SELECT
        c.*,
        sum(c.customers) OVER (PARTITION BY c.state) AS state_customers,
        sum(c.revenue) OVER (PARTITION BY c.state) AS state_revenue,
        sum(c.revenue) OVER () AS total_revenue
    FROM by_city AS c
)

SELECT
    w.state,
    w.city,
    w.customers,
    w.buyers,
    w.orders,
    w.revenue,
    round(w.revenue / nullif(w.orders, 0)::numeric, 2) AS aov,
    round(w.revenue / nullif(w.customers, 0)::numeric, 2) AS revenue_per_customer,
    round(w.revenue / nullif(w.total_revenue, 0) * 100, 2) AS revenue_share_pct,
    w.state_customers,
    w.state_revenue,
    dense_rank() OVER (ORDER BY w.state_revenue DESC, w.state) AS state_rank,
    row_number() OVER (
        PARTITION BY w.state ORDER BY w.revenue DESC, w.customers DESC, w.city
    ) AS city_rank_in_state,
    row_number() OVER (ORDER BY w.revenue DESC, w.customers DESC, w.state, w.city) AS city_rank
FROM with_state AS w;
