-- analytics.mv_churn_risk: which buying customers are about to be lost, how urgently, and what to do.
-- One row per customer with at least one sales order (analytics.mv_customer_lifetime_value, orders > 0;
-- customers who never purchased cannot churn and are not listed), with their RFM monetary score and
-- segment: read from analytics.mv_customer_rfm, which has one row per such buyer with the lifetime
-- value columns used here (no join of the two views). Risk is measured against a churn window per
-- value tier: config customers.churn_days_platinum, customers.churn_days_gold, and
-- customers.churn_days_standard for Silver and Bronze (high-value customers buy more often, so their
-- silence counts sooner).
-- Risk level and priority are computed once per customer in a subquery fenced with OFFSET 0: inlined,
-- the sort key and the action CASE re-evaluated the risk expressions for every comparison; as a
-- MATERIALIZED CTE every buyer was written to a tuplestore before the sort (at scale 10 it spilled
-- to disk; 1.87 -> 1.61 s without it, same rows).
-- Materialized because mv_churn_risk_summary, the export fn_export_customers_churn_risk and the alert
-- vw_alert_high_value_churn (through vw_alerts, its export and the alert sync) all read it: computed
-- once per build instead of once per reader (it was a view, evaluated 5 times per build).
-- Question: Which customers who have bought from us are at risk of churning, and whom do we contact first?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI churn_days: the customer's tier churn window (days), see above
-- KPI risk_ratio: days_since_last_order / churn_days
-- KPI risk_level: 'Critical' when risk_ratio >= config customers.risk_critical_ratio, 'High' when >= 1
--   (churn window passed), 'Medium' when >= customers.risk_medium_ratio, else 'Low'
-- KPI priority_score: 100 * urgency * value_weight (0..100), urgency = least(risk_ratio /
--   customers.risk_critical_ratio, 1), value_weight = monetary_score / 5 (RFM monetary quintile);
--   high-value customers far past their window first
-- KPI priority_rank: row_number() over (priority_score DESC, revenue DESC, cust_id), on the score as
--   shown (2 decimals), so equal scores are ordered by lifetime revenue, then cust_id
-- KPI recommended_action: by risk level and tier: Critical/High differ for Platinum and Gold vs the others;
--   Medium and Low have one action each
CREATE MATERIALIZED VIEW analytics.mv_churn_risk AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_int('customers.churn_days_platinum') AS churn_days_platinum,
        analytics.fn_config_int('customers.churn_days_gold') AS churn_days_gold,
        analytics.fn_config_int('customers.churn_days_standard') AS churn_days_standard,
        analytics.fn_config_numeric('customers.risk_medium_ratio') AS medium_ratio,
        analytics.fn_config_numeric('customers.risk_critical_ratio') AS critical_ratio
),

-- The day counts at which each tier's risk levels start: days >= ratio x window holds for a whole
-- number of days exactly when days >= ceil(ratio x window), so each buyer's level is found with
-- integer comparisons (at scale 10, 500 k buyers: 1.27-1.30 -> 1.20-1.22 s for the rows, against
-- a numeric product per buyer and level).
thresholds AS MATERIALIZED (
    SELECT
        p.*,
        ceil(p.critical_ratio * p.churn_days_platinum)::int AS critical_days_platinum,
        ceil(p.critical_ratio * p.churn_days_gold)::int AS critical_days_gold,
        ceil(p.critical_ratio * p.churn_days_standard)::int AS critical_days_standard,
        ceil(p.medium_ratio * p.churn_days_platinum)::int AS medium_days_platinum,
        ceil(p.medium_ratio * p.churn_days_gold)::int AS medium_days_gold,
        ceil(p.medium_ratio * p.churn_days_standard)::int AS medium_days_standard
    FROM params AS p
),

