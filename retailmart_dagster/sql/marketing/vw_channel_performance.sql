-- analytics.vw_channel_performance: which advertising channels deliver clicks and conversions cheaply?
-- One row per marketing.ads_spend channel (NULL as 'Unknown'), over the spend rows of campaigns that
-- started on or before the reference date (analytics.fn_reference_date()); ads_spend has no date, so
-- all rows of those campaigns count. Spend is summed at spend-row grain; budgets are not used here
-- (a budget belongs to a campaign, not to a channel).
-- Conversions > clicks on a spend row is a data-quality issue: the row stays in every total (hiding it
-- would understate conversions) and is reported in rows_conversions_over_clicks and
-- excess_conversions; conversion_rate_pct can then exceed 100.
-- Click-through rate needs impressions, which the source does not have: click_through_rate_pct is
-- NULL with a note (never invented). The conversion rate (conversions per click) is the rate the data
-- allows.
-- Question: Which channels get clicks and conversions at the lowest cost, and where does the money go?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI campaigns: count(DISTINCT campaign_id) with spend rows in the channel
-- KPI spend_rows: count(*) of spend rows
-- KPI spend: sum(ads_spend.amount)
-- KPI spend_share_pct: spend / spend of all channels * 100
-- KPI clicks: sum(ads_spend.clicks)
-- KPI conversions: sum(ads_spend.conversions)
-- KPI conversion_rate_pct: conversions / clicks * 100
-- KPI cpc: spend / clicks
-- KPI cpa: spend / conversions
-- KPI rows_conversions_over_clicks: count(*) of spend rows with conversions > clicks
-- KPI excess_conversions: sum(conversions - clicks) over those rows
-- KPI click_through_rate_pct: not available (NULL): no impressions in the source
CREATE VIEW analytics.vw_channel_performance AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

spend_rows AS (
    SELECT
        a.campaign_id,
        coalesce(a.channel, 'Unknown') AS channel,
        a.amount,
        a.clicks,
        a.conversions
    FROM marketing.ads_spend AS a
    JOIN marketing.campaigns AS c ON c.campaign_id = a.campaign_id
    CROSS JOIN params AS p
    WHERE c.start_date <= p.ref_date
),

by_channel AS (
    SELECT
        sr.channel,
        count(DISTINCT sr.campaign_id) AS campaigns,
        count(*) AS spend_rows,
        coalesce(sum(sr.amount), 0) AS spend,
        coalesce(sum(sr.clicks), 0) AS clicks,
        coalesce(sum(sr.conversions), 0) AS conversions,
        count(*) FILTER (WHERE sr.conversions > sr.clicks) AS rows_conversions_over_clicks,
        coalesce(sum(sr.conversions - sr.clicks) FILTER (WHERE sr.conversions > sr.clicks), 0)
            AS excess_conversions
    FROM spend_rows AS sr
    GROUP BY sr.channel
)

SELECT
    b.channel,
    b.campaigns,
    b.spend_rows,
    b.spend,
    round(b.spend / nullif(sum(b.spend) OVER (), 0) * 100, 2) AS spend_share_pct,
    b.clicks,
    b.conversions,
    round(b.conversions / nullif(b.clicks, 0)::numeric * 100, 2) AS conversion_rate_pct,
    round(b.spend / nullif(b.clicks, 0), 2) AS cpc,
    round(b.spend / nullif(b.conversions, 0), 2) AS cpa,
    b.rows_conversions_over_clicks,
    b.excess_conversions,
    NULL::numeric AS click_through_rate_pct,
    'Not available: marketing.ads_spend has no impressions, so a click-through rate cannot be '
    'computed; conversion_rate_pct is conversions per click.'::text AS click_through_rate_note
FROM by_channel AS b;
