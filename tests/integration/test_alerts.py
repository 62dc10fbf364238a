"""Business alerts on crafted data: each alert fires on data that should fire it and stays quiet on
data that should not; the alert history keeps one open row per alert across refreshes and resolves
it; alerts.json has the dashboard's shape.

Each test starts from a fresh database (``new_database``) with generated sample data (scale 0.01), on
which the alerts job (the six alert views, what they read, the history sync and alerts.json) has run
through Dagster. Cases are then crafted with SQL inside a transaction that is rolled back (the alert
views are views; the materialized views they read, and analytics.fact_orders under the daily sales
summary, are refreshed inside the transaction), except for the history test, which commits and
re-runs the sync through Dagster.
"""

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance

from retailmart_dagster.assets.alerts import ALERT_SYNC_KEY
from retailmart_dagster.assets.sql_assets import load_sql_objects
from retailmart_dagster.automation.jobs import ALERTS_JOB
from retailmart_dagster.config import config_values
from retailmart_dagster.definitions import build_definitions
from retailmart_dagster.resources.notifier import NotifierResource

pytestmark = pytest.mark.integration

SCALE = 0.01
SEED = 11
END_DATE = dt.date(2025, 10, 1)
ALERT_TYPES = {
    "vw_alert_critical_inventory": "critical_inventory",
    "vw_alert_high_value_churn": "high_value_churn",
    "vw_alert_revenue_anomaly": "revenue_anomaly",
    "vw_alert_shipment_delay": "shipment_delay",
    "vw_alert_return_rate": "elevated_return_rate",
    "vw_alert_payment_concentration": "payment_concentration",
}
COMMON = ("alert_type", "alert_key", "severity", "title", "detail", "metric_value")
CFG = config_values()


@dataclass
class AlertsDb:
    url: str
    dashboard: Path
    defs: object
    instance: DagsterInstance

    def run(self, *keys: AssetKey) -> None:
        """Run the alerts job (or only the given assets of it) through Dagster."""
        job = self.defs.resolve_job_def(ALERTS_JOB)
        result = job.execute_in_process(
            instance=self.instance,
            raise_on_error=False,
            asset_selection=list(keys) or None,
        )
        failures = [e.step_key for e in result.all_events if e.is_step_failure]
        assert result.success, f"alerts job failed: {failures}"

    def sync(self) -> None:
        """A refresh of the alert history and alerts.json (the alert views are live views)."""
        self.run(
            ALERT_SYNC_KEY,
            AssetKey(["analytics", "fn_export_alerts"]),
            AssetKey(["dashboard", "alerts"]),
        )

    def alerts_json(self) -> dict:
        return json.loads((self.dashboard / "alerts.json").read_text())


@pytest.fixture
def alerts_db(new_database: Callable[[str], str], tmp_path: Path) -> AlertsDb:
    from retailmart_dagster.generate import generate

    url = new_database("alerts")
    with psycopg.connect(url) as conn:
        generate(conn, scale=SCALE, seed=SEED, end_date=END_DATE)
    dashboard = tmp_path / "data"
    defs = build_definitions(
        database_url=url,
        dashboard_dir=str(dashboard),
        notifier=NotifierResource(log_path=str(tmp_path / "notifications.log")),
    )
    db = AlertsDb(url=url, dashboard=dashboard, defs=defs, instance=DagsterInstance.ephemeral())
    db.run()
    return db


@contextmanager
def crafted(url: str) -> Iterator[psycopg.Connection]:
    """A connection inside a transaction that is always rolled back."""
    with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
        yield conn


@contextmanager
def case(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A savepoint that is rolled back: one crafted case on top of the current state."""
    with conn.transaction(force_rollback=True):
        yield conn


def alerts(conn: psycopg.Connection, view: str) -> dict[str, dict]:
    cur = conn.execute(f"SELECT * FROM analytics.{view} ORDER BY alert_key")  # noqa: S608
    names = [d.name for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    for row in rows:
        assert row["alert_type"] == ALERT_TYPES[view]
        assert row["severity"] in ("critical", "warning", "info")
        assert all(row[c] is not None for c in COMMON), row
    keys = [r["alert_key"] for r in rows]
    assert len(keys) == len(set(keys)), f"{view}: duplicate alert keys"
    return {r["alert_key"]: r for r in rows}


def severities(conn: psycopg.Connection, view: str) -> dict[str, str]:
    return {k: r["severity"] for k, r in alerts(conn, view).items()}


def reference_date(conn: psycopg.Connection) -> dt.date:
    return conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0]


def reload_facts(conn: psycopg.Connection, *names: str) -> None:
    """Materialized views built on the fact layer (analytics.fact_*) see crafted data only after the
    facts' changed days are reloaded (their incremental loads, in build order, as a build runs them)."""
    facts = {o.name: o for o in load_sql_objects() if o.name in names}
    for name in names:
        # A load's temporary tables (ON COMMIT DROP) still exist when it ran earlier in this
        # transaction: drop them first.
        leftovers = conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()"
            " AND relkind = 'r' AND starts_with(relname, %s)",
            (f"{name}_",),
        ).fetchall()
        for (table,) in leftovers:
            conn.execute(f'DROP TABLE pg_temp."{table}"')
        conn.execute(facts[name].load_sql)


