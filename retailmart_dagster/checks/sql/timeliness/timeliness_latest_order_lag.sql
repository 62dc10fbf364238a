-- The newest order is older than the configured lag (quality.source_max_lag_days) measured against
-- the run's clock: the source has stopped receiving orders. This is the one check that uses the
-- wall clock, on purpose: the run sets it (setting retailmart.quality_clock, a timestamp; unset = now())
-- so that a replay can evaluate "as of" another moment. One row: the table as a whole.
-- Table: sales.orders
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.timeliness_latest_order_lag') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_int('quality.source_max_lag_days') AS max_lag_days,
           (coalesce(nullif(current_setting('retailmart.quality_clock', true), '')::timestamptz, now())
               AT TIME ZONE 'UTC')::date AS clock_date
),
measured AS (
    SELECT (SELECT max(o.order_date) FROM sales.orders AS o) AS latest_order_date,
           p.clock_date,
           p.max_lag_days
      FROM params AS p
),
failing AS (
    SELECT m.latest_order_date
      FROM measured AS m
     WHERE m.latest_order_date IS NULL
        OR m.clock_date - m.latest_order_date > m.max_lag_days
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       1::bigint AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'latest_order_date=' || coalesce(f.latest_order_date::text, 'none')
               FROM failing AS f LIMIT p.sample_limit) AS sample_keys,
       (SELECT jsonb_build_object(
                   'latest_order_date', m.latest_order_date,
                   'clock_date', m.clock_date,
                   'lag_days', m.clock_date - m.latest_order_date,
                   'max_lag_days', m.max_lag_days)
          FROM measured AS m) AS details
  FROM params AS p;
