-- analytics.fn_export_operations_payments(): payments by month and mode as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "successRateAvailable": false,
-- "successRateNote", "rows": [...]}, rows = the rows of analytics.mv_payment_analysis for the last M
-- payment months ending with the reference month (M = config operations.export_months) and the top N
-- payment modes by amount over those months (N = config operations.top_n_export), ordered by month,
-- then mode. successRatePct is null on every row: the source has no payment status.
-- Question: Which payment modes do customers use, how is that changing, and do payments succeed?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI rows: one object per month and mode with paymentMonth, year, month, paymentMode, payments, orders, amount, avgPayment, paymentSharePct, amountSharePct, successRatePct (definitions in mv_payment_analysis)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_payments()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('operations.export_months') AS export_months,
            analytics.fn_config_int('operations.top_n_export') AS top_n
    ),

    in_window AS (
        SELECT pa.*
        FROM analytics.mv_payment_analysis AS pa
        CROSS JOIN params AS p
        WHERE pa.payment_month
                > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND pa.payment_month <= p.ref_date
    ),

    top_modes AS (
        SELECT w.payment_mode
        FROM in_window AS w
        GROUP BY w.payment_mode
        ORDER BY sum(w.amount) DESC, w.payment_mode
        LIMIT (SELECT p.top_n FROM params AS p)
    ),

    selected AS (
        SELECT w.*
        FROM in_window AS w
        JOIN top_modes AS t ON t.payment_mode = w.payment_mode
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.payment_month) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'successRateAvailable', false,
        'successRateNote', (SELECT max(s.success_rate_note) FROM selected AS s),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'paymentMonth', to_char(s.payment_month, 'YYYY-MM-DD'),
                        'year', s.year,
                        'month', s.month,
                        'paymentMode', s.payment_mode,
                        'payments', s.payments,
                        'orders', s.orders,
                        'amount', round(s.amount, 2),
                        'avgPayment', round(s.avg_payment, 2),
                        'paymentSharePct', round(s.payment_share_pct, 2),
                        'amountSharePct', round(s.amount_share_pct, 2),
                        'successRatePct', round(s.success_rate_pct, 2)
                    )
                    ORDER BY s.payment_month, s.payment_mode
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
