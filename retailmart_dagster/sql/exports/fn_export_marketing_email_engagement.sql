-- analytics.fn_export_marketing_email_engagement(): e-mail engagement as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...], "campaigns": [...]}:
-- rows = one object per send month of the last M months ending with the reference month (M = config
-- marketing.export_months), all campaigns together; campaigns = the N campaigns with the most e-mails
-- sent in those months (then campaign_id), N = config marketing.top_n_export. Both re-aggregate the
-- counts of analytics.vw_email_engagement and recompute the rates from the summed counts (never an
-- average of rates). Opens include clicked-but-not-opened e-mails (see the view).
-- Question: How many campaign e-mails are opened and clicked, per month and per campaign?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI rows: one object per month with sentMonth, sent, opens, clicks, clickedNotOpened, openRatePct, clickRatePct, clickToOpenRatePct
-- KPI campaigns: one object per campaign with rank, campaignId, campaignName, sent, opens, clicks, clickedNotOpened, openRatePct, clickRatePct, clickToOpenRatePct
CREATE OR REPLACE FUNCTION analytics.fn_export_marketing_email_engagement()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('marketing.export_months') AS export_months,
            analytics.fn_config_int('marketing.top_n_export') AS top_n
    ),

    in_window AS (
        SELECT e.*
        FROM analytics.vw_email_engagement AS e
        CROSS JOIN params AS p
        WHERE e.sent_month > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND e.sent_month <= p.ref_date
    ),

    by_month AS (
        SELECT
            w.sent_month,
            sum(w.sent) AS sent,
            sum(w.opens) AS opens,
            sum(w.clicks) AS clicks,
            sum(w.clicked_not_opened) AS clicked_not_opened
        FROM in_window AS w
        GROUP BY w.sent_month
    ),

    by_campaign AS (
        SELECT
            w.campaign_id,
            max(w.campaign_name) AS campaign_name,
            sum(w.sent) AS sent,
            sum(w.opens) AS opens,
            sum(w.clicks) AS clicks,
            sum(w.clicked_not_opened) AS clicked_not_opened
        FROM in_window AS w
        GROUP BY w.campaign_id
    ),

    top_campaigns AS (
        SELECT
            c.*,
            row_number() OVER (ORDER BY c.sent DESC, c.campaign_id) AS rank
        FROM by_campaign AS c
        ORDER BY c.sent DESC, c.campaign_id
        LIMIT (SELECT p.top_n FROM params AS p)
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(m.sent_month) FROM by_month AS m), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'sentMonth', to_char(m.sent_month, 'YYYY-MM-DD'),
                        'sent', m.sent,
                        'opens', m.opens,
                        'clicks', m.clicks,
                        'clickedNotOpened', m.clicked_not_opened,
                        'openRatePct', round(m.opens / nullif(m.sent, 0)::numeric * 100, 2),
                        'clickRatePct', round(m.clicks / nullif(m.sent, 0)::numeric * 100, 2),
                        'clickToOpenRatePct', round(m.clicks / nullif(m.opens, 0)::numeric * 100, 2)
                    )
                    ORDER BY m.sent_month
                )
                FROM by_month AS m
            ),
            '[]'::json
        ),
        'campaigns', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', t.rank,
                        'campaignId', t.campaign_id,
                        'campaignName', t.campaign_name,
                        'sent', t.sent,
                        'opens', t.opens,
                        'clicks', t.clicks,
                        'clickedNotOpened', t.clicked_not_opened,
                        'openRatePct', round(t.opens / nullif(t.sent, 0)::numeric * 100, 2),
                        'clickRatePct', round(t.clicks / nullif(t.sent, 0)::numeric * 100, 2),
                        'clickToOpenRatePct', round(t.clicks / nullif(t.opens, 0)::numeric * 100, 2)
                    )
                    ORDER BY t.rank
                )
                FROM top_campaigns AS t
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
