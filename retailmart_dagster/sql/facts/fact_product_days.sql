-- analytics.fact_product_days: one row per (order day, product, order status) with the line
-- aggregates of that day's orders of that status — the product-grain fact that product KPIs
-- (analytics.mv_top_products, analytics.mv_product_group_totals) sum over days instead of scanning
-- every order line and joining it to its order again on each refresh. Lines (sales.order_items) of
-- orders in analytics.fact_orders only (orders with an order date; lines whose order does not exist
-- are not here, as in fact_orders); every order status is kept, so KPIs apply
-- sales.excluded_order_statuses themselves (a config change needs no reload). prod_id is the line's
-- own (NULL for a line without product). Amounts are kept unrounded and computed per line with
-- exactly the KPI objects' formulas; numeric sums are exact, so sums over days equal sums over lines.
-- discount / 100 is written discount * 0.01: the same exact value (a product of numerics is exact), and
-- a multiplication instead of a numeric division per line is 0.8 s less of a full load at scale 10.
-- orders = distinct orders of the (day, product, status): an order has one date and one status, so
-- these counts add up exactly over days and statuses to distinct orders per product.
-- Loaded incrementally by order_date, following analytics.fact_orders: a day is (re)loaded when the
-- fingerprint that fact_orders recorded for it in analytics.fact_partitions differs from the one
-- recorded here at its last load, and the last facts.reload_days days up to the latest order date are
-- always reloaded (as fact_orders does; its fingerprint covers the orders' lines too). Days that left fact_orders are
-- deleted. Build it after fact_orders (it reads analytics.fact_orders, so the lineage says so).
-- Question: What did each product sell on each day, per order status, computed once?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (days changed in fact_orders only)
-- KPI lines: count(*) of the (day, product, status)'s order lines
-- KPI units: sum(quantity) over those lines
-- KPI list_value: sum(quantity * unit_price) over those lines
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) over those lines
-- KPI net_value: sum(quantity * unit_price * (1 - discount / 100)) over those lines
-- KPI orders: count(DISTINCT order_id) of those lines (adds up over days and statuses)
CREATE TABLE analytics.fact_product_days (
    order_date      date    NOT NULL,
    prod_id         integer,
    order_status    varchar(20),
    lines           integer NOT NULL,
    units           bigint,
    list_value      numeric,
    discount_amount numeric,
    net_value       numeric,
    orders          integer NOT NULL
);

CREATE TEMP TABLE pg_temp.fact_product_days_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('facts.reload_days') AS reload_days
),

upstream AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_orders'
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_product_days'
)

SELECT
    coalesce(u.day, l.day) AS day,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.day = u.day
CROSS JOIN params AS p
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint
   OR u.day > (SELECT max(ud.day) FROM upstream AS ud) - p.reload_days;

ANALYZE pg_temp.fact_product_days_changed;

DELETE FROM analytics.fact_product_days AS f
USING pg_temp.fact_product_days_changed AS c
WHERE f.order_date = c.day;

-- Day by day: each changed day's orders (fact_orders' order_date index) and their lines (the lines'
-- order_id index), grouped in memory per day. On a full load at scale 10 that is 8.5 s, against
-- 10.5 s for one join of every line to its order grouped at once (1.8 M groups spilled to disk).
INSERT INTO analytics.fact_product_days
SELECT
    c.day,
    x.prod_id,
    x.order_status,
    x.lines,
    x.units,
    x.list_value,
    x.discount_amount,
    x.net_value,
    x.orders
FROM pg_temp.fact_product_days_changed AS c
CROSS JOIN LATERAL (
    SELECT
        oi.prod_id,
        co.order_status,
        count(*) AS lines,
        sum(oi.quantity) AS units,
        sum(oi.quantity * oi.unit_price) AS list_value,
        sum(oi.quantity * oi.unit_price * oi.discount * 0.01) AS discount_amount,
        sum(oi.quantity * oi.unit_price * (1 - oi.discount * 0.01)) AS net_value,
        count(DISTINCT oi.order_id) AS orders
    FROM analytics.fact_orders AS co
    JOIN sales.order_items AS oi ON oi.order_id = co.order_id
    WHERE co.order_date = c.day
    GROUP BY oi.prod_id, co.order_status
) AS x;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_product_days', 'order_date');

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_product_days_order_date ON analytics.fact_product_days (order_date);
