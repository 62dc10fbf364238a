-- analytics.mv_cohort_retention: how many customers of each monthly cohort keep buying?
-- A customer's cohort is the month of their FIRST sales order (orders whose order_status is not in
-- config sales.excluded_order_statuses, dated on or before the reference date
-- analytics.fn_reference_date(); orders without a customer are ignored). One row per cohort and month
-- number 0..M (M = config customers.cohort_max_months; month 0 = the cohort month itself), for every
-- activity month up to the reference month only: months after the reference date never appear, and
-- months inside the range without activity are rows of zeros. The reference month is flagged
-- is_partial_month when the reference date is not its last day. The data has no history before its
-- first order date, so the first cohort(s) also hold customers who had bought before (left-censored).
-- Read from analytics.fact_customer_cohort_months (customers, orders and revenue per cohort and
-- activity month, computed once from the customer facts): no scan of every order, no distinct count.
-- Question: Of the customers who first bought in a month, how many buy again in each following month?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI cohort_size: count(DISTINCT cust_id) whose first sales order is in the cohort month
-- KPI active_customers: count(DISTINCT cust_id) of the cohort with a sales order in activity month (cohort month + month_number)
-- KPI retention_pct: active_customers / cohort_size * 100 (100 for month 0 by construction)
-- KPI orders: count(*) of the cohort's sales orders in the activity month
-- KPI revenue: sum(orders.total_amount) of the cohort's sales orders in the activity month (order grain)
CREATE MATERIALIZED VIEW analytics.mv_cohort_retention AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('customers.cohort_max_months') AS max_months
),

cohorts AS (
    -- every buyer is active in their first month: the cohort's row of that month holds all of it
    SELECT
        a.cohort_month,
        a.customers AS cohort_size
    FROM analytics.fact_customer_cohort_months AS a
    WHERE a.activity_month = a.cohort_month
),

grid AS (
    SELECT
        c.cohort_month,
        c.cohort_size,
        gs.month_number,
        (c.cohort_month + make_interval(months => gs.month_number))::date AS activity_month
    FROM cohorts AS c
    CROSS JOIN params AS p
    CROSS JOIN LATERAL generate_series(0, p.max_months) AS gs (month_number)
    WHERE c.cohort_month + make_interval(months => gs.month_number) <= p.ref_date
),

activity AS (
    SELECT
        a.cohort_month,
        a.activity_month,
        a.customers AS active_customers,
        a.orders,
        coalesce(a.revenue, 0) AS revenue
    FROM analytics.fact_customer_cohort_months AS a
)

SELECT
    g.cohort_month,
    g.month_number,
    g.activity_month,
    (p.ref_date >= g.activity_month
        AND p.ref_date < (g.activity_month + interval '1 month' - interval '1 day')::date)
        AS is_partial_month,
    g.cohort_size,
    coalesce(a.active_customers, 0) AS active_customers,
    round(coalesce(a.active_customers, 0) / g.cohort_size::numeric * 100, 2) AS retention_pct,
    coalesce(a.orders, 0) AS orders,
    coalesce(a.revenue, 0) AS revenue
FROM grid AS g
CROSS JOIN params AS p
LEFT JOIN activity AS a
    ON a.cohort_month = g.cohort_month
   AND a.activity_month = g.activity_month;

CREATE UNIQUE INDEX ux_mv_cohort_retention ON analytics.mv_cohort_retention (cohort_month, month_number);
