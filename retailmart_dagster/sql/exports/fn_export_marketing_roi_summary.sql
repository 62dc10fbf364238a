-- analytics.fn_export_marketing_roi_summary(): the marketing ROI summary as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "attributionWindowDays", "rows": [...]}, rows =
-- the rows of analytics.mv_marketing_roi_summary: 'all_time' first, then the campaign start years,
-- oldest first. Budget counted once per campaign.
-- Question: How much did marketing spend against budget, and what revenue can be attributed to it?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI rows: one object per period with period, year, periodStart, periodEnd, campaigns, budget, spend, remainingBudget, budgetUtilizationPct, clicks, conversions, conversionRatePct, cpc, cpa, emailsSent, emailClicks, attributedOrders, attributedRevenue, roiPct, rowsConversionsOverClicks (definitions in mv_marketing_roi_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_marketing_roi_summary()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('marketing.attribution_window_days') AS window_days
    ),

    selected AS (
        SELECT m.*
        FROM analytics.mv_marketing_roi_summary AS m
        ORDER BY m.period_order, m.period
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.period_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'attributionWindowDays', p.window_days,
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'period', s.period,
                        'year', s.year,
                        'periodStart', to_char(s.period_start, 'YYYY-MM-DD'),
                        'periodEnd', to_char(s.period_end, 'YYYY-MM-DD'),
                        'campaigns', s.campaigns,
                        'budget', round(s.budget, 2),
                        'spend', round(s.spend, 2),
                        'remainingBudget', round(s.remaining_budget, 2),
                        'budgetUtilizationPct', round(s.budget_utilization_pct, 2),
                        'clicks', s.clicks,
                        'conversions', s.conversions,
                        'conversionRatePct', round(s.conversion_rate_pct, 2),
                        'cpc', round(s.cpc, 2),
                        'cpa', round(s.cpa, 2),
                        'emailsSent', s.emails_sent,
                        'emailClicks', s.email_clicks,
                        'attributedOrders', s.attributed_orders,
                        'attributedRevenue', round(s.attributed_revenue, 2),
                        'roiPct', round(s.roi_pct, 2),
                        'rowsConversionsOverClicks', s.rows_conversions_over_clicks
                    )
                    ORDER BY s.period_order, s.period
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
