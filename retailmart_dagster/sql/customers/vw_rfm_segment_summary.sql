-- analytics.vw_rfm_segment_summary: how big and how valuable is each RFM segment, and what do we do with it?
-- One row per RFM segment present in analytics.mv_customer_rfm (buyers only; each customer in exactly
-- one segment). Averages are over the segment's customers; the action is the segment's one action.
-- Question: How many customers and how much revenue does each RFM segment hold, and what is its action?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of buyers in the segment
-- KPI customer_share_pct: customers / all scored buyers * 100
-- KPI revenue: sum(monetary) of the segment (lifetime revenue, order grain)
-- KPI revenue_share_pct: revenue / revenue of all scored buyers * 100
-- KPI orders: sum(frequency) of the segment (sales orders)
-- KPI avg_recency_days: avg(recency_days)
-- KPI avg_frequency: orders / customers
-- KPI avg_monetary: revenue / customers
-- KPI avg_recency_score: avg(recency_score)
-- KPI avg_frequency_score: avg(frequency_score)
-- KPI avg_monetary_score: avg(monetary_score)
-- KPI recommended_action: the segment's action (one per segment, from mv_customer_rfm)
CREATE VIEW analytics.vw_rfm_segment_summary AS
WITH segments AS (
    SELECT
        r.rfm_segment,
        r.segment_order,
        r.recommended_action,
        count(*) AS customers,
        sum(r.frequency) AS orders,
        sum(r.monetary) AS revenue,
        avg(r.recency_days) AS avg_recency_days,
        avg(r.recency_score) AS avg_recency_score,
        avg(r.frequency_score) AS avg_frequency_score,
        avg(r.monetary_score) AS avg_monetary_score
    FROM analytics.mv_customer_rfm AS r
    GROUP BY r.rfm_segment, r.segment_order, r.recommended_action
)

SELECT
    s.rfm_segment,
    s.segment_order,
    s.customers,
    round(s.customers / nullif(sum(s.customers) OVER (), 0)::numeric * 100, 2) AS customer_share_pct,
    s.orders,
    s.revenue,
    round(s.revenue / nullif(sum(s.revenue) OVER (), 0) * 100, 2) AS revenue_share_pct,
    round(s.avg_recency_days, 2) AS avg_recency_days,
    round(s.orders / nullif(s.customers, 0)::numeric, 2) AS avg_frequency,
    round(s.revenue / nullif(s.customers, 0)::numeric, 2) AS avg_monetary,
    round(s.avg_recency_score, 2) AS avg_recency_score,
    round(s.avg_frequency_score, 2) AS avg_frequency_score,
    round(s.avg_monetary_score, 2) AS avg_monetary_score,
    s.recommended_action
FROM segments AS s;
