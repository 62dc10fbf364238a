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

-- The shipments' day hashes (count and hash sum of the shipments of each order day) decide which days
-- changed. A shipment's hash is a 64-bit hash of the whole row (hash_record_extended), mixed once more
-- (hashint8extended) before the sum: hash_record_extended combines its columns' hashes linearly
-- (h = 31 * h + column hash), so a plain sum over rows depends only on each column's values, not on
-- which row holds them — two shipments of a day swapping a courier or a date left it unchanged.
-- First the whole table's count and hash sum, without a join, recorded at the end of every load in
-- analytics.fact_partitions (fact_name 'fact_shipment_days:source'). Hashing every row took about
-- 0.25 s at scale 10; analytics.fn_table_print instead splits the table at the line boundary that
-- analytics.fact_orders recorded at its load just before this one (field 5 of
-- 'fact_orders:source'), and while the versions of the shipments below the boundary recorded here
-- last time (field 3 of this fact's record) are unchanged, hashes only those from that boundary on
-- (at scale 10: 0.14-0.16 s in one process).
CREATE TEMP TABLE pg_temp.fact_shipment_days_whole ON COMMIT DROP AS
SELECT
    w.table_rows AS shipments,
    w.table_h AS h,
    w.state
FROM analytics.fn_table_print(
    'sales.shipments', 3, 'order_id',
    nullif(analytics.fn_fact_source_field('fact_orders', 5), '')::int,
    analytics.fn_fact_source_field('fact_shipment_days', 3)
) AS w;

-- The fresh days: the days whose shipments' hash is computed from their orders on every load — new
-- and vanished days, days whose fact_orders fingerprint changed since this fact recorded it (their
-- orders, and so which shipments belong to them, may have changed) and the reload window. A table of
-- its own, analysed, so the next statement reaches their shipments through the indexes.
CREATE TEMP TABLE pg_temp.fact_shipment_days_fresh ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_int('facts.reload_days') AS reload_days,
        (
            SELECT max(fp.partition_date)
            FROM analytics.fact_partitions AS fp
            WHERE fp.fact_name = 'fact_orders'
        ) AS last_day
),

loaded AS MATERIALIZED (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint,
        split_part(fp.fingerprint, '/', -2)::bigint AS shipments,
        split_part(fp.fingerprint, '/', -1)::numeric AS h
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_shipment_days'
)

SELECT coalesce(u.partition_date, l.day) AS day
FROM (
    SELECT
        fp.partition_date,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_orders'
) AS u
FULL JOIN loaded AS l ON l.day = u.partition_date
CROSS JOIN params AS p
WHERE u.partition_date IS NULL
   OR l.day IS NULL
   OR l.fingerprint IS DISTINCT FROM concat_ws('/', u.fingerprint, l.shipments, l.h)
   OR u.partition_date > p.last_day - p.reload_days;

ANALYZE pg_temp.fact_shipment_days_fresh;

-- The day hashes. The fresh days' shipments are hashed through their orders (fact_orders' order_date
-- index, then the shipments' order_id index). When the rest of the table did not change — the whole
-- table minus the fresh days now equals the whole table recorded at the last load minus the fresh
-- days' recorded hashes (both sides are then the other days plus the shipments of no loaded order) —
-- the other days keep their recorded hashes. Otherwise (the first load, or a shipment of another day
-- added, edited or deleted) every shipment is joined to its order's day in one pass, as a full load
-- does (about 0.7 s at scale 10, most of it the join). A daily refresh at scale 10 takes the first
-- way. No config functions here (not parallel safe), so the one pass can run in parallel.
CREATE TEMP TABLE pg_temp.fact_shipment_days_hash ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT (
        SELECT fp.fingerprint
        FROM analytics.fact_partitions AS fp
        WHERE fp.fact_name = 'fact_shipment_days:source'
    ) AS whole_recorded
),

loaded AS MATERIALIZED (
    SELECT
        fp.partition_date AS day,
        split_part(fp.fingerprint, '/', -2)::bigint AS shipments,
        split_part(fp.fingerprint, '/', -1)::numeric AS h
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_shipment_days'
),

fresh AS MATERIALIZED (
    SELECT
        f.order_date AS day,
        count(*) AS shipments,
        sum(hashint8extended(hash_record_extended(s, 3), 3)) AS h
    FROM pg_temp.fact_shipment_days_fresh AS d
    JOIN analytics.fact_orders AS f ON f.order_date = d.day
    JOIN sales.shipments AS s ON s.order_id = f.order_id
    WHERE (SELECT p.whole_recorded IS NOT NULL FROM params AS p)
    GROUP BY f.order_date
),

decision AS MATERIALIZED (
    SELECT coalesce(
        (w.shipments - coalesce((SELECT sum(fr.shipments) FROM fresh AS fr), 0))
        = (split_part(p.whole_recorded, '/', 1)::bigint - coalesce(
            (SELECT sum(l.shipments) FROM loaded AS l JOIN pg_temp.fact_shipment_days_fresh AS d ON d.day = l.day), 0
        ))
        AND (w.h - coalesce((SELECT sum(fr.h) FROM fresh AS fr), 0))
        = (split_part(p.whole_recorded, '/', 2)::numeric - coalesce(
            (SELECT sum(l.h) FROM loaded AS l JOIN pg_temp.fact_shipment_days_fresh AS d ON d.day = l.day), 0
        )),
        false
    ) AS older_unchanged
    FROM pg_temp.fact_shipment_days_whole AS w
    CROSS JOIN params AS p
)

SELECT
    fr.day,
    fr.shipments,
    fr.h
FROM fresh AS fr
WHERE (SELECT d.older_unchanged FROM decision AS d)

UNION ALL

SELECT
    l.day,
    l.shipments,
    l.h
FROM loaded AS l
WHERE (SELECT d.older_unchanged FROM decision AS d)
  AND NOT EXISTS (SELECT 1 FROM pg_temp.fact_shipment_days_fresh AS fd WHERE fd.day = l.day)
  AND l.shipments > 0

UNION ALL

SELECT
    f.order_date AS day,
    count(*) AS shipments,
    sum(hashint8extended(hash_record_extended(s, 3), 3)) AS h
FROM sales.shipments AS s
JOIN analytics.fact_orders AS f ON f.order_id = s.order_id
WHERE NOT (SELECT d.older_unchanged FROM decision AS d)
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

-- The whole table's count and hash sum (see above) and the state of its rows below the boundary
-- (analytics.fn_table_print), for the next load (analytics.fn_record_fact_source).
SELECT analytics.fn_record_fact_source(
    'fact_shipment_days', concat_ws('/', w.shipments, w.h, w.state), w.shipments
)
FROM pg_temp.fact_shipment_days_whole AS w;

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_shipment_days_order_date ON analytics.fact_shipment_days (order_date);
