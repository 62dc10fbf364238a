-- analytics.fn_reference_date(): the data's own "today" — the latest order date.
-- Every window (last N days, churn inactivity, SLA age) is measured from this date, never from the
-- wall clock. The wall clock is used for one thing only: an order dated after the machine's current
-- date is a data error (reported by the accuracy checks) and does not move the reference date.
-- Cheap: an index on sales.orders (order_date) makes it a single index probe.
CREATE OR REPLACE FUNCTION analytics.fn_reference_date()
RETURNS date
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(
        (SELECT max(o.order_date) FROM sales.orders AS o WHERE o.order_date <= current_date),
        (SELECT max(o.order_date) FROM sales.orders AS o)
    );
$$;
