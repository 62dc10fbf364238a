-- analytics.fn_export_marketing_campaigns(): the largest campaigns' performance as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "attribution": {"method", "windowDays"},
-- "rows": [...]}, rows = the N campaigns of analytics.mv_campaign_performance with the largest spend
-- (then campaign_id), N = config marketing.top_n_export; period = first campaign start .. reference
-- date. Budget is the campaign's own budget, counted once. The view is read once (a MATERIALIZED CTE).
-- Question: Which campaigns stay within budget, convert clicks cheaply, and return their spend?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI rows: one object per campaign with rank, campaignId, campaignName, startDate, endDate, campaignStatus, budget, spend, budgetUtilizationPct, clicks, conversions, conversionRatePct, cpc, cpa, rowsConversionsOverClicks, emailsSent, emailClicks, attributedOrders, attributedRevenue, roiPct (definitions in mv_campaign_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_marketing_campaigns()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('marketing.attribution_window_days') AS window_days,
            analytics.fn_config_int('marketing.top_n_export') AS top_n
    ),

    campaigns AS MATERIALIZED (
        -- the view is computed once: rows and period both read this
        SELECT c.*
        FROM analytics.mv_campaign_performance AS c
    ),

    selected AS (
        SELECT
            c.*,
            row_number() OVER (ORDER BY c.spend DESC, c.campaign_id) AS rank
        FROM campaigns AS c
        ORDER BY c.spend DESC, c.campaign_id
        LIMIT (SELECT p.top_n FROM params AS p)
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(
                (SELECT min(c.start_date) FROM campaigns AS c),
                'YYYY-MM-DD'
            ),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'attribution', json_build_object(
            'method', 'last e-mail click: each sales order is credited to the campaign of its '
            'customer''s latest clicked e-mail sent at most windowDays before the order (one '
            'campaign per order); e-mail-driven revenue only, compared with the whole spend',
            'windowDays', p.window_days
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.rank,
                        'campaignId', s.campaign_id,
                        'campaignName', s.campaign_name,
                        'startDate', to_char(s.start_date, 'YYYY-MM-DD'),
                        'endDate', to_char(s.end_date, 'YYYY-MM-DD'),
                        'campaignStatus', s.campaign_status,
                        'budget', round(s.budget, 2),
                        'spend', round(s.spend, 2),
                        'budgetUtilizationPct', round(s.budget_utilization_pct, 2),
                        'clicks', s.clicks,
                        'conversions', s.conversions,
                        'conversionRatePct', round(s.conversion_rate_pct, 2),
                        'cpc', round(s.cpc, 2),
                        'cpa', round(s.cpa, 2),
                        'rowsConversionsOverClicks', s.rows_conversions_over_clicks,
                        'emailsSent', s.emails_sent,
                        'emailClicks', s.email_clicks,
                        'attributedOrders', s.attributed_orders,
                        'attributedRevenue', round(s.attributed_revenue, 2),
                        'roiPct', round(s.roi_pct, 2)
                    )
                    ORDER BY s.rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