def reload_fact_orders(conn: psycopg.Connection) -> None:
    reload_facts(conn, "fact_orders")


def refresh_customer_mvs(conn: psycopg.Connection) -> None:
    reload_facts(conn, "fact_orders", "fact_customer_summary")
    conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_customer_lifetime_value")
    conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_customer_rfm")
    conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_churn_risk")


def refresh_pending_shipments(conn: psycopg.Connection) -> None:
    """The open orders the shipment-delay alert reads (materialized: read by five objects)."""
    conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_pending_shipments")


def refresh_daily_sales(conn: psycopg.Connection) -> None:
    """The revenue alert reads analytics.mv_daily_sales_summary (built on analytics.fact_sales_days,
    built on analytics.fact_orders)."""
    reload_facts(conn, "fact_orders", "fact_sales_days")
    conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_daily_sales_summary")


# ------------------------------------------------------------------------- critical inventory
def test_critical_inventory_reads_the_top_products_stock_along_an_index(
    alerts_db: AlertsDb,
) -> None:
    """Setup creates the index products.inventory (prod_id) (source_indexes.sql), and the alert's
    query can read the stock of the few top products along it instead of every inventory row
    (with sequential scans discouraged, the index is the other way: without it there is none)."""
    with crafted(alerts_db.url) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'products'"
                " AND tablename = 'inventory' AND indexname = 'ix_rm_inventory_prod_id'"
            ).fetchone()[0]
            == 1
        )
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM analytics.vw_alert_critical_inventory"
            ).fetchall()
        )
        assert "ix_rm_inventory_prod_id" in plan, plan


def test_critical_inventory(alerts_db: AlertsDb) -> None:
    top_n = CFG["alerts.inventory_top_products"]
    level = CFG["alerts.critical_stock_level"]
    with crafted(alerts_db.url) as conn:
        conn.execute("UPDATE products.inventory SET stock_qty = %s", (level,))
        assert alerts(conn, "vw_alert_critical_inventory") == {}, "stock at the level is no alert"

        def carried(rank: int) -> tuple[int, list[int]]:
            prod = conn.execute(
                "SELECT prod_id FROM analytics.mv_top_products WHERE revenue_rank = %s", (rank,)
            ).fetchone()[0]
            stores = [
                r[0]
                for r in conn.execute(
                    "SELECT i.store_id FROM products.inventory AS i"
                    " JOIN stores.stores AS s ON s.store_id = i.store_id"
                    " WHERE i.prod_id = %s ORDER BY i.store_id",
                    (prod,),
                )
            ]
            return prod, stores

        top, top_stores = carried(1)
        last, last_stores = carried(top_n)
        beyond, beyond_stores = carried(top_n + 1)
        assert len(top_stores) >= 4 and last_stores and beyond_stores

        def stock(store: int, prod: int, qty: int | None) -> None:
            conn.execute(
                "UPDATE products.inventory SET stock_qty = %s WHERE store_id = %s AND prod_id = %s",
                (qty, store, prod),
            )

        stock(top_stores[0], top, 0)  # out of stock: critical
        stock(top_stores[1], top, level - 1)  # just below the level: warning
        stock(top_stores[2], top, -3)  # negative stock (data error) counts as 0: critical
        stock(top_stores[3], top, None)  # unknown stock: not an alert
        stock(last_stores[0], last, 1)  # the N-th product is still a top product
        stock(beyond_stores[0], beyond, 0)  # rank N + 1: not watched
        conn.execute(  # inventory of a store that does not exist (no FK): ignored
            "INSERT INTO products.inventory (store_id, prod_id, stock_qty, last_updated)"
            " VALUES (999999, %s, 0, %s)",
            (top, END_DATE),
        )
        found = alerts(conn, "vw_alert_critical_inventory")
        assert {k: r["severity"] for k, r in found.items()} == {
            f"store:{top_stores[0]}/product:{top}": "critical",
            f"store:{top_stores[1]}/product:{top}": "warning",
            f"store:{top_stores[2]}/product:{top}": "critical",
            f"store:{last_stores[0]}/product:{last}": "warning",
        }
        negative = found[f"store:{top_stores[2]}/product:{top}"]
        assert negative["stock_qty"] == 0 and negative["metric_value"] == 0
        warning = found[f"store:{top_stores[1]}/product:{top}"]
        assert warning["threshold_value"] == level and warning["metric_value"] == level - 1
        assert warning["revenue_rank"] == 1 and warning["title"].startswith("Low stock: ")
        assert f"below {level} units" in warning["detail"]
        assert found[f"store:{top_stores[0]}/product:{top}"]["title"].startswith("Out of stock: ")


