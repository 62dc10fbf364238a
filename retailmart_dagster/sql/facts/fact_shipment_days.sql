-- analytics.fact_shipment_days: the shipments (sales.shipments, shipment grain) of each order day,
-- counted per order status, courier, shipment status and the reference-date-independent facts of a
-- shipment's timing — the shipment fact that the delivery KPIs (analytics.mv_delivery_performance,
-- analytics.mv_courier_performance, analytics.mv_operations_summary) sum instead of joining every
-- shipment to its order on each refresh. Shipments of orders in analytics.fact_orders only (orders
-- with an order date; a shipment whose order does not exist is not here, as a join to the order
-- leaves it out); every order status is kept, so KPIs apply sales.excluded_order_statuses and the
-- reference date themselves. A NULL courier is stored as 'Unknown'; shipment_status is the source's
-- own (NULL kept).
-- Nothing here depends on the configuration or on the reference date, so a config change needs no
-- reload: the readers decide, from the stored keys,
--   is_delivered = has_delivered_date OR shipment_status in operations.delivered_shipment_statuses;
--   has_date_conflict = dates_conflict OR (NOT has_delivered_date AND shipment_status in
--     operations.delivered_shipment_statuses) (delivered by its status, timing unknown);
--   on time / delayed against operations.sla_days from order_to_deliver_days, and, for a shipment
--   without a delivered_date, from the age of its order_date at the reference date (overdue).
-- Timing sums are kept over the shipments without a dates_conflict; readers leave out the rows whose
-- has_date_conflict is true and divide by the matching shipment counts, which is exactly avg() over
-- the shipments.
-- Distinct orders, kept exact: an order has one date and one status, and each order is counted once,
-- on the row of its first shipped shipment (lowest shipment_id with a shipped_date), so the shipped
-- orders of any set of days, statuses and couriers are sum(first_shipped_orders) (per courier it would
-- count an order under its first courier only; no reader needs that).
-- Loaded incrementally by order_date: a day is (re)loaded when its fingerprint — the one
-- analytics.fact_orders recorded for it in analytics.fact_partitions (the day's orders, so a status
-- change or a deleted order) plus a hash over the shipments of the day's orders (a delivery recorded
-- late, a new or deleted shipment) — differs from the one recorded here at its last load, and the last
-- facts.reload_days days up to the latest order date are always reloaded (as fact_orders does). Days
-- that left fact_orders are deleted. Build it after fact_orders (it reads analytics.fact_orders, so
-- the lineage says so).
-- Question: Which shipments did each day's orders get, per courier and status, and how long did they take?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (days whose orders or shipments changed)
-- KPI shipments: count(*) of the shipments of the row's (order day, order status, courier, shipment
--   status, is_shipped, has_delivered_date, dates_conflict, order_to_deliver_days)
-- KPI is_shipped: shipped_date IS NOT NULL
-- KPI has_delivered_date: delivered_date IS NOT NULL
-- KPI dates_conflict: shipped_date < order_date OR delivered_date < coalesce(shipped_date, order_date)
-- KPI order_to_deliver_days: delivered_date - order_date (NULL when not delivered or dates_conflict)
-- KPI order_to_ship_days_sum: sum(shipped_date - order_date) over the row's shipments (NULL when
--   dates_conflict or not shipped)
-- KPI ship_to_deliver_days_sum: sum(delivered_date - shipped_date) over the row's shipments (NULL
--   when dates_conflict, not shipped or not delivered)
-- KPI first_shipped_orders: orders whose first shipped shipment (lowest shipment_id with a
--   shipped_date) is in the row (adds up over days and statuses to distinct shipped orders)
CREATE TABLE analytics.fact_shipment_days (
    order_date               date        NOT NULL,
    order_status             varchar(20),
    courier_name             varchar     NOT NULL,
    shipment_status          varchar(30),
    is_shipped               boolean     NOT NULL,
    has_delivered_date       boolean     NOT NULL,
    dates_conflict           boolean     NOT NULL,
    order_to_deliver_days    integer,
    shipments                integer     NOT NULL,
    order_to_ship_days_sum   bigint,
    ship_to_deliver_days_sum bigint,
    first_shipped_orders     integer     NOT NULL
);

