-- analytics.mv_return_analysis: which product categories come back, and why?
-- Materialized because its export and the return-rate alert both read it (computed once per build).
-- One row per product category x return reason: every category that has delivered orders crossed with
-- every reason seen (zeros included), over orders dated on or before the reference date
-- (analytics.fn_reference_date()) and returns dated on or before it. Category = products.category
-- (NULL as 'Unknown'), reason = returns.reason (NULL as 'Unknown').
-- Delivered orders = orders whose order_status is in config operations.delivered_order_statuses
-- (default Delivered, Returned: orders that reached the customer). Returns of other orders are not
-- counted here (a return of a cancelled or undelivered order is a data-quality issue).
-- An order's categories = the distinct categories of its lines: a multi-category order counts ONCE in
-- the denominator of EACH of its categories (so denominators do not add up to the order count).
-- A return belongs to the category of the RETURNED product; it counts only when the order has a line
-- of that category (a return of a product the order never contained is ignored), so every rate is
-- at most 100 %. Rates are ratios of distinct-order counts, never averages of rates.
-- Read from the incrementally loaded facts, so a refresh never scans the order lines: delivered orders
-- per category from analytics.fact_product_group_months before the reference month and
-- analytics.fact_product_group_days in it (level 'line_category': distinct orders per month or day,
-- status and category, which add up exactly over days and statuses because an order has one date and
-- one status), returns with their category and whether their order has a line of it from
-- analytics.fact_product_returns.
-- High-return categories: category_return_rate_pct >= config operations.high_return_rate_pct.
-- Question: Which categories have the highest return rates, and for which reasons?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI delivered_orders: count(DISTINCT order_id) of delivered orders with at least one line in the category
-- KPI returns: count(*) of return rows (returned lines) of the category with that reason
-- KPI returned_orders: count(DISTINCT order_id) of delivered orders with a return of a product of the category with that reason
-- KPI refund_amount: sum(returns.refund_amount) of those return rows
-- KPI return_rate_pct: returned_orders / delivered_orders * 100 (reason level)
-- KPI category_returns: count(*) of return rows of the category (all reasons)
-- KPI category_returned_orders: count(DISTINCT order_id) with a return in the category, any reason (not a sum over reasons: one order can have two reasons)
-- KPI category_refund_amount: sum(refund_amount) of the category's return rows (all reasons)
-- KPI category_return_rate_pct: category_returned_orders / delivered_orders * 100
-- KPI reason_share_pct: returns / category_returns * 100 (share of the category's returned lines with that reason)
-- KPI is_high_return_category: category_return_rate_pct >= operations.high_return_rate_pct
CREATE MATERIALIZED VIEW analytics.mv_return_analysis AS
WITH params AS MATERIALIZED (
    SELECT
        r.ref_date,
        date_trunc('month', r.ref_date)::date AS ref_month,
        analytics.fn_config_text_array('operations.delivered_order_statuses') AS delivered_statuses,
        analytics.fn_config_numeric('operations.high_return_rate_pct') AS high_rate_pct
    FROM (SELECT analytics.fn_reference_date() AS ref_date) AS r
),

-- Distinct delivered orders per category: the months before the reference month from
-- analytics.fact_product_group_months, the reference month's days from fact_product_group_days.
category_periods AS (
    SELECT m.group_name, m.order_status, m.orders
    FROM analytics.fact_product_group_months AS m
    CROSS JOIN params AS p
    WHERE m.level = 'line_category'
      AND m.order_month < p.ref_month
    UNION ALL
    SELECT g.group_name, g.order_status, g.orders
    FROM analytics.fact_product_group_days AS g
    CROSS JOIN params AS p
    WHERE g.level = 'line_category'
      AND g.order_date >= p.ref_month
      AND g.order_date <= p.ref_date
),

category_base AS (
    SELECT
        cp.group_name AS category,
        sum(cp.orders)::bigint AS delivered_orders
    FROM category_periods AS cp
    CROSS JOIN params AS p
    WHERE cp.order_status = ANY (p.delivered_statuses)
    GROUP BY cp.group_name
),

-- Returns dated up to the reference date of delivered orders dated up to it that have a line of the
-- returned product's category.
matched_returns AS (
    SELECT
        r.order_id,
        r.category,
        coalesce(r.reason, 'Unknown') AS reason,
        r.refund_amount
    FROM analytics.fact_product_returns AS r
    CROSS JOIN params AS p
    WHERE r.order_has_category
      AND r.order_date <= p.ref_date
      AND r.order_status = ANY (p.delivered_statuses)
      AND r.return_date <= p.ref_date
),

reasons AS (
    SELECT DISTINCT mr.reason
    FROM matched_returns AS mr
),

by_reason AS (
    SELECT
        mr.category,
        mr.reason,
        count(*) AS returns,
        count(DISTINCT mr.order_id) AS returned_orders,
        coalesce(sum(mr.refund_amount), 0) AS refund_amount
    FROM matched_returns AS mr
    GROUP BY mr.category, mr.reason
),

by_category AS (
    SELECT
        mr.category,
        count(*) AS category_returns,
        count(DISTINCT mr.order_id) AS category_returned_orders,
        coalesce(sum(mr.refund_amount), 0) AS category_refund_amount
    FROM matched_returns AS mr
    GROUP BY mr.category
),

grid AS (
    SELECT
        cb.category,
        rs.reason,
        cb.delivered_orders,
        coalesce(br.returns, 0) AS returns,
        coalesce(br.returned_orders, 0) AS returned_orders,
        coalesce(br.refund_amount, 0) AS refund_amount,
        coalesce(bc.category_returns, 0) AS category_returns,
        coalesce(bc.category_returned_orders, 0) AS category_returned_orders,
        coalesce(bc.category_refund_amount, 0) AS category_refund_amount
    FROM category_base AS cb
    CROSS JOIN reasons AS rs
    LEFT JOIN by_reason AS br ON br.category = cb.category AND br.reason = rs.reason
    LEFT JOIN by_category AS bc ON bc.category = cb.category
)

SELECT
    g.category,
    g.reason,
    g.delivered_orders,
    g.returns,
    g.returned_orders,
    g.refund_amount,
    round(g.returned_orders / nullif(g.delivered_orders, 0)::numeric * 100, 2) AS return_rate_pct,
    g.category_returns,
    g.category_returned_orders,
    g.category_refund_amount,
    round(g.category_returned_orders / nullif(g.delivered_orders, 0)::numeric * 100, 2)
        AS category_return_rate_pct,
    round(g.returns / nullif(g.category_returns, 0)::numeric * 100, 2) AS reason_share_pct,
    p.high_rate_pct AS high_return_rate_threshold_pct,
    coalesce(
        g.category_returned_orders / nullif(g.delivered_orders, 0)::numeric * 100 >= p.high_rate_pct,
        false
    ) AS is_high_return_category
FROM grid AS g
CROSS JOIN params AS p;
CREATE UNIQUE INDEX ux_mv_return_analysis ON analytics.mv_return_analysis (category, reason);
