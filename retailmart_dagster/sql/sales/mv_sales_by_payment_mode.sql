-- analytics.mv_sales_by_payment_mode: how do customers pay for their orders?
-- One row per payment mode, over the payments (sales.payments, payment grain) of sales orders dated
-- from the first order date to the reference date (analytics.fn_reference_date()). Sales orders =
-- orders whose order_status is not in config sales.excluded_order_statuses. The source has no payment
-- status, so every payment row counts; a NULL payment_mode is reported as 'Unknown'.
-- Payments are read from the payment fact analytics.fact_payment_days (loaded incrementally by order
-- day): no payment is joined to its order on a refresh. Distinct orders per mode add up exactly over
-- its rows: each order is counted once per mode, on the day of its first payment in that mode.
-- Materialized because an export (fn_export_sales_payment_modes) reads it: computed once per build.
-- Question: How do customers pay for their orders, mode by mode?
-- Owner: Sales analytics
-- Refresh: daily
-- KPI payments: count(*) of payment rows with that mode
-- KPI orders: count(DISTINCT order_id) of those payments (an order paid in two modes counts in both)
-- KPI amount_paid: sum(payments.amount) of those payments (payment grain)
-- KPI amount_share_pct: amount_paid / amount_paid of all modes * 100
-- KPI avg_payment: amount_paid / payments (numeric division)
CREATE MATERIALIZED VIEW analytics.mv_sales_by_payment_mode AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses
),

by_mode AS (
    SELECT
        f.payment_mode::varchar AS payment_mode,
        sum(f.payments)::bigint AS payments,
        sum(f.mode_first_orders)::bigint AS orders,
        coalesce(sum(f.amount), 0) AS amount_paid
    FROM analytics.fact_payment_days AS f
    CROSS JOIN params AS p
    WHERE f.order_date <= p.ref_date
      AND NOT coalesce(f.order_status = ANY (p.excluded_statuses), false)
    GROUP BY f.payment_mode
)

SELECT
    m.payment_mode,
    m.payments,
    m.orders,
    m.amount_paid,
    round(m.amount_paid / nullif(sum(m.amount_paid) OVER (), 0) * 100, 2) AS amount_share_pct,
    round(m.amount_paid / nullif(m.payments, 0)::numeric, 2) AS avg_payment
FROM by_mode AS m;

CREATE UNIQUE INDEX ux_mv_sales_by_payment_mode ON analytics.mv_sales_by_payment_mode (payment_mode);
