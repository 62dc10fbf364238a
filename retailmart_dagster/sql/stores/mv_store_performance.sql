-- analytics.mv_store_performance: revenue, costs and profit of every store over the data period.
-- One row per store of stores.stores. Data period = first order date .. reference date
-- (analytics.fn_reference_date()); orders, refunds and expenses are those dated in it. Sales orders =
-- orders whose order_status is not in config sales.excluded_order_statuses. Each source is aggregated
-- per store in its own CTE and joined afterwards (no fan-out); orders, their refunds and customers are
-- read from analytics.fact_store_customers (the sales orders up to the reference date per store and
-- customer, loaded incrementally): no join to sales.returns and no count(DISTINCT) over every order.
-- Costs, each counted once (the sample-data generator books them in disjoint tables and categories):
-- * payroll: stores.employees.salary is a MONTHLY salary; payroll = sum(salary of the store's current
--   employees) * months_covered, months_covered = days in the data period / (365.25 / 12). The contract
--   has no hire or leave dates, so every current employee counts for the whole period (salary revisions
--   in hr.salary_history are not used: current salaries). finance.expenses rows whose category is in
--   config stores.payroll_expense_categories ('Salaries') are the same cost booked by finance: they are
--   EXCLUDED (shown as finance_payroll_excluded) so payroll is not counted twice.
-- * cost of goods (an ESTIMATE): the contract has no cost price. Stock purchases booked in
--   finance.expenses with a category in config stores.purchase_expense_categories ('Inventory
--   Purchase') stand in for the cost of goods sold (purchases differ from COGS when stock levels change).
--   When the database holds no such rows at all, cost_of_goods is NULL and cost_of_goods_basis says so.
-- * operating expenses: all stores.expenses rows (Rent, Utilities, Maintenance, Marketing, Security,
--   Misc) plus the finance.expenses rows of every other category (Logistics, IT, Insurance, ...).
-- finance.revenue_summary is NOT used: it is a monthly roll-up of orders and of both expense tables, so
-- adding it would count them twice.
-- Performance tier: stores ranked by net profit (profit_rank); position = profit_rank / number of
-- stores; 'Top Performer' when position <= config stores.tier_top_share, 'Above Average' when <=
-- stores.tier_above_average_share, 'Below Average' when <= stores.tier_below_average_share, else
-- 'Underperformer'. Relative tiers, because absolute profit or margin levels move with the data's scale
-- (payroll of the contract's staff exceeds the revenue of small stores at scale 0.05: every margin is
-- negative there).
-- Question: Which stores make money once payroll, expenses and the cost of goods are counted, and how do they rank?
-- Owner: Store operations analytics
-- Refresh: daily
-- KPI orders: count(*) of the store's sales orders
-- KPI customers: count(DISTINCT cust_id) of those orders
-- KPI revenue: sum(orders.total_amount) of those orders (order grain)
-- KPI aov: revenue / orders (numeric division)
-- KPI refunds: sum(returns.refund_amount) of returns of those orders
-- KPI cost_of_goods: sum(finance.expenses.amount) with category in stores.purchase_expense_categories (estimate; NULL when the database has none)
-- KPI store_expenses: sum(stores.expenses.amount)
-- KPI finance_operating_expenses: sum(finance.expenses.amount) with category in neither the purchase nor the payroll categories
-- KPI operating_expenses: store_expenses + finance_operating_expenses
-- KPI finance_payroll_excluded: sum(finance.expenses.amount) with category in stores.payroll_expense_categories (not counted: replaced by payroll)
-- KPI employees: count(*) of stores.employees of the store
-- KPI monthly_payroll: sum(employees.salary)
-- KPI months_covered: (reference date - first order date + 1) / (365.25 / 12)
-- KPI payroll: monthly_payroll * months_covered
-- KPI gross_profit: revenue - refunds - cost_of_goods (NULL when cost of goods is not available)
-- KPI gross_margin_pct: gross_profit / revenue * 100
-- KPI net_profit: revenue - refunds - coalesce(cost_of_goods, 0) - operating_expenses - payroll
-- KPI net_margin_pct: net_profit / revenue * 100 (NULL without revenue)
-- KPI revenue_per_employee: revenue / employees (NULL without employees)
-- KPI revenue_rank: row_number() over (revenue DESC, store_id)
-- KPI profit_rank: row_number() over (net_profit DESC, store_id)
-- KPI margin_rank: row_number() over (net_margin_pct DESC NULLS LAST, store_id)
-- KPI performance_tier: from profit_rank / count of stores and the configured shares (see above)
CREATE MATERIALIZED VIEW analytics.mv_store_performance AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('stores.purchase_expense_categories') AS purchase_categories,
        analytics.fn_config_text_array('stores.payroll_expense_categories') AS payroll_categories,
        analytics.fn_config_numeric('stores.tier_top_share') AS tier_top_share,
        analytics.fn_config_numeric('stores.tier_above_average_share') AS tier_above_share,
        analytics.fn_config_numeric('stores.tier_below_average_share') AS tier_below_share
),

