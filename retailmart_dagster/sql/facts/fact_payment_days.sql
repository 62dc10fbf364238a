-- analytics.fact_payment_days: the payments (sales.payments, payment grain) of each order day, per
-- order status, payment day and payment mode — the payment fact that payment KPIs
-- (analytics.mv_payment_analysis, analytics.mv_sales_by_payment_mode) sum instead of joining every
-- payment to its order on each refresh. Payments of orders in analytics.fact_orders only (orders with
-- an order date; payments whose order does not exist are not here, as a join to the order leaves them
-- out); every order status is kept, so KPIs apply sales.excluded_order_statuses themselves (a config
-- change needs no reload). payment_day = the payment's effective date: payment_date, or the order
-- date when payment_date is NULL; payment_mode NULL is stored as 'Unknown'. Amounts are unrounded.
-- Distinct orders, kept exact whatever the KPI's grouping: an order has one date and one status, so
-- counts add up over order days and statuses; within an order day each order is counted on the
-- payment_day of its first (and of its last) payment in the (payment month, payment mode), and on
-- the payment_day of its first payment in the payment mode over all months. The distinct orders with
-- a payment of a month and mode dated between days a <= b are then
--   sum(month_first_orders | payment_day <= b) - sum(month_last_orders | payment_day < a)
-- (an order with a payment in [a, b] is one whose first payment is <= b and whose last is >= a), and
-- the distinct orders of a mode over all months are sum(mode_first_orders).
-- Loaded incrementally by order_date: a day is (re)loaded when its fingerprint — the one
-- analytics.fact_orders recorded for it in analytics.fact_partitions (the day's orders, so a status
-- change or a deleted order) plus a hash over the payments of the day's orders — differs from the one
-- recorded here at its last load, and the last facts.reload_days days up to the latest order date are
-- always reloaded (as fact_orders does). Days that left fact_orders are deleted. Build it after
-- fact_orders (it reads analytics.fact_orders, so the lineage says so).
-- Question: What was paid for each day's orders, per order status, payment day and mode, computed once?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (days whose orders or payments changed)
-- KPI payments: count(*) of the payment rows of the (order day, status, payment day, mode)
-- KPI amount: sum(payments.amount) of those payments (NULL amounts ignored; NULL when all are NULL)
-- KPI month_first_orders: orders of the order day and status whose first payment of the payment month
--   in that mode is dated payment_day
-- KPI month_last_orders: orders of the order day and status whose last payment of the payment month
--   in that mode is dated payment_day
-- KPI mode_first_orders: orders of the order day and status whose first payment in that mode (any
--   month) is dated payment_day
CREATE TABLE analytics.fact_payment_days (
    order_date         date        NOT NULL,
    order_status       varchar(20),
    payment_day        date        NOT NULL,
    payment_mode       varchar(30) NOT NULL,
    payments           integer     NOT NULL,
    amount             numeric,
    month_first_orders integer     NOT NULL,
    month_last_orders  integer     NOT NULL,
    mode_first_orders  integer     NOT NULL
);

