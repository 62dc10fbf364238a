-- analytics.mv_monthly_sales_dashboard: how do sales, customers and growth develop month by month?
-- One row per calendar month from the month of the first order date (any status) to the month of the
-- reference date (analytics.fn_reference_date()); months without sales are rows of zeros.
-- Sales orders = orders whose order_status is not in config sales.excluded_order_statuses, dated on or
-- before the reference date. Growth compares months matched by DATE (month_start - 1 month,
-- month_start - 1 year), never by row offset. The reference month is flagged is_partial_month when
-- the reference date is not its last day. Orders, revenue and refunds of customers' sales orders, and
-- the customer counts (new, returning), are read from analytics.fact_customer_cohort_months (per
-- first-order month and activity month, computed once from the customer facts): no scan of every
-- order, no distinct count; sales orders without a customer (not in those facts) are added from
-- analytics.fact_orders (in orders, revenue and refunds only).
-- KPI orders: count(*) of sales orders dated in the month
-- KPI customers: count(DISTINCT cust_id) of sales orders dated in the month
-- KPI new_customers: customers whose FIRST sales order (over all history) is dated in the month
-- KPI returning_customers: customers with a sales order in the month and a sales order in an earlier month
-- KPI revenue: sum(orders.total_amount) of the month's sales orders (order grain)
-- KPI refunds: sum(returns.refund_amount) of returns of the month's sales orders (attributed to the order's month)
-- KPI net_revenue: revenue - refunds
-- KPI aov: revenue / orders (numeric division; NULL for a month without orders)
-- KPI mom_growth_pct: (revenue - revenue of previous month) / revenue of previous month * 100; NULL when previous is 0 or missing
-- KPI yoy_growth_pct: (revenue - revenue of same month previous year) / that revenue * 100; NULL when previous is 0 or missing
-- KPI ytd_revenue: sum(revenue) from January of the month's year up to and including the month
-- KPI moving_avg_short: avg(revenue) over the S months ending with the month (S = config sales.moving_average_short_months); NULL when fewer than S months of data
-- KPI moving_avg_long: avg(revenue) over the L months ending with the month (L = config sales.moving_average_long_months); NULL when fewer than L months of data
CREATE MATERIALIZED VIEW analytics.mv_monthly_sales_dashboard AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('sales.moving_average_short_months') AS ma_short_months,
        analytics.fn_config_int('sales.moving_average_long_months') AS ma_long_months
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        p.ma_short_months,
        p.ma_long_months,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

months AS (
    SELECT gs.month::date AS month_start
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', b.first_date),
        date_trunc('month', b.ref_date),
        interval '1 month'
    ) AS gs (month)
),

customer_months AS (
    -- a month's customers are the cohorts active in it: new = its own cohort, returning = earlier ones
    SELECT
        a.activity_month AS month_start,
        sum(a.orders)::bigint AS orders,
        sum(a.customers)::bigint AS customers,
        coalesce(sum(a.customers) FILTER (WHERE a.cohort_month = a.activity_month), 0)::bigint
            AS new_customers,
        coalesce(sum(a.customers) FILTER (WHERE a.cohort_month < a.activity_month), 0)::bigint
            AS returning_customers,
        sum(a.revenue) AS revenue,
        sum(a.refunds) AS refunds
    FROM analytics.fact_customer_cohort_months AS a
    GROUP BY a.activity_month
),

orders_without_customer AS (
    -- sales orders without cust_id: in orders, revenue and refunds, not in the customer counts
    SELECT
        date_trunc('month', f.order_date)::date AS month_start,
        count(*) AS orders,
        sum(f.total_amount) AS revenue,
        sum(f.refund_amount) AS refunds
    FROM analytics.fact_orders AS f
    CROSS JOIN bounds AS b
    WHERE f.cust_id IS NULL
      AND f.order_date BETWEEN b.first_date AND b.ref_date
      AND NOT coalesce(f.order_status = ANY (b.excluded_statuses), false)
    GROUP BY date_trunc('month', f.order_date)::date
),

