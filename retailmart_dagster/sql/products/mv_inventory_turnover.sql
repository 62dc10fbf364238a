-- analytics.mv_inventory_turnover: how fast does each product sell, and how long will its stock last?
-- One row PER PRODUCT of products.products (never per product and stock level). Units sold = quantity
-- over the lines of sales orders (order_status not in config sales.excluded_order_statuses) dated in
-- the N days ending at the reference date (analytics.fn_reference_date()), N = config
-- products.turnover_window_days. Stock = the product's current stock over inventory rows of known
-- stores (one row per store, negative stock_qty counted as 0), read from analytics.mv_product_stock,
-- where it is summed once; the contract has
-- no stock history, so cover and turnover use the current stock.
-- Stock status, first match wins: 'Out of Stock' (current_stock = 0); 'Dead Stock' (stock but no unit
-- sold in the window); 'Low' (days_of_inventory < low_cover_days); 'Overstocked' (days_of_inventory >
-- overstock_cover_days); else 'Normal'. The cover cut-offs are relative to the catalogue's typical
-- cover, because the data's stock levels are not calibrated to its sales (the sample data holds one to
-- several years of cover, ten times more at scale 1 than at scale 0.05, so fixed day targets would call
-- every product Overstocked): typical_cover_days = median days_of_inventory of the products with stock
-- and sales in the window; low_cover_days = greatest(config products.min_cover_days, config
-- products.low_cover_ratio * typical); overstock_cover_days = config products.overstock_cover_ratio *
-- typical.
-- Units sold are read from the line-grain fact analytics.fact_product_days (lines of the orders of
-- analytics.fact_orders, per day, product and order status). Materialized because the
-- exports fn_export_products_inventory_status / _inventory_turnover and vw_inventory_status_summary
-- read it: computed once per build, the readers read stored rows.
-- Question: Which products are about to run out, which hold far too much stock, and which do not sell at all?
-- Owner: Product analytics
-- Refresh: daily
-- KPI units_sold_window: sum(quantity) of sales-order lines dated in (reference date - N, reference date]
-- KPI daily_velocity: units_sold_window / N (numeric division)
-- KPI current_stock: sum(greatest(stock_qty, 0)) over inventory rows of known stores
-- KPI stores_stocking: count of those rows with stock_qty > 0
-- KPI stock_value: current_stock * products.price
-- KPI days_of_inventory: current_stock / daily_velocity; NULL when nothing sold in the window
-- KPI turnover_ratio: units_sold_window / current_stock (window turnover on current stock); NULL without stock
-- KPI typical_cover_days: percentile_cont(0.5) of days_of_inventory over products with stock > 0 and sales in the window
-- KPI stock_status: Out of Stock / Dead Stock / Low / Overstocked / Normal, as described above
CREATE MATERIALIZED VIEW analytics.mv_inventory_turnover AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('products.turnover_window_days') AS window_days,
        analytics.fn_config_int('products.min_cover_days') AS min_cover_days,
        analytics.fn_config_numeric('products.low_cover_ratio') AS low_cover_ratio,
        analytics.fn_config_numeric('products.overstock_cover_ratio') AS overstock_cover_ratio
),

-- Units per product of the window's days, summed from the line-grain fact
-- analytics.fact_product_days (quantity per day, product and order status): the window's order lines
-- are not looked up one order at a time (205 k orders, 590 k lines at scale 10: 0.4 s).
window_sales AS (
    SELECT
        d.prod_id,
        sum(d.units)::bigint AS units_sold
    FROM analytics.fact_product_days AS d
    CROSS JOIN params AS p
    WHERE d.order_date > p.ref_date - p.window_days
      AND d.order_date <= p.ref_date
      AND NOT coalesce(d.order_status = ANY (p.excluded_statuses), false)
    GROUP BY d.prod_id
),

per_product AS (
    SELECT
        pr.prod_id,
        pr.prod_name,
        pr.category,
        pr.brand,
        pr.price,
        coalesce(ws.units_sold, 0) AS units_sold_window,
        coalesce(ws.units_sold, 0) / p.window_days::numeric AS daily_velocity,
        coalesce(st.current_stock, 0) AS current_stock,
        coalesce(st.stores_stocking, 0) AS stores_stocking
    FROM products.products AS pr
    CROSS JOIN params AS p
    LEFT JOIN window_sales AS ws ON ws.prod_id = pr.prod_id
    LEFT JOIN analytics.mv_product_stock AS st ON st.prod_id = pr.prod_id
),

with_cover AS (
    SELECT
        pp.*,
        pp.current_stock / nullif(pp.daily_velocity, 0) AS days_of_inventory
    FROM per_product AS pp
),

cut_offs AS (
    SELECT
        t.typical_cover_days,
        greatest(p.min_cover_days, p.low_cover_ratio * t.typical_cover_days) AS low_cover_days,
        p.overstock_cover_ratio * t.typical_cover_days AS overstock_cover_days
    FROM params AS p
    CROSS JOIN (
        SELECT
            percentile_cont(0.5) WITHIN GROUP (
                ORDER BY w.days_of_inventory
            )::numeric AS typical_cover_days
        FROM with_cover AS w
        WHERE w.current_stock > 0 AND w.units_sold_window > 0
    ) AS t
),

classified AS (
    SELECT
        w.*,
        CASE
            WHEN w.current_stock = 0 THEN 'Out of Stock'
            WHEN w.units_sold_window = 0 THEN 'Dead Stock'
            WHEN w.days_of_inventory < c.low_cover_days THEN 'Low'
            WHEN w.days_of_inventory > c.overstock_cover_days THEN 'Overstocked'
            ELSE 'Normal'
        END AS stock_status
    FROM with_cover AS w
    CROSS JOIN cut_offs AS c
)

SELECT
    k.prod_id,
    k.prod_name,
    k.category,
    k.brand,
    k.price AS list_price,
    p.window_days,
    p.ref_date - p.window_days + 1 AS window_start,
    p.ref_date AS window_end,
    k.units_sold_window,
    round(k.daily_velocity, 4) AS daily_velocity,
    k.current_stock,
    k.stores_stocking,
    round(k.current_stock * k.price, 2) AS stock_value,
    round(k.days_of_inventory, 2) AS days_of_inventory,
    round(k.units_sold_window / nullif(k.current_stock, 0)::numeric, 4) AS turnover_ratio,
    round(c.typical_cover_days, 2) AS typical_cover_days,
    round(c.low_cover_days, 2) AS low_cover_days,
    round(c.overstock_cover_days, 2) AS overstock_cover_days,
    k.stock_status,
    CASE k.stock_status
        WHEN 'Out of Stock' THEN 1
        WHEN 'Low' THEN 2
        WHEN 'Normal' THEN 3
        WHEN 'Overstocked' THEN 4
        WHEN 'Dead Stock' THEN 5
    END AS status_order
FROM classified AS k
CROSS JOIN params AS p
CROSS JOIN cut_offs AS c;

CREATE UNIQUE INDEX ux_mv_inventory_turnover ON analytics.mv_inventory_turnover (prod_id);
