-- analytics.mv_executive_summary: the headline sales figures, all time and recently, with growth.
-- One row per period: 'all_time' (first order date .. reference date), 'reference_day' (the reference
-- date, analytics.fn_reference_date()), 'last_N_days' (the N days ending at the reference date) and
-- 'previous_N_days' (the N days before those), N = config sales.comparison_window_days.
-- Sales orders = orders whose order_status is not in config sales.excluded_order_statuses.
-- Refunds are aggregated per order first and attributed to the order's date (no fan-out): orders,
-- revenue and refunds are summed from analytics.mv_daily_sales_summary (per day, read from
-- analytics.fact_orders: one row per order, refund_amount per order); distinct customers are counted
-- from analytics.fact_orders per period, all time from analytics.fact_customer_summary (the buyers).
-- Periods are calendar windows: previous_N_days keeps its nominal start even when that is before the
-- first order date (it then simply holds fewer orders).
-- KPI orders: count(*) of sales orders dated in the period
-- KPI customers: count(DISTINCT cust_id) of sales orders dated in the period
-- KPI revenue: sum(orders.total_amount) of the period's sales orders (order grain)
-- KPI refunds: sum(returns.refund_amount) of returns of the period's sales orders
-- KPI net_revenue: revenue - refunds
-- KPI aov: revenue / orders (numeric division; NULL without orders)
-- KPI revenue_growth_pct: on the last_N_days row, (revenue last N - revenue previous N) / revenue previous N * 100; NULL when previous is 0
-- KPI net_revenue_growth_pct: same formula on net_revenue (last_N_days row only)
-- KPI orders_growth_pct: same formula on orders (last_N_days row only)
-- KPI aov_growth_pct: same formula on aov (last_N_days row only)
CREATE MATERIALIZED VIEW analytics.mv_executive_summary AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('sales.comparison_window_days') AS window_days
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        p.window_days,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

periods AS (
    SELECT 'all_time' AS period, 1 AS period_order, b.first_date AS period_start,
           b.ref_date AS period_end
    FROM bounds AS b
    UNION ALL
    SELECT 'reference_day', 2, b.ref_date, b.ref_date
    FROM bounds AS b
    UNION ALL
    SELECT 'last_N_days', 3, b.ref_date - b.window_days + 1, b.ref_date
    FROM bounds AS b
    UNION ALL
    SELECT 'previous_N_days', 4, b.ref_date - 2 * b.window_days + 1, b.ref_date - b.window_days
    FROM bounds AS b
),

-- Orders, revenue and refunds are sums of the stored daily rows (analytics.mv_daily_sales_summary,
-- built just before from the same fact and the same sales-order rule): exact numeric sums, and a
-- period reads at most one row per day instead of every order again.
day_totals AS (
    SELECT
        pe.period_order,
        coalesce(sum(d.orders), 0)::bigint AS orders,
        coalesce(sum(d.revenue), 0) AS revenue,
        coalesce(sum(d.refunds), 0) AS refunds
    FROM periods AS pe
    LEFT JOIN analytics.mv_daily_sales_summary AS d
        ON d.sales_date BETWEEN pe.period_start AND pe.period_end
    GROUP BY pe.period_order
),

-- Distinct customers do not add up over days: the all-time period's are the buyers of
-- analytics.fact_customer_summary (one row per customer with a sales order up to the reference
-- date); the other periods count them from the order-grain fact, each reading only its own dates.
period_customers AS (
    SELECT
        pe.period_order,
        CASE
            WHEN pe.period = 'all_time'
                THEN (SELECT count(*) FROM analytics.fact_customer_summary)
            ELSE c.customers
        END AS customers
    FROM periods AS pe
    CROSS JOIN bounds AS b
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT f.cust_id) AS customers
        FROM analytics.fact_orders AS f
        WHERE pe.period <> 'all_time'
          AND f.order_date BETWEEN greatest(pe.period_start, b.first_date) AND pe.period_end
          AND NOT coalesce(f.order_status = ANY (b.excluded_statuses), false)
    ) AS c
),

period_totals AS (
    SELECT
        t.period_order,
        t.orders,
        pc.customers,
        t.revenue,
        t.refunds
    FROM day_totals AS t
    JOIN period_customers AS pc ON pc.period_order = t.period_order
),

measured AS (
    SELECT
        pe.period,
        pe.period_order,
        pe.period_start,
        pe.period_end,
        t.orders,
        t.customers,
        t.revenue,
        t.refunds,
        t.revenue - t.refunds AS net_revenue,
        t.revenue / nullif(t.orders, 0)::numeric AS aov
    FROM period_totals AS t
    JOIN periods AS pe ON pe.period_order = t.period_order
)

SELECT
    m.period,
    m.period_order,
    b.ref_date AS reference_date,
    b.window_days,
    m.period_start,
    m.period_end,
    m.period_end - m.period_start + 1 AS days,
    m.orders,
    m.customers,
    m.revenue,
    m.refunds,
    m.net_revenue,
    round(m.aov, 2) AS aov,
    CASE WHEN m.period = 'last_N_days' THEN
        round((m.revenue - prev.revenue) / nullif(prev.revenue, 0) * 100, 2)
    END AS revenue_growth_pct,
    CASE WHEN m.period = 'last_N_days' THEN
        round((m.net_revenue - prev.net_revenue) / nullif(prev.net_revenue, 0) * 100, 2)
    END AS net_revenue_growth_pct,
    CASE WHEN m.period = 'last_N_days' THEN
        round((m.orders - prev.orders) / nullif(prev.orders, 0)::numeric * 100, 2)
    END AS orders_growth_pct,
    CASE WHEN m.period = 'last_N_days' THEN
        round((m.aov - prev.aov) / nullif(prev.aov, 0) * 100, 2)
    END AS aov_growth_pct
FROM measured AS m
CROSS JOIN bounds AS b
LEFT JOIN measured AS prev ON prev.period = 'previous_N_days';

CREATE UNIQUE INDEX ux_mv_executive_summary ON analytics.mv_executive_summary (period);
