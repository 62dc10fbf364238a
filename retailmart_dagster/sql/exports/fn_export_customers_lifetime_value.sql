-- analytics.fn_export_customers_lifetime_value(): customer value by tier and status as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "thresholds": {...}, "summary": {...}, "rows": [...]},
-- rows = analytics.vw_customer_value_summary (one row per value tier x status, at most 5 x 5 rows: never
-- one row per customer), ordered by tier then status. summary = totals over all customers of
-- analytics.mv_customer_lifetime_value, summed from its segments (analytics.mv_customer_segments);
-- thresholds = the configured tier minimums and status windows.
-- period = first sales order date .. reference date. Money rounded to 2 decimals.
-- Question: How are customers and revenue spread over value tiers and statuses (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per tier and status with valueTier, customerStatus, customers, customerSharePct, orders, revenue, revenueSharePct, revenuePerCustomer, ordersPerCustomer, aov, avgDaysSinceLastOrder, avgTenureDays, loyaltyPoints, avgLoyaltyPoints, reviewsGiven (definitions in vw_customer_value_summary)
-- KPI summary: customers, buyers, orders, revenue, aov (revenue / orders), revenuePerBuyer (revenue / buyers)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_lifetime_value()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_numeric('customers.tier_platinum_min_revenue') AS platinum_min,
            analytics.fn_config_numeric('customers.tier_gold_min_revenue') AS gold_min,
            analytics.fn_config_numeric('customers.tier_silver_min_revenue') AS silver_min,
            analytics.fn_config_int('customers.status_active_max_days') AS active_max_days,
            analytics.fn_config_int('customers.status_at_risk_max_days') AS at_risk_max_days,
            analytics.fn_config_int('customers.status_churning_max_days') AS churning_max_days
    ),

    -- Summed from the customer segments (every customer counted once there), not from every customer.
    totals AS (
        SELECT
            coalesce(sum(s.customers), 0)::bigint AS customers,
            coalesce(sum(s.buyers), 0)::bigint AS buyers,
            coalesce(sum(s.orders), 0) AS orders,
            coalesce(sum(s.revenue), 0) AS revenue,
            min(s.first_order_date) AS first_date
        FROM analytics.mv_customer_segments AS s
    ),

    selected AS (
        SELECT v.*
        FROM analytics.vw_customer_value_summary AS v
        ORDER BY v.value_tier_order, v.customer_status_order, v.value_tier, v.customer_status
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(t.first_date, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'thresholds', json_build_object(
            'platinumMinRevenue', round(p.platinum_min, 2),
            'goldMinRevenue', round(p.gold_min, 2),
            'silverMinRevenue', round(p.silver_min, 2),
            'activeMaxDays', p.active_max_days,
            'atRiskMaxDays', p.at_risk_max_days,
            'churningMaxDays', p.churning_max_days
        ),
        'summary', json_build_object(
            'customers', t.customers,
            'buyers', t.buyers,
            'orders', t.orders,
            'revenue', round(t.revenue, 2),
            'aov', round(t.revenue / nullif(t.orders, 0)::numeric, 2),
            'revenuePerBuyer', round(t.revenue / nullif(t.buyers, 0)::numeric, 2)
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'valueTier', s.value_tier,
                        'customerStatus', s.customer_status,
                        'customers', s.customers,
                        'customerSharePct', round(s.customer_share_pct, 2),
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'revenuePerCustomer', round(s.revenue_per_customer, 2),
                        'ordersPerCustomer', round(s.orders_per_customer, 2),
                        'aov', round(s.aov, 2),
                        'avgDaysSinceLastOrder', round(s.avg_days_since_last_order, 2),
                        'avgTenureDays', round(s.avg_tenure_days, 2),
                        'loyaltyPoints', s.loyalty_points,
                        'avgLoyaltyPoints', round(s.avg_loyalty_points, 2),
                        'reviewsGiven', s.reviews_given
                    )
                    ORDER BY s.value_tier_order, s.customer_status_order,
                        s.value_tier, s.customer_status
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p
    CROSS JOIN totals AS t;
$$;
