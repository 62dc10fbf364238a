-- analytics.fn_export_products_inventory_turnover(): the products most in need of restocking as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "windowDays", "criticalStatuses",
-- "criticalProducts", "rows": [...]}, rows = the products of analytics.mv_inventory_turnover whose
-- stock_status is in config products.critical_stock_statuses, most urgent first (status order Out of
-- Stock, Low, ...; then fewest days of inventory; then most units sold; then prod_id), at most config
-- products.top_n_export rows; criticalProducts = how many products are critical before that limit;
-- period = the sales window (config products.turnover_window_days ending at the reference date).
-- KPI rows: one object per product with priority, prodId, prodName, category, brand, stockStatus, unitsSoldWindow, dailyVelocity, currentStock, storesStocking, stockValue, daysOfInventory, turnoverRatio (definitions in mv_inventory_turnover)
CREATE OR REPLACE FUNCTION analytics.fn_export_products_inventory_turnover()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('products.turnover_window_days') AS window_days,
            analytics.fn_config_text_array('products.critical_stock_statuses') AS critical_statuses,
            analytics.fn_config_int('products.top_n_export') AS top_n
    ),

    critical AS MATERIALIZED (
        SELECT
            t.*,
            row_number() OVER (
                ORDER BY
                    t.status_order,
                    t.days_of_inventory NULLS FIRST,
                    t.units_sold_window DESC,
                    t.prod_id
            ) AS priority
        FROM analytics.mv_inventory_turnover AS t
        CROSS JOIN params AS p
        WHERE t.stock_status = ANY (p.critical_statuses)
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(p.ref_date - p.window_days + 1, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'windowDays', p.window_days,
        'criticalStatuses', to_json(p.critical_statuses),
        'criticalProducts', (SELECT count(*) FROM critical AS c),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'priority', c.priority,
                        'prodId', c.prod_id,
                        'prodName', c.prod_name,
                        'category', c.category,
                        'brand', c.brand,
                        'stockStatus', c.stock_status,
                        'unitsSoldWindow', c.units_sold_window,
                        'dailyVelocity', round(c.daily_velocity, 2),
                        'currentStock', c.current_stock,
                        'storesStocking', c.stores_stocking,
                        'stockValue', round(c.stock_value, 2),
                        'daysOfInventory', round(c.days_of_inventory, 2),
                        'turnoverRatio', round(c.turnover_ratio, 2)
                    )
                    ORDER BY c.priority
                )
                FROM critical AS c
                WHERE c.priority <= p.top_n
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
