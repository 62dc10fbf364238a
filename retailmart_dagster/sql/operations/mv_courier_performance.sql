-- analytics.mv_courier_performance: which courier delivers fastest and most reliably?
-- One row per courier (sales.shipments.courier_name; NULL as 'Unknown') over the shipments of sales
-- orders dated on or before the reference date, summed from analytics.vw_shipment_outcomes (the
-- shipment fact's rows with delivered, date conflict, on time, delayed and assessed defined once, see
-- there): S = config operations.sla_days, measured from the ORDER date;
-- delayed includes shipments without a delivered_date more than S days after the order date at the
-- reference date; shipments with a date conflict are in no average and no outcome.
-- Composite score (0..100, higher is better) =
--   (Wr * on_time_pct + Ws * speed_index) / (Wr + Ws), with Wr = config
--   operations.courier_weight_on_time and Ws = config operations.courier_weight_speed, where
--   speed_index = 100 * (fastest courier's avg_ship_to_deliver_days) / (this courier's
--   avg_ship_to_deliver_days), so the fastest courier has 100. Speed uses ship-to-deliver (the
--   courier's own transit time), not order-to-ship (the warehouse's dispatch time).
-- A courier without assessed shipments has a NULL score and ranks last. Rank is row_number over
-- score DESC, then on_time_pct DESC, then shipments DESC, then courier_name (deterministic ties).
-- Materialized because fn_export_operations_couriers and mv_operations_summary read it: computed
-- once per build, the readers read stored rows.
-- Question: Which couriers deliver fastest and most reliably, and how do they rank?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI shipments: count(*) of the courier's shipments
-- KPI volume_share_pct: shipments / shipments of all couriers * 100
-- KPI delivered: shipments with a delivered_date or a status in operations.delivered_shipment_statuses
-- KPI in_transit: shipments not delivered
-- KPI on_time: shipments delivered within sla_days of the order date
-- KPI delayed: shipments delivered late or undelivered past sla_days at the reference date
-- KPI on_time_pct: on_time / (on_time + delayed) * 100
-- KPI delayed_pct: delayed / (on_time + delayed) * 100
-- KPI assessed: on_time + delayed (shipments whose SLA outcome is known)
-- KPI date_conflicts: shipments whose dates contradict each other, or whose status says delivered
--   without a delivered_date (excluded from averages and outcomes)
-- KPI avg_order_to_ship_days: avg(shipped_date - order_date) over shipped shipments without date conflict
-- KPI avg_ship_to_deliver_days: avg(delivered_date - shipped_date) over delivered shipments without date conflict
-- KPI avg_order_to_deliver_days: avg(delivered_date - order_date) over delivered shipments without date conflict
-- KPI speed_index: 100 * min over couriers of avg_ship_to_deliver_days / this courier's avg_ship_to_deliver_days
-- KPI composite_score: (Wr * on_time_pct + Ws * speed_index) / (Wr + Ws) (weights from config)
-- KPI courier_rank: row_number() over (composite_score DESC NULLS LAST, on_time_pct DESC NULLS LAST, shipments DESC, courier_name)
CREATE MATERIALIZED VIEW analytics.mv_courier_performance AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('operations.sla_days') AS sla_days,
        analytics.fn_config_numeric('operations.courier_weight_on_time') AS w_on_time,
        analytics.fn_config_numeric('operations.courier_weight_speed') AS w_speed
),

by_courier AS (
    SELECT
        o.courier_name,
        sum(o.shipments) AS shipments,
        coalesce(sum(o.delivered_shipments), 0) AS delivered,
        coalesce(sum(o.in_transit_shipments), 0) AS in_transit,
        coalesce(sum(o.on_time_shipments), 0) AS on_time,
        coalesce(sum(o.delayed_shipments), 0) AS delayed,
        coalesce(sum(o.assessed_shipments), 0) AS assessed,
        coalesce(sum(o.conflict_shipments), 0) AS date_conflicts,
        sum(o.order_to_ship_days_total) / nullif(sum(o.order_to_ship_shipments), 0)::numeric
            AS avg_order_to_ship_days,
        sum(o.ship_to_deliver_days_total) / nullif(sum(o.ship_to_deliver_shipments), 0)::numeric
            AS avg_ship_to_deliver_days,
        sum(o.order_to_deliver_days_total) / nullif(sum(o.order_to_deliver_shipments), 0)::numeric
            AS avg_order_to_deliver_days
    FROM analytics.vw_shipment_outcomes AS o
    GROUP BY o.courier_name
),

rated AS (
    SELECT
        c.*,
        c.on_time / nullif(c.assessed, 0)::numeric * 100 AS on_time_pct,
        c.delayed / nullif(c.assessed, 0)::numeric * 100 AS delayed_pct,
        c.shipments / nullif(sum(c.shipments) OVER (), 0)::numeric * 100 AS volume_share_pct,
        100 * min(c.avg_ship_to_deliver_days) OVER ()
        / nullif(c.avg_ship_to_deliver_days, 0) AS speed_index
    FROM by_courier AS c
),

scored AS (
    SELECT
        r.*,
        (p.w_on_time * r.on_time_pct + p.w_speed * r.speed_index)
        / nullif(p.w_on_time + p.w_speed, 0) AS composite_score
    FROM rated AS r
    CROSS JOIN params AS p
)

SELECT
    s.courier_name,
    p.sla_days,
    s.shipments,
    round(s.volume_share_pct, 2) AS volume_share_pct,
    s.delivered,
    s.in_transit,
    s.on_time,
    s.delayed,
    s.assessed,
    s.date_conflicts,
    round(s.on_time_pct, 2) AS on_time_pct,
    round(s.delayed_pct, 2) AS delayed_pct,
    round(s.avg_order_to_ship_days, 2) AS avg_order_to_ship_days,
    round(s.avg_ship_to_deliver_days, 2) AS avg_ship_to_deliver_days,
    round(s.avg_order_to_deliver_days, 2) AS avg_order_to_deliver_days,
    round(s.speed_index, 2) AS speed_index,
    p.w_on_time AS weight_on_time,
    p.w_speed AS weight_speed,
    round(s.composite_score, 2) AS composite_score,
    row_number() OVER (
        ORDER BY s.composite_score DESC NULLS LAST, s.on_time_pct DESC NULLS LAST,
            s.shipments DESC, s.courier_name
    ) AS courier_rank
FROM scored AS s
CROSS JOIN params AS p;

CREATE UNIQUE INDEX ux_mv_courier_performance ON analytics.mv_courier_performance (courier_name);
