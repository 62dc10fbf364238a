-- analytics.fn_export_customers_cohort_retention(): monthly cohort retention as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "maxMonths", "rows": [...]}, rows = the rows of
-- analytics.mv_cohort_retention for the last C cohort months ending with the reference month
-- (C = config customers.export_months), so at most C x (customers.cohort_max_months + 1) rows at any
-- scale; ordered by cohort month, then month number.
-- Question: How do recent monthly cohorts keep buying in the months after their first order (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per cohort and month number with cohortMonth, monthNumber, activityMonth, isPartialMonth, cohortSize, activeCustomers, retentionPct, orders, revenue (definitions in mv_cohort_retention)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_cohort_retention()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('customers.export_months') AS export_months,
            analytics.fn_config_int('customers.cohort_max_months') AS max_months
    ),

    selected AS (
        SELECT c.*
        FROM analytics.mv_cohort_retention AS c
        CROSS JOIN params AS p
        WHERE c.cohort_month
                > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND c.cohort_month <= p.ref_date
        ORDER BY c.cohort_month, c.month_number
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.cohort_month) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'maxMonths', p.max_months,
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'cohortMonth', to_char(s.cohort_month, 'YYYY-MM-DD'),
                        'monthNumber', s.month_number,
                        'activityMonth', to_char(s.activity_month, 'YYYY-MM-DD'),
                        'isPartialMonth', s.is_partial_month,
                        'cohortSize', s.cohort_size,
                        'activeCustomers', s.active_customers,
                        'retentionPct', round(s.retention_pct, 2),
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2)
                    )
                    ORDER BY s.cohort_month, s.month_number
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
