"""The sample-data generator on a real PostgreSQL: sizes, dates, lifecycle rules, determinism, defects."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from retailmart_dagster.generate import DEFECTS, generate
from retailmart_dagster.generate.contract import contract_tables
from retailmart_dagster.generate.dates import window_start
from retailmart_dagster.loader import fingerprints

pytestmark = pytest.mark.integration

END = dt.date(2025, 10, 1)
SCALE = 0.02
SEED = 11


def _url_for(admin_url: str, dbname: str) -> str:
    return admin_url.rpartition("/")[0] + "/" + dbname


@pytest.fixture(scope="module")
def make_db(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh databases named gen_<random>, all dropped at the end of the module."""
    names: list[str] = []

    def make() -> str:
        name = f"gen_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        names.append(name)
        return _url_for(pg_admin_url, name)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def clean(make_db: Callable[[], str]) -> Iterator[tuple[psycopg.Connection, object]]:
    """A clean generated database (scale 0.02) and its GenerateResult."""
    conn = psycopg.connect(make_db(), autocommit=True)
    result = generate(conn, scale=SCALE, seed=SEED, end_date=END)
    yield conn, result
    conn.close()


@pytest.fixture(scope="module")
def dirty(make_db: Callable[[], str]) -> Iterator[tuple[psycopg.Connection, object]]:
    """A generated database with injected defects."""
    conn = psycopg.connect(make_db())  # not autocommit: generate() must commit itself
    result = generate(conn, scale=SCALE, seed=SEED, end_date=END, defects=True)
    yield conn, result
    conn.close()


def one(conn: psycopg.Connection, query: str, *params: object) -> object:
    """First column of the first row."""
    return conn.execute(query, params).fetchone()[0]


# ---------------------------------------------------------------- sizes and dates


def test_row_counts_match_the_database_and_scale(clean) -> None:  # noqa: ANN001
    conn, result = clean
    for table, n in result.row_counts.items():
        assert one(conn, f"SELECT count(*) FROM {table}") == n, table
    rc = result.row_counts
    assert rc["customers.customers"] == 1000
    assert rc["sales.orders"] == 3000
    assert 2.4 <= rc["sales.order_items"] / rc["sales.orders"] <= 3.3
    assert rc["sales.payments"] == rc["sales.orders"]
    assert 0.78 <= rc["sales.shipments"] / rc["sales.orders"] <= 0.95
    assert rc["stores.stores"] == 20 and rc["products.products"] == 100
    assert rc["core.dim_category"] == 20 and rc["stores.departments"] == 10
    assert rc["marketing.ads_spend"] == 16 * rc["marketing.campaigns"] == 4000
    assert rc["customers.reviews"] == 600 and rc["marketing.email_clicks"] == 600
    assert rc["finance.expenses"] == 800
    assert 0.3 <= rc["products.inventory"] / (20 * 100) <= 0.5
    assert 0.02 <= rc["sales.returns"] / rc["sales.orders"] <= 0.07
    assert result.injected == []
    assert one(conn, "SELECT count(*) FROM generator.injected_defects") == 0
    assert conn.execute("SELECT seed, scale, end_date, defects FROM generator.runs").fetchall() == [
        (SEED, SCALE, END, False)
    ]