-- The payments' day hashes (count and hash sum of the payments of each order day) decide which days
-- changed. A payment's hash is a 64-bit hash of the whole row (hash_record_extended), mixed once more
-- (hashint8extended) before the sum: hash_record_extended combines its columns' hashes linearly
-- (h = 31 * h + column hash), so a plain sum over rows depends only on each column's values, not on
-- which row holds them — two payments of a day swapping their modes left it unchanged.
-- First the whole table's count and hash sum, without a join, recorded at the end of every load in
-- analytics.fact_partitions (fact_name 'fact_payment_days:source'). Hashing every row took 0.25 s
-- at scale 10, 1.5 M payments; analytics.fn_table_print instead splits the table at the line
-- boundary that analytics.fact_orders recorded at its load just before this one (field 5 of
-- 'fact_orders:source'), and while the versions of the payments below the boundary recorded here
-- last time (field 3 of this fact's record) are unchanged, hashes only those from that boundary on
-- (at scale 10: 0.14-0.16 s in one process).
CREATE TEMP TABLE pg_temp.fact_payment_days_whole ON COMMIT DROP AS
SELECT
    w.table_rows AS payments,
    w.table_h AS h,
    w.state
FROM analytics.fn_table_print(
    'sales.payments', 2, 'order_id',
    nullif(analytics.fn_fact_source_field('fact_orders', 5), '')::int,
    analytics.fn_fact_source_field('fact_payment_days', 3)
) AS w;

-- The fresh days: the days whose payments' hash is computed from their orders on every load — new
-- and vanished days, days whose fact_orders fingerprint changed since this fact recorded it (their
-- orders, and so which payments belong to them, may have changed) and the reload window. A table of
-- its own, analysed, so the next statement reaches their payments through the indexes.
CREATE TEMP TABLE pg_temp.fact_payment_days_fresh ON COMMIT DROP AS
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
        split_part(fp.fingerprint, '/', -2)::bigint AS payments,
        split_part(fp.fingerprint, '/', -1)::numeric AS h
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_payment_days'
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
   OR l.fingerprint IS DISTINCT FROM concat_ws('/', u.fingerprint, l.payments, l.h)
   OR u.partition_date > p.last_day - p.reload_days;

ANALYZE pg_temp.fact_payment_days_fresh;

-- The day hashes. The fresh days' payments are hashed through their orders (fact_orders' order_date
-- index, then the payments' order_id index). When the rest of the table did not change — the whole
-- table minus the fresh days now equals the whole table recorded at the last load minus the fresh
-- days' recorded hashes (both sides are then the other days plus the payments of no loaded order) —
-- the other days keep their recorded hashes. Otherwise (the first load, or a payment of another day
-- added, edited or deleted) every payment is joined to its order's day in one pass, as a full load
-- does (0.8-0.95 s at scale 10, most of it the join). A daily refresh at scale 10 takes the first
-- way. No config functions here (not parallel safe), so the one pass can run in parallel.
CREATE TEMP TABLE pg_temp.fact_payment_days_hash ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT (
        SELECT fp.fingerprint
        FROM analytics.fact_partitions AS fp
        WHERE fp.fact_name = 'fact_payment_days:source'
    ) AS whole_recorded
),

loaded AS MATERIALIZED (
    SELECT
        fp.partition_date AS day,
        split_part(fp.fingerprint, '/', -2)::bigint AS payments,
        split_part(fp.fingerprint, '/', -1)::numeric AS h
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_payment_days'
),

fresh AS MATERIALIZED (
    SELECT
        f.order_date AS day,
        count(*) AS payments,
        sum(hashint8extended(hash_record_extended(pm, 2), 2)) AS h
    FROM pg_temp.fact_payment_days_fresh AS d
    JOIN analytics.fact_orders AS f ON f.order_date = d.day
    JOIN sales.payments AS pm ON pm.order_id = f.order_id
    WHERE (SELECT p.whole_recorded IS NOT NULL FROM params AS p)
    GROUP BY f.order_date
),

decision AS MATERIALIZED (
    SELECT coalesce(
        (w.payments - coalesce((SELECT sum(fr.payments) FROM fresh AS fr), 0))
        = (split_part(p.whole_recorded, '/', 1)::bigint - coalesce(
            (SELECT sum(l.payments) FROM loaded AS l JOIN pg_temp.fact_payment_days_fresh AS d ON d.day = l.day), 0
        ))
        AND (w.h - coalesce((SELECT sum(fr.h) FROM fresh AS fr), 0))
        = (split_part(p.whole_recorded, '/', 2)::numeric - coalesce(
            (SELECT sum(l.h) FROM loaded AS l JOIN pg_temp.fact_payment_days_fresh AS d ON d.day = l.day), 0
        )),
        false
    ) AS older_unchanged
    FROM pg_temp.fact_payment_days_whole AS w
    CROSS JOIN params AS p
)

SELECT
    fr.day,
    fr.payments,
    fr.h
FROM fresh AS fr
WHERE (SELECT d.older_unchanged FROM decision AS d)

UNION ALL

SELECT
    l.day,
    l.payments,
    l.h
