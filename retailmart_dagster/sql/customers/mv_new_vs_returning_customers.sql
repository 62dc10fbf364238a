-- analytics.mv_new_vs_returning_customers: each month, how much comes from new and from returning customers?
-- One row per calendar month from the month of the first sales order to the month of the reference
-- date (analytics.fn_reference_date()); months without orders are rows of zeros. Sales orders =
-- orders whose order_status is not in config sales.excluded_order_statuses, dated on or before the
-- reference date; orders without a customer are left out (they are neither new nor returning).
-- A customer is NEW in the month of their first sales order (over all history): all their orders of
-- that month count as new-customer orders. In a later month they are RETURNING. The data has no
-- history before its first order date, so the first months overstate new customers (left-censored).
-- Read from analytics.fact_customer_cohort_months (customers, orders and revenue per cohort and
-- activity month, computed once from the customer facts): no scan of every order, no distinct count.
-- Materialized because the export fn_export_customers_new_vs_returning reads it: computed once per
-- build, the export reads stored rows.
-- Question: How many customers each month are first-time buyers and how many come back, and what do they spend?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI new_customers: count(DISTINCT cust_id) with their first sales order in the month
-- KPI returning_customers: count(DISTINCT cust_id) with a sales order in the month and their first one in an earlier month
-- KPI active_customers: new_customers + returning_customers
-- KPI new_customer_orders: count(*) of the month's sales orders of new customers
-- KPI returning_customer_orders: count(*) of the month's sales orders of returning customers
-- KPI new_customer_revenue: sum(orders.total_amount) of new customers' orders in the month (order grain)
-- KPI returning_customer_revenue: sum(orders.total_amount) of returning customers' orders in the month (order grain)
-- KPI returning_customer_pct: returning_customers / active_customers * 100
-- KPI returning_revenue_share_pct: returning_customer_revenue / (new + returning revenue) * 100
-- KPI new_customer_aov: new_customer_revenue / new_customer_orders (NULL without orders)
-- KPI returning_customer_aov: returning_customer_revenue / returning_customer_orders (NULL without orders)
CREATE MATERIALIZED VIEW analytics.mv_new_vs_returning_customers AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

months AS (
    SELECT gs.month::date AS month_start
    FROM params AS p
    CROSS JOIN LATERAL generate_series(
        (SELECT min(a.activity_month) FROM analytics.fact_customer_cohort_months AS a),
        date_trunc('month', p.ref_date),
        interval '1 month'
    ) AS gs (month)
),

by_month AS (
    -- a month's new customers are its own cohort, the returning ones the earlier cohorts active in it
    SELECT
        a.activity_month AS order_month,
        coalesce(sum(a.customers) FILTER (WHERE a.cohort_month = a.activity_month), 0)::bigint
            AS new_customers,
        coalesce(sum(a.customers) FILTER (WHERE a.cohort_month < a.activity_month), 0)::bigint
            AS returning_customers,
        coalesce(sum(a.orders) FILTER (WHERE a.cohort_month = a.activity_month), 0)::bigint
            AS new_customer_orders,
        coalesce(sum(a.orders) FILTER (WHERE a.cohort_month < a.activity_month), 0)::bigint
            AS returning_customer_orders,
        coalesce(sum(a.revenue) FILTER (WHERE a.cohort_month = a.activity_month), 0)
            AS new_customer_revenue,
        coalesce(sum(a.revenue) FILTER (WHERE a.cohort_month < a.activity_month), 0)
            AS returning_customer_revenue
    FROM analytics.fact_customer_cohort_months AS a
    GROUP BY a.activity_month
),

monthly AS (
    SELECT
        m.month_start,
        coalesce(b.new_customers, 0) AS new_customers,
        coalesce(b.returning_customers, 0) AS returning_customers,
        coalesce(b.new_customer_orders, 0) AS new_customer_orders,
        coalesce(b.returning_customer_orders, 0) AS returning_customer_orders,
        coalesce(b.new_customer_revenue, 0) AS new_customer_revenue,
        coalesce(b.returning_customer_revenue, 0) AS returning_customer_revenue
    FROM months AS m
    LEFT JOIN by_month AS b ON b.order_month = m.month_start
)

SELECT
    m.month_start,
    extract(YEAR FROM m.month_start)::int AS year,
    extract(MONTH FROM m.month_start)::int AS month,
    (p.ref_date >= m.month_start
        AND p.ref_date < (m.month_start + interval '1 month' - interval '1 day')::date)
        AS is_partial_month,
    m.new_customers,
    m.returning_customers,
    m.new_customers + m.returning_customers AS active_customers,
    m.new_customer_orders,
    m.returning_customer_orders,
    m.new_customer_revenue,
    m.returning_customer_revenue,
    round(
        m.returning_customers / nullif(m.new_customers + m.returning_customers, 0)::numeric * 100, 2
    ) AS returning_customer_pct,
    round(
        m.returning_customer_revenue
        / nullif(m.new_customer_revenue + m.returning_customer_revenue, 0) * 100,
        2
    ) AS returning_revenue_share_pct,
    round(m.new_customer_revenue / nullif(m.new_customer_orders, 0)::numeric, 2) AS new_customer_aov,
    round(
        m.returning_customer_revenue / nullif(m.returning_customer_orders, 0)::numeric, 2
    ) AS returning_customer_aov
FROM monthly AS m
CROSS JOIN params AS p;

CREATE UNIQUE INDEX ux_mv_new_vs_returning_customers ON analytics.mv_new_vs_returning_customers (month_start);
