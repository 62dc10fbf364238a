-- analytics.fn_export_sales_hourly_pattern(): the hourly sales pattern as JSON — NOT AVAILABLE.
-- Shape: {"referenceDate", "period": {"from", "to"}, "available": false, "reason", "rows": []}.
-- sales.orders.order_date has no time of day, so analytics.vw_hourly_sales_pattern is empty by design;
-- the export says so instead of showing a fake "hour 0". rows is read from the (empty) view so the
-- export follows it if the source ever gains a time of day.
-- KPI available: false (orders carry a date only, no time of day)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_hourly_pattern()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT analytics.fn_reference_date() AS ref_date
    ),

    bounds AS (
        SELECT
            p.ref_date,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    ),

    selected AS (
        SELECT h.*
        FROM analytics.vw_hourly_sales_pattern AS h
        ORDER BY h.hour_of_day
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'available', false,
        'reason', 'Not available: sales.orders.order_date has no time of day, so sales cannot be split by hour.',
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'hourOfDay', s.hour_of_day,
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2)
                    )
                    ORDER BY s.hour_of_day
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;