bounds AS (
    SELECT
        p.*,
        f.first_date,
        (p.ref_date - f.first_date + 1) / (365.25 / 12) AS months_covered
    FROM params AS p
    CROSS JOIN LATERAL (
        SELECT min(o.order_date) AS first_date
        FROM sales.orders AS o
        WHERE o.order_date <= p.ref_date
    ) AS f
),

orders_by_store AS (
    -- One row per customer of the store in the fact: its customers are its rows with a cust_id.
    SELECT
        sc.store_id,
        sum(sc.orders) AS orders,
        count(sc.cust_id) AS customers,
        sum(sc.revenue) AS revenue,
        sum(sc.refunds) AS refunds
    FROM analytics.fact_store_customers AS sc
    GROUP BY sc.store_id
),

store_expenses AS (
    SELECT
        e.store_id,
        sum(e.amount) AS store_expenses
    FROM stores.expenses AS e
    CROSS JOIN bounds AS b
    WHERE e.expense_date BETWEEN b.first_date AND b.ref_date
    GROUP BY e.store_id
),

finance_expenses AS (
    SELECT
        e.store_id,
        sum(e.amount) FILTER (WHERE e.category = ANY (b.purchase_categories)) AS purchases,
        sum(e.amount) FILTER (WHERE e.category = ANY (b.payroll_categories)) AS finance_payroll,
        sum(e.amount) FILTER (
            WHERE NOT coalesce(e.category = ANY (b.purchase_categories), false)
              AND NOT coalesce(e.category = ANY (b.payroll_categories), false)
        ) AS finance_operating
    FROM finance.expenses AS e
    CROSS JOIN bounds AS b
    WHERE e.expense_date BETWEEN b.first_date AND b.ref_date
    GROUP BY e.store_id
),

purchases_recorded AS (
    SELECT EXISTS (
        SELECT 1
        FROM finance.expenses AS e
        CROSS JOIN bounds AS b
        WHERE e.category = ANY (b.purchase_categories)
          AND e.expense_date BETWEEN b.first_date AND b.ref_date
    ) AS any_purchases
),

staff AS (
    SELECT
        em.store_id,
        count(*) AS employees,
        sum(em.salary) AS monthly_payroll
    FROM stores.employees AS em
    GROUP BY em.store_id
),

