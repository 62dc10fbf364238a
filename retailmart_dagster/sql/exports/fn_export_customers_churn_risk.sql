-- analytics.fn_export_customers_churn_risk(): churn risk summary and the riskiest customers as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "churnDays": {...}, "rows": [...], "riskiest": [...]},
-- rows = analytics.mv_churn_risk_summary (one row per risk level x value tier, at most 4 x 4), ordered by
-- risk level (Critical first) then tier; riskiest = the first N customers of analytics.mv_churn_risk by
-- priority_rank (N = config customers.export_top_n), so the file stays small at any scale.
-- churnDays = the configured churn window per tier. period = first sales order date .. reference date.
-- Question: How much customer value is at risk and which customers do we contact first (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per risk level and tier with riskLevel, valueTier, churnDays, customers, customerSharePct, revenueAtRisk, revenueSharePct, avgDaysSinceLastOrder, avgPriorityScore (definitions in mv_churn_risk_summary)
-- KPI riskiest: one object per customer with priorityRank, custId, fullName, city, state, valueTier, customerStatus, rfmSegment, orders, revenue, lastOrderDate, daysSinceLastOrder, churnDays, riskRatio, riskLevel, priorityScore, recommendedAction (definitions in mv_churn_risk)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_churn_risk()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('customers.export_top_n') AS top_n,
            analytics.fn_config_int('customers.churn_days_platinum') AS churn_days_platinum,
            analytics.fn_config_int('customers.churn_days_gold') AS churn_days_gold,
            analytics.fn_config_int('customers.churn_days_standard') AS churn_days_standard
    ),

    bounds AS (
        SELECT
            p.*,
            (
                SELECT min(s.first_order_date)
                FROM analytics.mv_customer_segments AS s
            ) AS first_date
        FROM params AS p
    ),

    summary AS (
        SELECT s.*
        FROM analytics.mv_churn_risk_summary AS s
        ORDER BY s.risk_level_order, s.value_tier_order, s.risk_level, s.value_tier
    ),

    riskiest AS (
        SELECT c.*
        FROM analytics.mv_churn_risk AS c
        ORDER BY c.priority_rank
        LIMIT (SELECT b.top_n FROM bounds AS b)
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'churnDays', json_build_object(
            'platinum', b.churn_days_platinum,
            'gold', b.churn_days_gold,
            'standard', b.churn_days_standard
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'riskLevel', s.risk_level,
                        'valueTier', s.value_tier,
                        'churnDays', s.churn_days,
                        'customers', s.customers,
                        'customerSharePct', round(s.customer_share_pct, 2),
                        'revenueAtRisk', round(s.revenue_at_risk, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'avgDaysSinceLastOrder', round(s.avg_days_since_last_order, 2),
                        'avgPriorityScore', round(s.avg_priority_score, 2)
                    )
                    ORDER BY s.risk_level_order, s.value_tier_order, s.risk_level, s.value_tier
                )
                FROM summary AS s
            ),
            '[]'::json
        ),
        'riskiest', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'priorityRank', r.priority_rank,
                        'custId', r.cust_id,
                        'fullName', r.full_name,
                        'city', r.city,
                        'state', r.state,
                        'valueTier', r.value_tier,
                        'customerStatus', r.customer_status,
                        'rfmSegment', r.rfm_segment,
                        'orders', r.orders,
                        'revenue', round(r.revenue, 2),
                        'lastOrderDate', to_char(r.last_order_date, 'YYYY-MM-DD'),
                        'daysSinceLastOrder', r.days_since_last_order,
                        'churnDays', r.churn_days,
                        'riskRatio', round(r.risk_ratio, 2),
                        'riskLevel', r.risk_level,
                        'priorityScore', round(r.priority_score, 2),
                        'recommendedAction', r.recommended_action
                    )
                    ORDER BY r.priority_rank
                )
                FROM riskiest AS r
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