# ---------------------------------------------------------------------------- high-value churn
def test_high_value_churn(alerts_db: AlertsDb) -> None:
    platinum_days = CFG["customers.churn_days_platinum"]
    gold_days = CFG["customers.churn_days_gold"]
    critical_ratio = CFG["customers.risk_critical_ratio"]
    with crafted(alerts_db.url) as conn:
        ref = reference_date(conn)
        # Quiet: every buyer's latest order moved to the reference date.
        conn.execute(
            """
            UPDATE sales.orders AS o SET order_date = %s
              FROM (SELECT DISTINCT ON (cust_id) order_id FROM sales.orders
                     WHERE order_status IS DISTINCT FROM 'Cancelled'
                     ORDER BY cust_id, order_date DESC, order_id) AS latest
             WHERE o.order_id = latest.order_id
            """,
            (ref,),
        )
        refresh_customer_mvs(conn)
        assert alerts(conn, "vw_alert_high_value_churn") == {}

        def customers(tier: str, n: int) -> list[int]:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT cust_id FROM analytics.mv_customer_lifetime_value"
                    " WHERE value_tier = %s ORDER BY cust_id LIMIT %s",
                    (tier, n),
                )
            ]
            assert len(ids) == n, f"need {n} {tier} customers"
            return ids

        p_at, p_past, p_far = customers("Platinum", 3)
        g_at, g_past = customers("Gold", 2)
        (s_far,) = customers("Silver", 1)
        inactive = {
            p_at: platinum_days,  # exactly the window: not yet
            p_past: platinum_days + 1,
            p_far: math.ceil(platinum_days * critical_ratio),  # risk Critical
            g_at: gold_days,
            g_past: gold_days + 1,
            s_far: 10 * gold_days,  # not a high-value customer
        }
        for cust, days in inactive.items():
            conn.execute(
                "UPDATE sales.orders SET order_date = %s WHERE cust_id = %s",
                (ref - dt.timedelta(days=days), cust),
            )
        refresh_customer_mvs(conn)
        assert reference_date(conn) == ref
        found = alerts(conn, "vw_alert_high_value_churn")
        assert {k: r["severity"] for k, r in found.items()} == {
            f"customer:{p_past}": "warning",
            f"customer:{p_far}": "critical",
            f"customer:{g_past}": "warning",
        }
        gold = found[f"customer:{g_past}"]
        assert gold["value_tier"] == "Gold" and gold["threshold_value"] == gold_days
        assert gold["metric_value"] == gold_days + 1
        assert f"churn window {gold_days} days" in gold["detail"]
        assert found[f"customer:{p_past}"]["threshold_value"] == platinum_days


