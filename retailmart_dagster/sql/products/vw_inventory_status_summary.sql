-- analytics.vw_inventory_status_summary: how many products, units and how much stock value per stock status?
-- One row per stock status of analytics.mv_inventory_turnover, in the order Out of Stock, Low, Normal,
-- Overstocked, Dead Stock (a status without products is a row of zeros). Counts products (one row per
-- product in mv_inventory_turnover), so units are never multiplied by store rows.
-- Question: How much of the catalogue, and of the stock, is out of stock, low, normal, overstocked or dead?
-- Owner: Product analytics
-- Refresh: daily
-- KPI products: count(*) of products with the status
-- KPI product_share_pct: products / all products * 100
-- KPI stock_units: sum(current_stock) of those products
-- KPI stock_unit_share_pct: stock_units / all stock units * 100
-- KPI stock_value: sum(stock_value) of those products (current list price)
-- KPI units_sold_window: sum(units_sold_window) of those products (last N days, N = config products.turnover_window_days)
CREATE VIEW analytics.vw_inventory_status_summary AS
WITH statuses AS (
    SELECT
        s.stock_status,
        s.status_order
    FROM (
        VALUES
            ('Out of Stock', 1),
            ('Low', 2),
            ('Normal', 3),
            ('Overstocked', 4),
            ('Dead Stock', 5)
    ) AS s (stock_status, status_order)
),

by_status AS (
    SELECT
        t.stock_status,
        count(*) AS products,
        sum(t.current_stock) AS stock_units,
        sum(t.stock_value) AS stock_value,
        sum(t.units_sold_window) AS units_sold_window
    FROM analytics.mv_inventory_turnover AS t
    GROUP BY t.stock_status
),

totals AS (
    SELECT
        sum(b.products) AS products,
        sum(b.stock_units) AS stock_units
    FROM by_status AS b
)

SELECT
    s.stock_status,
    s.status_order,
    coalesce(b.products, 0) AS products,
    round(coalesce(b.products, 0) / nullif(t.products, 0)::numeric * 100, 2) AS product_share_pct,
    coalesce(b.stock_units, 0) AS stock_units,
    round(coalesce(b.stock_units, 0) / nullif(t.stock_units, 0)::numeric * 100, 2)
        AS stock_unit_share_pct,
    coalesce(b.stock_value, 0) AS stock_value,
    coalesce(b.units_sold_window, 0) AS units_sold_window
FROM statuses AS s
CROSS JOIN totals AS t
LEFT JOIN by_status AS b ON b.stock_status = s.stock_status;
