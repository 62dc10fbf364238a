-- analytics.mv_payment_analysis: how are orders paid, month by month and mode by mode?
-- One row per payment month x payment mode: every month from the month of the first order date (any
-- status) to the month of the reference date (analytics.fn_reference_date()), crossed with every mode
-- seen (zeros included). Payments (sales.payments, payment grain) of sales orders, i.e. orders whose
-- order_status is not in config sales.excluded_order_statuses, dated on or before the reference date.
-- Payment month = month of payment_date (a NULL payment_date falls back to the order date); payments
-- dated after the reference date are not reported yet. A NULL payment_mode is reported as 'Unknown'.
-- Success rate: sales.payments has NO payment status column, so whether a payment succeeded, failed
-- or was refunded is unknown. success_rate_pct is NULL (never a fake 100 %) and success_rate_note
-- says why.
-- Payments are read from the payment fact analytics.fact_payment_days (loaded incrementally by order
-- day; one row per order day, status, effective payment day and mode), the first order date from
-- analytics.fact_orders: no payment is joined to its order on a refresh. Distinct orders per month and
-- mode are exact over the day bounds: orders whose first payment of the month in the mode is on or
-- before the reference date, less those whose last one is before the first order date.
-- Materialized because fn_export_operations_payments reads it: computed once per build, the export
-- reads stored rows.
-- Question: Which payment modes do customers use, how is that changing, and do payments succeed?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI payments: count(*) of payment rows in the month with that mode
-- KPI orders: count(DISTINCT order_id) of those payments
-- KPI amount: sum(payments.amount) of those payments (payment grain)
-- KPI avg_payment: amount / payments (numeric division; NULL without payments)
-- KPI payment_share_pct: payments / payments of all modes in the month * 100
-- KPI amount_share_pct: amount / amount of all modes in the month * 100
-- KPI success_rate_pct: not available (NULL): the source has no payment status
CREATE MATERIALIZED VIEW analytics.mv_payment_analysis AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        (
            SELECT min(f.order_date)
            FROM analytics.fact_orders AS f
            WHERE f.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

months AS (
    SELECT gs.month::date AS payment_month
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', b.first_date),
        date_trunc('month', b.ref_date),
        interval '1 month'
    ) AS gs (month)
),

-- Payment days of sales orders dated from the first order date to the reference date. Payments dated
-- after the reference date are left out; those dated before the first order date are kept only to
-- take their orders out of the month's distinct count (month_last_orders).
sales_payment_days AS (
    SELECT
        date_trunc('month', f.payment_day)::date AS payment_month,
        f.payment_day,
        f.payment_mode,
        f.payments,
        f.amount,
        f.month_first_orders,
        f.month_last_orders,
        f.payment_day >= b.first_date AS in_period
    FROM analytics.fact_payment_days AS f
    CROSS JOIN bounds AS b
    WHERE f.order_date BETWEEN b.first_date AND b.ref_date
      AND NOT coalesce(f.order_status = ANY (b.excluded_statuses), false)
      AND f.payment_day <= b.ref_date
),

modes AS (
    SELECT DISTINCT sp.payment_mode::varchar AS payment_mode
    FROM sales_payment_days AS sp
    WHERE sp.in_period
),

by_month_mode AS (
    SELECT
        sp.payment_month,
        sp.payment_mode::varchar AS payment_mode,
        sum(sp.payments) FILTER (WHERE sp.in_period)::bigint AS payments,
        (
            coalesce(sum(sp.month_first_orders), 0)
            - coalesce(sum(sp.month_last_orders) FILTER (WHERE NOT sp.in_period), 0)
        )::bigint AS orders,
        coalesce(sum(sp.amount) FILTER (WHERE sp.in_period), 0) AS amount
    FROM sales_payment_days AS sp
    GROUP BY sp.payment_month, sp.payment_mode
),

grid AS (
    SELECT
        m.payment_month,
        md.payment_mode,
        coalesce(b.payments, 0) AS payments,
        coalesce(b.orders, 0) AS orders,
        coalesce(b.amount, 0) AS amount
    FROM months AS m
    CROSS JOIN modes AS md
    LEFT JOIN by_month_mode AS b
        ON b.payment_month = m.payment_month AND b.payment_mode = md.payment_mode
)

SELECT
    extract(YEAR FROM g.payment_month)::int AS year,
    extract(MONTH FROM g.payment_month)::int AS month,
    g.payment_month,
    g.payment_mode,
    g.payments,
    g.orders,
    g.amount,
    round(g.amount / nullif(g.payments, 0)::numeric, 2) AS avg_payment,
    round(
        g.payments / nullif(sum(g.payments) OVER (PARTITION BY g.payment_month), 0)::numeric * 100,
        2
    ) AS payment_share_pct,
    round(
        g.amount / nullif(sum(g.amount) OVER (PARTITION BY g.payment_month), 0) * 100, 2
    ) AS amount_share_pct,
    NULL::numeric AS success_rate_pct,
    'Not available: sales.payments has no payment status column, so successful and failed '
    'payments cannot be told apart.'::text AS success_rate_note
FROM grid AS g;

CREATE UNIQUE INDEX ux_mv_payment_analysis ON analytics.mv_payment_analysis (payment_month, payment_mode);
