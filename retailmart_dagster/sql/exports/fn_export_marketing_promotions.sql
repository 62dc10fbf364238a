-- analytics.fn_export_marketing_promotions(): promotion effectiveness as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "baselineWindowDays", "summary": {"promotions",
-- "promotionFreeBaselines", "fallbackBaselines", "positiveUplift"}, "rows": [...]}; summary counts
-- ALL promotions of analytics.mv_promotion_effectiveness, rows = the N with the highest revenue
-- uplift (NULL last, then promo_id), N = config marketing.top_n_export; period = first order date ..
-- reference date.
-- Question: Do promotion days sell more than comparable days, and how much do overlaps blur that?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI summary: promotions analysed; how many have a promotion-free baseline or the fallback; how many show a positive revenue uplift
-- KPI rows: one object per promotion with rank, promoId, promoName, startDate, endDate, discountPercent, promoDays, promoAvgDailyRevenue, baselineBasis, baselineDays, baselineAvgDailyRevenue, revenueUpliftPct, ordersUpliftPct, overlappingPromotions, avgActivePromotionsPromoDays, avgActivePromotionsBaselineDays (definitions in mv_promotion_effectiveness)
CREATE OR REPLACE FUNCTION analytics.fn_export_marketing_promotions()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('marketing.promotion_baseline_window_days') AS window_days,
            analytics.fn_config_int('marketing.top_n_export') AS top_n
    ),

    bounds AS (
        SELECT
            p.*,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    ),

    summary AS (
        SELECT
            count(*) AS promotions,
            count(*) FILTER (WHERE pe.baseline_basis = 'promotion_free') AS promotion_free,
            count(*) FILTER (WHERE pe.baseline_basis = 'without_this_promotion') AS fallback,
            count(*) FILTER (WHERE pe.revenue_uplift_pct > 0) AS positive_uplift
        FROM analytics.mv_promotion_effectiveness AS pe
    ),

    selected AS (
        SELECT
            pe.*,
            row_number() OVER (
                ORDER BY pe.revenue_uplift_pct DESC NULLS LAST, pe.promo_id
            ) AS rank
        FROM analytics.mv_promotion_effectiveness AS pe
        ORDER BY pe.revenue_uplift_pct DESC NULLS LAST, pe.promo_id
        LIMIT (SELECT b.top_n FROM bounds AS b)
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'baselineWindowDays', b.window_days,
        'summary', json_build_object(
            'promotions', sm.promotions,
            'promotionFreeBaselines', sm.promotion_free,
            'fallbackBaselines', sm.fallback,
            'positiveUplift', sm.positive_uplift
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.rank,
                        'promoId', s.promo_id,
                        'promoName', s.promo_name,
                        'startDate', to_char(s.start_date, 'YYYY-MM-DD'),
                        'endDate', to_char(s.end_date, 'YYYY-MM-DD'),
                        'discountPercent', round(s.discount_percent, 2),
                        'promoDays', s.promo_days,
                        'promoAvgDailyRevenue', round(s.promo_avg_daily_revenue, 2),
                        'baselineBasis', s.baseline_basis,
                        'baselineDays', s.baseline_days,
                        'baselineAvgDailyRevenue', round(s.baseline_avg_daily_revenue, 2),
                        'revenueUpliftPct', round(s.revenue_uplift_pct, 2),
                        'ordersUpliftPct', round(s.orders_uplift_pct, 2),
                        'overlappingPromotions', s.overlapping_promotions,
                        'avgActivePromotionsPromoDays', round(s.avg_active_promotions_promo_days, 2),
                        'avgActivePromotionsBaselineDays',
                        round(s.avg_active_promotions_baseline_days, 2)
                    )
                    ORDER BY s.rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b
    CROSS JOIN summary AS sm;
$$;
