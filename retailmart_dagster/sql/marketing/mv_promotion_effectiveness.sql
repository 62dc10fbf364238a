-- analytics.mv_promotion_effectiveness: do days with a promotion sell more than comparable days?
-- One row per promotion (products.promotions) with at least one day between the first order date
-- (any status) and the reference date (analytics.fn_reference_date()); its days are clipped to that
-- range. Promotions are not linked to products or orders, so the only measurable effect is on TOTAL
-- daily sales: daily revenue = sum(orders.total_amount) of sales orders (order_status not in config
-- sales.excluded_order_statuses) dated that day, read from analytics.mv_daily_sales_summary; days
-- without sales count as 0.
-- Baseline = comparable days: calendar days within W days before the promotion's start or after its
-- end (W = config marketing.promotion_baseline_window_days), outside the promotion's own dates, on
-- the same ISO weekdays as its promotion days, inside [first order date, reference date].
-- Overlapping promotions, handled explicitly: the baseline uses only days on which NO promotion is
-- active (baseline_basis = 'promotion_free') when at least M such days exist (M = config
-- marketing.promotion_min_baseline_days); otherwise it falls back to the comparable days without THIS
-- promotion, other promotions possibly active (baseline_basis = 'without_this_promotion'), and the
-- average number of active promotions on promotion and baseline days is reported, so a reader sees
-- how confounded the comparison is. overlapping_promotions counts the other promotions whose dates
-- intersect this one's. When promotions cover almost every day (as on the sample data), every row
-- falls back and the uplift measures this promotion on top of the others.
-- Materialized because the export fn_export_marketing_promotions reads it: computed once per build,
-- the export reads stored rows.
-- Question: Do promotion days sell more than comparable days, and how much do overlaps blur that?
-- Owner: Marketing analytics
-- Refresh: daily
-- KPI promo_days: calendar days of the promotion within [first order date, reference date]
-- KPI promo_revenue: sum of daily revenue over promo_days
-- KPI promo_avg_daily_revenue: promo_revenue / promo_days
-- KPI promo_avg_daily_orders: sales orders on promo_days / promo_days
-- KPI baseline_days: comparable days used as baseline (see baseline_basis)
-- KPI baseline_avg_daily_revenue: sum of daily revenue over baseline days / baseline_days
-- KPI baseline_avg_daily_orders: sales orders on baseline days / baseline_days
-- KPI revenue_uplift_pct: (promo_avg_daily_revenue - baseline_avg_daily_revenue) / baseline_avg_daily_revenue * 100; NULL without baseline
-- KPI orders_uplift_pct: same formula on daily orders
-- KPI promotion_free_days: comparable days on which no promotion is active
-- KPI overlapping_promotions: count of OTHER promotions whose [start_date, end_date] intersects this one's
-- KPI avg_active_promotions_promo_days: average number of active promotions (this one included) on promo_days
-- KPI avg_active_promotions_baseline_days: average number of active promotions on the baseline days
CREATE MATERIALIZED VIEW analytics.mv_promotion_effectiveness AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('marketing.promotion_baseline_window_days') AS window_days,
        analytics.fn_config_int('marketing.promotion_min_baseline_days') AS min_baseline_days
),

