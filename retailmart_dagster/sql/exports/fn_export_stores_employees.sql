-- analytics.fn_export_stores_employees(): staff and monthly payroll by role as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "totalHeadcount", "totalMonthlyPayroll",
-- "rows": [...]}, rows = the roles of analytics.vw_employee_distribution summed over stores and
-- departments, largest headcount first (then role), at most config stores.top_n_export rows. Staff
-- is a snapshot (current employees, monthly salaries): period from = to = the reference date.
-- KPI rows: one object per role with role, departments, stores, headcount, headcountSharePct, monthlyPayroll, payrollSharePct, avgMonthlySalary (monthlyPayroll / headcount), minMonthlySalary, maxMonthlySalary
CREATE OR REPLACE FUNCTION analytics.fn_export_stores_employees()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('stores.top_n_export') AS top_n
    ),

    by_role AS MATERIALIZED (
        SELECT
            e.role,
            string_agg(DISTINCT e.dept_name, ', ' ORDER BY e.dept_name) AS departments,
            count(DISTINCT e.store_id) AS stores,
            sum(e.headcount) AS headcount,
            sum(e.monthly_payroll) AS monthly_payroll,
            min(e.min_monthly_salary) AS min_monthly_salary,
            max(e.max_monthly_salary) AS max_monthly_salary
        FROM analytics.vw_employee_distribution AS e
        GROUP BY e.role
    ),

    ranked AS (
        SELECT
            b.*,
            b.headcount / nullif(sum(b.headcount) OVER (), 0)::numeric * 100 AS headcount_share,
            b.monthly_payroll / nullif(sum(b.monthly_payroll) OVER (), 0) * 100 AS payroll_share,
            row_number() OVER (ORDER BY b.headcount DESC, b.role) AS rank
        FROM by_role AS b
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(p.ref_date, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'totalHeadcount', (SELECT coalesce(sum(b.headcount), 0) FROM by_role AS b),
        'totalMonthlyPayroll', (SELECT round(coalesce(sum(b.monthly_payroll), 0), 2) FROM by_role AS b),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', r.rank,
                        'role', r.role,
                        'departments', r.departments,
                        'stores', r.stores,
                        'headcount', r.headcount,
                        'headcountSharePct', round(r.headcount_share, 2),
                        'monthlyPayroll', round(r.monthly_payroll, 2),
                        'payrollSharePct', round(r.payroll_share, 2),
                        'avgMonthlySalary', round(r.monthly_payroll / nullif(r.headcount, 0)::numeric, 2),
                        'minMonthlySalary', round(r.min_monthly_salary, 2),
                        'maxMonthlySalary', round(r.max_monthly_salary, 2)
                    )
                    ORDER BY r.rank
                )
                FROM ranked AS r
                WHERE r.rank <= p.top_n
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
