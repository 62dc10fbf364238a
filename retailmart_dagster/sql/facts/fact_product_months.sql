-- analytics.fact_product_months: analytics.fact_product_days rolled up to calendar months — one row
-- per (order month, product, order status) with the sums of that month's day rows. Product KPIs that
-- sum over all days up to the reference date (analytics.mv_top_products,
-- analytics.mv_product_group_totals) read the months before the reference date's month here and only
-- the days of the reference month from fact_product_days: about 300 k instead of 1.8 M rows at scale
-- 10. Sums of exact numeric sums are exact, and distinct orders per (day, product, status) add up over
-- days (an order has one date), so the months hold exactly the sums of their days.
-- Loaded incrementally by month: a month is (re)loaded when the list of its days in
-- analytics.fact_partitions for fact_product_days — each day's fingerprint AND the time it was last
-- loaded — differs from the one recorded here at the month's last load. Any reload of a day (a
-- changed day, a day of fact_product_days' reload window, a full reload after its SQL changed) thus
-- reloads its month, and a day that left fact_product_days changes its month's list too; months
-- without any day left are deleted. Build it after fact_product_days (it reads it, so the lineage
-- says so).
-- (A load time is the start of the loading transaction: two loads of a day inside ONE transaction
-- look like one. Every build is its own transaction; only hand-run loads can do that.)
-- Question: What did each product sell in each month, per order status, summed once from its days?
-- Owner: Data platform
-- Refresh: daily, incremental by month (months with a day reloaded in fact_product_days)
-- KPI lines: sum(lines) of the month's fact_product_days rows of the (product, status)
-- KPI units: sum(units) of those rows
-- KPI list_value: sum(list_value) of those rows
-- KPI discount_amount: sum(discount_amount) of those rows
-- KPI net_value: sum(net_value) of those rows
-- KPI orders: sum(orders) of those rows (distinct orders: they add up over days)
CREATE TABLE analytics.fact_product_months (
    order_month     date        NOT NULL,
    prod_id         integer,
    order_status    varchar(20),
    lines           bigint      NOT NULL,
    units           bigint,
    list_value      numeric,
    discount_amount numeric,
    net_value       numeric,
    orders          bigint      NOT NULL
);

CREATE TEMP TABLE pg_temp.fact_product_months_changed ON COMMIT DROP AS
WITH upstream AS (
    SELECT
        date_trunc('month', fp.partition_date)::date AS month,
        md5(
            string_agg(
                fp.partition_date::text || '/' || fp.fingerprint || '/'
                    || extract(EPOCH FROM fp.loaded_at)::text,
                ',' ORDER BY fp.partition_date
            )
        ) AS fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_product_days'
    GROUP BY date_trunc('month', fp.partition_date)::date
),

loaded AS (
    SELECT
        fp.partition_date AS month,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_product_months'
)

SELECT
    coalesce(u.month, l.month) AS month,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.month = u.month
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint;

ANALYZE pg_temp.fact_product_months_changed;

DELETE FROM analytics.fact_product_months AS f
USING pg_temp.fact_product_months_changed AS c
WHERE f.order_month = c.month;

INSERT INTO analytics.fact_product_months
SELECT
    c.month,
    d.prod_id,
    d.order_status,
    sum(d.lines),
    sum(d.units),
    sum(d.list_value),
    sum(d.discount_amount),
    sum(d.net_value),
    sum(d.orders)
FROM pg_temp.fact_product_months_changed AS c
JOIN analytics.fact_product_days AS d
    ON d.order_date >= c.month
   AND d.order_date < (c.month + interval '1 month')::date
GROUP BY c.month, d.prod_id, d.order_status;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_product_months', 'order_month', 'month');

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_product_months_order_month ON analytics.fact_product_months (order_month);
