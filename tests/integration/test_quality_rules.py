"""Every data-quality check on real data: all pass on clean generated data, and each one finds exactly
the rows a targeted change breaks (and only counts what its rule says: records, boundaries, NULLs).

The changes are made on the shared KPI database inside a transaction that is always rolled back, so
no other test sees them. Declared foreign keys are switched off for the transaction
(session_replication_role = replica) to create the orphans real data can hold.
"""

import datetime as dt
import json
from collections.abc import Iterator

import psycopg
import pytest

from retailmart_dagster.checks import evaluate as evaluate_module
from retailmart_dagster.checks.evaluate import (
    CLOCK_SETTING,
    CheckOutcome,
    _siblings,
    clock_value,
    evaluate_checks,
    run_check,
)
from retailmart_dagster.checks.registry import load_checks
from retailmart_dagster.config import config_value
from tests.conftest import KPI_END_DATE

pytestmark = pytest.mark.integration

CHECKS = {c.name: c for c in load_checks()}
END = KPI_END_DATE.isoformat()


def first(table: str, key: str, n: int, where: str = "", offset: int = 0) -> str:
    """SQL: the first n keys of table (optionally filtered), skipping offset."""
    return f"(SELECT {key} FROM {table} {where} ORDER BY {key} LIMIT {n} OFFSET {offset})"


def one(table: str, key: str, where: str = "", offset: int = 0) -> str:
    return first(table, key, 1, where, offset)


ORDERS, ITEMS, PAYS, SHIPS, RETS = (
    "sales.orders",
    "sales.order_items",
    "sales.payments",
    "sales.shipments",
    "sales.returns",
)
LINE_NET = "round(i.quantity * i.unit_price * (1 - i.discount / 100), 2)"
PENDING_ORDER = one(ORDERS, "order_id", "WHERE order_status = 'Pending'")

