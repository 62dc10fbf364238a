-- analytics.mv_campaign_performance: what did each campaign cost, what did it get, and did it pay?
-- One row per campaign (marketing.campaigns) that started on or before the reference date
-- (analytics.fn_reference_date()). Each source is aggregated per campaign in its own CTE and joined
-- afterwards, so the budget is counted ONCE per campaign (ads_spend has 16 rows per campaign).
-- Spend, clicks and conversions are the campaign's marketing.ads_spend rows (the table has no date,
-- so all rows count). Conversions > clicks on a spend row is a data-quality issue: it is kept in the
-- totals (conversion_rate_pct can then exceed 100) and reported in rows_conversions_over_clicks.
-- ATTRIBUTION (the source has no link from orders to campaigns): the only customer-level link is an
-- e-mail click. An order is attributed when its customer clicked an e-mail (email_clicks.clicked,
-- whether or not `opened` is set) sent on or before the order date and at most N days before it
-- (N = config marketing.attribution_window_days; the send date stands for the click date, which the
-- source does not have). Each order is credited to ONE campaign: the most recent such click (latest
-- sent_date, then highest email_id), so no revenue is ever credited to two campaigns. Orders =
-- sales orders (order_status not in config sales.excluded_order_statuses) dated on or before the
-- reference date; revenue = orders.total_amount (order grain). Attributed revenue is therefore
-- e-mail-driven revenue only — a lower bound of what the campaign earned — and ROI compares it with
-- the campaign's WHOLE spend (all channels). Orders are read from the order-grain fact
-- analytics.fact_orders: its (cust_id, order_date) index finds each clicked e-mail's orders in the
-- window directly, instead of hashing every order.
-- Materialized (it was the view vw_campaign_performance) because mv_marketing_roi_summary and the
-- export fn_export_marketing_campaigns read it and its asset counts its rows: as a view it was
-- computed three times per build (0.28 s each at scale 10, most of it the attribution join), now
-- once.
-- Question: Which campaigns stay within budget, convert clicks cheaply, and return their spend?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI budget: campaigns.budget, once per campaign
-- KPI spend: sum(ads_spend.amount) of the campaign's spend rows
-- KPI budget_utilization_pct: spend / budget * 100
-- KPI clicks: sum(ads_spend.clicks)
-- KPI conversions: sum(ads_spend.conversions)
-- KPI conversion_rate_pct: conversions / clicks * 100 (can exceed 100 when the data has conversions > clicks)
-- KPI cpc: spend / clicks (cost per click)
-- KPI cpa: spend / conversions (cost per acquisition)
-- KPI rows_conversions_over_clicks: spend rows with conversions > clicks (data-quality issue, reported)
-- KPI emails_sent: count(*) of the campaign's email_clicks rows sent on or before the reference date
-- KPI email_clicks: those rows with clicked = true
-- KPI attributed_orders: sales orders credited to the campaign by last e-mail click within N days
-- KPI attributed_customers: count(DISTINCT cust_id) of those orders
-- KPI attributed_revenue: sum(orders.total_amount) of those orders
-- KPI roi_pct: (attributed_revenue - spend) / spend * 100
CREATE MATERIALIZED VIEW analytics.mv_campaign_performance AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('marketing.attribution_window_days') AS window_days
),

campaigns AS (
    SELECT
        c.campaign_id,
        c.campaign_name,
        c.start_date,
        c.end_date,
        c.budget
    FROM marketing.campaigns AS c
    CROSS JOIN params AS p
    WHERE c.start_date <= p.ref_date
),

spend_by_campaign AS (
    SELECT
        a.campaign_id,
        count(*) AS spend_rows,
        coalesce(sum(a.amount), 0) AS spend,
        coalesce(sum(a.clicks), 0) AS clicks,
        coalesce(sum(a.conversions), 0) AS conversions,
        count(*) FILTER (WHERE a.conversions > a.clicks) AS rows_conversions_over_clicks
    FROM marketing.ads_spend AS a
    JOIN campaigns AS c ON c.campaign_id = a.campaign_id
    GROUP BY a.campaign_id
),

