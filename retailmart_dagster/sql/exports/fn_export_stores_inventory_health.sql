-- analytics.fn_export_stores_inventory_health(): store inventory health as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "lowStockUnits", "unknownStoreRowsExcluded",
-- "storesNeedingAttention": [...], "rows": [...]}, rows = one per health label (Critical, Needs
-- Attention, Healthy, No Inventory, in that order, zeros included) summed over the stores of
-- analytics.vw_store_inventory_status; storesNeedingAttention = the Critical and Needs Attention
-- stores, highest at_risk_pct first (then store_id), at most config stores.top_n_export;
-- unknownStoreRowsExcluded = inventory rows whose store_id is not in stores.stores (no FK), which no
-- store figure includes. Stock is a snapshot: period from = to = the reference date.
-- KPI rows: one object per label with inventoryHealth, stores, productsListed, stockUnits, stockValue, outOfStockCount, lowStockCount, atRiskPct (at-risk rows / rows * 100 over the label's stores)
CREATE OR REPLACE FUNCTION analytics.fn_export_stores_inventory_health()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('stores.top_n_export') AS top_n,
            analytics.fn_config_int('stores.low_stock_units') AS low_stock_units
    ),

    per_store AS MATERIALIZED (
        SELECT s.*
        FROM analytics.vw_store_inventory_status AS s
    ),

    labels AS (
        SELECT
            l.inventory_health,
            l.label_order
        FROM (
            VALUES ('Critical', 1), ('Needs Attention', 2), ('Healthy', 3), ('No Inventory', 4)
        ) AS l (inventory_health, label_order)
    ),

    by_label AS (
        SELECT
            l.inventory_health,
            l.label_order,
            count(s.store_id) AS stores,
            coalesce(sum(s.products_listed), 0) AS products_listed,
            coalesce(sum(s.stock_units), 0) AS stock_units,
            coalesce(sum(s.stock_value), 0) AS stock_value,
            coalesce(sum(s.out_of_stock_count), 0) AS out_of_stock_count,
            coalesce(sum(s.low_stock_count), 0) AS low_stock_count
        FROM labels AS l
        LEFT JOIN per_store AS s ON s.inventory_health = l.inventory_health
        GROUP BY l.inventory_health, l.label_order
    ),

    attention AS (
        SELECT
            s.*,
            row_number() OVER (ORDER BY s.at_risk_pct DESC, s.store_id) AS priority
        FROM per_store AS s
        WHERE s.inventory_health IN ('Critical', 'Needs Attention')
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(p.ref_date, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'lowStockUnits', p.low_stock_units,
        'unknownStoreRowsExcluded', (
            SELECT count(*)
            FROM products.inventory AS v
            WHERE NOT EXISTS (SELECT 1 FROM stores.stores AS st WHERE st.store_id = v.store_id)
        ),
        'storesNeedingAttention', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'priority', a.priority,
                        'storeId', a.store_id,
                        'storeName', a.store_name,
                        'region', a.region,
                        'inventoryHealth', a.inventory_health,
                        'productsListed', a.products_listed,
                        'outOfStockCount', a.out_of_stock_count,
                        'lowStockCount', a.low_stock_count,
                        'atRiskPct', round(a.at_risk_pct, 2),
                        'stockValue', round(a.stock_value, 2)
                    )
                    ORDER BY a.priority
                )
                FROM attention AS a
                WHERE a.priority <= p.top_n
            ),
            '[]'::json
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'inventoryHealth', b.inventory_health,
                        'stores', b.stores,
                        'productsListed', b.products_listed,
                        'stockUnits', b.stock_units,
                        'stockValue', round(b.stock_value, 2),
                        'outOfStockCount', b.out_of_stock_count,
                        'lowStockCount', b.low_stock_count,
                        'atRiskPct', round(
                            (b.out_of_stock_count + b.low_stock_count)
                            / nullif(b.products_listed, 0)::numeric * 100, 2
                        )
                    )
                    ORDER BY b.label_order
                )
                FROM by_label AS b
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