per_store AS (
    SELECT
        s.store_id,
        s.store_name,
        s.city,
        s.state,
        coalesce(s.region, 'Unknown') AS region,
        coalesce(o.orders, 0) AS orders,
        coalesce(o.customers, 0) AS customers,
        coalesce(o.revenue, 0) AS revenue,
        coalesce(o.refunds, 0) AS refunds,
        CASE WHEN pr.any_purchases THEN coalesce(fe.purchases, 0) END AS cost_of_goods,
        CASE
            WHEN pr.any_purchases
                THEN 'estimate: stock purchases booked in finance.expenses (no cost price in the source)'
            ELSE 'not available: no cost price and no purchases booked in finance.expenses'
        END AS cost_of_goods_basis,
        coalesce(se.store_expenses, 0) AS store_expenses,
        coalesce(fe.finance_operating, 0) AS finance_operating_expenses,
        coalesce(fe.finance_payroll, 0) AS finance_payroll_excluded,
        coalesce(st.employees, 0) AS employees,
        coalesce(st.monthly_payroll, 0) AS monthly_payroll,
        b.months_covered,
        coalesce(st.monthly_payroll, 0) * b.months_covered AS payroll
    FROM stores.stores AS s
    CROSS JOIN bounds AS b
    CROSS JOIN purchases_recorded AS pr
    LEFT JOIN orders_by_store AS o ON o.store_id = s.store_id
    LEFT JOIN store_expenses AS se ON se.store_id = s.store_id
    LEFT JOIN finance_expenses AS fe ON fe.store_id = s.store_id
    LEFT JOIN staff AS st ON st.store_id = s.store_id
),

profit AS (
    SELECT
        ps.*,
        ps.store_expenses + ps.finance_operating_expenses AS operating_expenses,
        ps.revenue - ps.refunds - ps.cost_of_goods AS gross_profit,
        ps.revenue - ps.refunds - coalesce(ps.cost_of_goods, 0)
        - ps.store_expenses - ps.finance_operating_expenses - ps.payroll AS net_profit
    FROM per_store AS ps
),

ranked AS (
    SELECT
        pf.*,
        pf.net_profit / nullif(pf.revenue, 0) * 100 AS net_margin,
        row_number() OVER (ORDER BY pf.revenue DESC, pf.store_id) AS revenue_rank,
        row_number() OVER (ORDER BY pf.net_profit DESC, pf.store_id) AS profit_rank,
        row_number() OVER (
            ORDER BY pf.net_profit / nullif(pf.revenue, 0) DESC NULLS LAST, pf.store_id
        ) AS margin_rank,
        count(*) OVER () AS stores_ranked
    FROM profit AS pf
)

SELECT
    k.store_id,
    k.store_name,
    k.city,
    k.state,
    k.region,
    k.orders,
    k.customers,
    k.revenue,
    round(k.revenue / nullif(k.orders, 0)::numeric, 2) AS aov,
    k.refunds,
    k.cost_of_goods,
    k.cost_of_goods_basis,
    k.store_expenses,
    k.finance_operating_expenses,
    k.operating_expenses,
    k.finance_payroll_excluded,
    k.employees,
    k.monthly_payroll,
    round(k.months_covered, 4) AS months_covered,
    round(k.payroll, 2) AS payroll,
    round(k.gross_profit, 2) AS gross_profit,
    round(k.gross_profit / nullif(k.revenue, 0) * 100, 2) AS gross_margin_pct,
    round(k.net_profit, 2) AS net_profit,
    round(k.net_margin, 2) AS net_margin_pct,
    round(k.revenue / nullif(k.employees, 0)::numeric, 2) AS revenue_per_employee,
    k.revenue_rank,
    k.profit_rank,
    k.margin_rank,
    CASE
        WHEN k.profit_rank::numeric / k.stores_ranked <= b.tier_top_share THEN 'Top Performer'
        WHEN k.profit_rank::numeric / k.stores_ranked <= b.tier_above_share THEN 'Above Average'
        WHEN k.profit_rank::numeric / k.stores_ranked <= b.tier_below_share THEN 'Below Average'
        ELSE 'Underperformer'
    END AS performance_tier,
    b.first_date AS period_start,
    b.ref_date AS period_end
FROM ranked AS k
CROSS JOIN bounds AS b;

CREATE UNIQUE INDEX ux_mv_store_performance ON analytics.mv_store_performance (store_id);