bounds AS (
    SELECT
        p.ref_date,
        p.window_days,
        p.min_baseline_days,
        (
            SELECT min(o.order_date)
            FROM sales.orders AS o
            WHERE o.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

-- The days with sales orders and their orders and revenue, from the stored daily rows of
-- analytics.mv_daily_sales_summary (same sales-order rule and period; one row per day instead of
-- aggregating 1.4 M orders again at scale 10).
sales_by_day AS (
    SELECT
        d.sales_date AS order_date,
        d.orders,
        d.revenue
    FROM analytics.mv_daily_sales_summary AS d
    CROSS JOIN bounds AS b
    WHERE d.sales_date BETWEEN b.first_date AND b.ref_date
      AND d.orders > 0
),

promotions AS (
    SELECT
        pr.promo_id,
        pr.promo_name,
        pr.start_date,
        pr.end_date,
        pr.discount_percent,
        greatest(pr.start_date, b.first_date) AS promo_start,
        least(pr.end_date, b.ref_date) AS promo_end
    FROM products.promotions AS pr
    CROSS JOIN bounds AS b
    WHERE pr.start_date <= b.ref_date
      AND pr.end_date >= b.first_date
      AND pr.end_date >= pr.start_date
),

active_counts AS (
    -- each promotion expanded into its days inside [first date, reference date], counted per day
    -- (equality joins on days instead of a days x promotions range join)
    SELECT
        b.first_date + k.day_offset AS sales_date,
        count(*) AS active_promotions
    FROM products.promotions AS pr
    CROSS JOIN bounds AS b
    CROSS JOIN LATERAL generate_series(
        greatest(pr.start_date, b.first_date) - b.first_date,
        least(pr.end_date, b.ref_date) - b.first_date
    ) AS k (day_offset)
    WHERE pr.start_date <= b.ref_date
      AND pr.end_date >= b.first_date
    GROUP BY b.first_date + k.day_offset
),

active_by_day AS (
    SELECT
        gs.day::date AS sales_date,
        coalesce(ac.active_promotions, 0) AS active_promotions
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(b.first_date, b.ref_date, interval '1 day') AS gs (day)
    LEFT JOIN active_counts AS ac ON ac.sales_date = gs.day::date
),

calendar AS (
    SELECT
        a.sales_date,
        extract(ISODOW FROM a.sales_date)::int AS iso_dow,
        a.active_promotions,
        coalesce(s.orders, 0) AS orders,
        coalesce(s.revenue, 0) AS revenue
    FROM active_by_day AS a
    LEFT JOIN sales_by_day AS s ON s.order_date = a.sales_date
),

promo_day_rows AS (
    SELECT
        pr.promo_id,
        c.sales_date,
        c.iso_dow,
        c.active_promotions,
        c.orders,
        c.revenue
    FROM promotions AS pr
    CROSS JOIN LATERAL generate_series(0, pr.promo_end - pr.promo_start) AS k (day_offset)
    JOIN calendar AS c ON c.sales_date = pr.promo_start + k.day_offset
),

promo_stats AS (
    SELECT
        pd.promo_id,
        count(*) AS promo_days,
        sum(pd.revenue) AS promo_revenue,
        sum(pd.orders) AS promo_orders,
        avg(pd.active_promotions::numeric) AS avg_active_promo_days
    FROM promo_day_rows AS pd
    GROUP BY pd.promo_id
),

promo_weekdays AS (
    SELECT DISTINCT
        pd.promo_id,
        pd.iso_dow
    FROM promo_day_rows AS pd
),

candidates AS (
    SELECT
        pr.promo_id,
        c.sales_date,
        c.active_promotions,
        c.orders,
        c.revenue
    FROM promotions AS pr
    CROSS JOIN bounds AS b
    -- the W days before the start and the W days after the end: [start - W, end + W] without the
    -- promotion's own dates, each day once
    CROSS JOIN LATERAL generate_series(1, b.window_days) AS k (day_offset)
    CROSS JOIN LATERAL (
        VALUES (pr.start_date - k.day_offset), (pr.end_date + k.day_offset)
    ) AS d (sales_date)
    JOIN calendar AS c ON c.sales_date = d.sales_date
    JOIN promo_weekdays AS w ON w.promo_id = pr.promo_id AND w.iso_dow = c.iso_dow
),

candidate_counts AS (
    SELECT
        cd.promo_id,
        count(*) FILTER (WHERE cd.active_promotions = 0) AS promotion_free_days
    FROM candidates AS cd
    GROUP BY cd.promo_id
),

baseline_rows AS (
    SELECT
        cd.*,
        CASE
            WHEN cc.promotion_free_days >= b.min_baseline_days THEN 'promotion_free'
            ELSE 'without_this_promotion'
        END AS baseline_basis
    FROM candidates AS cd
    JOIN candidate_counts AS cc ON cc.promo_id = cd.promo_id
    CROSS JOIN bounds AS b
    WHERE cc.promotion_free_days < b.min_baseline_days
       OR cd.active_promotions = 0
),

baseline_stats AS (
    SELECT
        br.promo_id,
        min(br.baseline_basis) AS baseline_basis,
        count(*) AS baseline_days,
        sum(br.revenue) AS baseline_revenue,
        sum(br.orders) AS baseline_orders,
        avg(br.active_promotions::numeric) AS avg_active_baseline_days
    FROM baseline_rows AS br
    GROUP BY br.promo_id
),

promo_overlaps AS (
    SELECT
        pr.promo_id,
        count(other.promo_id) AS overlapping_promotions
    FROM promotions AS pr
    LEFT JOIN products.promotions AS other
        ON other.promo_id <> pr.promo_id
       AND other.start_date <= pr.end_date
       AND other.end_date >= pr.start_date
    GROUP BY pr.promo_id
),

measured AS (
    SELECT
        pr.promo_id,
        pr.promo_name,
        pr.start_date,
        pr.end_date,
        pr.discount_percent,
        ps.promo_days,
        ps.promo_revenue,
        ps.promo_revenue / nullif(ps.promo_days, 0)::numeric AS promo_avg_revenue,
        ps.promo_orders / nullif(ps.promo_days, 0)::numeric AS promo_avg_orders,
        coalesce(bs.baseline_basis, 'no_baseline') AS baseline_basis,
        coalesce(bs.baseline_days, 0) AS baseline_days,
        bs.baseline_revenue / nullif(bs.baseline_days, 0)::numeric AS baseline_avg_revenue,
        bs.baseline_orders / nullif(bs.baseline_days, 0)::numeric AS baseline_avg_orders,
        coalesce(cc.promotion_free_days, 0) AS promotion_free_days,
        ov.overlapping_promotions,
        ps.avg_active_promo_days,
        bs.avg_active_baseline_days
    FROM promotions AS pr
    JOIN promo_stats AS ps ON ps.promo_id = pr.promo_id
    LEFT JOIN baseline_stats AS bs ON bs.promo_id = pr.promo_id
    LEFT JOIN candidate_counts AS cc ON cc.promo_id = pr.promo_id
    LEFT JOIN promo_overlaps AS ov ON ov.promo_id = pr.promo_id
)

SELECT
    m.promo_id,
    m.promo_name,
    m.start_date,
    m.end_date,
    m.discount_percent,
    m.promo_days,
    m.promo_revenue,
    round(m.promo_avg_revenue, 2) AS promo_avg_daily_revenue,
    round(m.promo_avg_orders, 2) AS promo_avg_daily_orders,
    m.baseline_basis,
    m.baseline_days,
    round(m.baseline_avg_revenue, 2) AS baseline_avg_daily_revenue,
    round(m.baseline_avg_orders, 2) AS baseline_avg_daily_orders,
    round((m.promo_avg_revenue - m.baseline_avg_revenue) / nullif(m.baseline_avg_revenue, 0) * 100, 2)
        AS revenue_uplift_pct,
    round((m.promo_avg_orders - m.baseline_avg_orders) / nullif(m.baseline_avg_orders, 0) * 100, 2)
        AS orders_uplift_pct,
    b.window_days AS baseline_window_days,
    m.promotion_free_days,
    m.overlapping_promotions,
    round(m.avg_active_promo_days, 2) AS avg_active_promotions_promo_days,
    round(m.avg_active_baseline_days, 2) AS avg_active_promotions_baseline_days
FROM measured AS m
CROSS JOIN bounds AS b;

CREATE UNIQUE INDEX ux_mv_promotion_effectiveness ON analytics.mv_promotion_effectiveness (promo_id);
