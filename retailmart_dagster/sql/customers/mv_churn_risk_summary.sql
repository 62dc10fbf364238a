-- analytics.mv_churn_risk_summary: how many buying customers, and how much of their revenue, are at each churn risk level?
-- One row per risk level x value tier present in analytics.mv_churn_risk (buyers only, each once).
-- Risk levels and tier churn windows from config (see mv_churn_risk). Materialized because the export
-- fn_export_customers_churn_risk reads it: computed once per build, the export reads stored rows.
-- Question: How much customer value is at risk of churning, by risk level and value tier?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of buyers at the risk level in the tier
-- KPI customer_share_pct: customers / all buyers * 100
-- KPI revenue_at_risk: sum(revenue) (lifetime revenue of these customers, order grain)
-- KPI revenue_share_pct: revenue_at_risk / lifetime revenue of all buyers * 100
-- KPI avg_days_since_last_order: avg(days_since_last_order)
-- KPI avg_priority_score: avg(priority_score)
-- KPI churn_days: the tier's churn window (days)
CREATE MATERIALIZED VIEW analytics.mv_churn_risk_summary AS
WITH groups AS (
    SELECT
        c.risk_level,
        c.risk_level_order,
        c.value_tier,
        c.value_tier_order,
        c.churn_days,
        count(*) AS customers,
        sum(c.revenue) AS revenue_at_risk,
        avg(c.days_since_last_order) AS avg_days_since_last_order,
        avg(c.priority_score) AS avg_priority_score
    FROM analytics.mv_churn_risk AS c
    GROUP BY c.risk_level, c.risk_level_order, c.value_tier, c.value_tier_order, c.churn_days
)

SELECT
    g.risk_level,
    g.risk_level_order,
    g.value_tier,
    g.value_tier_order,
    g.churn_days,
    g.customers,
    round(g.customers / nullif(sum(g.customers) OVER (), 0)::numeric * 100, 2) AS customer_share_pct,
    g.revenue_at_risk,
    round(g.revenue_at_risk / nullif(sum(g.revenue_at_risk) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(g.avg_days_since_last_order, 2) AS avg_days_since_last_order,
    round(g.avg_priority_score, 2) AS avg_priority_score
FROM groups AS g;

CREATE UNIQUE INDEX ux_mv_churn_risk_summary ON analytics.mv_churn_risk_summary (risk_level, value_tier);