-- The day hash of the shipments: one pass over the shipments, each to its order's day through
-- fact_orders' primary key, a 64-bit hash of the whole row, mixed once more (hashint8extended) before
-- the sum: hash_record_extended combines its columns' hashes linearly, so a plain sum over rows would
-- not see two shipments of a day swapping a value (a courier, a date). A statement of its own,
-- without the config functions (not parallel safe), so it can run in parallel.
CREATE TEMP TABLE pg_temp.fact_shipment_days_hash ON COMMIT DROP AS
SELECT
    f.order_date AS day,
    count(*) AS shipments,
    sum(hashint8extended(hash_record_extended(s, 3), 3)) AS h
FROM sales.shipments AS s
JOIN analytics.fact_orders AS f ON f.order_id = s.order_id
GROUP BY f.order_date;

CREATE TEMP TABLE pg_temp.fact_shipment_days_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('facts.reload_days') AS reload_days
),

upstream AS (
    SELECT
        fp.partition_date AS day,
        concat_ws('/', fp.fingerprint, coalesce(sh.shipments, 0), coalesce(sh.h, 0)) AS fingerprint
    FROM analytics.fact_partitions AS fp
    LEFT JOIN pg_temp.fact_shipment_days_hash AS sh ON sh.day = fp.partition_date
    WHERE fp.fact_name = 'fact_orders'
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_shipment_days'
)

SELECT
    coalesce(u.day, l.day) AS day,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.day = u.day
CROSS JOIN params AS p
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint
   OR u.day > (SELECT max(ud.day) FROM upstream AS ud) - p.reload_days;

ANALYZE pg_temp.fact_shipment_days_changed;

DELETE FROM analytics.fact_shipment_days AS f
USING pg_temp.fact_shipment_days_changed AS c
WHERE f.order_date = c.day;

INSERT INTO analytics.fact_shipment_days
WITH changed_orders AS MATERIALIZED (
    SELECT
        f.order_id,
        f.order_date,
        f.order_status
    FROM analytics.fact_orders AS f
    JOIN pg_temp.fact_shipment_days_changed AS c ON c.day = f.order_date
),

-- Each shipment with its order's day and status and its timings; the order's first shipped shipment
-- (lowest shipment_id among those with a shipped_date) carries the order.
shipments AS (
    SELECT
        co.order_date,
        co.order_status,
        coalesce(s.courier_name, 'Unknown') AS courier_name,
        s.status AS shipment_status,
        s.shipped_date IS NOT NULL AS is_shipped,
        s.delivered_date IS NOT NULL AS has_delivered_date,
        (
            coalesce(s.shipped_date < co.order_date, false)
            OR coalesce(s.delivered_date < coalesce(s.shipped_date, co.order_date), false)
        ) AS dates_conflict,
        s.shipped_date - co.order_date AS order_to_ship_days,
        s.delivered_date - s.shipped_date AS ship_to_deliver_days,
        s.delivered_date - co.order_date AS order_to_deliver_days,
        s.shipped_date IS NOT NULL
        AND row_number() OVER (
            PARTITION BY s.order_id, s.shipped_date IS NOT NULL ORDER BY s.shipment_id
        ) = 1 AS first_shipped
    FROM sales.shipments AS s
    JOIN changed_orders AS co ON co.order_id = s.order_id
)

SELECT
    sh.order_date,
    sh.order_status,
    sh.courier_name,
    sh.shipment_status,
    sh.is_shipped,
    sh.has_delivered_date,
    sh.dates_conflict,
    CASE WHEN NOT sh.dates_conflict THEN sh.order_to_deliver_days END,
    count(*),
    sum(sh.order_to_ship_days) FILTER (WHERE NOT sh.dates_conflict),
    sum(sh.ship_to_deliver_days) FILTER (WHERE NOT sh.dates_conflict),
    count(*) FILTER (WHERE sh.first_shipped)
FROM shipments AS sh
GROUP BY
    sh.order_date,
    sh.order_status,
    sh.courier_name,
    sh.shipment_status,
    sh.is_shipped,
    sh.has_delivered_date,
    sh.dates_conflict,
    CASE WHEN NOT sh.dates_conflict THEN sh.order_to_deliver_days END;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_shipment_days', 'order_date');

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_shipment_days_order_date ON analytics.fact_shipment_days (order_date);
