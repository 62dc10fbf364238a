-- analytics.fact_sales_days: one row per order day with the day's sales-order totals — the day fact
-- that analytics.mv_daily_sales_summary (and through it every daily sales reader) reads instead of
-- aggregating every order of analytics.fact_orders again on each refresh. Sales orders = orders of
-- analytics.fact_orders whose order_status is not in config sales.excluded_order_statuses (a NULL
-- status is not excluded), as in every sales KPI. Distinct customers of a day do not add up over
-- order statuses, so the status rule is applied here: the config value is part of every day's
-- fingerprint, and changing it reloads every day. Amounts are unrounded, exact numeric sums of the
-- fact's per-order amounts. Days whose orders are all excluded have no row (as days without orders).
-- Loaded incrementally by order_date: a day is (re)loaded when its fingerprint — the day's fingerprint
-- in analytics.fact_partitions for fact_orders, the time fact_orders last loaded it (fact_orders
-- reloads its last facts.reload_days days and days whose lines changed) and the status rule —
-- differs from the one recorded here at the day's last load. Days that left fact_orders are deleted.
-- Build it after fact_orders (it reads analytics.fact_orders, so the lineage says so).
-- (A load time is the start of the loading transaction: two loads of a day inside ONE transaction
-- look like one. Every build is its own transaction; only hand-run loads can do that.)
-- Question: What did the sales orders of each day add up to, computed once?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (days reloaded in fact_orders; all after a status-rule change)
-- KPI orders: count(*) of the day's sales orders
-- KPI customers: count(DISTINCT cust_id) of the day's sales orders
-- KPI items: sum(units) of those orders (units = sum(order_items.quantity), line grain)
-- KPI list_value: sum(list_value) of those orders (quantity * unit_price, line grain)
-- KPI discount_amount: sum(discount_amount) of those orders (line grain)
-- KPI revenue: sum(total_amount) of those orders (order grain); NULL when every total is NULL
-- KPI refunds: sum(refund_amount) of those orders (returns per order, attributed to the order's date)
CREATE TABLE analytics.fact_sales_days (
    order_date      date    NOT NULL,
    orders          bigint  NOT NULL,
    customers       bigint  NOT NULL,
    items           bigint  NOT NULL,
    list_value      numeric NOT NULL,
    discount_amount numeric NOT NULL,
    revenue         numeric,
    refunds         numeric NOT NULL
);

CREATE TEMP TABLE pg_temp.fact_sales_days_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

upstream AS (
    SELECT
        fp.partition_date AS day,
        md5(
            fp.fingerprint || '/' || extract(EPOCH FROM fp.loaded_at)::text || '/'
            || coalesce(array_to_string(p.excluded_statuses, ',', '<NULL>'), '<none>')
        ) AS fingerprint
    FROM analytics.fact_partitions AS fp
    CROSS JOIN params AS p
    WHERE fp.fact_name = 'fact_orders'
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_sales_days'
)

SELECT
    coalesce(u.day, l.day) AS day,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.day = u.day
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint;

ANALYZE pg_temp.fact_sales_days_changed;

DELETE FROM analytics.fact_sales_days AS f
USING pg_temp.fact_sales_days_changed AS c
WHERE f.order_date = c.day;

INSERT INTO analytics.fact_sales_days
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
)

SELECT
    f.order_date,
    count(*),
    count(DISTINCT f.cust_id),
    sum(f.units),
    sum(f.list_value),
    sum(f.discount_amount),
    sum(f.total_amount),
    sum(f.refund_amount)
FROM analytics.fact_orders AS f
JOIN pg_temp.fact_sales_days_changed AS c ON c.day = f.order_date
CROSS JOIN params AS p
WHERE NOT coalesce(f.order_status = ANY (p.excluded_statuses), false)
GROUP BY f.order_date;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_sales_days', 'order_date');

-- The primary key last: built once over the loaded rows when the table is (re-)created.
ALTER TABLE analytics.fact_sales_days ADD PRIMARY KEY (order_date);