# ----------------------------------------------------------------------------- revenue anomaly
def test_revenue_anomaly(alerts_db: AlertsDb) -> None:
    check_days = CFG["alerts.revenue_check_days"]
    baseline_days = CFG["alerts.revenue_baseline_days"]
    warn_share = CFG["alerts.revenue_anomaly_share"]
    critical_share = CFG["alerts.revenue_anomaly_critical_share"]
    flat = 1000
    with crafted(alerts_db.url) as conn:
        ref = reference_date(conn)
        span = check_days + baseline_days
        start = ref - dt.timedelta(days=span - 1)
        # Flat revenue: every order of the span cancelled, then one order per day of revenue `flat`.
        conn.execute(
            "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_date >= %s", (start,)
        )
        donors = [
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM sales.orders WHERE order_date < %s ORDER BY order_id LIMIT %s",
                (start, span),
            )
        ]
        day_order = {}
        for k, order_id in enumerate(donors):
            day = start + dt.timedelta(days=k)
            day_order[day] = order_id
            conn.execute(
                "UPDATE sales.orders SET order_date = %s, order_status = 'Delivered',"
                " total_amount = %s WHERE order_id = %s",
                (day, flat, order_id),
            )
        assert reference_date(conn) == ref
        refresh_daily_sales(conn)
        assert alerts(conn, "vw_alert_revenue_anomaly") == {}, "flat revenue raises nothing"

        def revenue(day: dt.date, amount: float) -> None:
            if amount == 0:
                conn.execute(
                    "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id = %s",
                    (day_order[day],),
                )
            else:
                conn.execute(
                    "UPDATE sales.orders SET total_amount = %s WHERE order_id = %s",
                    (amount, day_order[day]),
                )
            refresh_daily_sales(conn)

        def day(n: int) -> dt.date:
            return ref - dt.timedelta(days=n)

        with case(conn):
            revenue(day(2), flat * warn_share - 50)
            [(key, row)] = alerts(conn, "vw_alert_revenue_anomaly").items()
            assert key == f"date:{day(2).isoformat()}" and row["severity"] == "warning"
            assert float(row["baseline_revenue"]) == flat
            assert float(row["threshold_value"]) == flat * warn_share
        with case(conn):
            revenue(day(2), flat * warn_share)  # exactly the share: not below it
            assert alerts(conn, "vw_alert_revenue_anomaly") == {}
        with case(conn):
            revenue(
                day(0), flat * critical_share
            )  # the reference date itself; at the critical share
            assert severities(conn, "vw_alert_revenue_anomaly") == {
                f"date:{day(0).isoformat()}": "warning"
            }
        with case(conn):
            revenue(day(3), flat * critical_share - 1)
            assert severities(conn, "vw_alert_revenue_anomaly") == {
                f"date:{day(3).isoformat()}": "critical"
            }
        with case(conn):
            revenue(day(check_days), 0)  # the day before the checked window: not judged
            assert alerts(conn, "vw_alert_revenue_anomaly") == {}
        with case(conn):
            # A day without sales is a 0 in the baselines (never skipped): with day 5 at 0, day 1
            # at 70 % of `flat` is 82 % of its baseline (6 x flat / 7) and stays quiet.
            revenue(day(5), 0)
            revenue(day(1), flat * 0.7)
            assert severities(conn, "vw_alert_revenue_anomaly") == {
                f"date:{day(5).isoformat()}": "critical"
            }


# ------------------------------------------------------------------------------ shipment delay
def test_shipment_delay(alerts_db: AlertsDb) -> None:
    sla = CFG["alerts.shipment_sla_days"]
    critical_days = CFG["operations.pending_priority_critical_days"]
    with crafted(alerts_db.url) as conn:
        ref = reference_date(conn)
        conn.execute(
            "UPDATE sales.orders SET order_status = 'Delivered'"
            " WHERE order_status IS NULL OR order_status NOT IN ('Delivered', 'Returned', 'Cancelled')"
        )
        refresh_pending_shipments(conn)
        assert alerts(conn, "vw_alert_shipment_delay") == {}, "no open order, no delay"
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM sales.orders WHERE order_date < %s ORDER BY order_id LIMIT 8",
                (ref - dt.timedelta(days=60),),
            )
        ]
        conn.execute("DELETE FROM sales.shipments WHERE order_id = ANY(%s)", (ids,))
        cases = {
            ids[0]: ("Pending", sla),  # at the SLA: still in time
            ids[1]: ("Pending", sla + 1),  # late: warning
            ids[2]: ("Processing", critical_days + 1),  # pending priority Critical: critical
            ids[3]: ("Pending", critical_days),  # priority High: warning
            ids[4]: ("Shipped", 10),  # in transit (shipment below): not a shipment delay
            ids[5]: ("Cancelled", 10),  # not a sales order
            ids[6]: (None, sla + 2),  # unknown status is open: warning
            ids[7]: ("Pending", 10),  # a delivered shipment although the status says open
        }
        for order_id, (status, age) in cases.items():
            conn.execute(
                "UPDATE sales.orders SET order_status = %s, order_date = %s WHERE order_id = %s",
                (status, ref - dt.timedelta(days=age), order_id),
            )
        conn.execute(
            "INSERT INTO sales.shipments (shipment_id, order_id, courier_name, shipped_date,"
            " delivered_date, status) VALUES"
            " ((SELECT max(shipment_id) + 1 FROM sales.shipments), %s, 'Delhivery', %s, NULL,"
            " 'Shipped'),"
            " ((SELECT max(shipment_id) + 2 FROM sales.shipments), %s, 'Delhivery', NULL, %s,"
            " 'Delivered')",
            (ids[4], ref - dt.timedelta(days=8), ids[7], ref - dt.timedelta(days=2)),
        )
        assert reference_date(conn) == ref
        refresh_pending_shipments(conn)
        found = alerts(conn, "vw_alert_shipment_delay")
        assert {k: r["severity"] for k, r in found.items()} == {
            f"order:{ids[1]}": "warning",
            f"order:{ids[2]}": "critical",
            f"order:{ids[3]}": "warning",
            f"order:{ids[6]}": "warning",
        }
        late = found[f"order:{ids[1]}"]
        assert late["metric_value"] == sla + 1 and late["threshold_value"] == sla
        assert f"shipping SLA: {sla} days" in late["detail"]


