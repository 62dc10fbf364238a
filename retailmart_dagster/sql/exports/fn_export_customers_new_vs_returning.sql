-- analytics.fn_export_customers_new_vs_returning(): new vs returning customers by month as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the last M months of
-- analytics.mv_new_vs_returning_customers ending with the reference month (M = config
-- customers.export_months), oldest first.
-- Question: How many customers each month are new and how many return (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per month with monthStart, year, month, isPartialMonth, newCustomers, returningCustomers, activeCustomers, newCustomerOrders, returningCustomerOrders, newCustomerRevenue, returningCustomerRevenue, returningCustomerPct, returningRevenueSharePct, newCustomerAov, returningCustomerAov (definitions in mv_new_vs_returning_customers)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_new_vs_returning()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('customers.export_months') AS export_months
    ),

    selected AS (
        SELECT n.*
        FROM analytics.mv_new_vs_returning_customers AS n
        CROSS JOIN params AS p
        WHERE n.month_start > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND n.month_start <= p.ref_date
        ORDER BY n.month_start
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.month_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'monthStart', to_char(s.month_start, 'YYYY-MM-DD'),
                        'year', s.year,
                        'month', s.month,
                        'isPartialMonth', s.is_partial_month,
                        'newCustomers', s.new_customers,
                        'returningCustomers', s.returning_customers,
                        'activeCustomers', s.active_customers,
                        'newCustomerOrders', s.new_customer_orders,
                        'returningCustomerOrders', s.returning_customer_orders,
                        'newCustomerRevenue', round(s.new_customer_revenue, 2),
                        'returningCustomerRevenue', round(s.returning_customer_revenue, 2),
                        'returningCustomerPct', round(s.returning_customer_pct, 2),
                        'returningRevenueSharePct', round(s.returning_revenue_share_pct, 2),
                        'newCustomerAov', round(s.new_customer_aov, 2),
                        'returningCustomerAov', round(s.returning_customer_aov, 2)
                    )
                    ORDER BY s.month_start
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