# check -> (statements that break it, records the check must find in addition to the clean baseline)
MUTATIONS: dict[str, tuple[list[str], int]] = {
    # completeness
    "completeness_order_customer": (
        [f"UPDATE {ORDERS} SET cust_id = NULL WHERE order_id IN {first(ORDERS, 'order_id', 3)}"],
        3,
    ),
    "completeness_order_store": (
        [f"UPDATE {ORDERS} SET store_id = NULL WHERE order_id IN {first(ORDERS, 'order_id', 2)}"],
        2,
    ),
    "completeness_order_values": (
        [
            f"UPDATE {ORDERS} SET order_date = NULL WHERE order_id = {one(ORDERS, 'order_id')}",
            f"UPDATE {ORDERS} SET order_status = ' ' WHERE order_id = {one(ORDERS, 'order_id', offset=1)}",
            f"UPDATE {ORDERS} SET total_amount = NULL WHERE order_id = {one(ORDERS, 'order_id', offset=2)}",
        ],
        3,
    ),
    "completeness_orders_without_items": (
        [f"DELETE FROM {ITEMS} WHERE order_id IN {first(ORDERS, 'order_id', 2)}"],
        2,
    ),
    "completeness_order_item_price": (
        [
            f"UPDATE {ITEMS} SET unit_price = NULL WHERE order_item_id IN {first(ITEMS, 'order_item_id', 4)}"
        ],
        4,
    ),
    "completeness_order_item_values": (
        [
            f"UPDATE {ITEMS} SET quantity = NULL WHERE order_item_id = {one(ITEMS, 'order_item_id')}",
            f"UPDATE {ITEMS} SET discount = NULL WHERE order_item_id = {one(ITEMS, 'order_item_id', offset=1)}",
        ],
        2,
    ),
    "completeness_payment_values": (
        [
            f"UPDATE {PAYS} SET payment_mode = NULL WHERE payment_id IN {first(PAYS, 'payment_id', 2)}"
        ],
        2,
    ),
    "completeness_delivered_shipment_date": (
        [
            f"UPDATE {SHIPS} SET delivered_date = NULL WHERE shipment_id IN "
            + first(SHIPS, "shipment_id", 3, "WHERE status = 'Delivered'")
        ],
        3,
    ),
    "completeness_shipment_values": (
        [
            f"UPDATE {SHIPS} SET courier_name = '' WHERE shipment_id IN {first(SHIPS, 'shipment_id', 2)}"
        ],
        2,
    ),
    "completeness_return_values": (
        [f"UPDATE {RETS} SET return_date = NULL WHERE return_id IN {first(RETS, 'return_id', 2)}"],
        2,
    ),
    "completeness_customer_name": (
        [
            "UPDATE customers.customers SET full_name = '  ' WHERE cust_id IN "
            + first("customers.customers", "cust_id", 2)
        ],
        2,
    ),
    "completeness_customer_profile": (
        [
            "UPDATE customers.customers SET gender = NULL WHERE cust_id = "
            + one("customers.customers", "cust_id"),
            "UPDATE customers.customers SET region_name = NULL WHERE cust_id = "
            + one("customers.customers", "cust_id", offset=1),
        ],
        2,
    ),
    "completeness_product_category": (
        [
            "UPDATE products.products SET category = NULL WHERE prod_id IN "
            + first("products.products", "prod_id", 2)
        ],
        2,
    ),
    "completeness_inventory_values": (
        [
            "UPDATE products.inventory SET stock_qty = NULL WHERE (store_id, prod_id) IN "
            "(SELECT store_id, prod_id FROM products.inventory ORDER BY 1, 2 LIMIT 1)",
            "UPDATE products.inventory SET last_updated = NULL WHERE (store_id, prod_id) IN "
            "(SELECT store_id, prod_id FROM products.inventory ORDER BY 1, 2 LIMIT 1 OFFSET 1)",
        ],
        2,
    ),
    # accuracy
    "accuracy_order_amount_not_positive": (
        [
            f"UPDATE {ORDERS} SET total_amount = 0 WHERE order_id = {one(ORDERS, 'order_id')}",
            f"UPDATE {ORDERS} SET total_amount = -5 WHERE order_id = {one(ORDERS, 'order_id', offset=1)}",
        ],
        2,
    ),
    "accuracy_order_date_after_reference": (
        [
            f"UPDATE {ORDERS} SET order_date = current_date + 10 WHERE order_id IN "
            + first(ORDERS, "order_id", 2)
        ],
        2,
    ),
    "accuracy_order_item_quantity_not_positive": (
        [
            f"UPDATE {ITEMS} SET quantity = 0 WHERE order_item_id = {one(ITEMS, 'order_item_id')}",
            f"UPDATE {ITEMS} SET quantity = -2 WHERE order_item_id = {one(ITEMS, 'order_item_id', offset=1)}",
        ],
        2,
    ),
    "accuracy_order_item_price_not_positive": (
        [
            f"UPDATE {ITEMS} SET unit_price = 0 WHERE order_item_id IN {first(ITEMS, 'order_item_id', 2)}"
        ],
        2,
    ),
    "accuracy_order_item_discount_out_of_range": (
        [
            f"UPDATE {ITEMS} SET discount = -5 WHERE order_item_id = {one(ITEMS, 'order_item_id')}",
            f"UPDATE {ITEMS} SET discount = 101 WHERE order_item_id = {one(ITEMS, 'order_item_id', offset=1)}",
            # the boundaries are valid
            f"UPDATE {ITEMS} SET discount = 100 WHERE order_item_id = {one(ITEMS, 'order_item_id', offset=2)}",
        ],
        2,
    ),
    "accuracy_payment_amount_not_positive": (
        [f"UPDATE {PAYS} SET amount = 0 WHERE payment_id IN {first(PAYS, 'payment_id', 2)}"],
        2,
    ),
    "accuracy_refund_amount_negative": (
        [
            f"UPDATE {RETS} SET refund_amount = -1 WHERE return_id IN {first(RETS, 'return_id', 2)}",
            f"UPDATE {RETS} SET refund_amount = 0 WHERE return_id = {one(RETS, 'return_id', offset=2)}",
        ],
        2,
    ),
    "accuracy_refund_over_paid": (
        [
            f"UPDATE {RETS} AS r SET refund_amount = l.paid + 5 FROM (SELECT i.order_id, i.prod_id, "
            f"sum({LINE_NET}) AS paid FROM {ITEMS} AS i GROUP BY 1, 2) AS l "
            "WHERE l.order_id = r.order_id AND l.prod_id = r.prod_id AND r.return_id IN "
            + first(RETS, "return_id", 2),
            # within the tolerance: not counted
            f"UPDATE {RETS} AS r SET refund_amount = l.paid + 0.01 FROM (SELECT i.order_id, "
            f"i.prod_id, sum({LINE_NET}) AS paid FROM {ITEMS} AS i GROUP BY 1, 2) AS l "
            "WHERE l.order_id = r.order_id AND l.prod_id = r.prod_id AND r.return_id = "
            + one(RETS, "return_id", offset=2),
        ],
        2,
    ),
    "accuracy_shipment_before_order": (
        [
            f"UPDATE {SHIPS} AS s SET shipped_date = o.order_date - 1 FROM {ORDERS} AS o "
            "WHERE o.order_id = s.order_id AND s.shipment_id IN " + first(SHIPS, "shipment_id", 2)
        ],
        2,
    ),
    "accuracy_delivery_before_shipment": (
        [
            f"UPDATE {SHIPS} SET delivered_date = shipped_date - 1 WHERE shipment_id IN "
            + first(SHIPS, "shipment_id", 2, "WHERE delivered_date IS NOT NULL")
        ],
        2,
    ),
    "accuracy_customer_age_out_of_range": (
        [
            "UPDATE customers.customers SET age = 15 WHERE cust_id = "
            + one("customers.customers", "cust_id"),
            "UPDATE customers.customers SET age = 101 WHERE cust_id = "
            + one("customers.customers", "cust_id", offset=1),
            # the configured bounds themselves are plausible
            "UPDATE customers.customers SET age = 16 WHERE cust_id = "
            + one("customers.customers", "cust_id", offset=2),
            "UPDATE customers.customers SET age = 100 WHERE cust_id = "
            + one("customers.customers", "cust_id", offset=3),
        ],
        2,
    ),
    "accuracy_review_rating_out_of_range": (
        [
            "ALTER TABLE customers.reviews DROP CONSTRAINT reviews_rating_check",
            "UPDATE customers.reviews SET rating = 0 WHERE review_id = "
            + one("customers.reviews", "review_id"),
            "UPDATE customers.reviews SET rating = 6 WHERE review_id = "
            + one("customers.reviews", "review_id", offset=1),
        ],
        2,
    ),
    "accuracy_product_price_not_positive": (
        [
            "UPDATE products.products SET price = 0 WHERE prod_id IN "
            + first("products.products", "prod_id", 2)
        ],
        2,
    ),
    "accuracy_inventory_stock_negative": (
        [
            "UPDATE products.inventory SET stock_qty = -1 WHERE (store_id, prod_id) IN "
            "(SELECT store_id, prod_id FROM products.inventory ORDER BY 1, 2 LIMIT 2)",
        ],
        2,
    ),
    "accuracy_promotion_discount_out_of_range": (
        [
            "UPDATE products.promotions SET discount_percent = 120 WHERE promo_id IN "
            + first("products.promotions", "promo_id", 2)
        ],
        2,
    ),
    "accuracy_store_expense_amount_negative": (
        [
            "UPDATE stores.expenses SET amount = -10 WHERE expense_id IN "
            + first("stores.expenses", "expense_id", 2)
        ],
        2,
    ),
    "accuracy_finance_expense_amount_negative": (
        [
            "UPDATE finance.expenses SET amount = -10 WHERE expense_id IN "
            + first("finance.expenses", "expense_id", 2)
        ],
        2,
    ),
    "accuracy_employee_salary_not_positive": (
        [
            "UPDATE stores.employees SET salary = 0 WHERE emp_id IN "
            + first("stores.employees", "emp_id", 2)
        ],
        2,
    ),
    "accuracy_ad_spend_negative_values": (
        [
            "UPDATE marketing.ads_spend SET clicks = -1 WHERE spend_id = "
            + one("marketing.ads_spend", "spend_id"),
            "UPDATE marketing.ads_spend SET amount = -1 WHERE spend_id = "
            + one("marketing.ads_spend", "spend_id", offset=1),
        ],
        2,
    ),
    # consistency: orphans (declared references switched off for the transaction)
    "consistency_orphan_orders": (
        [
            f"UPDATE {ORDERS} SET cust_id = 999999 WHERE order_id = {one(ORDERS, 'order_id')}",
            f"UPDATE {ORDERS} SET store_id = 999999 WHERE order_id = {one(ORDERS, 'order_id', offset=1)}",
            # both parents missing: one failing order, not two
            f"UPDATE {ORDERS} SET cust_id = 999999, store_id = 999999"
            f" WHERE order_id = {one(ORDERS, 'order_id', offset=2)}",
        ],
        3,
    ),
    "consistency_orphan_order_items": (
        [
            f"UPDATE {ITEMS} SET order_id = 999999 WHERE order_item_id = {one(ITEMS, 'order_item_id')}",
            f"UPDATE {ITEMS} SET prod_id = 999999 WHERE order_item_id = "
            + one(ITEMS, "order_item_id", offset=1),
        ],
        2,
    ),
    "consistency_orphan_payments": (
        [f"UPDATE {PAYS} SET order_id = 999999 WHERE payment_id IN {first(PAYS, 'payment_id', 2)}"],
        2,
    ),
    "consistency_orphan_shipments": (
        [
            f"UPDATE {SHIPS} SET order_id = 999999 WHERE shipment_id IN {first(SHIPS, 'shipment_id', 2)}"
        ],
        2,
    ),
    "consistency_orphan_returns": (
        [
            f"UPDATE {RETS} SET order_id = 999999 WHERE return_id = {one(RETS, 'return_id')}",
            f"UPDATE {RETS} SET prod_id = 999999 WHERE return_id = {one(RETS, 'return_id', offset=1)}",
        ],
        2,
    ),
    "consistency_orphan_reviews": (
        [
            "UPDATE customers.reviews SET prod_id = 999999 WHERE review_id = "
            + one("customers.reviews", "review_id"),
            "UPDATE customers.reviews SET cust_id = 999999 WHERE review_id = "
            + one("customers.reviews", "review_id", offset=1),
        ],
        2,
    ),
    "consistency_orphan_inventory": (
        [
            "UPDATE products.inventory SET store_id = 999999 WHERE (store_id, prod_id) IN "
            "(SELECT store_id, prod_id FROM products.inventory ORDER BY 1, 2 LIMIT 1)",
            "UPDATE products.inventory SET prod_id = 999999 WHERE (store_id, prod_id) IN "
            "(SELECT store_id, prod_id FROM products.inventory WHERE store_id <> 999999 "
            "ORDER BY 1, 2 LIMIT 1)",
        ],
        2,
    ),
    "consistency_orphan_addresses": (
        [
            "UPDATE customers.addresses SET cust_id = 999999 WHERE address_id IN "
            + first("customers.addresses", "address_id", 2)
        ],
        2,
    ),
    "consistency_orphan_loyalty_points": (
        [
            "UPDATE customers.loyalty_points SET cust_id = cust_id + 900000 WHERE cust_id IN "
            + first("customers.loyalty_points", "cust_id", 2)
        ],
        2,
    ),
    "consistency_orphan_employees": (
        [
            "UPDATE stores.employees SET dept_id = 999 WHERE emp_id = "
            + one("stores.employees", "emp_id"),
            "UPDATE stores.employees SET store_id = 999999 WHERE emp_id = "
            + one("stores.employees", "emp_id", offset=1),
        ],
        2,
    ),
    "consistency_orphan_store_expenses": (
        [
            "UPDATE stores.expenses SET store_id = 999999 WHERE expense_id IN "
            + first("stores.expenses", "expense_id", 2)
        ],
        2,
    ),
    "consistency_orphan_finance_expenses": (
        [
            "UPDATE finance.expenses SET store_id = 999999 WHERE expense_id IN "
            + first("finance.expenses", "expense_id", 2)
        ],
        2,
    ),
    "consistency_orphan_revenue_summary": (
        [
            "UPDATE finance.revenue_summary SET store_id = 999999 WHERE (store_id, summary_date) IN "
            "(SELECT store_id, summary_date FROM finance.revenue_summary ORDER BY 1, 2 LIMIT 2)"
        ],
        2,
    ),
    "consistency_orphan_attendance": (
        [
            "UPDATE hr.attendance SET emp_id = 999999 WHERE (emp_id, date) IN "
            "(SELECT emp_id, date FROM hr.attendance ORDER BY 1, 2 LIMIT 2)"
        ],
        2,
    ),
    "consistency_orphan_salary_history": (
        [
            "UPDATE hr.salary_history SET emp_id = 999999 WHERE (emp_id, effective_date) IN "
            "(SELECT emp_id, effective_date FROM hr.salary_history ORDER BY 1, 2 LIMIT 2)"
        ],
        2,
    ),
    "consistency_orphan_ads_spend": (
        [
            "UPDATE marketing.ads_spend SET campaign_id = 999999 WHERE spend_id IN "
            + first("marketing.ads_spend", "spend_id", 2)
        ],
        2,
    ),
    "consistency_orphan_email_clicks": (
        [
            "UPDATE marketing.email_clicks SET cust_id = 999999 WHERE email_id = "
            + one("marketing.email_clicks", "email_id"),
            "UPDATE marketing.email_clicks SET campaign_id = 999999 WHERE email_id = "
            + one("marketing.email_clicks", "email_id", offset=1),
        ],
        2,
    ),
    "consistency_orphan_products": (
        [
            "UPDATE products.products SET supplier_id = 999999 WHERE prod_id IN "
            + first("products.products", "prod_id", 2)
        ],
        2,
    ),
    "consistency_product_category_brand_unknown": (
        [
            "UPDATE products.products SET category = 'Nope' WHERE prod_id = "
            + one("products.products", "prod_id"),
            "UPDATE products.products SET brand = 'Nope' WHERE prod_id = "
            + one("products.products", "prod_id", offset=1),
        ],
        2,
    ),
    "consistency_customer_region_unknown": (
        [
            "UPDATE customers.customers SET region_name = 'Atlantis' WHERE cust_id IN "
            + first("customers.customers", "cust_id", 2)
        ],
        2,
    ),
    "consistency_store_region_unknown": (
        [
            "UPDATE stores.stores SET region = 'Atlantis' WHERE store_id IN "
            + first("stores.stores", "store_id", 2)
        ],
        2,
    ),
    # consistency: rules between columns and tables
    "consistency_email_clicked_not_opened": (
        [
            "UPDATE marketing.email_clicks SET clicked = true, opened = false WHERE email_id = "
            + one("marketing.email_clicks", "email_id"),
            "UPDATE marketing.email_clicks SET clicked = true, opened = NULL WHERE email_id = "
            + one("marketing.email_clicks", "email_id", offset=1),
        ],
        2,
    ),
    "consistency_ad_conversions_over_clicks": (
        [
            "UPDATE marketing.ads_spend SET conversions = clicks + 1 WHERE spend_id IN "
            + first("marketing.ads_spend", "spend_id", 2)
        ],
        2,
    ),
    "consistency_order_total_mismatch": (
        [
            f"UPDATE {ORDERS} SET total_amount = total_amount + 1 WHERE order_id IN "
            + first(ORDERS, "order_id", 2),
            # a paisa is within the tolerance
            f"UPDATE {ORDERS} SET total_amount = total_amount + 0.01 WHERE order_id = "
            + one(ORDERS, "order_id", offset=2),
        ],
        2,
    ),
    "consistency_payment_amount_mismatch": (
        [
            f"UPDATE {PAYS} SET amount = amount + 1 WHERE payment_id IN {first(PAYS, 'payment_id', 2)}"
        ],
        2,
    ),
    "consistency_order_shipment_status": (
        [
            # a delivered order whose shipment is still in transit
            f"UPDATE {SHIPS} SET status = 'Shipped' WHERE order_id = "
            + one(ORDERS, "order_id", "WHERE order_status = 'Delivered'"),
            # a pending order with a shipment
            f"INSERT INTO {SHIPS} (shipment_id, order_id, courier_name, shipped_date, status) "
            f"SELECT max(s.shipment_id) + 1, {PENDING_ORDER}, 'X', DATE '{END}', 'Shipped' "
            f"FROM {SHIPS} AS s",
            # a shipped order without its shipment
            f"DELETE FROM {SHIPS} WHERE order_id = "
            + one(ORDERS, "order_id", "WHERE order_status = 'Shipped'"),
        ],
        3,
    ),
    "consistency_return_of_undelivered_order": (
        [
            f"UPDATE {ORDERS} SET order_status = 'Processing' WHERE order_id IN (SELECT order_id "
            f"FROM {RETS} GROUP BY order_id HAVING count(*) = 1 ORDER BY order_id LIMIT 2)"
        ],
        2,
    ),
    "consistency_return_without_order_line": (
        [
            f"UPDATE {RETS} AS r SET prod_id = (SELECT min(p.prod_id) FROM products.products AS p "
            f"WHERE NOT EXISTS (SELECT 1 FROM {ITEMS} AS i WHERE i.order_id = r.order_id "
            "AND i.prod_id = p.prod_id)) WHERE r.return_id IN " + first(RETS, "return_id", 2)
        ],
        2,
    ),
    "consistency_revenue_summary_net_profit": (
        [
            "UPDATE finance.revenue_summary SET net_profit = net_profit + 1 WHERE (store_id, "
            "summary_date) IN (SELECT store_id, summary_date FROM finance.revenue_summary "
            "ORDER BY 1, 2 LIMIT 2)"
        ],
        2,
    ),
    "consistency_revenue_summary_sales": (
        [
            "UPDATE finance.revenue_summary SET total_sales = total_sales + 1, net_profit = "
            "net_profit + 1 WHERE (store_id, summary_date) IN (SELECT store_id, summary_date "
            "FROM finance.revenue_summary ORDER BY 1, 2 LIMIT 2)"
        ],
        2,
    ),
    # timeliness
    "timeliness_latest_order_lag": (
        [f"SELECT set_config('{CLOCK_SETTING}', '{KPI_END_DATE + dt.timedelta(days=3)}', true)"],
        1,
    ),
    "timeliness_stale_inventory": (
        [
            "UPDATE products.inventory SET last_updated = analytics.fn_reference_date() - 31 "
            "WHERE (store_id, prod_id) IN (SELECT store_id, prod_id FROM products.inventory "
            "ORDER BY 1, 2 LIMIT 2)",
            # exactly the configured age is not stale yet
            "UPDATE products.inventory SET last_updated = analytics.fn_reference_date() - 30 "
            "WHERE (store_id, prod_id) IN (SELECT store_id, prod_id FROM products.inventory "
            "ORDER BY 1, 2 LIMIT 1 OFFSET 2)",
        ],
        2,
    ),
    # uniqueness (counted in records: a key held n times counts n - 1)
    "uniqueness_duplicate_customers": (
        [
            "INSERT INTO customers.customers SELECT c.cust_id + 900000, upper(c.full_name), c.gender, "
            "c.age, ' ' || c.city, c.state, c.join_date, c.region_name FROM customers.customers AS c "
            "WHERE c.cust_id IN " + first("customers.customers", "cust_id", 2),
            "INSERT INTO customers.customers SELECT c.cust_id + 800000, c.full_name, c.gender, c.age, "
            "c.city, c.state, c.join_date, c.region_name FROM customers.customers AS c WHERE "
            "c.cust_id = " + one("customers.customers", "cust_id"),
        ],
        3,
    ),
    "uniqueness_multiple_payments_per_order": (
        [
            f"INSERT INTO {PAYS} SELECT y.payment_id + 900000 + g, y.order_id, y.payment_date, "
            f"y.payment_mode, y.amount FROM {PAYS} AS y, generate_series(1, 2) AS g "
            f"WHERE y.payment_id = {one(PAYS, 'payment_id')}"
        ],
        2,
    ),
    "uniqueness_duplicate_shipments_per_order": (
        [
            f"INSERT INTO {SHIPS} SELECT s.shipment_id + 900000, s.order_id, s.courier_name, "
            f"s.shipped_date, s.delivered_date, s.status FROM {SHIPS} AS s "
            f"WHERE s.shipment_id IN {first(SHIPS, 'shipment_id', 2)}"
        ],
        2,
    ),
    "uniqueness_duplicate_order_item_products": (
        [
            f"INSERT INTO {ITEMS} SELECT i.order_item_id + 900000, i.order_id, i.prod_id, 1, "
            f"i.unit_price, 0 FROM {ITEMS} AS i WHERE i.order_item_id IN "
            + first(ITEMS, "order_item_id", 2)
        ],
        2,
    ),
    "uniqueness_duplicate_revenue_summary": (
        [
            "INSERT INTO finance.revenue_summary SELECT * FROM finance.revenue_summary "
            "ORDER BY store_id, summary_date LIMIT 2"
        ],
        2,
    ),
    "uniqueness_duplicate_salary_history": (
        [
            "INSERT INTO hr.salary_history SELECT * FROM hr.salary_history "
            "ORDER BY emp_id, effective_date LIMIT 2"
        ],
        2,
    ),
}


