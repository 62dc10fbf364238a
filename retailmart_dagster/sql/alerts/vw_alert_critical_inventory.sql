-- analytics.vw_alert_critical_inventory: business alert "critical_inventory" — which best-selling
-- products are running out in a store?
-- One row (one alert) per store x product where the product is among the top
-- config alerts.inventory_top_products products by net revenue (analytics.mv_top_products.revenue_rank,
-- unique and deterministic; products never sold are not top products) and the store's stock
-- (products.inventory.stock_qty, one row per store and product) is below config
-- alerts.critical_stock_level units. Only inventory rows of stores that exist in stores.stores count
-- (inventory.store_id has no FK); a store without an inventory row for the product does not carry it
-- and raises nothing; a NULL stock_qty is unknown (reported by the data-quality checks), not an alert;
-- a negative stock_qty is a data error and counts as 0 (out of stock).
-- Severity: critical when out of stock (stock 0), else warning. Alert key: store:<id>/product:<id>.
-- Question: Which of our best-selling products are (almost) out of stock in which store?
-- Owner: Business alerts
-- Refresh: daily
-- KPI stock_qty: greatest(products.inventory.stock_qty, 0) of the store and product
-- KPI metric_value: stock_qty; threshold_value: alerts.critical_stock_level (fires when stock_qty < it)
-- KPI urgency: (critical level - stock_qty) / critical level (1 = out of stock)
CREATE VIEW analytics.vw_alert_critical_inventory AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('alerts.inventory_top_products') AS top_n,
        analytics.fn_config_int('alerts.critical_stock_level') AS critical_level
),

top_products AS (
    SELECT
        t.prod_id,
        t.prod_name,
        t.category,
        t.revenue_rank,
        t.net_revenue
    FROM analytics.mv_top_products AS t
    CROSS JOIN params AS p
    WHERE t.revenue_rank <= p.top_n
      AND t.net_revenue > 0
),

low_stock AS (
    SELECT
        i.store_id,
        s.store_name,
        s.city,
        i.prod_id,
        greatest(i.stock_qty, 0) AS stock_qty,
        i.last_updated
    FROM products.inventory AS i
    JOIN stores.stores AS s ON s.store_id = i.store_id
    JOIN top_products AS tp ON tp.prod_id = i.prod_id
    CROSS JOIN params AS p
    WHERE i.stock_qty < p.critical_level
)

SELECT
    'critical_inventory'::text AS alert_type,
    format('store:%s/product:%s', ls.store_id, ls.prod_id) AS alert_key,
    CASE WHEN ls.stock_qty = 0 THEN 'critical' ELSE 'warning' END AS severity,
    CASE
        WHEN ls.stock_qty = 0 THEN format('Out of stock: %s at %s', tp.prod_name, ls.store_name)
        ELSE format('Low stock: %s at %s', tp.prod_name, ls.store_name)
    END AS title,
    format(
        '%s unit(s) of %s (%s, #%s by net revenue) left at %s (%s, store %s); critical level: below %s units. Stock counted %s.',
        ls.stock_qty,
        tp.prod_name,
        tp.category,
        tp.revenue_rank,
        ls.store_name,
        ls.city,
        ls.store_id,
        p.critical_level,
        coalesce(to_char(ls.last_updated, 'YYYY-MM-DD'), 'on an unknown date')
    ) AS detail,
    ls.stock_qty::numeric AS metric_value,
    p.critical_level::numeric AS threshold_value,
    round((p.critical_level - ls.stock_qty) / nullif(p.critical_level, 0)::numeric, 4) AS urgency,
    p.ref_date AS reference_date,
    ls.store_id,
    ls.store_name,
    ls.prod_id,
    tp.prod_name,
    tp.category,
    tp.revenue_rank,
    ls.stock_qty,
    ls.last_updated
FROM low_stock AS ls
JOIN top_products AS tp ON tp.prod_id = ls.prod_id
CROSS JOIN params AS p;
