-- analytics.mv_regional_performance: how does each region perform?
-- One row per store region (stores.stores.region; NULL is 'Unknown'). Money, orders, staff and costs are
-- the sums of the region's stores in analytics.mv_store_performance (same data period and definitions).
-- Customers are counted from the sales orders (analytics.fact_store_customers: one row per store and
-- customer with sales orders up to the reference date): a customer who bought in two stores of the
-- region counts ONCE for the region (a customer who bought in two regions counts once in each).
-- Margins are weighted by revenue: computed from the region's summed profit over its summed revenue,
-- never as an average of store margins.
-- Materialized because an export (fn_export_stores_regional) reads it: computed once per build.
-- Question: Which regions bring the most revenue and profit, with how many stores, staff and customers?
-- Owner: Store operations analytics
-- Refresh: daily
-- KPI stores: count(*) of the region's stores
-- KPI employees: sum(employees) of the region's stores
-- KPI customers: count(DISTINCT cust_id) of sales orders (order_status not in config sales.excluded_order_statuses) at the region's stores in the data period
-- KPI orders: sum(orders) of the region's stores
-- KPI revenue: sum(revenue) of the region's stores
-- KPI revenue_share_pct: revenue / revenue of all regions * 100
-- KPI aov: revenue / orders (numeric division)
-- KPI refunds: sum(refunds)
-- KPI cost_of_goods: sum(cost_of_goods) (estimate, see mv_store_performance; NULL when not available)
-- KPI operating_expenses: sum(operating_expenses)
-- KPI payroll: sum(monthly_payroll) * months_covered (same as the sum of store payrolls)
-- KPI net_profit: revenue - refunds - coalesce(cost_of_goods, 0) - operating_expenses - payroll (= sum of store net profits)
-- KPI net_margin_pct: sum(net_profit) / sum(revenue) * 100 (revenue-weighted)
-- KPI gross_margin_pct: (revenue - refunds - cost_of_goods) / revenue * 100 (revenue-weighted; NULL when cost of goods is not available)
-- KPI profitable_stores: count of the region's stores with net_profit > 0
-- KPI revenue_per_store: revenue / stores
-- KPI revenue_per_employee: revenue / employees (NULL without employees)
-- KPI revenue_rank: row_number() over (revenue DESC, region)
CREATE MATERIALIZED VIEW analytics.mv_regional_performance AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

bounds AS (
    SELECT
        p.ref_date,
        f.first_date,
        (p.ref_date - f.first_date + 1) / (365.25 / 12) AS months_covered
    FROM params AS p
    CROSS JOIN LATERAL (
        SELECT min(o.order_date) AS first_date
        FROM sales.orders AS o
        WHERE o.order_date <= p.ref_date
    ) AS f
),

by_region AS (
    SELECT
        sp.region,
        count(*) AS stores,
        sum(sp.employees) AS employees,
        sum(sp.orders) AS orders,
        sum(sp.revenue) AS revenue,
        sum(sp.refunds) AS refunds,
        sum(sp.cost_of_goods) AS cost_of_goods,
        sum(sp.operating_expenses) AS operating_expenses,
        sum(sp.monthly_payroll) AS monthly_payroll,
        count(*) FILTER (WHERE sp.net_profit > 0) AS profitable_stores
    FROM analytics.mv_store_performance AS sp
    GROUP BY sp.region
),

region_customers AS (
    -- Each region's distinct customers first (a hash aggregate), then counted: from the store and
    -- customer pairs of analytics.fact_store_customers, not from every order.
    SELECT DISTINCT
        coalesce(s.region, 'Unknown') AS region,
        sc.cust_id
    FROM analytics.fact_store_customers AS sc
    JOIN stores.stores AS s ON s.store_id = sc.store_id
    WHERE sc.cust_id IS NOT NULL
),

customers_by_region AS (
    SELECT
        rc.region,
        count(*) AS customers
    FROM region_customers AS rc
    GROUP BY rc.region
),

profit AS (
    -- Recomputed from the summed exact amounts (not from rounded store figures).
    SELECT
        r.*,
        r.monthly_payroll * b.months_covered AS payroll,
        r.revenue - r.refunds - r.cost_of_goods AS gross_profit,
        r.revenue - r.refunds - coalesce(r.cost_of_goods, 0) - r.operating_expenses
        - r.monthly_payroll * b.months_covered AS net_profit
    FROM by_region AS r
    CROSS JOIN bounds AS b
)

SELECT
    r.region,
    r.stores,
    r.employees,
    coalesce(c.customers, 0) AS customers,
    r.orders,
    r.revenue,
    round(r.revenue / nullif(sum(r.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(r.revenue / nullif(r.orders, 0)::numeric, 2) AS aov,
    r.refunds,
    r.cost_of_goods,
    r.operating_expenses,
    r.monthly_payroll,
    round(r.payroll, 2) AS payroll,
    round(r.net_profit, 2) AS net_profit,
    round(r.net_profit / nullif(r.revenue, 0) * 100, 2) AS net_margin_pct,
    round(r.gross_profit / nullif(r.revenue, 0) * 100, 2) AS gross_margin_pct,
    r.profitable_stores,
    round(r.revenue / nullif(r.stores, 0)::numeric, 2) AS revenue_per_store,
    round(r.revenue / nullif(r.employees, 0)::numeric, 2) AS revenue_per_employee,
    row_number() OVER (ORDER BY r.revenue DESC, r.region) AS revenue_rank,
    b.first_date AS period_start,
    b.ref_date AS period_end
FROM profit AS r
CROSS JOIN bounds AS b
LEFT JOIN customers_by_region AS c ON c.region = r.region;

CREATE UNIQUE INDEX ux_mv_regional_performance ON analytics.mv_regional_performance (region);
