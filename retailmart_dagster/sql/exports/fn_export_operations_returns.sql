-- analytics.fn_export_operations_returns(): return rates by category and reason as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "highReturnRatePct", "rows": [...]}, rows = the
-- rows of analytics.mv_return_analysis for the top N categories by category return rate (then
-- returned orders, then name), and within each category its top N reasons by returned lines (then
-- reason), N = config operations.top_n_export; ordered by categoryRank, then reasonRank.
-- Question: Which categories have the highest return rates, and for which reasons?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI rows: one object per category and reason with categoryRank, reasonRank, category, reason, deliveredOrders, returns, returnedOrders, refundAmount, returnRatePct, categoryReturnedOrders, categoryRefundAmount, categoryReturnRatePct, reasonSharePct, isHighReturnCategory (definitions in mv_return_analysis)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_returns()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_numeric('operations.high_return_rate_pct') AS high_rate_pct,
            analytics.fn_config_int('operations.top_n_export') AS top_n
    ),

    bounds AS (
        SELECT
            p.*,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    ),

    return_rows AS MATERIALIZED (
        SELECT r.*
        FROM analytics.mv_return_analysis AS r
    ),

    categories AS (
        SELECT
            c.category,
            row_number() OVER (
                ORDER BY c.category_return_rate_pct DESC NULLS LAST,
                    c.category_returned_orders DESC, c.category
            ) AS category_rank
        FROM (
            SELECT DISTINCT
                r.category,
                r.category_return_rate_pct,
                r.category_returned_orders
            FROM return_rows AS r
        ) AS c
    ),

    ranked AS (
        SELECT
            r.*,
            c.category_rank,
            row_number() OVER (
                PARTITION BY r.category ORDER BY r.returns DESC, r.reason
            ) AS reason_rank
        FROM return_rows AS r
        JOIN categories AS c ON c.category = r.category
    ),

    selected AS (
        SELECT rk.*
        FROM ranked AS rk
        CROSS JOIN bounds AS b
        WHERE rk.category_rank <= b.top_n
          AND rk.reason_rank <= b.top_n
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'highReturnRatePct', round(b.high_rate_pct, 2),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'categoryRank', s.category_rank,
                        'reasonRank', s.reason_rank,
                        'category', s.category,
                        'reason', s.reason,
                        'deliveredOrders', s.delivered_orders,
                        'returns', s.returns,
                        'returnedOrders', s.returned_orders,
                        'refundAmount', round(s.refund_amount, 2),
                        'returnRatePct', round(s.return_rate_pct, 2),
                        'categoryReturnedOrders', s.category_returned_orders,
                        'categoryRefundAmount', round(s.category_refund_amount, 2),
                        'categoryReturnRatePct', round(s.category_return_rate_pct, 2),
                        'reasonSharePct', round(s.reason_share_pct, 2),
                        'isHighReturnCategory', s.is_high_return_category
                    )
                    ORDER BY s.category_rank, s.reason_rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