@pytest.fixture
def scratch(kpi_db_url: str) -> Iterator[psycopg.Connection]:
    """A transaction on the KPI database that is always rolled back, declared FKs switched off and
    the quality clock at the data's end date."""
    with psycopg.connect(kpi_db_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, END))
        try:
            yield conn
        finally:
            conn.rollback()


def test_every_check_passes_on_clean_data(kpi_conn: psycopg.Connection) -> None:
    clock = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)
    outcomes = evaluate_checks(kpi_conn, list(CHECKS.values()), clock)
    assert [o.check.name for o in outcomes] == list(CHECKS)
    failed = {o.check.name: o.affected_count for o in outcomes if not o.passed}
    assert not failed, f"checks failing on clean generated data: {failed}"
    for o in outcomes:
        if o.affected_count == 0:
            assert o.sample_keys == (), o.check.name
    # Clean data has some normal backlog of open orders: within the tolerated share.
    stuck = next(o for o in outcomes if o.check.name == "timeliness_stuck_open_orders")
    assert 0 < stuck.rate <= config_value("quality.stuck_open_orders_max_rate")


def _result(o: CheckOutcome) -> tuple:
    return (
        o.check.name,
        o.severity,
        o.affected_count,
        o.total_rows,
        o.threshold,
        o.sample_keys,
        dict(o.details),
    )


