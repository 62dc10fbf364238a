-- analytics.fn_export_sales_payment_modes(): sales by payment mode as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the payment modes of
-- analytics.mv_sales_by_payment_mode by amount paid (largest first, then mode name), at most
-- config sales.top_n_export rows; period = first order date .. reference date.
-- KPI rows: one object per payment mode with paymentMode, payments, orders, amountPaid, amountSharePct, avgPayment (definitions in mv_sales_by_payment_mode)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_payment_modes()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.top_n_export') AS top_n
    ),

    bounds AS (
        SELECT
            p.ref_date,
            p.top_n,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    ),

    selected AS (
        SELECT
            m.*,
            row_number() OVER (ORDER BY m.amount_paid DESC, m.payment_mode) AS rank
        FROM analytics.mv_sales_by_payment_mode AS m
        ORDER BY m.amount_paid DESC, m.payment_mode
        LIMIT (SELECT b.top_n FROM bounds AS b)
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.rank,
                        'paymentMode', s.payment_mode,
                        'payments', s.payments,
                        'orders', s.orders,
                        'amountPaid', round(s.amount_paid, 2),
                        'amountSharePct', round(s.amount_share_pct, 2),
                        'avgPayment', round(s.avg_payment, 2)
                    )
                    ORDER BY s.rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
