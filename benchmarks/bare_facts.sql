-- The fact layer's aggregations in their barest form: the floor under any build of the facts of
-- retailmart_dagster/sql/facts/ (benchmarks/bench_build.py, "bare fact aggregations").
-- One statement per line-, order- or customer-grain fact, each a CREATE TEMP TABLE ... AS SELECT
-- at that fact's grain, straight from the source tables: no fingerprints, no hashes, no incremental
-- bookkeeping, no indexes, no checks, no status or reference-date filter (every order counts). The
-- benchmark runs them one at a time, each in its own transaction that it rolls back, and reports
-- each one's time and their sum. Left out: the facts that sum another fact's rows
-- (fact_sales_days, fact_order_status_days, fact_product_months, fact_product_group_months,
-- fact_customer_cohort_months) and fact_product_returns (one row per return: 78 k at scale 10,
-- against 4.3 M order lines). Each statement starts after a line "-- fact: <name>" (the fact it
-- stands for).

-- fact: fact_orders
CREATE TEMP TABLE bare_orders AS
SELECT
    o.order_id,
    o.order_date,
    o.cust_id,
    o.store_id,
    o.order_status,
    o.total_amount,
    coalesce(l.line_count, 0) AS line_count,
    coalesce(l.units, 0) AS units,
    coalesce(l.list_value, 0) AS list_value,
    coalesce(l.discount_amount, 0) AS discount_amount,
    coalesce(r.return_count, 0) AS return_count,
    coalesce(r.refund_amount, 0) AS refund_amount
FROM sales.orders AS o
LEFT JOIN (
    SELECT
        oi.order_id,
        count(*) AS line_count,
        sum(oi.quantity) AS units,
        sum(oi.quantity * oi.unit_price) AS list_value,
        sum(oi.quantity * oi.unit_price * oi.discount) / 100 AS discount_amount
    FROM sales.order_items AS oi
    GROUP BY oi.order_id
) AS l ON l.order_id = o.order_id
LEFT JOIN (
    SELECT rt.order_id, count(*) AS return_count, sum(rt.refund_amount) AS refund_amount
    FROM sales.returns AS rt
    GROUP BY rt.order_id
) AS r ON r.order_id = o.order_id
WHERE o.order_date IS NOT NULL;

-- fact: fact_product_days
CREATE TEMP TABLE bare_product_days AS
SELECT
    o.order_date,
    oi.prod_id,
    o.order_status,
    count(*) AS lines,
    sum(oi.quantity) AS units,
    sum(oi.quantity * oi.unit_price) AS list_value,
    sum(oi.quantity * oi.unit_price * oi.discount) / 100 AS discount_amount,
    count(DISTINCT oi.order_id) AS orders
FROM sales.order_items AS oi
JOIN sales.orders AS o ON o.order_id = oi.order_id
WHERE o.order_date IS NOT NULL
GROUP BY o.order_date, oi.prod_id, o.order_status;

-- fact: fact_product_group_days
-- Each order once per group it has a line of (a hash aggregation, as the fact does: count(DISTINCT
-- order_id) per group sorts every line once per level, 21.5 s against 10.9 s at scale 10). For
-- fact_product_days count(DISTINCT) is the faster form (6.7 s, where grouping lines by order and
-- product first took 10.5 s).
CREATE TEMP TABLE bare_product_group_days AS
SELECT
    o.order_date,
    o.order_status,
    og.level,
    og.group_name,
    count(*) AS orders
FROM (
    SELECT oi.order_id, g.level, g.group_name
    FROM sales.order_items AS oi
    LEFT JOIN products.products AS p ON p.prod_id = oi.prod_id
    CROSS JOIN LATERAL (
        VALUES
            ('line_category', coalesce(p.category, 'Unknown')),
            ('category', CASE WHEN p.prod_id IS NOT NULL THEN coalesce(p.category, 'Unknown') END),
            ('brand', CASE WHEN p.prod_id IS NOT NULL THEN coalesce(p.brand, 'Unknown') END)
    ) AS g (level, group_name)
    WHERE g.group_name IS NOT NULL
    GROUP BY oi.order_id, g.level, g.group_name
) AS og
JOIN sales.orders AS o ON o.order_id = og.order_id
WHERE o.order_date IS NOT NULL
GROUP BY o.order_date, o.order_status, og.level, og.group_name;