def test_checks_shared_among_connections_give_the_one_connection_results(
    kpi_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)
    checks = list(CHECKS.values())
    alone = evaluate_checks(kpi_conn, checks, clock, connections=1)
    opened: list[psycopg.Connection] = []
    real_open = evaluate_module._open_sibling

    def spy(*args: object) -> psycopg.Connection:
        opened.append(real_open(*args))
        return opened[-1]

    monkeypatch.setattr(evaluate_module, "_open_sibling", spy)
    shared = evaluate_checks(kpi_conn, checks, clock, connections=3)
    assert len(opened) == 2 and all(c.closed for c in opened)  # really shared, then closed
    assert [_result(o) for o in shared] == [_result(o) for o in alone]


def test_sibling_connections_read_the_evaluation_snapshot_with_its_clock(kpi_db_url: str) -> None:
    """The extra connections of an evaluation import the first one's snapshot (same xmin, xmax and
    in-progress list) and see the run's clock and session settings."""
    clock = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)
    with psycopg.connect(kpi_db_url) as conn:
        conn.execute("SET statement_timeout = '123s'")
        conn.commit()
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        mine = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        with _siblings(conn, 2, snapshot, clock) as siblings:
            assert len(siblings) == 2
            for sibling in siblings:
                row = sibling.execute(
                    "SELECT pg_current_snapshot()::text, current_setting(%s), "
                    "current_setting('statement_timeout'), current_setting('transaction_isolation'),"
                    " current_setting('transaction_read_only')",
                    (CLOCK_SETTING,),
                ).fetchone()
                assert row == (mine, clock_value(clock), "123s", "repeatable read", "on")
        conn.rollback()


