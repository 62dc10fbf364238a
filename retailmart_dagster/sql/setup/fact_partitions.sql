-- analytics.fact_partitions: which day-partition of each fact table (sql/facts/) was loaded, from
-- source data with which fingerprint, and when. A fact's load statements compare the source's
-- fingerprint of every day with the one recorded here and reload only the days that differ, so a
-- daily refresh reloads one or two days instead of the whole history. A fact table whose SQL changed
-- is re-created and its rows here are deleted first (a full reload), with its '<fact>:source' row:
-- facts that keep one (fact_orders, fact_payment_days, fact_shipment_days) record there the count and
-- hash sum of their whole source table at their last load (fingerprint 'rows/hash', partition_date =
-- the latest order day then), which lets a load skip hashing the days that cannot have changed.
CREATE TABLE IF NOT EXISTS analytics.fact_partitions (
    fact_name      text        NOT NULL,
    partition_date date        NOT NULL,
    fingerprint    text        NOT NULL,
    row_count      bigint      NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fact_name, partition_date)
);