-- fact: fact_payment_days
CREATE TEMP TABLE bare_payment_days AS
SELECT
    o.order_date,
    o.order_status,
    pm.payment_date AS payment_day,
    pm.payment_mode,
    count(*) AS payments,
    sum(pm.amount) AS amount
FROM sales.payments AS pm
JOIN sales.orders AS o ON o.order_id = pm.order_id
WHERE o.order_date IS NOT NULL
GROUP BY o.order_date, o.order_status, pm.payment_date, pm.payment_mode;

-- fact: fact_shipment_days
CREATE TEMP TABLE bare_shipment_days AS
SELECT
    o.order_date,
    o.order_status,
    s.courier_name,
    s.status,
    s.shipped_date IS NOT NULL AS is_shipped,
    s.delivered_date IS NOT NULL AS has_delivered_date,
    s.delivered_date - o.order_date AS order_to_deliver_days,
    count(*) AS shipments,
    sum(s.shipped_date - o.order_date) AS order_to_ship_days_sum,
    sum(s.delivered_date - s.shipped_date) AS ship_to_deliver_days_sum
FROM sales.shipments AS s
JOIN sales.orders AS o ON o.order_id = s.order_id
WHERE o.order_date IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- fact: fact_customer_months
CREATE TEMP TABLE bare_customer_months AS
SELECT
    date_trunc('month', o.order_date::timestamp)::date AS month_start,
    o.cust_id,
    count(*) AS orders,
    sum(o.total_amount) AS revenue,
    coalesce(sum(r.refund_amount), 0) AS refunds,
    min(o.order_date) AS first_order_date,
    max(o.order_date) AS last_order_date
FROM sales.orders AS o
LEFT JOIN (
    SELECT rt.order_id, sum(rt.refund_amount) AS refund_amount
    FROM sales.returns AS rt
    GROUP BY rt.order_id
) AS r ON r.order_id = o.order_id
WHERE o.order_date IS NOT NULL AND o.cust_id IS NOT NULL
GROUP BY 1, o.cust_id;

-- fact: fact_store_customers
CREATE TEMP TABLE bare_store_customers AS
SELECT
    o.store_id,
    o.cust_id,
    count(*) AS orders,
    sum(o.total_amount) AS revenue,
    coalesce(sum(r.refund_amount), 0) AS refunds,
    min(o.order_date) AS first_order_date,
    max(o.order_date) AS last_order_date
FROM sales.orders AS o
LEFT JOIN (
    SELECT rt.order_id, sum(rt.refund_amount) AS refund_amount
    FROM sales.returns AS rt
    GROUP BY rt.order_id
) AS r ON r.order_id = o.order_id
WHERE o.order_date IS NOT NULL
GROUP BY o.store_id, o.cust_id;

-- fact: fact_customer_summary
CREATE TEMP TABLE bare_customer_summary AS
SELECT
    o.cust_id,
    count(*) AS orders,
    sum(o.total_amount) AS revenue,
    coalesce(sum(r.refund_amount), 0) AS refunds,
    min(o.order_date) AS first_order_date,
    max(o.order_date) AS last_order_date
FROM sales.orders AS o
LEFT JOIN (
    SELECT rt.order_id, sum(rt.refund_amount) AS refund_amount
    FROM sales.returns AS rt
    GROUP BY rt.order_id
) AS r ON r.order_id = o.order_id
WHERE o.order_date IS NOT NULL AND o.cust_id IS NOT NULL
GROUP BY o.cust_id;