buyers AS (
    SELECT
        r.cust_id,
        r.full_name,
        r.city,
        r.state,
        r.value_tier,
        r.value_tier_order,
        r.customer_status,
        r.frequency AS orders,
        r.monetary AS revenue,
        r.aov,
        r.last_order_date,
        r.recency_days AS days_since_last_order,
        r.avg_days_between_orders,
        r.monetary_score,
        r.rfm_segment,
        CASE r.value_tier
            WHEN 'Platinum' THEN p.churn_days_platinum
            WHEN 'Gold' THEN p.churn_days_gold
            ELSE p.churn_days_standard
        END AS churn_days,
        CASE r.value_tier
            WHEN 'Platinum' THEN p.critical_days_platinum
            WHEN 'Gold' THEN p.critical_days_gold
            ELSE p.critical_days_standard
        END AS critical_days,
        CASE r.value_tier
            WHEN 'Platinum' THEN p.medium_days_platinum
            WHEN 'Gold' THEN p.medium_days_gold
            ELSE p.medium_days_standard
        END AS medium_days,
        p.critical_ratio
    FROM analytics.mv_customer_rfm AS r
    CROSS JOIN thresholds AS p
),

assessed AS (
    SELECT
        b.*,
        b.days_since_last_order / nullif(b.churn_days, 0)::numeric AS risk_ratio_raw,
        CASE
            WHEN b.days_since_last_order >= b.critical_days THEN 'Critical'
            WHEN b.days_since_last_order >= b.churn_days THEN 'High'
            WHEN b.days_since_last_order >= b.medium_days THEN 'Medium'
            ELSE 'Low'
        END AS risk_level
    FROM buyers AS b
),

prioritized AS (
    SELECT
        a.*,
        100 * least(a.risk_ratio_raw / nullif(a.critical_ratio, 0), 1)
            * a.monetary_score / 5.0 AS priority_raw
    FROM assessed AS a
    OFFSET 0
)

SELECT
    pr.cust_id,
    pr.full_name,
    pr.city,
    pr.state,
    pr.value_tier,
    pr.value_tier_order,
    pr.customer_status,
    pr.rfm_segment,
    pr.monetary_score,
    pr.orders,
    pr.revenue,
    pr.aov,
    pr.last_order_date,
    pr.days_since_last_order,
    pr.avg_days_between_orders,
    pr.churn_days,
    round(pr.risk_ratio_raw, 2) AS risk_ratio,
    pr.risk_level,
    CASE pr.risk_level WHEN 'Critical' THEN 1 WHEN 'High' THEN 2 WHEN 'Medium' THEN 3 ELSE 4 END
        AS risk_level_order,
    round(pr.priority_raw, 2) AS priority_score,
    -- Sorted on the exact integer forms of the score as shown and of the revenue (both have two
    -- decimals: x 100 is an integer), the same order with integer comparisons instead of numeric
    -- ones (at scale 10: 2.2-2.3 -> 1.86-1.89 s for the view, same rows).
    row_number() OVER (
        ORDER BY
            (round(pr.priority_raw, 2) * 100)::int DESC,
            (pr.revenue * 100)::bigint DESC,
            pr.cust_id
    ) AS priority_rank,
    CASE
        WHEN pr.risk_level = 'Critical' AND pr.value_tier IN ('Platinum', 'Gold')
            THEN 'Personal call from an account manager with a tailored win-back offer'
        WHEN pr.risk_level = 'Critical'
            THEN 'Win-back e-mail with a time-limited discount'
        WHEN pr.risk_level = 'High' AND pr.value_tier IN ('Platinum', 'Gold')
            THEN 'Priority retention offer: exclusive discount or free delivery'
        WHEN pr.risk_level = 'High'
            THEN 'Retention e-mail with personalised recommendations'
        WHEN pr.risk_level = 'Medium'
            THEN 'Re-engagement reminder: new arrivals and loyalty points balance'
        ELSE 'No action: keep in regular communication'
    END AS recommended_action
FROM prioritized AS pr;

CREATE UNIQUE INDEX ux_mv_churn_risk ON analytics.mv_churn_risk (cust_id);