emails AS (
    SELECT
        e.email_id,
        e.cust_id,
        e.campaign_id,
        e.sent_date,
        coalesce(e.clicked, false) AS clicked
    FROM marketing.email_clicks AS e
    JOIN campaigns AS c ON c.campaign_id = e.campaign_id
    CROSS JOIN params AS p
    WHERE e.sent_date <= p.ref_date
),

emails_by_campaign AS (
    SELECT
        em.campaign_id,
        count(*) AS emails_sent,
        count(*) FILTER (WHERE em.clicked) AS email_clicks
    FROM emails AS em
    GROUP BY em.campaign_id
),

credited AS (
    -- each sales order once: its customer's most recent e-mail click within the window
    SELECT DISTINCT ON (f.order_id)
        f.order_id,
        f.cust_id,
        f.total_amount,
        em.campaign_id
    FROM emails AS em
    CROSS JOIN params AS p
    JOIN analytics.fact_orders AS f
        ON f.cust_id = em.cust_id
       AND f.order_date >= em.sent_date
       AND f.order_date <= least(em.sent_date + p.window_days, p.ref_date)
    WHERE em.clicked
      AND NOT coalesce(f.order_status = ANY (p.excluded_statuses), false)
    ORDER BY f.order_id, em.sent_date DESC, em.email_id DESC
),

attributed_by_campaign AS (
    SELECT
        cr.campaign_id,
        count(*) AS attributed_orders,
        count(DISTINCT cr.cust_id) AS attributed_customers,
        coalesce(sum(cr.total_amount), 0) AS attributed_revenue
    FROM credited AS cr
    GROUP BY cr.campaign_id
),

combined AS (
    SELECT
        c.campaign_id,
        c.campaign_name,
        c.start_date,
        c.end_date,
        c.budget,
        coalesce(s.spend_rows, 0) AS spend_rows,
        coalesce(s.spend, 0) AS spend,
        coalesce(s.clicks, 0) AS clicks,
        coalesce(s.conversions, 0) AS conversions,
        coalesce(s.rows_conversions_over_clicks, 0) AS rows_conversions_over_clicks,
        coalesce(e.emails_sent, 0) AS emails_sent,
        coalesce(e.email_clicks, 0) AS email_clicks,
        coalesce(a.attributed_orders, 0) AS attributed_orders,
        coalesce(a.attributed_customers, 0) AS attributed_customers,
        coalesce(a.attributed_revenue, 0) AS attributed_revenue
    FROM campaigns AS c
    LEFT JOIN spend_by_campaign AS s ON s.campaign_id = c.campaign_id
    LEFT JOIN emails_by_campaign AS e ON e.campaign_id = c.campaign_id
    LEFT JOIN attributed_by_campaign AS a ON a.campaign_id = c.campaign_id
)

SELECT
    cb.campaign_id,
    cb.campaign_name,
    cb.start_date,
    cb.end_date,
    cb.end_date - cb.start_date + 1 AS duration_days,
    CASE WHEN cb.end_date < p.ref_date THEN 'Completed' ELSE 'Active' END AS campaign_status,
    cb.budget,
    cb.spend,
    cb.budget - cb.spend AS remaining_budget,
    round(cb.spend / nullif(cb.budget, 0) * 100, 2) AS budget_utilization_pct,
    cb.spend_rows,
    cb.clicks,
    cb.conversions,
    round(cb.conversions / nullif(cb.clicks, 0)::numeric * 100, 2) AS conversion_rate_pct,
    round(cb.spend / nullif(cb.clicks, 0), 2) AS cpc,
    round(cb.spend / nullif(cb.conversions, 0), 2) AS cpa,
    cb.rows_conversions_over_clicks,
    cb.emails_sent,
    cb.email_clicks,
    p.window_days AS attribution_window_days,
    cb.attributed_orders,
    cb.attributed_customers,
    cb.attributed_revenue,
    round((cb.attributed_revenue - cb.spend) / nullif(cb.spend, 0) * 100, 2) AS roi_pct
FROM combined AS cb
CROSS JOIN params AS p;

CREATE UNIQUE INDEX ux_mv_campaign_performance ON analytics.mv_campaign_performance (campaign_id);
