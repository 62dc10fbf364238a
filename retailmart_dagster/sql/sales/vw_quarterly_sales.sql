-- analytics.vw_quarterly_sales: how do sales develop quarter by quarter?
-- One row per calendar quarter from the quarter of the first order date (any status) to the quarter
-- of the reference date (analytics.fn_reference_date()); quarters without sales are rows of zeros.
-- Sales orders = orders whose order_status is not in config sales.excluded_order_statuses.
-- Growth compares quarters matched by DATE (quarter_start - 3 months, quarter_start - 1 year).
-- Orders, revenue and refunds are the sums of the quarter's days in analytics.mv_daily_sales_summary
-- (same sales orders, same unrounded amounts, refunds attributed to the order's date), so the export
-- that reads this view sums ~90 stored rows per quarter instead of re-reading every order.
-- KPI orders: count(*) of sales orders dated in the quarter
-- KPI revenue: sum(orders.total_amount) of the quarter's sales orders (order grain)
-- KPI refunds: sum(returns.refund_amount) of returns of the quarter's sales orders (attributed to the order's quarter)
-- KPI net_revenue: revenue - refunds
-- KPI qoq_growth_pct: (revenue - revenue of previous quarter) / revenue of previous quarter * 100; NULL when previous is 0 or missing
-- KPI yoy_growth_pct: (revenue - revenue of same quarter previous year) / that revenue * 100; NULL when previous is 0 or missing
-- KPI is_partial: true for the quarter containing the reference date when the reference date is not its last day
CREATE VIEW analytics.vw_quarterly_sales AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date
),

bounds AS (
    SELECT
        p.ref_date,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

quarters AS (
    SELECT gs.quarter::date AS quarter_start
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(
        date_trunc('quarter', b.first_date),
        date_trunc('quarter', b.ref_date),
        interval '3 months'
    ) AS gs (quarter)
),

orders_by_quarter AS (
    SELECT
        date_trunc('quarter', d.sales_date)::date AS quarter_start,
        sum(d.orders)::bigint AS orders,
        sum(d.revenue) AS revenue,
        sum(d.refunds) AS refunds
    FROM analytics.mv_daily_sales_summary AS d
    CROSS JOIN bounds AS b
    WHERE d.sales_date BETWEEN b.first_date AND b.ref_date
    GROUP BY date_trunc('quarter', d.sales_date)::date
),

quarterly AS (
    SELECT
        q.quarter_start,
        (q.quarter_start + interval '3 months' - interval '1 day')::date AS quarter_end,
        coalesce(o.orders, 0) AS orders,
        coalesce(o.revenue, 0) AS revenue,
        coalesce(o.refunds, 0) AS refunds
    FROM quarters AS q
    LEFT JOIN orders_by_quarter AS o ON o.quarter_start = q.quarter_start
)

SELECT
    extract(YEAR FROM q.quarter_start)::int AS year,
    extract(QUARTER FROM q.quarter_start)::int AS quarter,
    q.quarter_start,
    q.quarter_end,
    (b.ref_date BETWEEN q.quarter_start AND q.quarter_end AND b.ref_date < q.quarter_end)
        AS is_partial,
    q.orders,
    q.revenue,
    q.refunds,
    q.revenue - q.refunds AS net_revenue,
    round((q.revenue - prev_q.revenue) / nullif(prev_q.revenue, 0) * 100, 2) AS qoq_growth_pct,
    round((q.revenue - prev_y.revenue) / nullif(prev_y.revenue, 0) * 100, 2) AS yoy_growth_pct
FROM quarterly AS q
CROSS JOIN bounds AS b
LEFT JOIN quarterly AS prev_q ON prev_q.quarter_start = (q.quarter_start - interval '3 months')::date
LEFT JOIN quarterly AS prev_y ON prev_y.quarter_start = (q.quarter_start - interval '1 year')::date;
