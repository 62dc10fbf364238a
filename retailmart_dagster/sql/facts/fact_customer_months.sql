-- analytics.fact_customer_months: each customer's sales orders per calendar month, computed once —
-- the customer-grain fact that mv_customer_lifetime_value, mv_cohort_retention,
-- mv_new_vs_returning_customers and mv_monthly_sales_dashboard read instead of each aggregating every
-- order again (and each computing every customer's first order month again). One row per customer
-- and month with at least one sales order: orders of analytics.fact_orders whose order_status is not
-- in config sales.excluded_order_statuses, dated on or before the reference date
-- (analytics.fn_reference_date()), with a customer (orders without cust_id are left out; the monthly
-- dashboard adds them itself). Amounts are kept unrounded; a customer's totals are the sums of their
-- months (exact: numeric sums), their first order month is the min of month_start.
-- Loaded incrementally by month: a month is (re)loaded when its fingerprint differs from the one
-- recorded in analytics.fact_partitions at its last load. The fingerprint hashes the fingerprints
-- that analytics.fact_orders recorded for the month's order days up to the reference date (its day
-- fingerprint covers the day's orders — status, customer, amount, a deleted order — and their
-- returns), the excluded statuses and fact_orders' code version. So a new or edited day, a deleted
-- order or day, a moved reference date (an order dated in the future that the calendar reaches), a
-- config change and a re-created fact_orders each reload exactly the months concerned; months that
-- have no order day up to the reference date any more are deleted. A daily refresh reloads the
-- reference month only. Build it after fact_orders (it reads analytics.fact_orders).
-- Question: How many sales orders, how much revenue and refunds did each customer have in each month, computed once?
-- Owner: Customer analytics
-- Refresh: daily, incremental by month (months whose order days changed)
-- KPI orders: count(*) of the customer's sales orders dated in the month
-- KPI revenue: sum(orders.total_amount) of those orders (order grain; NULL when all amounts are NULL)
-- KPI refunds: sum(returns.refund_amount) of returns of those orders (fact_orders.refund_amount)
-- KPI first_order_date: min(order_date) of those orders
-- KPI last_order_date: max(order_date) of those orders
CREATE TABLE analytics.fact_customer_months (
    month_start      date    NOT NULL,
    cust_id          integer NOT NULL,
    orders           integer NOT NULL,
    revenue          numeric,
    refunds          numeric NOT NULL,
    first_order_date date    NOT NULL,
    last_order_date  date    NOT NULL
);

-- The months to (re)load, with the reference date and excluded statuses they are loaded with (read
-- once here, so every statement below uses the same values).
CREATE TEMP TABLE pg_temp.fact_customer_months_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        (
            SELECT r.code_version
            FROM analytics.object_registry AS r
            WHERE r.object_name = 'fact_orders'
        ) AS orders_version
),

upstream AS (
    SELECT
        date_trunc('month', fp.partition_date)::date AS month_start,
        md5(
            concat_ws(
                '|',
                p.orders_version,
                p.excluded_statuses::text,
                string_agg(
                    fp.partition_date::text || '=' || fp.fingerprint, ',' ORDER BY fp.partition_date
                )
            )
        ) AS fingerprint
    FROM analytics.fact_partitions AS fp
    CROSS JOIN params AS p
    WHERE fp.fact_name = 'fact_orders'
      AND fp.partition_date <= p.ref_date
    GROUP BY date_trunc('month', fp.partition_date)::date, p.orders_version, p.excluded_statuses
),

loaded AS (
    SELECT
        fp.partition_date AS month_start,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_customer_months'
)

SELECT
    coalesce(u.month_start, l.month_start) AS month_start,
    u.fingerprint,
    p.ref_date,
    p.excluded_statuses
FROM upstream AS u
FULL JOIN loaded AS l ON l.month_start = u.month_start
CROSS JOIN params AS p
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint;

ANALYZE pg_temp.fact_customer_months_changed;

DELETE FROM analytics.fact_customer_months AS f
USING pg_temp.fact_customer_months_changed AS c
WHERE f.month_start = c.month_start;

INSERT INTO analytics.fact_customer_months
SELECT
    c.month_start,
    f.cust_id,
    count(*),
    sum(f.total_amount),
    sum(f.refund_amount),
    min(f.order_date),
    max(f.order_date)
FROM pg_temp.fact_customer_months_changed AS c
JOIN analytics.fact_orders AS f
    ON f.order_date >= c.month_start
   AND f.order_date < (c.month_start + interval '1 month')::date
   AND f.order_date <= c.ref_date
WHERE c.fingerprint IS NOT NULL
  AND f.cust_id IS NOT NULL
  AND NOT coalesce(f.order_status = ANY (c.excluded_statuses), false)
GROUP BY c.month_start, f.cust_id;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_customer_months', 'month_start', 'month_start');

-- The primary key and the index last: built once over the loaded rows when the table is
-- (re-)created. Month first in the key, so a reload's DELETE of a month is an index range scan; the
-- customer index serves fact_customer_summary, which re-adds the months of a few customers.
ALTER TABLE analytics.fact_customer_months ADD PRIMARY KEY (month_start, cust_id);
CREATE INDEX ix_fact_customer_months_cust_id ON analytics.fact_customer_months (cust_id);
