-- analytics.fact_orders: one row per order with its line and return aggregates — the order-grain
-- fact that KPI objects read instead of joining sales.orders to sales.order_items and sales.returns
-- again and again. Every order with an order_date is here, whatever
-- its status (KPIs apply sales.excluded_order_statuses themselves, so a config change needs no reload);
-- lines and returns whose order does not exist are not (orphans are the quality checks' business).
-- Amounts are kept unrounded.
-- Loaded incrementally by order_date: a day is (re)loaded when its fingerprint — a hash over the day's
-- orders and the returns of those orders — differs from the one recorded at its last
-- load in analytics.fact_partitions, and the last facts.reload_days days up to the latest order date
-- are always reloaded (order lines added late). Days that vanished from the source are deleted.
-- Question: What did each order contain and what was refunded, computed once?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (changed days only)
-- KPI line_count: count(*) of the order's lines
-- KPI units: sum(quantity) over the order's lines
-- KPI list_value: sum(quantity * unit_price) over the order's lines
-- KPI discount_amount: sum(quantity * unit_price * discount / 100) over the order's lines
-- KPI line_net_value: sum(quantity * unit_price * (1 - discount / 100)) over the order's lines,
--   computed exactly as list_value - discount_amount
-- KPI return_count: count(*) of the order's returns
-- KPI refund_amount: sum(refund_amount) over the order's returns (0 without returns)
CREATE TABLE analytics.fact_orders (
    order_id        integer NOT NULL,
    order_date      date    NOT NULL,
    cust_id         integer,
    store_id        integer,
    order_status    varchar(20),
    total_amount    numeric(12, 2),
    line_count      integer NOT NULL,
    units           bigint  NOT NULL,
    list_value      numeric NOT NULL,
    discount_amount numeric NOT NULL,
    line_net_value  numeric NOT NULL,
    return_count    integer NOT NULL,
    refund_amount   numeric NOT NULL
);

-- The day fingerprints of the source: a statement of its own, without the config functions (not
-- parallel safe), so it can run in parallel: at scale 10 0.4-0.5 s instead of 1.3 s serially (the
-- returns' join to their orders dominates).
CREATE TEMP TABLE pg_temp.fact_orders_hash ON COMMIT DROP AS
WITH order_hash AS (
    SELECT
        o.order_date AS day,
        count(*) AS orders,
        sum(hashtextextended(o::text, 0)) AS h
    FROM sales.orders AS o
    WHERE o.order_date IS NOT NULL
    GROUP BY o.order_date
),

return_hash AS (
    SELECT
        o.order_date AS day,
        sum(hashtextextended(r::text, 1)) AS h
    FROM sales.returns AS r
    JOIN sales.orders AS o ON o.order_id = r.order_id
    GROUP BY o.order_date
)

SELECT
    oh.day,
    oh.orders,
    concat_ws(':', oh.orders, oh.h, coalesce(rh.h, 0)) AS fingerprint
FROM order_hash AS oh
LEFT JOIN return_hash AS rh ON rh.day = oh.day;

CREATE TEMP TABLE pg_temp.fact_orders_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('facts.reload_days') AS reload_days
),

source_days AS (
    SELECT
        h.day,
        h.orders,
        h.fingerprint
    FROM pg_temp.fact_orders_hash AS h
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_orders'
)

SELECT
    coalesce(s.day, l.day) AS day,
    s.fingerprint,
    s.orders
FROM source_days AS s
FULL JOIN loaded AS l ON l.day = s.day
CROSS JOIN params AS p
WHERE s.fingerprint IS DISTINCT FROM l.fingerprint
   OR s.day > (SELECT max(sd.day) FROM source_days AS sd) - p.reload_days;

ANALYZE pg_temp.fact_orders_changed;

DELETE FROM analytics.fact_orders AS f
USING pg_temp.fact_orders_changed AS c
WHERE f.order_date = c.day;

INSERT INTO analytics.fact_orders
WITH changed_orders AS MATERIALIZED (
    SELECT
        o.order_id,
        o.order_date,
        o.cust_id,
        o.store_id,
        o.order_status,
        o.total_amount
    FROM sales.orders AS o
    JOIN pg_temp.fact_orders_changed AS c ON c.day = o.order_date
),

lines AS (
    SELECT
        oi.order_id,
        count(*) AS line_count,
        coalesce(sum(oi.quantity), 0) AS units,
        coalesce(sum(oi.quantity * oi.unit_price), 0) AS list_value,
        coalesce(sum(oi.quantity * oi.unit_price * oi.discount), 0) / 100 AS discount_amount
    FROM sales.order_items AS oi
    JOIN changed_orders AS co ON co.order_id = oi.order_id
    GROUP BY oi.order_id
),

refunds AS (
    SELECT
        r.order_id,
        count(*) AS return_count,
        coalesce(sum(r.refund_amount), 0) AS refund_amount
    FROM sales.returns AS r
    JOIN changed_orders AS co ON co.order_id = r.order_id
    GROUP BY r.order_id
)


SELECT
    co.order_id,
    co.order_date,
    co.cust_id,
    co.store_id,
    co.order_status,
    co.total_amount,
    coalesce(l.line_count, 0),
    coalesce(l.units, 0),
    coalesce(l.list_value, 0),
    coalesce(l.discount_amount, 0),
    coalesce(l.list_value, 0) - coalesce(l.discount_amount, 0),
    coalesce(r.return_count, 0),
    coalesce(r.refund_amount, 0)
FROM changed_orders AS co
LEFT JOIN lines AS l ON l.order_id = co.order_id
LEFT JOIN refunds AS r ON r.order_id = co.order_id;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_orders', 'order_date');

-- The primary key and the secondary indexes last: on a new table they are built once over the loaded
-- rows (at scale 10: 1.3 s instead of 2.8 s for the key kept up row by row during the first load);
-- the builder runs them only when it (re-)creates the table, never in a reload.
ALTER TABLE analytics.fact_orders ADD PRIMARY KEY (order_id);
CREATE INDEX ix_fact_orders_order_date ON analytics.fact_orders (order_date);
CREATE INDEX ix_fact_orders_cust_id ON analytics.fact_orders (cust_id, order_date);
