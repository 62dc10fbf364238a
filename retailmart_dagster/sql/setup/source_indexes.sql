-- Indexes on source tables that the KPI queries use (each justified by EXPLAIN of a KPI query).
-- Indexes only: no column or constraint is added to the source schema. Idempotent.
--   orders (order_date): fn_reference_date() becomes one index probe; date-window KPIs scan a range.
--   order_items (order_id), payments (order_id), shipments (order_id), returns (order_id): joins to
--   orders in per-order aggregates (the source declares these FKs but PostgreSQL does not index them).
--   products.inventory (prod_id): the critical-inventory alert reads the stock of the top products in
--   every store (its key leads with store_id); without it each of its three readers per build (the
--   alert stack's row count, the alert sync, the alerts export) hashed all 926 k rows at scale 10:
--   150 -> 16 ms each.
SET LOCAL ROLE NONE;
-- Creating an index needs the table's owner, which the pipeline role is not (it only reads the source
-- schemas, see roles.sql): this step runs as the session user (SET LOCAL ROLE NONE above, for this
-- transaction only) and creates only the missing indexes, so that a pipeline login that does not own
-- the tables re-runs it without error once the indexes exist.

-- The indexed tables (ACCESS SHARE, which SELECT also takes: none is dropped meanwhile).
LOCK TABLE sales.orders, sales.order_items, sales.payments, sales.shipments, sales.returns,
    products.inventory
    IN ACCESS SHARE MODE;

DO $$
DECLARE
    ix record;
BEGIN
    FOR ix IN
        SELECT *
          FROM (VALUES ('sales', 'ix_rm_orders_order_date', 'orders', 'order_date'),
                       ('sales', 'ix_rm_order_items_order_id', 'order_items', 'order_id'),
                       ('sales', 'ix_rm_payments_order_id', 'payments', 'order_id'),
                       ('sales', 'ix_rm_shipments_order_id', 'shipments', 'order_id'),
                       ('sales', 'ix_rm_returns_order_id', 'returns', 'order_id'),
                       ('products', 'ix_rm_inventory_prod_id', 'inventory', 'prod_id'))
                AS v (schema_name, index_name, table_name, column_name)
         WHERE to_regclass(format('%I.%I', v.schema_name, v.index_name)) IS NULL
    LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I (%I)',
                       ix.index_name, ix.schema_name, ix.table_name, ix.column_name);
    END LOOP;
END
$$;
