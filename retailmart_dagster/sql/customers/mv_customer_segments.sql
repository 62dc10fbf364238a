-- analytics.mv_customer_segments: every customer counted once into small segments, computed once —
-- one row per combination of state, city, gender, age group, value tier and customer status present
-- in analytics.mv_customer_lifetime_value (one row per customer), with the segment's additive totals.
-- vw_customer_geography, vw_customer_demographics and vw_customer_value_summary (and the three
-- exports that read them) sum these rows instead of each scanning the 500 k customers of scale 10
-- (about 7.6 k segments there), and the customer exports read their period's first day here; every figure they show is a sum or a ratio of sums, so summing
-- segments gives exactly what summing customers gives. Averages are kept as sums and counts of the
-- non-NULL values (avg = sum / count, numeric division), never as averages.
-- A NULL state or city is 'Unknown' (as vw_customer_geography reports it); a gender other than M/F or
-- NULL is 'Unknown' (as vw_customer_demographics reports it).
-- Question: How many customers, buyers, orders and how much revenue fall in each place, gender, age group, value tier and status?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI customers: count(*) of the segment's customers
-- KPI buyers: those customers with at least one sales order (orders > 0)
-- KPI orders: sum(orders) of the segment's customers
-- KPI revenue: sum(revenue) of the segment's customers (order grain, see mv_customer_lifetime_value)
-- KPI days_since_last_order_sum: sum(days_since_last_order) over customers where it is not NULL
-- KPI days_since_last_order_count: count(days_since_last_order) (customers with a sales order)
-- KPI tenure_days_sum: sum(tenure_days) over customers where it is not NULL
-- KPI tenure_days_count: count(tenure_days)
-- KPI loyalty_points: sum(loyalty_points) of the segment's customers
-- KPI reviews_given: sum(reviews_given) of the segment's customers
-- KPI first_order_date: min(first_order_date) of the segment's buyers (NULL without buyers); its
--   min over all segments is the first sales order date of any customer, which the customer exports
--   show as the start of their period (instead of each scanning every customer for it)
CREATE MATERIALIZED VIEW analytics.mv_customer_segments AS
SELECT
    coalesce(l.state, 'Unknown') AS state,
    coalesce(l.city, 'Unknown') AS city,
    CASE WHEN l.gender IN ('M', 'F') THEN l.gender ELSE 'Unknown' END AS gender,
    l.age_group,
    l.age_group_order,
    l.value_tier,
    l.value_tier_order,
    l.customer_status,
    l.customer_status_order,
    count(*) AS customers,
    count(*) FILTER (WHERE l.orders > 0) AS buyers,
    sum(l.orders) AS orders,
    sum(l.revenue) AS revenue,
    sum(l.days_since_last_order) AS days_since_last_order_sum,
    count(l.days_since_last_order) AS days_since_last_order_count,
    sum(l.tenure_days) AS tenure_days_sum,
    count(l.tenure_days) AS tenure_days_count,
    sum(l.loyalty_points) AS loyalty_points,
    sum(l.reviews_given) AS reviews_given,
    min(l.first_order_date) AS first_order_date
FROM analytics.mv_customer_lifetime_value AS l
GROUP BY
    coalesce(l.state, 'Unknown'),
    coalesce(l.city, 'Unknown'),
    CASE WHEN l.gender IN ('M', 'F') THEN l.gender ELSE 'Unknown' END,
    l.age_group,
    l.age_group_order,
    l.value_tier,
    l.value_tier_order,
    l.customer_status,
    l.customer_status_order;

CREATE UNIQUE INDEX ux_mv_customer_segments ON analytics.mv_customer_segments (
    state, city, gender, age_group, age_group_order, value_tier, customer_status
);