def test_the_full_job_evaluated_every_check_on_the_source_tables(kpi_run, kpi_conn) -> None:  # noqa: ANN001
    """In the shared full run (clock pinned to the data's last day) every check was reported on its
    source asset, and every check passed on clean data."""
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in kpi_run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert set(evaluations) == set(CHECKS)
    for name, evaluation in evaluations.items():
        assert evaluation.asset_key.path == ["retailmart", *CHECKS[name].table]
        meta = evaluation.metadata
        assert {"affected_count", "total_rows", "rate", "threshold", "sample_keys"} <= set(meta)
    failed = {n for n, e in evaluations.items() if not e.passed}
    assert failed == set()
    latest = kpi_conn.execute(
        "SELECT check_name, passed FROM analytics.vw_data_quality_report"
    ).fetchall()
    assert {n for n, passed in latest if not passed} == failed
    open_issues = kpi_conn.execute(
        "SELECT check_name FROM analytics.data_quality_issues WHERE status = 'open'"
    ).fetchall()
    assert {r[0] for r in open_issues} == failed


def test_every_check_has_a_targeted_test() -> None:
    assert set(MUTATIONS) | {"timeliness_stuck_open_orders"} == set(CHECKS)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_check_finds_exactly_the_broken_rows(scratch: psycopg.Connection, name: str) -> None:
    check = CHECKS[name]
    statements, delta = MUTATIONS[name]
    before = run_check(scratch, check)
    for statement in statements:
        scratch.execute(statement)
    after = run_check(scratch, check)
    assert after.affected_count - before.affected_count == delta, name
    assert not after.passed
    assert len(after.sample_keys) == min(after.affected_count, 10)
    assert run_check(scratch, check).sample_keys == after.sample_keys  # deterministic


