-- analytics.mv_customer_reviews: how many reviews has each customer written, and how did they rate?
-- One row per customer with at least one review (customers.reviews) not dated after the reference
-- date (analytics.fn_reference_date()); a review without a date counts. Computed once per build,
-- beside the order facts: mv_customer_lifetime_value joins these rows instead of aggregating the
-- reviews itself, which took 0.5 s of its 1.8 s at scale 10 on the way from the order facts to the
-- customer KPIs and alerts (the longest chain of a daily refresh). Averages are kept unrounded.
-- Question: How many reviews has each customer written, and what rating do they give on average?
-- Owner: Customer analytics
-- Refresh: daily
-- KPI reviews_given: count(*) of the customer's reviews not dated after the reference date
-- KPI avg_rating_given: avg(rating) of those reviews
CREATE MATERIALIZED VIEW analytics.mv_customer_reviews AS
WITH params AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date
)

SELECT
    rv.cust_id,
    count(*) AS reviews_given,
    avg(rv.rating) AS avg_rating_given
FROM customers.reviews AS rv
CROSS JOIN params AS p
WHERE rv.review_date IS NULL OR rv.review_date <= p.ref_date
GROUP BY rv.cust_id;

CREATE UNIQUE INDEX ux_mv_customer_reviews ON analytics.mv_customer_reviews (cust_id);