orders_by_month AS (
    SELECT
        coalesce(c.month_start, n.month_start) AS month_start,
        coalesce(c.orders, 0) + coalesce(n.orders, 0) AS orders,
        coalesce(c.customers, 0) AS customers,
        coalesce(c.new_customers, 0) AS new_customers,
        coalesce(c.returning_customers, 0) AS returning_customers,
        coalesce(c.revenue, 0) + coalesce(n.revenue, 0) AS revenue,
        coalesce(c.refunds, 0) + coalesce(n.refunds, 0) AS refunds
    FROM customer_months AS c
    FULL JOIN orders_without_customer AS n ON n.month_start = c.month_start
),

monthly AS (
    SELECT
        m.month_start,
        coalesce(o.orders, 0) AS orders,
        coalesce(o.customers, 0) AS customers,
        coalesce(o.new_customers, 0) AS new_customers,
        coalesce(o.returning_customers, 0) AS returning_customers,
        coalesce(o.revenue, 0) AS revenue,
        coalesce(o.refunds, 0) AS refunds
    FROM months AS m
    LEFT JOIN orders_by_month AS o ON o.month_start = m.month_start
),

with_comparisons AS (
    SELECT
        m.*,
        prev_month.revenue AS previous_month_revenue,
        prev_year.revenue AS previous_year_revenue,
        sum(m.revenue) OVER (
            PARTITION BY extract(YEAR FROM m.month_start)
            ORDER BY m.month_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS ytd_revenue,
        avg(m.revenue) OVER short_window AS ma_short,
        count(*) OVER short_window AS ma_short_months_available,
        avg(m.revenue) OVER long_window AS ma_long,
        count(*) OVER long_window AS ma_long_months_available
    FROM monthly AS m
    LEFT JOIN monthly AS prev_month
        ON prev_month.month_start = (m.month_start - interval '1 month')::date
    LEFT JOIN monthly AS prev_year
        ON prev_year.month_start = (m.month_start - interval '1 year')::date
    WINDOW
        short_window AS (
            ORDER BY m.month_start
            ROWS BETWEEN (SELECT p.ma_short_months - 1 FROM params AS p) PRECEDING AND CURRENT ROW
        ),
        long_window AS (
            ORDER BY m.month_start
            ROWS BETWEEN (SELECT p.ma_long_months - 1 FROM params AS p) PRECEDING AND CURRENT ROW
        )
)

SELECT
    extract(YEAR FROM w.month_start)::int AS year,
    extract(MONTH FROM w.month_start)::int AS month,
    w.month_start,
    to_char(w.month_start, 'Mon') AS month_name,
    (b.ref_date < (w.month_start + interval '1 month' - interval '1 day')::date
        AND b.ref_date >= w.month_start) AS is_partial_month,
    w.orders,
    w.customers,
    w.new_customers,
    w.returning_customers,
    w.revenue,
    w.refunds,
    w.revenue - w.refunds AS net_revenue,
    round(w.revenue / nullif(w.orders, 0)::numeric, 2) AS aov,
    round(
        (w.revenue - w.previous_month_revenue) / nullif(w.previous_month_revenue, 0) * 100, 2
    ) AS mom_growth_pct,
    round(
        (w.revenue - w.previous_year_revenue) / nullif(w.previous_year_revenue, 0) * 100, 2
    ) AS yoy_growth_pct,
    w.ytd_revenue,
    CASE WHEN w.ma_short_months_available >= b.ma_short_months THEN round(w.ma_short, 2) END
        AS moving_avg_short,
    CASE WHEN w.ma_long_months_available >= b.ma_long_months THEN round(w.ma_long, 2) END
        AS moving_avg_long,
    b.ma_short_months AS moving_avg_short_months,
    b.ma_long_months AS moving_avg_long_months
FROM with_comparisons AS w
CROSS JOIN bounds AS b;

CREATE UNIQUE INDEX ux_mv_monthly_sales_dashboard ON analytics.mv_monthly_sales_dashboard (month_start);