def test_stuck_open_orders_tolerate_a_normal_backlog(scratch: psycopg.Connection) -> None:
    check = CHECKS["timeliness_stuck_open_orders"]
    before = run_check(scratch, check)
    assert before.passed and before.affected_count > 0
    limit = config_value("quality.stuck_open_orders_max_rate")
    # Just at the tolerated share: still passes; one more stuck order: fails.
    allowed = int(limit * before.total_rows) - before.affected_count
    aged_delivered = (
        "SELECT order_id FROM sales.orders WHERE order_status = 'Delivered' AND order_date < "
        "analytics.fn_reference_date() - analytics.fn_config_int('quality.open_order_max_days') "
        "ORDER BY order_id"
    )
    scratch.execute(
        f"UPDATE sales.orders SET order_status = 'Processing' WHERE order_id IN "
        f"({aged_delivered} LIMIT {allowed})"
    )
    at_limit = run_check(scratch, check)
    assert at_limit.affected_count == before.affected_count + allowed
    assert at_limit.passed
    scratch.execute(
        f"UPDATE sales.orders SET order_status = 'Pending' WHERE order_id IN ({aged_delivered} LIMIT 1)"
    )
    over = run_check(scratch, check)
    assert over.affected_count == at_limit.affected_count + 1 and not over.passed
    # A fresh open order is not stuck.
    scratch.execute(
        "UPDATE sales.orders SET order_status = 'Pending' WHERE order_id = (SELECT max(order_id) "
        "FROM sales.orders WHERE order_date = analytics.fn_reference_date())"
    )
    assert run_check(scratch, check).affected_count == over.affected_count