# ------------------------------------------------------------------------ elevated return rate
def test_elevated_return_rate(alerts_db: AlertsDb) -> None:
    threshold = CFG["alerts.return_rate_threshold_pct"]
    min_orders = CFG["alerts.return_rate_min_delivered_orders"]
    with crafted(alerts_db.url) as conn:
        ref = reference_date(conn)
        assert alerts(conn, "vw_alert_return_rate") == {}, "sample categories return 1-6 %"
        category, delivered = conn.execute(
            "SELECT category, delivered_orders FROM analytics.mv_return_analysis"
            " WHERE delivered_orders >= %s ORDER BY delivered_orders, category LIMIT 1",
            (max(min_orders, 40),),
        ).fetchone()
        # Delivered orders with a line of the category and no return of it yet, with that line.
        candidates = conn.execute(
            """
            SELECT DISTINCT ON (o.order_id) o.order_id, i.prod_id, o.order_date
              FROM sales.orders AS o
              JOIN sales.order_items AS i ON i.order_id = o.order_id
              JOIN products.products AS p ON p.prod_id = i.prod_id
             WHERE p.category = %(c)s AND o.order_status IN ('Delivered', 'Returned')
               AND o.order_date <= %(ref)s
               AND NOT EXISTS (SELECT 1 FROM sales.returns AS r
                                 JOIN products.products AS rp ON rp.prod_id = r.prod_id
                                WHERE r.order_id = o.order_id AND rp.category = %(c)s)
             ORDER BY o.order_id, i.prod_id
            """,
            {"c": category, "ref": ref},
        ).fetchall()
        returned = conn.execute(
            "SELECT DISTINCT category_returned_orders FROM analytics.mv_return_analysis"
            " WHERE category = %s",
            (category,),
        ).fetchone()[0]
        at_most = math.floor(delivered * threshold / 100)  # rate <= threshold
        next_id = conn.execute("SELECT max(return_id) FROM sales.returns").fetchone()[0] + 1

        def add_returns(rows: list[tuple]) -> None:
            nonlocal next_id
            for order_id, prod_id, order_date in rows:
                conn.execute(
                    "INSERT INTO sales.returns (return_id, order_id, prod_id, return_date, reason,"
                    " refund_amount) VALUES (%s, %s, %s, %s, 'Damaged', 1.00)",
                    (next_id, order_id, prod_id, min(order_date + dt.timedelta(days=3), ref)),
                )
                next_id += 1
            # The alert reads the stored return analysis: bring it up to date, as a build would.
            reload_facts(
                conn,
                "fact_orders",
                "fact_product_group_days",
                "fact_product_group_months",
                "fact_product_returns",
            )
            conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_return_analysis")

        add_returns(candidates[: at_most - returned])
        assert alerts(conn, "vw_alert_return_rate") == {}, "a rate at the threshold is not above"
        add_returns(candidates[at_most - returned : at_most - returned + 1])
        found = alerts(conn, "vw_alert_return_rate")
        assert list(found) == [f"category:{category}"]
        row = found[f"category:{category}"]
        assert row["severity"] == "warning" and row["delivered_orders"] == delivered
        assert row["returned_orders"] == at_most + 1 and row["top_reason"] == "Damaged"
        assert float(row["metric_value"]) == round((at_most + 1) / delivered * 100, 2)
        # A category with too few delivered orders is not judged, even at a 100 % return rate.
        product, orders = conn.execute(
            """
            SELECT i.prod_id, count(DISTINCT o.order_id)
              FROM sales.order_items AS i JOIN sales.orders AS o ON o.order_id = i.order_id
              JOIN products.products AS p ON p.prod_id = i.prod_id
             WHERE o.order_status IN ('Delivered', 'Returned') AND p.category <> %s
             GROUP BY i.prod_id HAVING count(DISTINCT o.order_id) BETWEEN 3 AND %s
             ORDER BY i.prod_id LIMIT 1
            """,
            (category, min_orders - 1),
        ).fetchone()
        conn.execute(
            "UPDATE products.products SET category = 'Crafted Category' WHERE prod_id = %s",
            (product,),
        )
        small = conn.execute(
            "SELECT DISTINCT ON (o.order_id) o.order_id, i.prod_id, o.order_date"
            " FROM sales.orders AS o JOIN sales.order_items AS i ON i.order_id = o.order_id"
            " WHERE i.prod_id = %s AND o.order_status IN ('Delivered', 'Returned')"
            " ORDER BY o.order_id",
            (product,),
        ).fetchall()
        assert len(small) == orders
        add_returns(small)
        rate = conn.execute(
            "SELECT DISTINCT category_return_rate_pct FROM analytics.mv_return_analysis"
            " WHERE category = 'Crafted Category'"
        ).fetchone()[0]
        assert rate == 100
        assert list(alerts(conn, "vw_alert_return_rate")) == [f"category:{category}"]


