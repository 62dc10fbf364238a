-- analytics.vw_employee_distribution: how are staff and payroll spread over stores, departments and roles?
-- One row per store, department and role that has employees (stores.employees). salary is a MONTHLY
-- salary, so payroll here is monthly payroll. An employee without a department is reported under
-- 'Unknown', one without a role under 'Unknown' (store_id and dept_id are nullable FKs).
-- Question: How many people work in each store, department and role, and what do they cost per month?
-- Owner: Store operations analytics
-- Refresh: daily
-- KPI headcount: count(*) of employees with that store, department and role
-- KPI monthly_payroll: sum(salary) of those employees
-- KPI avg_monthly_salary: monthly_payroll / headcount (numeric division)
-- KPI min_monthly_salary: min(salary)
-- KPI max_monthly_salary: max(salary)
-- KPI store_headcount_share_pct: headcount / headcount of the store * 100
-- KPI store_payroll_share_pct: monthly_payroll / monthly payroll of the store * 100
CREATE VIEW analytics.vw_employee_distribution AS
WITH staff AS (
    SELECT
        em.emp_id,
        em.store_id,
        em.dept_id,
        coalesce(d.dept_name, 'Unknown') AS dept_name,
        coalesce(em.role, 'Unknown') AS role,
        em.salary
    FROM stores.employees AS em
    LEFT JOIN stores.departments AS d ON d.dept_id = em.dept_id
),

grouped AS (
    SELECT
        st.store_id,
        st.dept_id,
        st.dept_name,
        st.role,
        count(*) AS headcount,
        sum(st.salary) AS monthly_payroll,
        min(st.salary) AS min_monthly_salary,
        max(st.salary) AS max_monthly_salary
    FROM staff AS st
    GROUP BY st.store_id, st.dept_id, st.dept_name, st.role
)

SELECT
    g.store_id,
    s.store_name,
    coalesce(s.region, 'Unknown') AS region,
    g.dept_id,
    g.dept_name,
    g.role,
    g.headcount,
    g.monthly_payroll,
    round(g.monthly_payroll / nullif(g.headcount, 0)::numeric, 2) AS avg_monthly_salary,
    g.min_monthly_salary,
    g.max_monthly_salary,
    round(
        g.headcount / nullif(sum(g.headcount) OVER (PARTITION BY g.store_id), 0)::numeric * 100, 2
    ) AS store_headcount_share_pct,
    round(
        g.monthly_payroll / nullif(sum(g.monthly_payroll) OVER (PARTITION BY g.store_id), 0) * 100, 2
    ) AS store_payroll_share_pct
FROM grouped AS g
LEFT JOIN stores.stores AS s ON s.store_id = g.store_id;
