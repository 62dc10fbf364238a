-- analytics.fact_partitions: which day-partition of each fact table (sql/facts/) was loaded, from
-- source data with which fingerprint, and when. A fact's load statements compare the source's
-- fingerprint of every day with the one recorded here and reload only the days that differ, so a
-- daily refresh reloads one or two days instead of the whole history. A fact table whose SQL changed
-- is re-created and its rows here are deleted first (a full reload). The payment and shipment facts
-- also keep one row with partition_date -infinity: the count and hash sum of their whole source table
-- at their last load (fingerprint 'rows/hash'), which lets a load skip hashing the unchanged days.
CREATE TABLE IF NOT EXISTS analytics.fact_partitions (
    fact_name      text        NOT NULL,
    partition_date date        NOT NULL,
    fingerprint    text        NOT NULL,
    row_count      bigint      NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fact_name, partition_date)
);
