"""The fact layer (sql/facts/): analytics.fact_orders against an independent pandas computation, and
its incremental load — only changed days are reloaded, and after appends, edits and deletes of old
orders the table equals a full rebuild."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import psycopg
import pytest

from benchmarks.append_day import append_day
from retailmart_dagster.assets.builder import SqlBuilder, topological_order
from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects

pytestmark = pytest.mark.integration

END = dt.date(2025, 10, 1)
FACT_COLUMNS = [
    "order_id",
    "order_date",
    "cust_id",
    "store_id",
    "order_status",
    "total_amount",
    "line_count",
    "units",
    "list_value",
    "discount_amount",
    "line_net_value",
    "return_count",
    "refund_amount",
]


def _frame(conn: psycopg.Connection, query: str) -> pd.DataFrame:
    cur = conn.execute(query)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def expected_fact_orders(conn: psycopg.Connection) -> pd.DataFrame:
    """fact_orders computed in pandas from the raw source tables."""
    orders = _frame(
        conn,
        "SELECT order_id, order_date, cust_id, store_id, order_status, total_amount"
        " FROM sales.orders WHERE order_date IS NOT NULL",
    )
    items = _frame(conn, "SELECT order_id, quantity, unit_price, discount FROM sales.order_items")
    returns = _frame(conn, "SELECT order_id, refund_amount FROM sales.returns")
    items["list"] = items["quantity"] * items["unit_price"]
    items["disc"] = items["quantity"] * items["unit_price"] * items["discount"] / 100
    items["net"] = items["quantity"] * items["unit_price"] * (1 - items["discount"] / 100)
    lines = items.groupby("order_id").agg(
        line_count=("quantity", "size"),
        units=("quantity", "sum"),
        list_value=("list", "sum"),
        discount_amount=("disc", "sum"),
        line_net_value=("net", "sum"),
    )
    refunds = returns.groupby("order_id").agg(
        return_count=("order_id", "size"),
        refund_amount=("refund_amount", lambda s: sum((v for v in s if v is not None), Decimal(0))),
    )
    out = orders.merge(lines, on="order_id", how="left").merge(refunds, on="order_id", how="left")
    for col in ("line_count", "units", "return_count"):
        out[col] = out[col].fillna(0).astype(int)
    for col in ("list_value", "discount_amount", "line_net_value", "refund_amount"):
        out[col] = out[col].apply(lambda v: Decimal(0) if pd.isna(v) else v)
    return out[FACT_COLUMNS].sort_values("order_id").reset_index(drop=True)


def actual_fact_orders(conn: psycopg.Connection) -> pd.DataFrame:
    return _frame(
        conn, f"SELECT {', '.join(FACT_COLUMNS)} FROM analytics.fact_orders ORDER BY order_id"
    )


def assert_same_facts(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(actual) == len(expected)
    assert actual["order_id"].tolist() == expected["order_id"].tolist()
    for col in FACT_COLUMNS:
        a, e = actual[col].tolist(), expected[col].tolist()
        if col in ("list_value", "discount_amount", "line_net_value", "refund_amount"):
            # Exact decimal arithmetic on both sides: no tolerance needed.
            bad = [(i, x, y) for i, (x, y) in enumerate(zip(a, e, strict=True)) if Decimal(x) != y]
        else:
            bad = [(i, x, y) for i, (x, y) in enumerate(zip(a, e, strict=True)) if x != y]
        assert not bad, f"{col}: {len(bad)} rows differ, first {bad[:3]}"


def test_fact_orders_matches_pandas(kpi_conn: psycopg.Connection) -> None:
    assert_same_facts(actual_fact_orders(kpi_conn), expected_fact_orders(kpi_conn))
    # One recorded partition per order day, each with the day's order count.
    bad = kpi_conn.execute(
        """
        SELECT count(*) FROM analytics.fact_partitions p
          FULL JOIN (SELECT order_date, count(*) AS n FROM sales.orders
                      WHERE order_date IS NOT NULL GROUP BY order_date) o
            ON o.order_date = p.partition_date AND p.fact_name = 'fact_orders'
         WHERE (p.fact_name = 'fact_orders' OR p.fact_name IS NULL)
           AND (o.n IS DISTINCT FROM p.row_count)
        """
    ).fetchone()[0]
    assert bad == 0


def _build(conn: psycopg.Connection, names: set[str]) -> dict[str, str]:
    objects = load_sql_objects()
    builder = SqlBuilder(objects, post_hooks={"config": _config_hook})
    actions = {}
    for obj in topological_order(objects):
        if obj.group == "setup" or obj.name in names:
            actions[obj.name] = builder.build(conn, obj, run_id="test-facts").action
    # Setup may switch the session to the pipeline role; the test goes on editing the source.
    conn.execute("RESET ROLE")
    conn.commit()
    return actions


def _reloaded_days(conn: psycopg.Connection, since: dt.datetime) -> set[dt.date]:
    rows = conn.execute(
        "SELECT partition_date FROM analytics.fact_partitions"
        " WHERE fact_name = 'fact_orders' AND loaded_at >= %s",
        (since,),
    ).fetchall()
    return {r[0] for r in rows}


def test_incremental_load_reloads_changed_days_only_and_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("facts_incr")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=11, end_date=END)
        assert _build(conn, {"fact_orders"})["fact_orders"] == "create"
        conn.commit()
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )

        # Nothing changed: only the always-reloaded last days.
        t0 = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.commit()
        assert _build(conn, {"fact_orders"})["fact_orders"] == "incremental_load"
        conn.commit()
        last = END
        assert _reloaded_days(conn, t0) == {last - dt.timedelta(days=i) for i in range(reload_days)}
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))

        # A new day, and edits to old days: a status change, a new return, a deleted order.
        appended = append_day(conn, seed=11)
        with conn.transaction():
            old = conn.execute(
                "SELECT order_id, order_date FROM sales.orders WHERE order_date < %s"
                " ORDER BY order_id LIMIT 3",
                (END - dt.timedelta(days=100),),
            ).fetchall()
            (status_id, status_day), (return_id, return_day), (gone_id, gone_day) = old
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Returned' WHERE order_id = %s",
                (status_id,),
            )
            conn.execute(
                "INSERT INTO sales.returns (return_id, order_id, prod_id, return_date, reason,"
                " refund_amount) SELECT (SELECT max(return_id) + 1 FROM sales.returns), %s,"
                " oi.prod_id, %s, 'Damaged', 12.34 FROM sales.order_items oi"
                " WHERE oi.order_id = %s ORDER BY oi.order_item_id LIMIT 1",
                (return_id, END, return_id),
            )
            for table in (
                "sales.returns",
                "sales.payments",
                "sales.shipments",
                "sales.order_items",
            ):
                conn.execute(f"DELETE FROM {table} WHERE order_id = %s", (gone_id,))
            conn.execute("DELETE FROM sales.orders WHERE order_id = %s", (gone_id,))
        t1 = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.commit()
        assert _build(conn, {"fact_orders"})["fact_orders"] == "incremental_load"
        conn.commit()
        new_last = appended.day
        expected_days = {status_day, return_day, gone_day} | {
            new_last - dt.timedelta(days=i) for i in range(reload_days)
        }
        assert _reloaded_days(conn, t1) == expected_days
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))

        # A day that vanished from the source entirely is deleted from the fact and its log.
        with conn.transaction():
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT order_id FROM sales.orders WHERE order_date = %s", (gone_day,)
                ).fetchall()
            ]
            for table in (
                "sales.returns",
                "sales.payments",
                "sales.shipments",
                "sales.order_items",
            ):
                conn.execute(f"DELETE FROM {table} WHERE order_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM sales.orders WHERE order_id = ANY(%s)", (ids,))
        _build(conn, {"fact_orders"})
        conn.commit()
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))
        assert not conn.execute(
            "SELECT 1 FROM analytics.fact_partitions WHERE fact_name = 'fact_orders'"
            " AND partition_date = %s",
            (gone_day,),
        ).fetchone()

        # A changed definition (registered version differs) re-creates the table: full reload.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old'"
            " WHERE object_name = 'fact_orders'"
        )
        conn.execute("DELETE FROM analytics.fact_orders WHERE order_id % 2 = 0")
        conn.commit()
        assert _build(conn, {"fact_orders"})["fact_orders"] == "recreate"
        conn.commit()
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))


def test_failed_incremental_load_keeps_the_previous_facts(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("facts_fail")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=12, end_date=END)
        _build(conn, {"fact_orders"})
        conn.commit()
        before = actual_fact_orders(conn)
        partitions = conn.execute("SELECT count(*) FROM analytics.fact_partitions").fetchone()[0]
        append_day(conn, seed=12)
        # The load fails half-way (a source table is gone): nothing of it may stay.
        conn.execute("ALTER TABLE sales.order_items RENAME TO order_items_gone")
        conn.commit()
        with pytest.raises(psycopg.errors.UndefinedTable):
            _build(conn, {"fact_orders"})
        conn.rollback()
        conn.execute("RESET ROLE")
        conn.execute("ALTER TABLE sales.order_items_gone RENAME TO order_items")
        conn.commit()
        assert_same_facts(actual_fact_orders(conn), before)
        assert (
            conn.execute("SELECT count(*) FROM analytics.fact_partitions").fetchone()[0]
            == partitions
        )
        _build(conn, {"fact_orders"})
        conn.commit()
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))
