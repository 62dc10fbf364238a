-- analytics.fact_product_returns: one row per return (sales.returns) of an order of
-- analytics.fact_orders, with its order's date and status, the returned product's category and
-- whether the order has a line of that category — so that category return KPIs
-- (analytics.mv_return_analysis) never scan the order lines to match returns to them. Returns whose
-- order does not exist are not here (as in fact_orders); every order status is kept (KPIs filter
-- themselves). category = products.category of the returned product, 'Unknown' when NULL or when the
-- product is not in the catalogue; reason and amounts as in the source (unrounded).
-- order_has_category: the order has a line whose product's category (NULL or a product not in the
-- catalogue as 'Unknown') is the return's category.
-- The category comes from the catalogue as it is at load time, so a day's fingerprint is the one
-- analytics.fact_orders recorded for it in analytics.fact_partitions (a hash of the day's orders and
-- their returns) plus a hash of the catalogue's (prod_id, category): a catalogue change reloads every
-- day. Otherwise loaded incrementally by order_date like fact_orders: days whose fact_orders
-- fingerprint changed (its fingerprint covers the orders' lines too), plus the last
-- facts.reload_days days up to the latest order date; days that left fact_orders are deleted.
-- Question: Which products came back from which orders, in which category, and did the order contain that category?
-- Owner: Data platform
-- Refresh: daily, incremental by order_date (days changed in fact_orders; everything after a catalogue change)
-- KPI order_has_category: EXISTS a line of the order whose product's category (NULL or unknown
--   product as 'Unknown') equals the return's category
CREATE TABLE analytics.fact_product_returns (
    return_id          integer PRIMARY KEY,
    order_id           integer NOT NULL,
    order_date         date    NOT NULL,
    order_status       varchar(20),
    prod_id            integer,
    category           varchar NOT NULL,
    reason             text,
    return_date        date,
    refund_amount      numeric(12, 2),
    order_has_category boolean NOT NULL
);

CREATE TEMP TABLE pg_temp.fact_product_returns_changed ON COMMIT DROP AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('facts.reload_days') AS reload_days
),

catalogue AS MATERIALIZED (
    SELECT
        concat_ws(
            ':', count(*), coalesce(sum(hashtextextended((pr.prod_id, pr.category)::text, 0)), 0)
        ) AS h
    FROM products.products AS pr
),

upstream AS (
    SELECT
        fp.partition_date AS day,
        concat_ws('/', fp.fingerprint, ca.h) AS fingerprint
    FROM analytics.fact_partitions AS fp
    CROSS JOIN catalogue AS ca
    WHERE fp.fact_name = 'fact_orders'
),

loaded AS (
    SELECT
        fp.partition_date AS day,
        fp.fingerprint
    FROM analytics.fact_partitions AS fp
    WHERE fp.fact_name = 'fact_product_returns'
)

SELECT
    coalesce(u.day, l.day) AS day,
    u.fingerprint
FROM upstream AS u
FULL JOIN loaded AS l ON l.day = u.day
CROSS JOIN params AS p
WHERE u.fingerprint IS DISTINCT FROM l.fingerprint
   OR u.day > (SELECT max(ud.day) FROM upstream AS ud) - p.reload_days;

ANALYZE pg_temp.fact_product_returns_changed;

DELETE FROM analytics.fact_product_returns AS f
USING pg_temp.fact_product_returns_changed AS c
WHERE f.order_date = c.day;

INSERT INTO analytics.fact_product_returns
WITH changed_returns AS MATERIALIZED (
    SELECT
        r.return_id,
        r.order_id,
        f.order_date,
        f.order_status,
        r.prod_id,
        coalesce(pr.category, 'Unknown') AS category,
        r.reason,
        r.return_date,
        r.refund_amount
    FROM analytics.fact_orders AS f
    JOIN pg_temp.fact_product_returns_changed AS c ON c.day = f.order_date
    JOIN sales.returns AS r ON r.order_id = f.order_id
    LEFT JOIN products.products AS pr ON pr.prod_id = r.prod_id
),

-- The categories of the lines of the returned orders only (an index probe per order).
order_categories AS (
    SELECT DISTINCT
        oi.order_id,
        coalesce(pr.category, 'Unknown') AS category
    FROM sales.order_items AS oi
    LEFT JOIN products.products AS pr ON pr.prod_id = oi.prod_id
    WHERE oi.order_id IN (SELECT cr.order_id FROM changed_returns AS cr)
)

SELECT
    cr.return_id,
    cr.order_id,
    cr.order_date,
    cr.order_status,
    cr.prod_id,
    cr.category,
    cr.reason,
    cr.return_date,
    cr.refund_amount,
    oc.order_id IS NOT NULL
FROM changed_returns AS cr
LEFT JOIN order_categories AS oc ON oc.order_id = cr.order_id AND oc.category = cr.category;

-- The changed partitions' fingerprints and row counts in analytics.fact_partitions.
SELECT analytics.fn_record_fact_partitions('fact_product_returns', 'order_date');

-- Secondary indexes last: built once over the loaded rows when the table is (re-)created.
CREATE INDEX ix_fact_product_returns_order_date ON analytics.fact_product_returns (order_date);
