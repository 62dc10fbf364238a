-- analytics.fn_export_customers_rfm_segments(): the RFM segments summary as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = analytics.vw_rfm_segment_summary
-- (one row per segment, at most 10), in segment order (Champions first). period = first sales order
-- date .. reference date.
-- Question: How big and valuable is each RFM segment and what is its action (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per segment with rfmSegment, customers, customerSharePct, orders, revenue, revenueSharePct, avgRecencyDays, avgFrequency, avgMonetary, avgRecencyScore, avgFrequencyScore, avgMonetaryScore, recommendedAction (definitions in vw_rfm_segment_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_rfm_segments()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT analytics.fn_reference_date() AS ref_date
    ),

    bounds AS (
        SELECT
            p.ref_date,
            (
                SELECT min(s.first_order_date)
                FROM analytics.mv_customer_segments AS s
            ) AS first_date
        FROM params AS p
    ),

    selected AS (
        SELECT s.*
        FROM analytics.vw_rfm_segment_summary AS s
        ORDER BY s.segment_order, s.rfm_segment
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
                        'rfmSegment', s.rfm_segment,
                        'customers', s.customers,
                        'customerSharePct', round(s.customer_share_pct, 2),
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'avgRecencyDays', round(s.avg_recency_days, 2),
                        'avgFrequency', round(s.avg_frequency, 2),
                        'avgMonetary', round(s.avg_monetary, 2),
                        'avgRecencyScore', round(s.avg_recency_score, 2),
                        'avgFrequencyScore', round(s.avg_frequency_score, 2),
                        'avgMonetaryScore', round(s.avg_monetary_score, 2),
                        'recommendedAction', s.recommended_action
                    )
                    ORDER BY s.segment_order, s.rfm_segment
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
