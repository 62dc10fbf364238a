-- analytics.vw_hourly_sales_pattern: at which hours of the day does RetailMart sell? NOT ANSWERABLE.
-- sales.orders.order_date is a date without a time of day (and no other sales table has a time), so
-- there is no hour to group by. The view is deliberately EMPTY (WHERE false): it keeps the columns a
-- dashboard expects and states the reason in `note`, instead of faking every order into "hour 0".
-- KPI orders: not available (orders have no time of day); always zero rows
-- KPI revenue: not available (orders have no time of day); always zero rows
CREATE VIEW analytics.vw_hourly_sales_pattern AS
SELECT
    NULL::int AS hour_of_day,
    NULL::bigint AS orders,
    NULL::numeric AS revenue,
    'Not available: sales.orders.order_date has no time of day, so sales cannot be split by hour.'::text
        AS note
WHERE false;
