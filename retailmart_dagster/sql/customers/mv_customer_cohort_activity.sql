-- analytics.mv_customer_cohort_activity: the buyers of each first-order month (cohort), active in
-- each month — the small table (cohorts x months) from which mv_cohort_retention,
-- mv_new_vs_returning_customers and mv_monthly_sales_dashboard take their customer counts, orders,
-- revenue and refunds, instead of each joining every customer's months to their first month again.
-- One row per cohort month and activity month with at least one active customer: the customers of
-- analytics.fact_customer_months (sales orders up to the reference date; see there) joined to their
-- first month from analytics.fact_customer_summary. A customer is active in a month when they have a
-- sales order dated in it, so each (customer, month) row of the fact counts once: customers is a
-- count of distinct customers, and activity_month = cohort_month holds the whole cohort (each buyer
-- is active in their first month). Amounts are kept unrounded.
-- Question: How many customers of each first-order month buy in each month, with how many orders, how much revenue and refunds?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(DISTINCT cust_id) of the cohort with a sales order in the activity month
-- KPI orders: count(*) of the cohort's sales orders dated in the activity month
-- KPI revenue: sum(orders.total_amount) of those orders (order grain; NULL when all amounts are NULL)
-- KPI refunds: sum(returns.refund_amount) of returns of those orders
CREATE MATERIALIZED VIEW analytics.mv_customer_cohort_activity AS
SELECT
    s.first_month AS cohort_month,
    m.month_start AS activity_month,
    count(*) AS customers,
    sum(m.orders) AS orders,
    sum(m.revenue) AS revenue,
    sum(m.refunds) AS refunds
FROM analytics.fact_customer_months AS m
JOIN analytics.fact_customer_summary AS s ON s.cust_id = m.cust_id
GROUP BY s.first_month, m.month_start;

CREATE UNIQUE INDEX ux_mv_customer_cohort_activity ON analytics.mv_customer_cohort_activity (cohort_month, activity_month);