# ----------------------------------------------------------------------- payment concentration
def test_payment_concentration(alerts_db: AlertsDb) -> None:
    window = CFG["alerts.payment_window_days"]
    max_share = CFG["alerts.payment_concentration_share"]
    min_payments = CFG["alerts.payment_min_transactions"]
    modes = ["Cash", "Credit Card", "Debit Card", "Net Banking", "UPI"]
    with crafted(alerts_db.url) as conn:

        def concentration() -> dict[str, dict]:
            # The alert reads the payment fact: bring it up to date first, as a build would.
            reload_facts(conn, "fact_orders", "fact_payment_days")
            return alerts(conn, "vw_alert_payment_concentration")

        ref = reference_date(conn)
        first = ref - dt.timedelta(days=window - 1)
        in_window = [
            r[0]
            for r in conn.execute(
                """
                SELECT pm.payment_id FROM sales.payments AS pm
                  JOIN sales.orders AS o ON o.order_id = pm.order_id
                 WHERE coalesce(pm.payment_date, o.order_date) BETWEEN %s AND %s
                   AND o.order_status IS DISTINCT FROM 'Cancelled'
                 ORDER BY pm.payment_id
                """,
                (first, ref),
            )
        ]
        n = len(in_window)
        assert n >= min_payments + 5
        for k, payment_id in enumerate(in_window):  # evenly spread: 20 % each
            conn.execute(
                "UPDATE sales.payments SET payment_mode = %s WHERE payment_id = %s",
                (modes[k % len(modes)], payment_id),
            )
        assert concentration() == {}
        at_most = math.floor(n * max_share)

        def upi(count: int) -> None:
            conn.execute(
                "UPDATE sales.payments SET payment_mode = CASE WHEN payment_id = ANY(%s)"
                " THEN 'UPI' ELSE 'Cash' END WHERE payment_id = ANY(%s)",
                (in_window[:count], in_window),
            )

        with case(conn):
            upi(at_most)  # share <= the threshold
            assert concentration() == {}
        with case(conn):
            upi(at_most + 1)
            # A payment without a date counts on its order's date; one just outside the window
            # does not count.
            undated = conn.execute(
                "SELECT pm.payment_id FROM sales.payments AS pm"
                " JOIN sales.orders AS o ON o.order_id = pm.order_id"
                " WHERE pm.payment_id = ANY(%s) AND o.order_date BETWEEN %s AND %s"
                " ORDER BY pm.payment_id LIMIT 1",
                (in_window[: at_most + 1], first, ref),
            ).fetchone()
            conn.execute(
                "UPDATE sales.payments SET payment_date = NULL WHERE payment_id = %s", undated
            )
            outside = conn.execute(
                "SELECT pm.payment_id FROM sales.payments AS pm"
                " JOIN sales.orders AS o ON o.order_id = pm.order_id"
                " WHERE pm.payment_date = %s AND o.order_status <> 'Cancelled' LIMIT 1",
                (first - dt.timedelta(days=1),),
            ).fetchone()
            if outside:
                conn.execute(
                    "UPDATE sales.payments SET payment_mode = 'Cash' WHERE payment_id = %s",
                    outside,
                )
            found = concentration()
            assert list(found) == ["payment_mode:UPI"]
            row = found["payment_mode:UPI"]
            assert row["severity"] == "info"
            assert row["payments"] == at_most + 1 and row["window_payments"] == n
            assert float(row["payment_share"]) == round((at_most + 1) / n, 4)
        with case(conn):
            # Too few payments in the window to judge: all UPI, but fewer than the minimum.
            upi(n)
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id IN"
                " (SELECT order_id FROM sales.payments WHERE payment_id = ANY(%s))",
                (in_window[min_payments - 1 :],),
            )
            assert concentration() == {}
        with case(conn):
            # A dated payment whose order has no order_date (the fact cannot hold it) still counts.
            upi(at_most)
            payment_id, order_id = conn.execute(
                "SELECT pm.payment_id, pm.order_id FROM sales.payments AS pm"
                " WHERE pm.payment_id = ANY(%s) AND pm.payment_date IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM sales.payments AS q"
                " WHERE q.order_id = pm.order_id AND q.payment_date IS NULL)"
                " ORDER BY pm.payment_id DESC LIMIT 1",
                (in_window[at_most:],),
            ).fetchone()
            conn.execute(
                "UPDATE sales.payments SET payment_mode = 'UPI' WHERE payment_id = %s",
                (payment_id,),
            )
            conn.execute(
                "UPDATE sales.orders SET order_date = NULL WHERE order_id = %s", (order_id,)
            )
            assert reference_date(conn) == ref
            found = concentration()
            assert list(found) == ["payment_mode:UPI"]
            assert found["payment_mode:UPI"]["payments"] == at_most + 1
            assert found["payment_mode:UPI"]["window_payments"] == n


