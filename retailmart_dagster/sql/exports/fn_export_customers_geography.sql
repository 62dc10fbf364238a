-- analytics.fn_export_customers_geography(): top cities and states by customer revenue as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...], "states": [...]}, rows = the first N
-- cities of analytics.vw_customer_geography by city_rank, states = the first N states by state_rank
-- (N = config customers.export_top_n), so the file stays small at any scale. period = first sales order
-- date .. reference date. The view is read once (a MATERIALIZED CTE).
-- Question: Which cities and states bring the most customer revenue (dashboard file)?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI rows: one object per city with cityRank, state, city, customers, buyers, orders, revenue, aov, revenuePerCustomer, revenueSharePct, stateRank, cityRankInState (definitions in vw_customer_geography)
-- KPI states: one object per state with stateRank, state, customers, buyers, orders, revenue, cities, revenueSharePct (sums over the state's city rows)
CREATE OR REPLACE FUNCTION analytics.fn_export_customers_geography()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('customers.export_top_n') AS top_n
    ),

    bounds AS (
        SELECT
            p.*,
            (
                SELECT min(s.first_order_date)
                FROM analytics.mv_customer_segments AS s
            ) AS first_date
        FROM params AS p
    ),

    geography AS MATERIALIZED (
        -- the view is computed once: the city rows and the state sums both read this
        SELECT g.*
        FROM analytics.vw_customer_geography AS g
    ),

    cities AS (
        SELECT g.*
        FROM geography AS g
        CROSS JOIN bounds AS b
        WHERE g.city_rank <= b.top_n
    ),

    states AS (
        SELECT
            g.state,
            g.state_rank,
            count(*) AS cities,
            sum(g.customers) AS customers,
            sum(g.buyers) AS buyers,
            sum(g.orders) AS orders,
            sum(g.revenue) AS revenue,
            sum(sum(g.revenue)) OVER () AS total_revenue
        FROM geography AS g
        GROUP BY g.state, g.state_rank
    ),

    top_states AS (
        SELECT s.*
        FROM states AS s
        CROSS JOIN bounds AS b
        WHERE s.state_rank <= b.top_n
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'cityRank', c.city_rank,
                        'state', c.state,
                        'city', c.city,
                        'customers', c.customers,
                        'buyers', c.buyers,
                        'orders', c.orders,
                        'revenue', round(c.revenue, 2),
                        'aov', round(c.aov, 2),
                        'revenuePerCustomer', round(c.revenue_per_customer, 2),
                        'revenueSharePct', round(c.revenue_share_pct, 2),
                        'stateRank', c.state_rank,
                        'cityRankInState', c.city_rank_in_state
                    )
                    ORDER BY c.city_rank
                )
                FROM cities AS c
            ),
            '[]'::json
        ),
        'states', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'stateRank', s.state_rank,
                        'state', s.state,
                        'cities', s.cities,
                        'customers', s.customers,
                        'buyers', s.buyers,
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'revenueSharePct', round(s.revenue / nullif(s.total_revenue, 0) * 100, 2)
                    )
                    ORDER BY s.state_rank
                )
                FROM top_states AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
