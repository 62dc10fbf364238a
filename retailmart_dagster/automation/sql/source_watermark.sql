-- The new-source-data sensor's watermark (retailmart_dagster/automation/sensors.py): cheap enough to
-- run every few minutes — the latest order date and the row counts of the sales facts, plus the
-- latest inventory count date (stock changes do not add rows). Any change means new source data.
SELECT
    (SELECT max(o.order_date) FROM sales.orders AS o) AS latest_order_date,
    (SELECT count(*) FROM sales.orders) AS orders,
    (SELECT count(*) FROM sales.order_items) AS order_items,
    (SELECT count(*) FROM sales.payments) AS payments,
    (SELECT count(*) FROM sales.shipments) AS shipments,
    (SELECT count(*) FROM sales.returns) AS returns,
    (SELECT count(*) FROM customers.customers) AS customers,
    (SELECT max(i.last_updated) FROM products.inventory AS i) AS inventory_updated;