# -------------------------------------------------------------------- all alerts in one shape
def test_vw_alerts_stacks_the_six_views(alerts_db: AlertsDb) -> None:
    with psycopg.connect(alerts_db.url) as conn:
        per_view = {view: alerts(conn, view) for view in ALERT_TYPES}
        cur = conn.execute("SELECT * FROM analytics.vw_alerts")
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        ref = reference_date(conn)
    assert len(rows) == sum(len(v) for v in per_view.values()) > 0
    assert len({(r["alert_type"], r["alert_key"]) for r in rows}) == len(rows)
    order = {"critical": 1, "warning": 2, "info": 3}
    for row in rows:
        view = next(v for v, t in ALERT_TYPES.items() if t == row["alert_type"])
        source = per_view[view][row["alert_key"]]
        for column in ("severity", "title", "detail", "metric_value", "threshold_value", "urgency"):
            assert row[column] == source[column]
        assert row["severity_order"] == order[row["severity"]]
        assert row["reference_date"] == ref


# ------------------------------------------------------------------------------ alert history
def _history(url: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM analytics.alert_history ORDER BY alert_id")
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _current(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return {
            tuple(r) for r in conn.execute("SELECT alert_type, alert_key FROM analytics.vw_alerts")
        }


def test_alert_history_dedups_and_resolves(alerts_db: AlertsDb) -> None:
    url = alerts_db.url
    first = _history(url)
    assert first and {r["state"] for r in first} == {"open"}
    assert {(r["alert_type"], r["alert_key"]) for r in first} == _current(url)
    assert all(r["times_seen"] == 1 and r["first_seen_at"] == r["last_seen_at"] for r in first)
    assert all(r["first_run_id"] for r in first)

    # A refresh on unchanged data: the same open alerts, seen once more, none new.
    alerts_db.sync()
    second = _history(url)
    assert [r["alert_id"] for r in second] == [r["alert_id"] for r in first]
    assert all(r["state"] == "open" and r["times_seen"] == 2 for r in second)
    assert all(r["last_seen_at"] > r["first_seen_at"] for r in second)
    assert all(r["first_seen_at"] == f["first_seen_at"] for r, f in zip(second, first, strict=True))

    # A new alert opens one row; the others are untouched.
    level = CFG["alerts.critical_stock_level"]
    with psycopg.connect(url) as conn:
        store, prod, qty = conn.execute(
            "SELECT i.store_id, i.prod_id, i.stock_qty FROM products.inventory AS i"
            " JOIN stores.stores AS s ON s.store_id = i.store_id"
            " JOIN analytics.mv_top_products AS t ON t.prod_id = i.prod_id"
            " WHERE t.revenue_rank = 1 AND i.stock_qty >= %s ORDER BY i.store_id LIMIT 1",
            (level,),
        ).fetchone()

    def set_stock(value: int) -> None:
        with psycopg.connect(url) as conn:
            conn.execute(
                "UPDATE products.inventory SET stock_qty = %s WHERE store_id = %s AND prod_id = %s",
                (value, store, prod),
            )

    key = f"store:{store}/product:{prod}"
    set_stock(0)
    alerts_db.sync()
    third = _history(url)
    new = [r for r in third if r["alert_id"] not in {f["alert_id"] for f in first}]
    assert [(r["alert_key"], r["state"], r["severity"]) for r in new] == [(key, "open", "critical")]
    assert all(r["times_seen"] == 3 for r in third if r["alert_key"] != key)
    assert json.dumps(alerts_db.alerts_json()).count(key) == 1

    # No longer true: resolved, kept.
    set_stock(qty)
    alerts_db.sync()
    fourth = {r["alert_id"]: r for r in _history(url)}
    resolved = fourth[new[0]["alert_id"]]
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None
    assert resolved["resolved_reference_date"] == END_DATE and resolved["times_seen"] == 1
    assert sum(1 for r in fourth.values() if r["state"] == "open") == len(first)
    assert key not in json.dumps(alerts_db.alerts_json())

    # True again: a new incident (new row); the resolved one stays resolved.
    set_stock(1)
    alerts_db.sync()
    rows = [r for r in _history(url) if r["alert_key"] == key]
    assert [(r["state"], r["severity"]) for r in rows] == [
        ("resolved", "critical"),
        ("open", "warning"),
    ]
    assert rows[1]["alert_id"] > rows[0]["alert_id"]

    # Re-running setup never drops the history.
    before = len(_history(url))
    alerts_db.run(AssetKey(["analytics", "alert_history"]))
    assert len(_history(url)) == before
    set_stock(qty)


# -------------------------------------------------------------------------------- alerts.json
def test_alerts_json(alerts_db: AlertsDb) -> None:
    payload = alerts_db.alerts_json()
    assert {"generatedAt", "referenceDate", "counts", "rows"} <= set(payload)
    assert payload["referenceDate"] == END_DATE.isoformat()
    dt.datetime.strptime(payload["generatedAt"], "%Y-%m-%dT%H:%M:%SZ")
    per_type = CFG["alerts.export_rows_per_type"]
    with psycopg.connect(alerts_db.url) as conn:
        open_rows = conn.execute(
            "SELECT alert_type, severity, count(*) FROM analytics.alert_history"
            " WHERE state = 'open' GROUP BY 1, 2"
        ).fetchall()
    counts = {
        s: sum(n for _, sev, n in open_rows if sev == s) for s in ("critical", "warning", "info")
    }
    assert payload["counts"] == {**counts, "total": sum(counts.values())}
    assert set(payload["byType"]) == set(ALERT_TYPES.values())
    for alert_type, by_type in payload["byType"].items():
        expected = {
            s: sum(n for t, sev, n in open_rows if t == alert_type and sev == s) for s in counts
        }
        assert by_type == {**expected, "total": sum(expected.values())}
    rows = payload["rows"]
    required = {"alertType", "severity", "title", "detail", "firstSeen", "lastSeen"}
    assert rows and all(required <= set(r) for r in rows)
    for alert_type, by_type in payload["byType"].items():
        listed = sum(1 for r in rows if r["alertType"] == alert_type)
        assert listed == min(by_type["total"], per_type)
    assert any(t["total"] > per_type for t in payload["byType"].values()), "bound not exercised"
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert [rank[r["severity"]] for r in rows] == sorted(rank[r["severity"]] for r in rows)
    # Which alerts are listed, and in which order, recomputed here from the open history: per type
    # the first per_type by severity, urgency (highest first, none last), newest, key; all listed
    # by severity, type (in the documented order), urgency, key.
    with psycopg.connect(alerts_db.url) as conn:
        history = conn.execute(
            "SELECT alert_id, alert_type, alert_key, severity, urgency::float8, first_seen_at"
            " FROM analytics.alert_history WHERE state = 'open'"
        ).fetchall()
    by_type: dict[str, list] = {}
    for row in history:
        by_type.setdefault(row[1], []).append(row)
    chosen = []
    for open_of_type in by_type.values():
        open_of_type.sort(key=lambda r: (r[2],))
        open_of_type.sort(key=lambda r: r[5], reverse=True)
        open_of_type.sort(key=lambda r: (rank[r[3]], r[4] is None, -(r[4] or 0.0)))
        chosen += open_of_type[:per_type]
    documented = (
        "revenue_anomaly",
        "critical_inventory",
        "shipment_delay",
        "high_value_churn",
        "elevated_return_rate",
        "payment_concentration",
    )
    type_order = {t: i for i, t in enumerate(documented)}
    chosen.sort(
        key=lambda r: (
            rank[r[3]],
            type_order.get(r[1], 99),
            r[4] is None,
            -(r[4] or 0.0),
            r[2],
            r[1],
        )
    )
    assert [r["alertId"] for r in rows] == [r[0] for r in chosen]
    for row in rows:
        assert row["firstSeen"] == row["lastSeen"] == END_DATE.isoformat()  # data dates
        dt.datetime.strptime(row["openedAt"], "%Y-%m-%dT%H:%M:%SZ")
    # A refresh on unchanged data writes the same file, apart from generatedAt.
    before = {k: v for k, v in payload.items() if k != "generatedAt"}
    alerts_db.sync()
    assert {k: v for k, v in alerts_db.alerts_json().items() if k != "generatedAt"} == before


def test_full_refresh_writes_alerts_json(
    kpi_conn: psycopg.Connection, kpi_dashboard_dir: Path
) -> None:
    """The main job (session fixture, scale 0.05) syncs the history and writes alerts.json."""
    payload = json.loads((kpi_dashboard_dir / "alerts.json").read_text())
    total = kpi_conn.execute(
        "SELECT count(*) FROM analytics.alert_history WHERE state = 'open'"
    ).fetchone()[0]
    current = kpi_conn.execute("SELECT count(*) FROM analytics.vw_alerts").fetchone()[0]
    assert payload["counts"]["total"] == total == current > 0
    manifest = json.loads((kpi_dashboard_dir / "manifest.json").read_text())
    assert "alerts.json" in manifest["files"]
