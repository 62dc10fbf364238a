-- Indexes on source tables that the KPI queries use (each justified by EXPLAIN of a KPI query).
-- Indexes only: no column or constraint is added to the source schema. Idempotent.
--   orders (order_date): fn_reference_date() becomes one index probe; date-window KPIs scan a range.
--   order_items (order_id), payments (order_id), shipments (order_id), returns (order_id): joins to
--   orders in per-order aggregates (the source declares these FKs but PostgreSQL does not index them).
CREATE INDEX IF NOT EXISTS ix_rm_orders_order_date ON sales.orders (order_date);
CREATE INDEX IF NOT EXISTS ix_rm_order_items_order_id ON sales.order_items (order_id);
CREATE INDEX IF NOT EXISTS ix_rm_payments_order_id ON sales.payments (order_id);
CREATE INDEX IF NOT EXISTS ix_rm_shipments_order_id ON sales.shipments (order_id);
CREATE INDEX IF NOT EXISTS ix_rm_returns_order_id ON sales.returns (order_id);