def test_latest_order_lag_uses_the_run_clock_with_its_boundary(scratch: psycopg.Connection) -> None:
    check = CHECKS["timeliness_latest_order_lag"]
    max_lag = config_value("quality.source_max_lag_days")

    def at(day: dt.date) -> CheckOutcome:
        scratch.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, day.isoformat()))
        return run_check(scratch, check)

    on_time = at(KPI_END_DATE + dt.timedelta(days=max_lag))
    assert on_time.passed and on_time.details["lag_days"] == max_lag
    late = at(KPI_END_DATE + dt.timedelta(days=max_lag + 1))
    assert not late.passed and late.sample_keys == (f"latest_order_date={END}",)
    assert late.details == {
        "latest_order_date": END,
        "clock_date": (KPI_END_DATE + dt.timedelta(days=max_lag + 1)).isoformat(),
        "lag_days": max_lag + 1,
        "max_lag_days": max_lag,
    }
    # A clock with a time zone counts in UTC.
    evening = dt.datetime.combine(
        KPI_END_DATE + dt.timedelta(days=max_lag + 1), dt.time(1, 0), tzinfo=dt.UTC
    ).astimezone(dt.timezone(dt.timedelta(hours=-5)))  # still the day before in UTC-5
    scratch.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(evening)))
    assert not run_check(scratch, check).passed


