-- analytics.fn_export_customers_top_customers(): the top customers by lifetime revenue as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = every row of
-- analytics.vw_top_customers (already bounded by config customers.top_customers_limit), by revenue
-- rank. period = first sales order date .. reference date.
-- Question: Who are the top customers by lifetime revenue (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per customer with revenueRank, custId, fullName, city, state, gender, ageGroup, valueTier, customerStatus, rfmSegment, orders, revenue, aov, revenueSharePct, cumulativeSharePct, firstOrderDate, lastOrderDate, daysSinceLastOrder, loyaltyPoints, reviewsGiven (definitions in vw_top_customers)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_top_customers()
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
                        'revenueRank', t.revenue_rank,
                        'custId', t.cust_id,
                        'fullName', t.full_name,
                        'city', t.city,
                        'state', t.state,
                        'gender', t.gender,
                        'ageGroup', t.age_group,
                        'valueTier', t.value_tier,
                        'customerStatus', t.customer_status,
                        'rfmSegment', t.rfm_segment,
                        'orders', t.orders,
                        'revenue', round(t.revenue, 2),
                        'aov', round(t.aov, 2),
                        'revenueSharePct', round(t.revenue_share_pct, 2),
                        'cumulativeSharePct', round(t.cumulative_share_pct, 2),
                        'firstOrderDate', to_char(t.first_order_date, 'YYYY-MM-DD'),
                        'lastOrderDate', to_char(t.last_order_date, 'YYYY-MM-DD'),
                        'daysSinceLastOrder', t.days_since_last_order,
                        'loyaltyPoints', t.loyalty_points,
                        'reviewsGiven', t.reviews_given
                    )
                    ORDER BY t.revenue_rank
                )
                FROM analytics.vw_top_customers AS t
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
