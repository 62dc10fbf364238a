-- analytics.fn_export_customers_demographics(): customers by gender and age group as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = analytics.vw_customer_demographics
-- (one row per gender x age group: bounded by the configured age bands, whatever the number of
-- customers), ordered by gender then age group order. period = first sales order date .. reference date.
-- Question: How do customers and revenue split by gender and age group (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per gender and age group with gender, genderLabel, ageGroup, ageGroupOrder, customers, buyers, buyerPct, orders, revenue, aov, revenuePerBuyer, customerSharePct, revenueSharePct (definitions in vw_customer_demographics)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_demographics()
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
        SELECT d.*
        FROM analytics.vw_customer_demographics AS d
        ORDER BY d.gender, d.age_group_order, d.age_group
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
                        'gender', s.gender,
                        'genderLabel', s.gender_label,
                        'ageGroup', s.age_group,
                        'ageGroupOrder', s.age_group_order,
                        'customers', s.customers,
                        'buyers', s.buyers,
                        'buyerPct', round(s.buyer_pct, 2),
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'aov', round(s.aov, 2),
                        'revenuePerBuyer', round(s.revenue_per_buyer, 2),
                        'customerSharePct', round(s.customer_share_pct, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2)
                    )
                    ORDER BY s.gender, s.age_group_order, s.age_group
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