def test_sample_keys_are_the_first_ten_in_key_order(scratch: psycopg.Connection) -> None:
    scratch.execute(
        "UPDATE sales.orders SET cust_id = NULL WHERE order_id IN "
        "(SELECT order_id FROM sales.orders ORDER BY order_id DESC LIMIT 15)"
    )
    outcome = run_check(scratch, CHECKS["completeness_order_customer"])
    ids = [
        r[0]
        for r in scratch.execute(
            "SELECT order_id FROM sales.orders WHERE cust_id IS NULL ORDER BY order_id LIMIT 10"
        )
    ]
    assert outcome.affected_count == 15
    assert outcome.sample_keys == tuple(f"order_id={i}" for i in ids)


def test_duplicates_count_records_not_groups(scratch: psycopg.Connection) -> None:
    """Three extra copies of one customer are three failing records, and the samples are the copies
    (every record after the lowest cust_id of the key)."""
    scratch.execute(
        "INSERT INTO customers.customers SELECT c.cust_id + 900000 + g, c.full_name, c.gender, "
        "c.age, c.city, c.state, c.join_date, c.region_name FROM customers.customers AS c, "
        "generate_series(1, 3) AS g WHERE c.cust_id = (SELECT min(cust_id) FROM customers.customers)"
    )
    outcome = run_check(scratch, CHECKS["uniqueness_duplicate_customers"])
    first_id = scratch.execute("SELECT min(cust_id) FROM customers.customers").fetchone()[0]
    assert outcome.affected_count == 3
    assert outcome.sample_keys == tuple(f"cust_id={first_id + 900000 + g}" for g in (1, 2, 3))


def test_quality_export_trend_is_per_reference_date_and_bounded(
    scratch: psycopg.Connection,
) -> None:
    """Synthetic history: twelve earlier reference dates (plus the real one), two evaluations on one
    of them (the later counts); the trend keeps the last quality.trend_points dates, oldest first."""
    points = config_value("quality.trend_points")
    scratch.execute(
        """
        INSERT INTO analytics.data_quality_results
               (run_id, evaluated_at, reference_date, check_name, dimension, severity, table_name,
                passed, affected_count, total_rows, failing_rate, threshold)
        SELECT 'synthetic', now() - make_interval(days => d), DATE '2025-09-01' + d,
               'consistency_orphan_orders', 'consistency', 'ERROR', 'sales.orders',
               d % 2 = 0, CASE WHEN d % 2 = 0 THEN 0 ELSE d END, 100, 0, 0
          FROM generate_series(0, 11) AS d
        """
    )
    # A second, later evaluation of 2025-09-10 (d = 9, failed with 9 rows) that passed.
    scratch.execute(
        """
        INSERT INTO analytics.data_quality_results
               (run_id, evaluated_at, reference_date, check_name, dimension, severity, table_name,
                passed, affected_count, total_rows, failing_rate, threshold)
        VALUES ('synthetic', now(), DATE '2025-09-10', 'consistency_orphan_orders', 'consistency',
                'ERROR', 'sales.orders', true, 0, 100, 0, 0)
        """
    )
    payload = scratch.execute("SELECT analytics.fn_export_quality()").fetchone()[0]
    trend = payload["trend"]
    dates = [t["referenceDate"] for t in trend]
    assert len(trend) == points
    assert dates == sorted(dates) and dates[-1] == END
    assert payload["period"] == {"from": dates[0], "to": END}
    by_date = {t["referenceDate"]: t for t in trend}
    assert "2025-09-02" not in by_date  # older than the last trend_points dates
    assert by_date["2025-09-10"]["failed"] == 0  # the later evaluation of that date counts
    odd = by_date["2025-09-04"]  # d = 3: failed with 3 rows
    assert odd == {
        "referenceDate": "2025-09-04",
        "checks": 1,
        "failed": 1,
        "blockingFailed": 1,
        "affectedRows": 3,
        "byDimension": [
            {
                "dimension": "consistency",
                "checks": 1,
                "failed": 1,
                "blockingFailed": 1,
                "affectedRows": 3,
            }
        ],
    }
    assert len(json.dumps(payload)) < 200_000
