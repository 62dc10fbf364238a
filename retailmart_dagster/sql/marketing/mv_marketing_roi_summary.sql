-- analytics.mv_marketing_roi_summary: what did marketing cost and return, per year and overall?
-- One row per calendar year of campaign start_date (period = 'year_<YYYY>', e.g. 'year_2025', with
-- year set) plus one row period = 'all_time' (year NULL), over the campaigns of
-- analytics.mv_campaign_performance (campaigns started on or before the reference date,
-- analytics.fn_reference_date()). That view has ONE row per campaign,
-- so the budget is counted once per campaign; every ratio is recomputed from the summed counts and
-- amounts (never an average of campaign ratios). Attributed revenue follows the view's last-e-mail-
-- click attribution (window = config marketing.attribution_window_days): each order is credited to
-- at most one campaign, so summing campaigns never counts an order twice.
-- Question: How much did marketing spend against budget, and what revenue can be attributed to it?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI campaigns: count(*) of campaigns started in the period
-- KPI budget: sum(campaign budget), once per campaign
-- KPI spend: sum(campaign spend)
-- KPI budget_utilization_pct: spend / budget * 100
-- KPI clicks: sum(clicks)
-- KPI conversions: sum(conversions)
-- KPI conversion_rate_pct: conversions / clicks * 100
-- KPI cpc: spend / clicks
-- KPI cpa: spend / conversions
-- KPI emails_sent: sum(emails_sent)
-- KPI email_clicks: sum(email_clicks)
-- KPI attributed_orders: sum(attributed_orders)
-- KPI attributed_revenue: sum(attributed_revenue)
-- KPI roi_pct: (attributed_revenue - spend) / spend * 100
-- KPI rows_conversions_over_clicks: sum over campaigns of spend rows with conversions > clicks
CREATE MATERIALIZED VIEW analytics.mv_marketing_roi_summary AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('marketing.attribution_window_days') AS window_days
),

campaigns AS (
    SELECT
        extract(YEAR FROM c.start_date)::int AS start_year,
        c.*
    FROM analytics.mv_campaign_performance AS c
),

totals AS (
    SELECT
        'year_' || c.start_year AS period,
        1 AS period_order,
        c.start_year AS year,
        make_date(c.start_year, 1, 1) AS period_start,
        make_date(c.start_year, 12, 31) AS period_end,
        count(*) AS campaigns,
        sum(c.budget) AS budget,
        sum(c.spend) AS spend,
        sum(c.clicks) AS clicks,
        sum(c.conversions) AS conversions,
        sum(c.emails_sent) AS emails_sent,
        sum(c.email_clicks) AS email_clicks,
        sum(c.attributed_orders) AS attributed_orders,
        sum(c.attributed_revenue) AS attributed_revenue,
        sum(c.rows_conversions_over_clicks) AS rows_conversions_over_clicks
    FROM campaigns AS c
    GROUP BY c.start_year
    UNION ALL
    SELECT
        'all_time',
        0,
        NULL::int,
        min(c.start_date),
        NULL::date,
        count(*),
        coalesce(sum(c.budget), 0),
        coalesce(sum(c.spend), 0),
        coalesce(sum(c.clicks), 0),
        coalesce(sum(c.conversions), 0),
        coalesce(sum(c.emails_sent), 0),
        coalesce(sum(c.email_clicks), 0),
        coalesce(sum(c.attributed_orders), 0),
        coalesce(sum(c.attributed_revenue), 0),
        coalesce(sum(c.rows_conversions_over_clicks), 0)
    FROM campaigns AS c
)

SELECT
    t.period,
    t.period_order,
    t.year,
    t.period_start,
    least(coalesce(t.period_end, p.ref_date), p.ref_date) AS period_end,
    p.ref_date AS reference_date,
    p.window_days AS attribution_window_days,
    t.campaigns,
    t.budget,
    t.spend,
    t.budget - t.spend AS remaining_budget,
    round(t.spend / nullif(t.budget, 0) * 100, 2) AS budget_utilization_pct,
    t.clicks,
    t.conversions,
    round(t.conversions / nullif(t.clicks, 0)::numeric * 100, 2) AS conversion_rate_pct,
    round(t.spend / nullif(t.clicks, 0), 2) AS cpc,
    round(t.spend / nullif(t.conversions, 0), 2) AS cpa,
    t.emails_sent,
    t.email_clicks,
    t.attributed_orders,
    t.attributed_revenue,
    round((t.attributed_revenue - t.spend) / nullif(t.spend, 0) * 100, 2) AS roi_pct,
    t.rows_conversions_over_clicks
FROM totals AS t
CROSS JOIN params AS p;

CREATE UNIQUE INDEX ux_mv_marketing_roi_summary ON analytics.mv_marketing_roi_summary (period);
