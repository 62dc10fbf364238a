-- Indexes on source tables that the KPI queries use (each justified by EXPLAIN of a KPI query).
-- Indexes only: no column or constraint is added to the source schema. Idempotent.
--   orders (order_date): fn_reference_date() becomes one index probe; date-window KPIs scan a range.
--   order_items (order_id), payments (order_id), shipments (order_id), returns (order_id): joins to
--   orders in per-order aggregates (the source declares these FKs but PostgreSQL does not index them).
SET LOCAL ROLE NONE;
-- Creating an index needs the table's owner, which the pipeline role is not (it only reads the source
-- schemas, see roles.sql): this step runs as the session user (SET LOCAL ROLE NONE above, for this
-- transaction only) and creates only the missing indexes, so that a pipeline login that does not own
-- the tables re-runs it without error once the indexes exist.

-- The indexed tables (ACCESS SHARE, which SELECT also takes: none is dropped meanwhile).
LOCK TABLE sales.orders, sales.order_items, sales.payments, sales.shipments, sales.returns
    IN ACCESS SHARE MODE;

DO $$
DECLARE
    ix record;
BEGIN
    FOR ix IN
        SELECT *
          FROM (VALUES ('ix_rm_orders_order_date', 'orders', 'order_date'),
                       ('ix_rm_order_items_order_id', 'order_items', 'order_id'),
                       ('ix_rm_payments_order_id', 'payments', 'order_id'),
                       ('ix_rm_shipments_order_id', 'shipments', 'order_id'),
                       ('ix_rm_returns_order_id', 'returns', 'order_id')) AS v (index_name, table_name, column_name)
         WHERE to_regclass(format('sales.%I', v.index_name)) IS NULL
    LOOP
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON sales.%I (%I)',
                       ix.index_name, ix.table_name, ix.column_name);
    END LOOP;
END
$$;