FROM loaded AS l
WHERE (SELECT d.older_unchanged FROM decision AS d)
  AND NOT EXISTS (SELECT 1 FROM pg_temp.fact_payment_days_fresh AS fd WHERE fd.day = l.day)
  AND l.payments > 0

UNION ALL

SELECT
    f.order_date AS day,
    count(*) AS payments,
    sum(hashint8extended(hash_record_extended(pm, 2), 2)) AS h
FROM sales.payments AS pm
JOIN analytics.fact_orders AS f ON f.order_id = pm.order_id
WHERE NOT (SELECT d.older_unchanged FROM decision AS d)
GROUP BY f.order_date;

CREATE TEMP TABLE pg_temp.fact_payment_days_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('facts.reload_days') AS reload_days
),

upstream AS (
    SELECT
        fp.partition_date AS day,
        concat_ws('/', fp.fingerprint, coalesce(ph.payments, 0), coalesce(ph.h, 0)) AS fingerprint
    FROM analytics.fact_partitions AS fp
    LEFT JOIN pg_temp.fact_payment_days_hash AS ph ON ph.day = fp.partition_date
    WHERE fp.fact_name = 'fact_orders'
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_payment_days'
)

SELECT
    coalesce(u.day, l.day) AS day,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.day = u.day
CROSS JOIN params AS p
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint
   OR u.day > (SELECT max(ud.day) FROM upstream AS ud) - p.reload_days;

ANALYZE pg_temp.fact_payment_days_changed;

DELETE FROM analytics.fact_payment_days AS f
USING pg_temp.fact_payment_days_changed AS c
WHERE f.order_date = c.day;

INSERT INTO analytics.fact_payment_days
WITH changed_orders AS MATERIALIZED (
    SELECT
        f.order_id,
        f.order_date,
        f.order_status
    FROM analytics.fact_orders AS f
    JOIN pg_temp.fact_payment_days_changed AS c ON c.day = f.order_date
),

-- Each payment with its order's day and status, numbered within the order's (mode, month) and the
-- order's mode by payment day: the first row of each is the order's first payment there, the last row
-- of the (mode, month) its last (payments of one day tie: any one of them carries the day). Both
-- windows sort by (order_id, mode, month, day), so one sort serves all three flags.
numbered AS (
    SELECT
        co.order_date,
        co.order_status,
        p.payment_day,
        p.payment_mode,
        p.amount,
        row_number() OVER month_mode AS nth_in_month,
        count(*) OVER (PARTITION BY co.order_id, p.payment_mode, p.payment_month) AS n_in_month,
        row_number() OVER mode AS nth_in_mode
    FROM sales.payments AS pm
    JOIN changed_orders AS co ON co.order_id = pm.order_id
    CROSS JOIN LATERAL (
        SELECT
            coalesce(pm.payment_date, co.order_date) AS payment_day,
            date_trunc('month', coalesce(pm.payment_date, co.order_date)) AS payment_month,
            coalesce(pm.payment_mode, 'Unknown') AS payment_mode,
            pm.amount
    ) AS p
    WINDOW
        month_mode AS (
            PARTITION BY co.order_id, p.payment_mode, p.payment_month ORDER BY p.payment_day
        ),
        mode AS (PARTITION BY co.order_id, p.payment_mode ORDER BY p.payment_month, p.payment_day)
)

SELECT
    n.order_date,
    n.order_status,
    n.payment_day,
    n.payment_mode,
    count(*),
    sum(n.amount),
    count(*) FILTER (WHERE n.nth_in_month = 1),
    count(*) FILTER (WHERE n.nth_in_month = n.n_in_month),
    count(*) FILTER (WHERE n.nth_in_mode = 1)
FROM numbered AS n
GROUP BY n.order_date, n.order_status, n.payment_day, n.payment_mode;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_payment_days', 'order_date');

-- The whole table's count and hash sum (see above) and the state of its rows below the boundary
-- (analytics.fn_table_print), for the next load (analytics.fn_record_fact_source).
SELECT analytics.fn_record_fact_source(
    'fact_payment_days', concat_ws('/', w.payments, w.h, w.state), w.payments
)
FROM pg_temp.fact_payment_days_whole AS w;

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_payment_days_order_date ON analytics.fact_payment_days (order_date);
