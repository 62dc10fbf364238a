-- analytics.fn_export_sales_returns(): returns by month and reason as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the rows of
-- analytics.mv_sales_returns_analysis for the last R return months ending with the reference month
-- (R = config sales.returns_export_months), ordered by month, then reason.
-- KPI rows: one object per month and reason with returnMonth, year, month, reason, returns, returnedOrders, refundAmount, baseOrders, returnRatePct (definitions in mv_sales_returns_analysis)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_returns()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.returns_export_months') AS export_months
    ),

    selected AS (
        SELECT r.*
        FROM analytics.mv_sales_returns_analysis AS r
        CROSS JOIN params AS p
        WHERE r.return_month > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND r.return_month <= p.ref_date
        ORDER BY r.return_month, r.reason
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.return_month) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'returnMonth', to_char(s.return_month, 'YYYY-MM-DD'),
                        'year', s.year,
                        'month', s.month,
                        'reason', s.reason,
                        'returns', s.returns,
                        'returnedOrders', s.returned_orders,
                        'refundAmount', round(s.refund_amount, 2),
                        'baseOrders', s.base_orders,
                        'returnRatePct', round(s.return_rate_pct, 2)
                    )
                    ORDER BY s.return_month, s.reason
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
