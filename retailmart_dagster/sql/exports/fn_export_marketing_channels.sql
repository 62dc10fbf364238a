-- analytics.fn_export_marketing_channels(): advertising channel performance as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "clickThroughRateNote", "rows": [...]}, rows =
-- the channels of analytics.vw_channel_performance by spend (largest first, then channel), at most
-- config marketing.top_n_export rows; period = first campaign start .. reference date.
-- Question: Which channels get clicks and conversions at the lowest cost, and where does the money go?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI rows: one object per channel with rank, channel, campaigns, spend, spendSharePct, clicks, conversions, conversionRatePct, cpc, cpa, rowsConversionsOverClicks, excessConversions, clickThroughRatePct (definitions in vw_channel_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_marketing_channels()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('marketing.top_n_export') AS top_n
    ),

    selected AS (
        SELECT
            c.*,
            row_number() OVER (ORDER BY c.spend DESC, c.channel) AS rank
        FROM analytics.vw_channel_performance AS c
        ORDER BY c.spend DESC, c.channel
        LIMIT (SELECT p.top_n FROM params AS p)
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(
                (
                    SELECT min(c.start_date)
                    FROM marketing.campaigns AS c
                    WHERE c.start_date <= p.ref_date
                ),
                'YYYY-MM-DD'
            ),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'clickThroughRateNote', (SELECT max(s.click_through_rate_note) FROM selected AS s),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.rank,
                        'channel', s.channel,
                        'campaigns', s.campaigns,
                        'spend', round(s.spend, 2),
                        'spendSharePct', round(s.spend_share_pct, 2),
                        'clicks', s.clicks,
                        'conversions', s.conversions,
                        'conversionRatePct', round(s.conversion_rate_pct, 2),
                        'cpc', round(s.cpc, 2),
                        'cpa', round(s.cpa, 2),
                        'rowsConversionsOverClicks', s.rows_conversions_over_clicks,
                        'excessConversions', s.excess_conversions,
                        'clickThroughRatePct', round(s.click_through_rate_pct, 2)
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
