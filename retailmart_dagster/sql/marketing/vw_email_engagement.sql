-- analytics.vw_email_engagement: are campaign e-mails opened and clicked?
-- One row per campaign x month of sent_date, over marketing.email_clicks rows sent on or before the
-- reference date (analytics.fn_reference_date()); only campaign-months with sends appear. One row of
-- email_clicks = one e-mail sent.
-- Clicked but not opened: the source can hold e-mails with clicked = true and opened = false (an open
-- is usually tracked by an image the mail client may block; a click proves the e-mail was opened).
-- Such an e-mail counts as OPENED (opens = opened OR clicked) and as clicked; the count is reported
-- in clicked_not_opened so the data-quality issue stays visible. With this rule clicks <= opens, so
-- the click-to-open rate never exceeds 100 %. A NULL opened / clicked flag counts as false.
-- Question: How many campaign e-mails are opened and clicked, per campaign and month?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI sent: count(*) of e-mails sent in the month
-- KPI recipients: count(DISTINCT cust_id) of those e-mails
-- KPI opens: e-mails with opened = true OR clicked = true
-- KPI clicks: e-mails with clicked = true
-- KPI clicked_not_opened: e-mails with clicked = true and opened not true (counted in opens and clicks)
-- KPI open_rate_pct: opens / sent * 100
-- KPI click_rate_pct: clicks / sent * 100
-- KPI click_to_open_rate_pct: clicks / opens * 100
CREATE VIEW analytics.vw_email_engagement AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
),

emails AS (
    SELECT
        e.campaign_id,
        e.cust_id,
        date_trunc('month', e.sent_date)::date AS sent_month,
        coalesce(e.opened, false) AS opened,
        coalesce(e.clicked, false) AS clicked
    FROM marketing.email_clicks AS e
    CROSS JOIN params AS p
    WHERE e.sent_date <= p.ref_date
),

by_campaign_month AS (
    SELECT
        em.campaign_id,
        em.sent_month,
        count(*) AS sent,
        count(DISTINCT em.cust_id) AS recipients,
        count(*) FILTER (WHERE em.opened OR em.clicked) AS opens,
        count(*) FILTER (WHERE em.clicked) AS clicks,
        count(*) FILTER (WHERE em.clicked AND NOT em.opened) AS clicked_not_opened
    FROM emails AS em
    GROUP BY em.campaign_id, em.sent_month
)

SELECT
    b.campaign_id,
    c.campaign_name,
    extract(YEAR FROM b.sent_month)::int AS year,
    extract(MONTH FROM b.sent_month)::int AS month,
    b.sent_month,
    b.sent,
    b.recipients,
    b.opens,
    b.clicks,
    b.clicked_not_opened,
    round(b.opens / nullif(b.sent, 0)::numeric * 100, 2) AS open_rate_pct,
    round(b.clicks / nullif(b.sent, 0)::numeric * 100, 2) AS click_rate_pct,
    round(b.clicks / nullif(b.opens, 0)::numeric * 100, 2) AS click_to_open_rate_pct
FROM by_campaign_month AS b
LEFT JOIN marketing.campaigns AS c ON c.campaign_id = b.campaign_id;