def test_order_dates_span_the_window_and_end_on_end_date(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    lo, hi, months = conn.execute(
        "SELECT min(order_date), max(order_date), count(DISTINCT date_trunc('month', order_date))"
        " FROM sales.orders"
    ).fetchone()
    assert (lo, hi) == (window_start(END), END) == (dt.date(2024, 1, 1), END)
    assert months == 22  # Jan 2024 .. Oct 2025: every month has orders
    assert conn.execute("SELECT min(date_key), max(date_key) FROM core.dim_date").fetchone() == (
        dt.date(2023, 1, 1),
        dt.date(2025, 12, 31),
    )
    names = conn.execute(
        "SELECT DISTINCT day_name, extract(dow FROM date_key)::int FROM core.dim_date ORDER BY 2"
    ).fetchall()
    assert [n for n, _ in names] == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert (
        one(conn, "SELECT count(*) FROM core.dim_date WHERE month_name <> to_char(date_key, 'Mon')")
        == 0
    )


def test_no_date_after_end_date(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    for t in contract_tables():
        if t.qualified == "core.dim_date":
            continue
        for c in t.columns:
            if c.type == "date":
                late = one(conn, f"SELECT count(*) FROM {t.qualified} WHERE {c.name} > %s", END)
                assert late == 0, f"{t.qualified}.{c.name}"


# ---------------------------------------------------------------- lifecycle consistency


def test_clean_data_has_none_of_the_defects(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    found = {d.name: one(conn, d.count_sql) for d in DEFECTS}
    assert found == {d.name: 0 for d in DEFECTS}


def test_order_totals_equal_their_lines_exactly(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    worst = one(
        conn,
        "SELECT max(abs(o.total_amount - l.s)) FROM sales.orders o JOIN ("
        " SELECT order_id, sum(quantity * unit_price * (1 - discount / 100)) AS s"
        " FROM sales.order_items GROUP BY order_id) l USING (order_id)",
    )
    assert worst == 0
    assert (
        one(
            conn,
            "SELECT count(*) FROM sales.orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM sales.order_items i WHERE i.order_id = o.order_id)",
        )
        == 0
    )
    bad_lines = one(
        conn,
        "SELECT count(*) FROM sales.order_items i JOIN products.products p USING (prod_id)"
        " WHERE i.quantity NOT BETWEEN 1 AND 5 OR i.unit_price <> p.price"
        " OR i.discount NOT IN (0, 5, 10, 15, 20)",
    )
    assert bad_lines == 0


def test_one_payment_per_order_for_its_total(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    bad = one(
        conn,
        "SELECT count(*) FROM sales.orders o LEFT JOIN sales.payments p USING (order_id)"
        " WHERE p.payment_id IS NULL OR p.amount <> o.total_amount"
        " OR p.payment_date NOT BETWEEN o.order_date AND o.order_date + 1",
    )
    assert bad == 0
    modes = {r[0] for r in conn.execute("SELECT DISTINCT payment_mode FROM sales.payments")}
    assert modes == {"Cash", "Credit Card", "Debit Card", "Net Banking", "UPI"}
    top = one(
        conn, "SELECT payment_mode FROM sales.payments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    assert top == "UPI"


def test_status_mix_and_recent_orders_are_less_advanced(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    share = dict(
        conn.execute(
            "SELECT order_status, count(*)::float / sum(count(*)) OVER () FROM sales.orders GROUP BY 1"
        ).fetchall()
    )
    assert set(share) == {"Delivered", "Shipped", "Processing", "Pending", "Cancelled", "Returned"}
    assert 0.65 <= share["Delivered"] <= 0.85
    assert 0.05 <= share["Cancelled"] <= 0.11
    assert 0.02 <= share["Returned"] <= 0.06
    assert 0.03 <= share["Shipped"] <= 0.12
    recent, old = conn.execute(
        "SELECT avg((order_status IN ('Pending', 'Processing'))::int) FILTER (WHERE order_date > %s),"
        "       avg((order_status IN ('Pending', 'Processing'))::int) FILTER (WHERE order_date < %s)"
        " FROM sales.orders",
        (END - dt.timedelta(days=10), END - dt.timedelta(days=60)),
    ).fetchone()
    assert recent > 3 * old and old < 0.04


def test_shipments_follow_order_status(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    rows = conn.execute(
        "SELECT o.order_status, s.status, s.delivered_date IS NULL, count(*)"
        " FROM sales.orders o LEFT JOIN sales.shipments s USING (order_id) GROUP BY 1, 2, 3"
    ).fetchall()
    allowed = {
        ("Shipped", "Shipped", True),
        ("Delivered", "Delivered", False),
        ("Returned", "Delivered", False),
        ("Pending", None, True),
        ("Processing", None, True),
        ("Cancelled", None, True),
    }
    assert {r[:3] for r in rows} <= allowed
    assert one(conn, "SELECT count(*) - count(DISTINCT order_id) FROM sales.shipments") == 0
    bad = one(
        conn,
        "SELECT count(*) FROM sales.shipments s JOIN sales.orders o USING (order_id)"
        " WHERE s.shipped_date - o.order_date NOT BETWEEN 0 AND 4"
        " OR s.delivered_date - s.shipped_date NOT BETWEEN 1 AND 8",
    )
    assert bad == 0
    couriers = one(conn, "SELECT count(DISTINCT courier_name) FROM sales.shipments")
    assert couriers == 6


def test_returns_follow_deliveries(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    missing = one(
        conn,
        "SELECT count(*) FROM sales.orders o WHERE o.order_status = 'Returned'"
        " AND NOT EXISTS (SELECT 1 FROM sales.returns r WHERE r.order_id = o.order_id)",
    )
    assert missing == 0
    bad = one(
        conn,
        "SELECT count(*) FROM sales.returns r JOIN sales.orders o USING (order_id)"
        " JOIN sales.shipments s USING (order_id)"
        " LEFT JOIN sales.order_items i ON i.order_id = r.order_id AND i.prod_id = r.prod_id"
        " WHERE i.order_item_id IS NULL OR r.return_date < s.delivered_date OR r.refund_amount <= 0"
        " OR r.refund_amount > round(i.quantity * i.unit_price * (1 - i.discount / 100), 2)",
    )
    assert bad == 0
    partial = one(
        conn,
        "SELECT count(*) FROM sales.returns r JOIN sales.orders o USING (order_id)"
        " WHERE o.order_status = 'Delivered'",
    )
    assert partial >= 1
    reasons = {r[0] for r in conn.execute("SELECT DISTINCT reason FROM sales.returns")}
    assert reasons <= {
        "Damaged",
        "Wrong Item",
        "Quality Issue",
        "Late Delivery",
        "Size Issue",
        "Changed Mind",
    }


def test_customers_join_before_ordering_and_are_adults(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    late = one(
        conn,
        "SELECT count(*) FROM customers.customers c JOIN ("
        " SELECT cust_id, min(order_date) AS first FROM sales.orders GROUP BY 1) f USING (cust_id)"
        " WHERE c.join_date >= f.first",
    )
    assert late == 0
    assert conn.execute("SELECT min(age), max(age) FROM customers.customers").fetchone()[0] >= 18
    assert one(conn, "SELECT max(age) FROM customers.customers") <= 80
    regions = {r[0] for r in conn.execute("SELECT DISTINCT region_name FROM customers.customers")}
    assert regions == {"North", "South", "East", "West", "Central"}
    assert one(conn, "SELECT count(DISTINCT region) FROM stores.stores") == 5
    buyers = one(conn, "SELECT count(DISTINCT cust_id) FROM sales.orders")
    loyal = one(conn, "SELECT count(*) FROM customers.loyalty_points")
    assert loyal >= buyers >= 0.5 * one(conn, "SELECT count(*) FROM customers.customers")


def test_marketing_rules(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    over = one(
        conn,
        "SELECT count(*) FROM marketing.campaigns c JOIN ("
        " SELECT campaign_id, sum(amount) AS spent, count(*) AS n, count(DISTINCT channel) AS ch"
        " FROM marketing.ads_spend GROUP BY 1) a USING (campaign_id)"
        " WHERE a.spent > c.budget OR a.n <> 16 OR a.ch <> 8",
    )
    assert over == 0
    assert one(conn, "SELECT count(*) FROM marketing.campaigns WHERE end_date < start_date") == 0
    assert one(conn, "SELECT bool_and(opened) FROM marketing.email_clicks WHERE clicked")
    assert one(conn, "SELECT sum(conversions) FROM marketing.ads_spend") > 0


def test_revenue_summary_agrees_with_orders(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    bad = one(
        conn,
        "SELECT count(*) FROM finance.revenue_summary r LEFT JOIN ("
        " SELECT store_id, date_trunc('month', order_date)::date AS m, sum(total_amount) AS s"
        " FROM sales.orders WHERE order_status <> 'Cancelled' GROUP BY 1, 2) o"
        " ON o.store_id = r.store_id AND o.m = r.summary_date"
        " WHERE r.total_sales <> coalesce(o.s, 0) OR r.net_profit <> r.total_sales - r.total_expenses",
    )
    assert bad == 0
    types = {r[0] for r in conn.execute("SELECT DISTINCT expense_type FROM stores.expenses")}
    assert types == {"Rent", "Utilities", "Maintenance", "Marketing", "Security", "Misc"}
    margin = one(conn, "SELECT sum(net_profit) / sum(total_sales) FROM finance.revenue_summary")
    assert 0 < margin < 0.3


def test_operational_tables(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    assert (
        one(
            conn,
            "SELECT count(*) FROM products.inventory WHERE last_updated < %s",
            END - dt.timedelta(days=29),
        )
        == 0
    )
    assert one(conn, "SELECT count(*) FROM products.inventory WHERE stock_qty = 0") > 0
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM hr.attendance")}
    assert statuses == {"P", "A", "WFH", "PL"}
    assert one(conn, "SELECT avg((status = 'P')::int) FROM hr.attendance") > 0.8
    assert one(conn, "SELECT count(*) FROM customers.reviews WHERE rating NOT BETWEEN 1 AND 5") == 0
    assert one(conn, "SELECT avg(rating) FROM customers.reviews") > 3.5
    assert one(conn, "SELECT count(*) FROM products.promotions WHERE end_date < start_date") == 0


def test_data_looks_like_retail(clean) -> None:  # noqa: ANN001
    conn, _ = clean
    festive, february = conn.execute(
        "SELECT count(*) FILTER (WHERE order_date BETWEEN '2024-10-15' AND '2024-11-05') / 22.0,"
        "       count(*) FILTER (WHERE order_date BETWEEN '2024-02-01' AND '2024-02-29') / 29.0"
        " FROM sales.orders"
    ).fetchone()
    assert float(festive) > 1.5 * float(february)
    weekend, weekday = conn.execute(
        "SELECT count(*) FILTER (WHERE extract(isodow FROM order_date) >= 6) / 2.0,"
        "       count(*) FILTER (WHERE extract(isodow FROM order_date) < 6) / 5.0 FROM sales.orders"
    ).fetchone()
    assert float(weekend) > 1.15 * float(weekday)
    top_share = one(
        conn,
        "SELECT sum(r) FILTER (WHERE rk <= n * 0.2) / sum(r) FROM ("
        " SELECT sum(quantity * unit_price) AS r, row_number() OVER (ORDER BY sum(quantity * unit_price)"
        " DESC, prod_id) AS rk, count(*) OVER () AS n FROM sales.order_items GROUP BY prod_id) x",
    )
    assert float(top_share) > 0.6
    cheap, dear = conn.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY price) FILTER (WHERE category LIKE 'Groceries%%'),"
        "       percentile_cont(0.5) WITHIN GROUP (ORDER BY price) FILTER (WHERE category = 'Electronics')"
        " FROM products.products"
    ).fetchone()
    assert float(dear) > 20 * float(cheap)


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_data_and_another_seed_does_not(clean, make_db) -> None:  # noqa: ANN001
    conn, _ = clean
    with psycopg.connect(make_db(), autocommit=True) as again:
        generate(again, scale=SCALE, seed=SEED, end_date=END)
        assert fingerprints(again) == fingerprints(conn)
        generate(again, scale=SCALE, seed=SEED + 1, end_date=END)  # regenerating replaces the data
        other = fingerprints(again)
    same = [t for t, h in fingerprints(conn).items() if other[t] == h]
    # Only tables that do not depend on the seed may match.
    assert set(same) <= {
        "core.dim_date", "core.dim_region", "core.dim_category", "core.dim_brand", "stores.departments",
    }  # fmt: skip


# ---------------------------------------------------------------- defects


def test_each_recorded_defect_is_found_exactly(dirty) -> None:  # noqa: ANN001
    conn, result = dirty
    recorded = {
        (t, d): (n, keys)
        for t, d, n, keys in conn.execute(
            "SELECT table_name, defect, affected_count, sample_keys FROM generator.injected_defects"
        )
    }
    assert {(d.table, d.name) for d in DEFECTS} == set(recorded)
    assert sorted(result.injected) == sorted((t, d, n) for (t, d), (n, _) in recorded.items())
    for d in DEFECTS:
        count, keys = recorded[(d.table, d.name)]
        assert 3 <= count <= 7 and keys
        assert one(conn, d.count_sql) == count, d.name
    assert conn.execute("SELECT defects FROM generator.runs").fetchall() == [(True,)]


def test_defects_leave_the_rest_consistent(dirty) -> None:  # noqa: ANN001
    conn, _ = dirty
    # Line defects recompute totals, so totals still match lines except the injected total defects.
    bad = one(
        conn,
        "SELECT count(*) FROM finance.revenue_summary r LEFT JOIN ("
        " SELECT store_id, date_trunc('month', order_date)::date AS m, sum(total_amount) AS s"
        " FROM sales.orders WHERE order_status <> 'Cancelled' GROUP BY 1, 2) o"
        " ON o.store_id = r.store_id AND o.m = r.summary_date WHERE r.total_sales <> coalesce(o.s, 0)",
    )
    assert bad == 0
    assert one(conn, "SELECT count(*) FROM sales.orders WHERE total_amount <= 0") == 0
