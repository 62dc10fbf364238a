-- analytics.fact_product_group_months: analytics.fact_product_group_days rolled up to calendar months
-- — one row per (order month, order status, level, group) with the sum of that month's day rows.
-- Category and brand KPIs that sum distinct orders over all days up to the reference date
-- (analytics.mv_product_group_totals) read the months before the reference date's month here and only
-- the days of the reference month from fact_product_group_days. Distinct orders per (day, status,
-- group) add up over days (an order has one date), so the months hold exactly the sums of their days.
-- Loaded incrementally by month, like analytics.fact_product_months: a month is (re)loaded when the
-- list of its days in analytics.fact_partitions for fact_product_group_days — each day's fingerprint
-- AND the time it was last loaded — differs from the one recorded here at the month's last load (so
-- every reload of a day, including the full reload after a catalogue change, reloads its month);
-- months without any day left are deleted. Build it after fact_product_group_days.
-- (A load time is the start of the loading transaction: two loads of a day inside ONE transaction
-- look like one. Every build is its own transaction; only hand-run loads can do that.)
-- Question: How many orders of each month and status contained each category and each brand?
-- Owner: Data platform
-- Refresh: daily, incremental by month (months with a day reloaded in fact_product_group_days)
-- KPI orders: sum(orders) of the month's fact_product_group_days rows of the (status, level, group)
CREATE TABLE analytics.fact_product_group_months (
    order_month  date        NOT NULL,
    order_status varchar(20),
    level        text        NOT NULL,
    group_name   varchar     NOT NULL,
    orders       bigint      NOT NULL
);

CREATE TEMP TABLE pg_temp.fact_product_group_months_changed ON COMMIT DROP AS
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
    WHERE fp.fact_name = 'fact_product_group_days'
    GROUP BY date_trunc('month', fp.partition_date)::date
),

loaded AS (
    SELECT
        fp.partition_date AS month,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_product_group_months'
)

SELECT
    coalesce(u.month, l.month) AS month,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.month = u.month
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint;

ANALYZE pg_temp.fact_product_group_months_changed;

DELETE FROM analytics.fact_product_group_months AS f
USING pg_temp.fact_product_group_months_changed AS c
WHERE f.order_month = c.month;

INSERT INTO analytics.fact_product_group_months
SELECT
    c.month,
    g.order_status,
    g.level,
    g.group_name,
    sum(g.orders)
FROM pg_temp.fact_product_group_months_changed AS c
JOIN analytics.fact_product_group_days AS g
    ON g.order_date >= c.month
   AND g.order_date < (c.month + interval '1 month')::date
GROUP BY c.month, g.order_status, g.level, g.group_name;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_product_group_months', 'order_month', 'month');

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_product_group_months_order_month
    ON analytics.fact_product_group_months (order_month);
