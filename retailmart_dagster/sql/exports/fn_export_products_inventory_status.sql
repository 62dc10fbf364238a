-- analytics.fn_export_products_inventory_status(): products and stock per stock status as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "windowDays", "typicalCoverDays", "lowCoverDays",
-- "overstockCoverDays", "rows": [...]}, rows = the 5 statuses of
-- analytics.vw_inventory_status_summary in the order Out of Stock, Low, Normal, Overstocked, Dead Stock;
-- period = the sales window of analytics.mv_inventory_turnover (config products.turnover_window_days
-- ending at the reference date); stock is the current stock.
-- KPI rows: one object per status with stockStatus, products, productSharePct, stockUnits, stockUnitSharePct, stockValue, unitsSoldWindow (definitions in vw_inventory_status_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_products_inventory_status()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('products.turnover_window_days') AS window_days
    ),

    cut_offs AS MATERIALIZED (
        SELECT
            max(t.typical_cover_days) AS typical_cover_days,
            max(t.low_cover_days) AS low_cover_days,
            max(t.overstock_cover_days) AS overstock_cover_days
        FROM analytics.mv_inventory_turnover AS t
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(p.ref_date - p.window_days + 1, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'windowDays', p.window_days,
        'typicalCoverDays', round(c.typical_cover_days, 2),
        'lowCoverDays', round(c.low_cover_days, 2),
        'overstockCoverDays', round(c.overstock_cover_days, 2),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'stockStatus', s.stock_status,
                        'products', s.products,
                        'productSharePct', round(s.product_share_pct, 2),
                        'stockUnits', s.stock_units,
                        'stockUnitSharePct', round(s.stock_unit_share_pct, 2),
                        'stockValue', round(s.stock_value, 2),
                        'unitsSoldWindow', s.units_sold_window
                    )
                    ORDER BY s.status_order
                )
                FROM analytics.vw_inventory_status_summary AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p
    CROSS JOIN cut_offs AS c;
$$;
