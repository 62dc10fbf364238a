-- analytics.fn_reference_date(): the data's own "today" — the latest order date.
-- Every window (last N days, churn inactivity, SLA age) is measured from this date, never from the
-- wall clock. The wall clock is used for one thing only: an order dated after the machine's current
-- date is a data error (reported by the accuracy checks) and does not move the reference date.
-- Cheap: an index on sales.orders (order_date) makes it a single index probe.
-- SECURITY DEFINER (with a fixed search_path): it runs with its owner's rights (the pipeline role,
-- which reads the source), so the reader role, which may not read the source tables, can still use
-- every view and export that calls it. Export functions that read source tables do the same.
CREATE OR REPLACE FUNCTION analytics.fn_reference_date()
RETURNS date
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        (SELECT max(o.order_date) FROM sales.orders AS o WHERE o.order_date <= current_date),
        (SELECT max(o.order_date) FROM sales.orders AS o)
    );
$$;
