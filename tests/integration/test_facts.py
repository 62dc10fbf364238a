"""The fact layer (sql/facts/): analytics.fact_orders against an independent pandas computation, and
its incremental load — only changed days are reloaded, and after appends, edits and deletes of old
orders the table equals a full rebuild."""

from __future__ import annotations

import datetime as dt
import time
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


def _reloaded_days(
    conn: psycopg.Connection, since: dt.datetime, fact: str = "fact_orders"
) -> set[dt.date]:
    rows = conn.execute(
        "SELECT partition_date FROM analytics.fact_partitions"
        " WHERE fact_name = %s AND loaded_at >= %s",
        (fact, since),
    ).fetchall()
    return {r[0] for r in rows}


def test_incremental_load_reloads_changed_days_only_and_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("facts_incr")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=11, end_date=END)
        assert _build(conn, {"fact_orders"})["fact_orders"] == "create"
        conn.commit()
        # Vacuumed after its first load (outside the build's transaction), so index-only scans on
        # it work from the next build on; the incremental loads below leave that to autovacuum.
        vacuumed = conn.execute(
            "SELECT last_vacuum FROM pg_stat_user_tables"
            " WHERE relid = 'analytics.fact_orders'::regclass"
        ).fetchone()[0]
        assert vacuumed is not None
        # The load committed synchronously, so that VACUUM could set the rows' hint bits and, with no
        # other transaction running here, mark every page all-visible.
        pages, visible = conn.execute(
            "SELECT relpages, relallvisible FROM pg_class"
            " WHERE oid = 'analytics.fact_orders'::regclass"
        ).fetchone()
        assert visible == pages > 0
        # ... and analyzed with it, so the objects built on it next plan on its statistics.
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'analytics'"
                " AND tablename = 'fact_orders'"
            ).fetchone()[0]
            > 0
        )
        # The first load records the line boundary of the loaded orders (not the smallest integer)
        # with the print of the source's lines below it, so the next load hashes only new lines.
        recent_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.line_recent_days')").fetchone()[0]
        )
        expected_boundary = conn.execute(
            "SELECT min(order_id) FROM sales.orders"
            " WHERE order_date > (SELECT max(order_date) FROM sales.orders) - %s",
            (recent_days,),
        ).fetchone()[0]
        recorded = _whole_record(conn, "fact_orders")[0].split("/")
        assert int(recorded[4]) == expected_boundary > -2147483648
        assert int(recorded[5]) > 0  # lines below it
        assert _whole_record(conn, "fact_orders") == _whole_orders_now(conn)
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
        assert _whole_record(conn, "fact_orders") == _whole_orders_now(conn)

        # While no order or return outside the fresh days changed, the other days keep their
        # recorded fingerprints without hashing their orders again: a recorded one tampered with
        # here is trusted (its day is not reloaded); the edits below make the next load hash every
        # day, and the tampered day is reloaded with them.
        # Likewise the older lines' hash sum (the record's ninth field) while their versions are
        # the recorded ones: tampered with, it is kept (and, differing from the loaded orders' line
        # hashes, makes the load compare every order's lines, which finds no day to reload).
        older_lines = conn.execute(
            "SELECT split_part(fingerprint, '/', 9)::numeric FROM analytics.fact_partitions"
            " WHERE fact_name = 'fact_orders:source'"
        ).fetchone()[0]
        with conn.transaction():
            conn.execute(
                "UPDATE analytics.fact_partitions SET fingerprint = regexp_replace(fingerprint,"
                " '^((?:[^/]*/){8})[^/]*', '\\1' || %s) WHERE fact_name = 'fact_orders:source'",
                (str(older_lines + 7),),
            )
        tampered = END - dt.timedelta(days=60)
        with conn.transaction():
            assert (
                conn.execute(
                    "UPDATE analytics.fact_partitions SET fingerprint = regexp_replace("
                    " fingerprint, '^([^:]*:[^:]*:)[^/]*', '\\112345')"
                    " WHERE fact_name = 'fact_orders' AND partition_date = %s",
                    (tampered,),
                ).rowcount
                == 1
            )
        t0 = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.commit()
        assert _build(conn, {"fact_orders"})["fact_orders"] == "incremental_load"
        conn.commit()
        assert _reloaded_days(conn, t0) == {last - dt.timedelta(days=i) for i in range(reload_days)}
        kept = _whole_record(conn, "fact_orders")[0].split("/")
        now = _whole_orders_now(conn)[0].split("/")
        assert kept[:8] == now[:8]
        assert Decimal(kept[8]) == older_lines + 7
        assert kept[9:] == now[9:]
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))

        # A new day, and edits to old days: a status change, a new return, a deleted order (the
        # deleted lines make the next load hash the older lines again: the record is the source's).
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
            # Two orders of one old day swapping their stores: every column keeps its values on
            # the day, only the rows holding them change. A plain sum of hash_record_extended (a
            # linear combination of the column hashes) can miss this: it sees it only when the
            # 64-bit wrap-around of the two rows' hashes changes, as it happens to for this pair.
            swap_day, order_a, store_a, order_b, store_b = conn.execute(
                "SELECT a.order_date, a.order_id, a.store_id, b.order_id, b.store_id"
                " FROM sales.orders a JOIN sales.orders b ON b.order_date = a.order_date"
                " AND b.order_id > a.order_id AND b.store_id <> a.store_id"
                " WHERE a.order_date < %s AND a.order_date <> ALL(%s)"
                " ORDER BY a.order_date, a.order_id, b.order_id LIMIT 1",
                (END - dt.timedelta(days=100), [status_day, return_day, gone_day]),
            ).fetchone()
            swap = "UPDATE sales.orders SET store_id = %s WHERE order_id = %s"
            conn.execute(swap, (store_b, order_a))
            conn.execute(swap, (store_a, order_b))
        t1 = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        conn.commit()
        assert _build(conn, {"fact_orders"})["fact_orders"] == "incremental_load"
        conn.commit()
        new_last = appended.day
        expected_days = {status_day, return_day, gone_day, swap_day, tampered} | {
            new_last - dt.timedelta(days=i) for i in range(reload_days)
        }
        assert _reloaded_days(conn, t1) == expected_days
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))
        assert _whole_record(conn, "fact_orders") == _whole_orders_now(conn)

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


# --------------------------------------------------------------------------------------------------
# Product facts: fact_product_days, fact_product_group_days, fact_product_returns
# --------------------------------------------------------------------------------------------------

PRODUCT_FACTS = ("fact_product_days", "fact_product_group_days", "fact_product_returns")
PRODUCT_DAY_KEYS = ["order_date", "prod_id", "order_status"]
PRODUCT_DAY_VALUES = ["lines", "units", "list_value", "discount_amount", "net_value", "orders"]
GROUP_DAY_KEYS = ["order_date", "order_status", "level", "group_name"]
RETURN_COLUMNS = [
    "return_id",
    "order_id",
    "order_date",
    "order_status",
    "prod_id",
    "category",
    "reason",
    "return_date",
    "refund_amount",
    "order_has_category",
]


def _none(v: object) -> object:
    """SQL NULL and pandas' NaN/NaT/None as None; integral floats (ids next to NaN) as int."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def _keyed(frame: pd.DataFrame, keys: list[str], values: list[str]) -> dict[tuple, tuple]:
    out: dict[tuple, tuple] = {}
    for row in frame[keys + values].itertuples(index=False):
        key = tuple(_none(v) for v in row[: len(keys)])
        assert key not in out, f"duplicate key {key}"
        out[key] = tuple(_none(v) for v in row[len(keys) :])
    return out


def _assert_same(actual: dict[tuple, tuple], expected: dict[tuple, tuple], what: str) -> None:
    missing = sorted(set(expected) - set(actual), key=str)
    extra = sorted(set(actual) - set(expected), key=str)
    assert not missing and not extra, f"{what}: missing {missing[:3]}, extra {extra[:3]}"
    # Decimal == Decimal and int == int: exact, no tolerance.
    bad = [(k, actual[k], expected[k]) for k in expected if actual[k] != expected[k]]
    assert not bad, f"{what}: {len(bad)} rows differ, first {bad[:3]}"


def _source_lines(conn: psycopg.Connection) -> pd.DataFrame:
    """Order lines of existing, dated orders with their order's day and status and their product's
    catalogue entry (NaN when the line has no catalogue product)."""
    orders = _frame(
        conn,
        "SELECT order_id, order_date, order_status FROM sales.orders WHERE order_date IS NOT NULL",
    )
    items = _frame(
        conn, "SELECT order_id, prod_id, quantity, unit_price, discount FROM sales.order_items"
    )
    products = _frame(conn, "SELECT prod_id, category, brand FROM products.products")
    products["known"] = True
    lines = items.dropna(subset=["order_id"]).merge(orders, on="order_id", how="inner")
    return lines.merge(products, on="prod_id", how="left")


def _dsum(values: pd.Series) -> object:
    """SQL sum(): NULLs ignored, NULL when there is no value; exact Decimal arithmetic."""
    present = [v for v in values if _none(v) is not None]
    return sum(present[1:], present[0]) if present else None


def expected_product_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    lines = _source_lines(conn)
    lines["list"] = [
        None if q is None or p is None else q * p
        for q, p in zip(lines["quantity"], lines["unit_price"], strict=True)
    ]
    lines["disc"] = [
        None if q is None or p is None or d is None else q * p * d / 100
        for q, p, d in zip(lines["quantity"], lines["unit_price"], lines["discount"], strict=True)
    ]
    lines["net"] = [
        None if q is None or p is None or d is None else q * p * (1 - d / 100)
        for q, p, d in zip(lines["quantity"], lines["unit_price"], lines["discount"], strict=True)
    ]
    lines["quantity"] = lines["quantity"].astype(object)
    grouped = (
        lines.groupby(PRODUCT_DAY_KEYS, dropna=False)
        .agg(
            lines=("order_id", "size"),
            units=("quantity", _dsum),
            list_value=("list", _dsum),
            discount_amount=("disc", _dsum),
            net_value=("net", _dsum),
            orders=("order_id", "nunique"),
        )
        .reset_index()
    )
    return _keyed(grouped, PRODUCT_DAY_KEYS, PRODUCT_DAY_VALUES)


def expected_group_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    lines = _source_lines(conn)
    known = lines[lines["known"].eq(True)]
    parts = [
        lines.assign(level="line_category", group_name=lines["category"].fillna("Unknown")),
        known.assign(level="category", group_name=known["category"].fillna("Unknown")),
        known.assign(level="brand", group_name=known["brand"].fillna("Unknown")),
    ]
    grouped = (
        pd.concat(parts)
        .groupby(GROUP_DAY_KEYS, dropna=False)
        .agg(orders=("order_id", "nunique"))
        .reset_index()
    )
    return _keyed(grouped, GROUP_DAY_KEYS, ["orders"])


def expected_product_returns(conn: psycopg.Connection) -> dict[tuple, tuple]:
    lines = _source_lines(conn)
    pairs = set(zip(lines["order_id"], lines["category"].fillna("Unknown"), strict=True))
    orders = _frame(
        conn,
        "SELECT order_id, order_date, order_status FROM sales.orders WHERE order_date IS NOT NULL",
    )
    returns = _frame(
        conn,
        "SELECT return_id, order_id, prod_id, reason, return_date, refund_amount FROM sales.returns",
    )
    products = _frame(conn, "SELECT prod_id, category FROM products.products")
    out = returns.merge(orders, on="order_id", how="inner").merge(
        products, on="prod_id", how="left"
    )
    out["category"] = out["category"].fillna("Unknown")
    out["order_has_category"] = [
        (o, c) in pairs for o, c in zip(out["order_id"], out["category"], strict=True)
    ]
    return _keyed(out, RETURN_COLUMNS[:1], RETURN_COLUMNS[1:])


def actual_product_facts(conn: psycopg.Connection) -> dict[str, dict[tuple, tuple]]:
    return {
        "fact_product_days": _keyed(
            _frame(conn, "SELECT * FROM analytics.fact_product_days"),
            PRODUCT_DAY_KEYS,
            PRODUCT_DAY_VALUES,
        ),
        "fact_product_group_days": _keyed(
            _frame(conn, "SELECT * FROM analytics.fact_product_group_days"),
            GROUP_DAY_KEYS,
            ["orders"],
        ),
        "fact_product_returns": _keyed(
            _frame(conn, f"SELECT {', '.join(RETURN_COLUMNS)} FROM analytics.fact_product_returns"),
            RETURN_COLUMNS[:1],
            RETURN_COLUMNS[1:],
        ),
    }


def assert_product_facts_match_source(conn: psycopg.Connection) -> dict[str, dict[tuple, tuple]]:
    actual = actual_product_facts(conn)
    _assert_same(actual["fact_product_days"], expected_product_days(conn), "fact_product_days")
    _assert_same(
        actual["fact_product_group_days"], expected_group_days(conn), "fact_product_group_days"
    )
    _assert_same(
        actual["fact_product_returns"], expected_product_returns(conn), "fact_product_returns"
    )
    return actual


def _partition_rows_match(conn: psycopg.Connection, fact: str) -> None:
    """One recorded partition per day of fact_orders, with the fact's row count of that day."""
    bad = conn.execute(
        f"""
        SELECT count(*) FROM (
            SELECT partition_date FROM analytics.fact_partitions WHERE fact_name = 'fact_orders'
        ) AS u
        FULL JOIN (
            SELECT partition_date, row_count FROM analytics.fact_partitions
             WHERE fact_name = %s
        ) AS p USING (partition_date)
        LEFT JOIN (
            SELECT order_date AS partition_date, count(*) AS n FROM analytics.{fact} GROUP BY 1
        ) AS f USING (partition_date)
        WHERE p.partition_date IS NULL OR coalesce(f.n, 0) <> p.row_count
        """,
        (fact,),
    ).fetchone()[0]
    assert bad == 0, fact


MONTH_FACTS = ("fact_product_months", "fact_product_group_months")


def _rollup_months(day_rows: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Day-fact rows (keys start with the order date) summed per calendar month, as SQL sums do:
    NULLs ignored, NULL when every value is NULL; Decimal and int sums are exact."""
    out: dict[tuple, list] = {}
    for key, values in day_rows.items():
        acc = out.setdefault((key[0].replace(day=1), *key[1:]), [None] * len(values))
        for i, v in enumerate(values):
            if v is not None:
                acc[i] = v if acc[i] is None else acc[i] + v
    return {k: tuple(v) for k, v in out.items()}


def assert_month_rollups_match_days(conn: psycopg.Connection) -> dict[str, dict[tuple, tuple]]:
    """The month facts hold exactly the sums of their day facts, one partition per month with its
    row count."""
    days = actual_product_facts(conn)
    months = {
        "fact_product_months": _keyed(
            _frame(conn, "SELECT * FROM analytics.fact_product_months"),
            ["order_month", *PRODUCT_DAY_KEYS[1:]],
            PRODUCT_DAY_VALUES,
        ),
        "fact_product_group_months": _keyed(
            _frame(conn, "SELECT * FROM analytics.fact_product_group_months"),
            ["order_month", *GROUP_DAY_KEYS[1:]],
            ["orders"],
        ),
    }
    _assert_same(
        months["fact_product_months"],
        _rollup_months(days["fact_product_days"]),
        "fact_product_months",
    )
    _assert_same(
        months["fact_product_group_months"],
        _rollup_months(days["fact_product_group_days"]),
        "fact_product_group_months",
    )
    for fact, day_fact in zip(MONTH_FACTS, PRODUCT_FACTS[:2], strict=True):
        bad = conn.execute(
            f"""
            SELECT count(*) FROM (
                SELECT DISTINCT date_trunc('month', partition_date)::date AS partition_date
                  FROM analytics.fact_partitions WHERE fact_name = %s
            ) AS u
            FULL JOIN (
                SELECT partition_date, row_count FROM analytics.fact_partitions
                 WHERE fact_name = %s
            ) AS p USING (partition_date)
            LEFT JOIN (
                SELECT order_month AS partition_date, count(*) AS n FROM analytics.{fact} GROUP BY 1
            ) AS f USING (partition_date)
            WHERE u.partition_date IS NULL OR p.partition_date IS NULL
               OR coalesce(f.n, 0) <> p.row_count
            """,
            (day_fact, fact),
        ).fetchone()[0]
        assert bad == 0, f"{fact}: partitions do not match the months of {day_fact}"
    return months


def _months(days: set[dt.date]) -> set[dt.date]:
    return {d.replace(day=1) for d in days}


def test_product_month_facts_match_their_days(kpi_conn: psycopg.Connection) -> None:
    months = assert_month_rollups_match_days(kpi_conn)
    assert all(months.values())
    # The months really roll days up (several days per month), and the reference month is there.
    assert len(months["fact_product_months"]) < len(
        actual_product_facts(kpi_conn)["fact_product_days"]
    )
    ref = kpi_conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0]
    assert ref.replace(day=1) in {k[0] for k in months["fact_product_months"]}


def test_product_facts_match_pandas(kpi_conn: psycopg.Connection) -> None:
    actual = assert_product_facts_match_source(kpi_conn)
    assert all(actual.values())
    levels = {k[2] for k in actual["fact_product_group_days"]}
    assert levels == {"category", "brand", "line_category"}
    for fact in PRODUCT_FACTS:
        _partition_rows_match(kpi_conn, fact)


def _reloaded(conn: psycopg.Connection, since: dt.datetime) -> dict[str, set[dt.date]]:
    return {fact: _reloaded_days(conn, since, fact) for fact in PRODUCT_FACTS}


def _now(conn: psycopg.Connection) -> dt.datetime:
    t = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    conn.commit()
    return t


def _delete_orders(conn: psycopg.Connection, ids: list[int]) -> None:
    for table in ("sales.returns", "sales.payments", "sales.shipments", "sales.order_items"):
        conn.execute(f"DELETE FROM {table} WHERE order_id = ANY(%s)", (ids,))
    conn.execute("DELETE FROM sales.orders WHERE order_id = ANY(%s)", (ids,))


def test_product_facts_incremental_load_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    names = {"fact_orders", *PRODUCT_FACTS, *MONTH_FACTS}
    url = new_database("product_facts")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=13, end_date=END)
        # Traps the sample data lacks: a line without product (an 'Unknown' line category, but no
        # catalogue category or brand), a line without order (in no fact) and a return of a product
        # of a category the order has no line of.
        with conn.transaction():
            trap_order = conn.execute(
                "SELECT min(order_id) FROM sales.orders WHERE order_status = 'Delivered'"
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity,"
                " unit_price, discount) SELECT max(order_item_id) + 1, %s, NULL, 2, 10.50, 5"
                " FROM sales.order_items",
                (trap_order,),
            )
            conn.execute(
                "INSERT INTO sales.returns (return_id, order_id, prod_id, return_date, reason,"
                " refund_amount) SELECT max(return_id) + 1, %s, (SELECT min(p.prod_id)"
                " FROM products.products p WHERE p.category IS NOT NULL AND p.category NOT IN"
                " (SELECT q.category FROM sales.order_items i JOIN products.products q"
                " USING (prod_id) WHERE i.order_id = %s AND q.category IS NOT NULL)),"
                " %s, 'Wrong item', 5.00 FROM sales.returns",
                (trap_order, trap_order, END),
            )
            conn.execute(
                "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity,"
                " unit_price, discount) SELECT max(order_item_id) + 1, NULL,"
                " min(prod_id), 1, 3, 0 FROM sales.order_items"
            )
        actions = _build(conn, names)
        assert {actions[f] for f in (*PRODUCT_FACTS, *MONTH_FACTS)} == {"create"}
        full = assert_product_facts_match_source(conn)
        full_months = assert_month_rollups_match_days(conn)
        assert {v[-1] for v in full["fact_product_returns"].values()} == {True, False}
        assert any(k[1] is None for k in full["fact_product_days"])
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )

        # Nothing changed: only the always-reloaded last days.
        t0 = _now(conn)
        actions = _build(conn, names)
        assert {actions[f] for f in PRODUCT_FACTS} == {"incremental_load"}
        window = {END - dt.timedelta(days=i) for i in range(reload_days)}
        assert _reloaded(conn, t0) == dict.fromkeys(PRODUCT_FACTS, window)
        assert actual_product_facts(conn) == full
        # The months of the reloaded days reload (their days' load times changed), no other.
        for fact in MONTH_FACTS:
            assert _reloaded_days(conn, t0, fact) == _months(window), fact
        assert assert_month_rollups_match_days(conn) == full_months

        # A new day, and edits to old days: a status change, a new return, a deleted order, and a
        # day whose orders all vanished.
        appended = append_day(conn, seed=13)
        with conn.transaction():
            old = conn.execute(
                "SELECT DISTINCT ON (order_date) order_id, order_date FROM sales.orders"
                " WHERE order_date < %s ORDER BY order_date, order_id LIMIT 4",
                (END - dt.timedelta(days=100),),
            ).fetchall()
            (status_id, status_day), (return_id, return_day), (gone_id, gone_day) = old[:3]
            vanish_day = old[3][1]
            conn.execute(
                "UPDATE sales.orders SET order_status = CASE order_status WHEN 'Returned'"
                " THEN 'Delivered' ELSE 'Returned' END WHERE order_id = %s",
                (status_id,),
            )
            conn.execute(
                "INSERT INTO sales.returns (return_id, order_id, prod_id, return_date, reason,"
                " refund_amount) SELECT (SELECT max(return_id) + 1 FROM sales.returns), %s,"
                " oi.prod_id, %s, 'Damaged', 12.34 FROM sales.order_items oi"
                " WHERE oi.order_id = %s ORDER BY oi.order_item_id LIMIT 1",
                (return_id, END, return_id),
            )
            _delete_orders(conn, [gone_id])
            vanish_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT order_id FROM sales.orders WHERE order_date = %s", (vanish_day,)
                ).fetchall()
            ]
            _delete_orders(conn, vanish_ids)
        t1 = _now(conn)
        actions = _build(conn, names)
        assert {actions[f] for f in PRODUCT_FACTS} == {"incremental_load"}
        new_window = {appended.day - dt.timedelta(days=i) for i in range(reload_days)}
        changed = {status_day, return_day, gone_day} | new_window
        assert _reloaded(conn, t1) == dict.fromkeys(PRODUCT_FACTS, changed)
        assert_product_facts_match_source(conn)
        # A vanished day changes its month too (its day is gone from the month's list).
        for fact in MONTH_FACTS:
            assert _reloaded_days(conn, t1, fact) == _months(changed | {vanish_day}), fact
        assert_month_rollups_match_days(conn)
        for fact in PRODUCT_FACTS:
            _partition_rows_match(conn, fact)
            assert not conn.execute(
                f"SELECT 1 FROM analytics.{fact} WHERE order_date = %s", (vanish_day,)
            ).fetchone()

        # A catalogue change (a sold and returned product moved to another category): the facts
        # that hold categories reload every day, fact_product_days only its usual window.
        moved = conn.execute(
            "SELECT r.prod_id FROM sales.returns r JOIN products.products p USING (prod_id)"
            " ORDER BY r.return_id LIMIT 1"
        ).fetchone()[0]
        with conn.transaction():
            conn.execute(
                "UPDATE products.products SET category = (SELECT max(category)"
                " FROM products.products WHERE category <> (SELECT category FROM products.products"
                " WHERE prod_id = %s)) WHERE prod_id = %s",
                (moved, moved),
            )
        t2 = _now(conn)
        _build(conn, names)
        all_days = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT order_date FROM sales.orders WHERE order_date IS NOT NULL"
            ).fetchall()
        }
        assert _reloaded(conn, t2) == {
            "fact_product_days": new_window,
            "fact_product_group_days": all_days,
            "fact_product_returns": all_days,
        }
        incremental = assert_product_facts_match_source(conn)
        assert _reloaded_days(conn, t2, "fact_product_months") == _months(new_window)
        assert _reloaded_days(conn, t2, "fact_product_group_months") == _months(all_days)
        incremental_months = assert_month_rollups_match_days(conn)

        # The same data loaded from scratch (definitions changed: re-created) gives the same rows.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old' WHERE object_name = ANY(%s)",
            (list(PRODUCT_FACTS),),
        )
        conn.commit()
        t3 = _now(conn)
        actions = _build(conn, names)
        assert {actions[f] for f in PRODUCT_FACTS} == {"recreate"}
        assert actual_product_facts(conn) == incremental
        # Every day was reloaded, so every month reloads: the same month rows.
        for fact in MONTH_FACTS:
            assert actions[fact] == "incremental_load"
            assert _reloaded_days(conn, t3, fact) == _months(all_days), fact
        assert assert_month_rollups_match_days(conn) == incremental_months


# --------------------------------------------------------------------------------------------------
# Payment fact: fact_payment_days (read by mv_payment_analysis and mv_sales_by_payment_mode)
# --------------------------------------------------------------------------------------------------

PAYMENT_OBJECTS = ("fact_payment_days", "mv_payment_analysis", "mv_sales_by_payment_mode")
PAYMENT_DAY_KEYS = ["order_date", "order_status", "payment_day", "payment_mode"]
PAYMENT_DAY_VALUES = [
    "payments",
    "amount",
    "month_first_orders",
    "month_last_orders",
    "mode_first_orders",
]

# The two payment KPIs computed straight from the source, joining every payment to its order (their
# former definitions, without the zero-filled grid and the rounded ratios).
DIRECT_PAYMENT_MONTHS = """
WITH b AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date,
           analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded,
           (SELECT min(order_date) FROM sales.orders
             WHERE order_date <= analytics.fn_reference_date()) AS first_date
)
SELECT date_trunc('month', coalesce(pm.payment_date, o.order_date))::date AS payment_month,
       coalesce(pm.payment_mode, 'Unknown') AS payment_mode,
       count(*) AS payments, count(DISTINCT pm.order_id) AS orders,
       coalesce(sum(pm.amount), 0) AS amount
  FROM sales.payments pm JOIN sales.orders o USING (order_id) CROSS JOIN b
 WHERE o.order_date BETWEEN b.first_date AND b.ref_date
   AND NOT coalesce(o.order_status = ANY (b.excluded), false)
   AND coalesce(pm.payment_date, o.order_date) BETWEEN b.first_date AND b.ref_date
 GROUP BY 1, 2
"""
DIRECT_PAYMENT_MODES = """
SELECT coalesce(pm.payment_mode, 'Unknown') AS payment_mode, count(*) AS payments,
       count(DISTINCT pm.order_id) AS orders, coalesce(sum(pm.amount), 0) AS amount_paid
  FROM sales.payments pm JOIN sales.orders o USING (order_id)
 WHERE o.order_date <= analytics.fn_reference_date()
   AND NOT coalesce(o.order_status = ANY (
           analytics.fn_config_text_array('sales.excluded_order_statuses')), false)
 GROUP BY 1
"""


def expected_payment_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """fact_payment_days in pandas: payments of existing, dated orders; each order counted on the day
    of its first / last payment of the (month, mode) and of its first payment in the mode."""
    orders = _frame(
        conn,
        "SELECT order_id, order_date, order_status FROM sales.orders WHERE order_date IS NOT NULL",
    )
    pays = _frame(conn, "SELECT order_id, payment_date, payment_mode, amount FROM sales.payments")
    p = pays.dropna(subset=["order_id"]).merge(orders, on="order_id", how="inner")
    p["payment_day"] = [
        o if _none(d) is None else d
        for d, o in zip(p["payment_date"], p["order_date"], strict=True)
    ]
    p["payment_mode"] = p["payment_mode"].fillna("Unknown")
    p["month"] = [(d.year, d.month) for d in p["payment_day"]]
    by_month = p.groupby(["order_id", "payment_mode", "month"])["payment_day"]
    p["month_first"] = p["payment_day"] == by_month.transform("min")
    p["month_last"] = p["payment_day"] == by_month.transform("max")
    p["mode_first"] = p["payment_day"] == p.groupby(["order_id", "payment_mode"])[
        "payment_day"
    ].transform("min")
    grouped = (
        p.groupby(PAYMENT_DAY_KEYS, dropna=False)
        .agg(payments=("order_id", "size"), amount=("amount", _dsum))
        .reset_index()
    )
    for flag in ("month_first", "month_last", "mode_first"):
        counts = (
            p[p[flag]]
            .groupby(PAYMENT_DAY_KEYS, dropna=False)["order_id"]
            .nunique()
            .rename(f"{flag}_orders")
            .reset_index()
        )
        grouped = grouped.merge(counts, on=PAYMENT_DAY_KEYS, how="left")
        grouped[f"{flag}_orders"] = grouped[f"{flag}_orders"].fillna(0).astype(int)
    return _keyed(grouped, PAYMENT_DAY_KEYS, PAYMENT_DAY_VALUES)


def actual_payment_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    return _keyed(
        _frame(conn, "SELECT * FROM analytics.fact_payment_days"),
        PAYMENT_DAY_KEYS,
        PAYMENT_DAY_VALUES,
    )


def assert_payment_kpis_match_source(conn: psycopg.Connection) -> None:
    """Both payment MVs (read from the fact) equal the direct join of payments to orders, exactly
    (rows with payments; the zero-filled grid rows of mv_payment_analysis are zeros)."""
    checks = (
        (
            "SELECT payment_month, payment_mode, payments, orders, amount"
            " FROM analytics.mv_payment_analysis WHERE payments > 0",
            DIRECT_PAYMENT_MONTHS,
        ),
        (
            "SELECT payment_mode, payments, orders, amount_paid"
            " FROM analytics.mv_sales_by_payment_mode",
            DIRECT_PAYMENT_MODES,
        ),
    )
    for mv, direct in checks:
        for a, b in ((mv, direct), (direct, mv)):
            diff = conn.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b})) AS d").fetchone()[0]
            assert diff == 0, f"{a[:60]}...: {diff} rows not in the other"
    assert not conn.execute(
        "SELECT 1 FROM analytics.mv_payment_analysis"
        " WHERE payments = 0 AND (orders <> 0 OR amount <> 0)"
    ).fetchone()


def test_payment_fact_matches_pandas(kpi_conn: psycopg.Connection) -> None:
    actual = actual_payment_days(kpi_conn)
    assert actual
    _assert_same(actual, expected_payment_days(kpi_conn), "fact_payment_days")
    _partition_rows_match(kpi_conn, "fact_payment_days")
    assert_payment_kpis_match_source(kpi_conn)


def _payment_id(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT max(payment_id) + 1 FROM sales.payments").fetchone()[0]


def _add_payment(
    conn: psycopg.Connection,
    order_id: int | None,
    day: dt.date | None,
    mode: str | None,
    amount: str | None,
) -> None:
    conn.execute(
        "INSERT INTO sales.payments (payment_id, order_id, payment_date, payment_mode, amount)"
        " VALUES (%s, %s, %s, %s, %s)",
        (_payment_id(conn), order_id, day, mode, amount),
    )


def _payment_traps(conn: psycopg.Connection) -> None:
    """Data the sample lacks: orders before the first order date removed so that it is not the 1st of
    its month; payments dated before it (alone, or next to a payment in the period in the same month
    and mode: the order counts once), after the reference date, undated, without mode, without
    amount, without order; an order paid in the same mode on two days of a month and in two months."""
    first = dt.date(2024, 1, 4)
    early = conn.execute(
        "SELECT array_agg(order_id) FROM sales.orders WHERE order_date < %s", (first,)
    ).fetchone()[0]
    _delete_orders(conn, early or [])
    jan = conn.execute(
        "SELECT DISTINCT ON (o.order_id) o.order_id, o.order_date, p.payment_id, p.payment_mode"
        " FROM sales.orders o"
        " JOIN sales.payments p USING (order_id) WHERE o.order_status = 'Delivered'"
        " AND o.order_date BETWEEN %s AND %s ORDER BY o.order_id, p.payment_id LIMIT 3",
        (first, first + dt.timedelta(days=10)),
    ).fetchall()
    (mixed_id, _, _, mixed_mode), (alone_id, _, alone_pay, _), (multi_id, multi_day, _, mode) = jan
    _add_payment(conn, mixed_id, first - dt.timedelta(days=1), mixed_mode, "11.00")
    conn.execute(
        "UPDATE sales.payments SET payment_date = %s WHERE payment_id = %s",
        (first - dt.timedelta(days=2), alone_pay),
    )
    _add_payment(conn, multi_id, multi_day + dt.timedelta(days=3), mode, "5.25")
    _add_payment(conn, multi_id, multi_day + dt.timedelta(days=40), mode, "6.50")
    _add_payment(conn, multi_id, None, None, "7.75")
    _add_payment(conn, multi_id, multi_day + dt.timedelta(days=7), mode, None)
    _add_payment(conn, None, multi_day, mode, "99.00")
    late_id = conn.execute(
        "SELECT max(order_id) FROM sales.orders WHERE order_date = %s AND order_status <> 'Cancelled'",
        (END,),
    ).fetchone()[0]
    _add_payment(conn, late_id, END + dt.timedelta(days=5), "UPI", "3.00")


def _whole_record(conn: psycopg.Connection, fact: str) -> tuple:
    """The whole-table count and hash sum the payment or shipment fact recorded at its last load."""
    return conn.execute(
        "SELECT fingerprint, row_count FROM analytics.fact_partitions WHERE fact_name = %s",
        (f"{fact}:source",),
    ).fetchone()


def _state_now(conn: psycopg.Connection, table: str, seed: int, boundary: int) -> str:
    """analytics.fn_table_print's state of table's rows below boundary, computed independently:
    'boundary:rows:content hash sum:versions hash sum'."""
    row = conn.execute(
        "SELECT count(*),"
        f" coalesce(sum(hashint8extended(hash_record_extended(t, {seed}), {seed})), 0),"
        " coalesce(sum(hashint4(age(t.xmin) - age('3'::xid))), 0)"
        f" FROM {table} AS t WHERE t.order_id < %s",
        (boundary,),
    ).fetchone()
    return ":".join(str(v) for v in (boundary, *row))


def _orders_boundary(conn: psycopg.Connection) -> int:
    """The line boundary fact_orders recorded at its last load (field 5 of its source record)."""
    return conn.execute(
        "SELECT split_part(fingerprint, '/', 5)::int FROM analytics.fact_partitions"
        " WHERE fact_name = 'fact_orders:source'"
    ).fetchone()[0]


def _whole_now(conn: psycopg.Connection, table: str, seed: int) -> tuple:
    """The same record computed from the source table now: count and hash sum of every row, then
    the state of the rows below fact_orders' line boundary."""
    rows, h = conn.execute(
        "SELECT count(*),"
        f" coalesce(sum(hashint8extended(hash_record_extended(t, {seed}), {seed})), 0)"
        f" FROM {table} AS t"
    ).fetchone()
    state = _state_now(conn, table, seed, _orders_boundary(conn))
    return f"{rows}/{h}/{state}", rows


def _whole_orders_now(conn: psycopg.Connection) -> tuple:
    """fact_orders' record: the orders' and the returns' counts and hash sums, then its line
    boundary (as recorded) with the count, version sum and hash sum of the lines below it, then the
    states of the orders and the returns below it, from the source now; then the line count and
    hash sums of the loaded orders below the boundary, from the fact now."""
    boundary = _orders_boundary(conn)
    fingerprint, orders = conn.execute(
        "SELECT concat_ws('/', o.n, o.h, r.n, r.h, %(b)s, l.n, l.v, l.n, l.h), o.n FROM"
        " (SELECT count(*) AS n, coalesce(sum(hashint8extended(hash_record_extended(t, 0), 0)), 0)"
        " AS h FROM sales.orders AS t) AS o,"
        " (SELECT count(*) AS n, coalesce(sum(hashint8extended(hash_record_extended(t, 1), 1)), 0)"
        " AS h FROM sales.returns AS t) AS r,"
        " (SELECT count(*) AS n, coalesce(sum(hashint4(hash_record(i))), 0) AS h,"
        "  coalesce(sum(hashint4(age(i.xmin) - age('3'::xid))), 0) AS v"
        "  FROM sales.order_items AS i WHERE i.order_id < %(b)s) AS l",
        {"b": boundary},
    ).fetchone()
    states = [
        _state_now(conn, "sales.orders", 0, boundary),
        _state_now(conn, "sales.returns", 1, boundary),
    ]
    # The loaded orders' line count and hash sums below the boundary, read from the fact itself
    # (the load records them from its writes, without reading the older orders).
    loaded = conn.execute(
        "SELECT concat_ws('/', coalesce(sum(line_count), 0), coalesce(sum(line_hash), 0))"
        " FROM analytics.fact_orders WHERE order_id < %s",
        (boundary,),
    ).fetchone()[0]
    return "/".join([fingerprint, *states, loaded]), orders


def _tamper_day_hash(conn: psycopg.Connection, fact: str, day: dt.date) -> None:
    """Replace the payments' (shipments') hash recorded for day (the fingerprint's last field)."""
    with conn.transaction():
        changed = conn.execute(
            "UPDATE analytics.fact_partitions SET fingerprint = regexp_replace(fingerprint,"
            " '[^/]*$', '12345') WHERE fact_name = %s AND partition_date = %s",
            (fact, day),
        ).rowcount
    assert changed == 1


def test_payment_fact_incremental_load_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    names = {"fact_orders", *PAYMENT_OBJECTS}
    url = new_database("payment_facts")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=14, end_date=END)
        with conn.transaction():
            _payment_traps(conn)
        actions = _build(conn, names)
        assert actions["fact_payment_days"] == "create"
        full = actual_payment_days(conn)
        _assert_same(full, expected_payment_days(conn), "fact_payment_days")
        assert any(k[3] == "Unknown" for k in full)
        assert any(v[1] is None for v in full.values())
        assert any(v[2] != v[3] for v in full.values())  # an order with two days in a month
        # Payments dated before the first order date, in its month (taken out of the distinct count).
        assert any(dt.date(2024, 1, 1) <= k[2] < dt.date(2024, 1, 4) for k in full)
        assert_payment_kpis_match_source(conn)
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )

        # Nothing changed: only the always-reloaded last days.
        t0 = _now(conn)
        assert _build(conn, names)["fact_payment_days"] == "incremental_load"
        window = {END - dt.timedelta(days=i) for i in range(reload_days)}
        assert _reloaded_days(conn, t0, "fact_payment_days") == window
        assert actual_payment_days(conn) == full
        assert _whole_record(conn, "fact_payment_days") == _whole_now(conn, "sales.payments", 2)

        # While no payment outside the fresh days changed, the other days keep their recorded
        # hashes without hashing their payments again: a recorded hash tampered with here is
        # trusted (its day is not reloaded); the edits below make the next load hash every day,
        # and the tampered day is reloaded with them.
        tampered = END - dt.timedelta(days=60)
        _tamper_day_hash(conn, "fact_payment_days", tampered)
        t0 = _now(conn)
        assert _build(conn, names)["fact_payment_days"] == "incremental_load"
        assert _reloaded_days(conn, t0, "fact_payment_days") == window

        # A new day, and edits to old days' payments (fact_orders' fingerprint of those days does not
        # change), a status change and a deleted order.
        appended = append_day(conn, seed=14)
        with conn.transaction():
            old = conn.execute(
                "SELECT DISTINCT ON (o.order_date) o.order_id, o.order_date, p.payment_id"
                " FROM sales.orders o JOIN sales.payments p USING (order_id)"
                " WHERE o.order_date BETWEEN %s AND %s AND o.order_status <> 'Cancelled'"
                " ORDER BY o.order_date, o.order_id, p.payment_id LIMIT 6",
                (END - dt.timedelta(days=200), END - dt.timedelta(days=100)),
            ).fetchall()
            (new_pay_id, new_pay_day, _), (_, amount_day, amount_pay) = old[:2]
            (_, mode_day, mode_pay), (_, deleted_day, deleted_pay) = old[2:4]
            (status_id, status_day, _), (gone_id, gone_day, _) = old[4:]
            _add_payment(conn, new_pay_id, END, "Cash", "42.00")
            conn.execute(
                "UPDATE sales.payments SET amount = amount + 1 WHERE payment_id = %s", (amount_pay,)
            )
            conn.execute(
                "UPDATE sales.payments SET payment_mode = CASE payment_mode WHEN 'UPI'"
                " THEN 'Cash' ELSE 'UPI' END WHERE payment_id = %s",
                (mode_pay,),
            )
            conn.execute("DELETE FROM sales.payments WHERE payment_id = %s", (deleted_pay,))
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Returned' WHERE order_id = %s",
                (status_id,),
            )
            _delete_orders(conn, [gone_id])
            # Two payments of one day swapping their modes: every column keeps its values, only
            # the rows holding them change (a plain sum of hash_record_extended missed this).
            swap_day, pay_a, mode_a, pay_b, mode_b = conn.execute(
                "SELECT f.order_date, a.payment_id, a.payment_mode, b.payment_id, b.payment_mode"
                " FROM sales.payments a JOIN sales.payments b ON b.payment_id > a.payment_id"
                " JOIN sales.orders f ON f.order_id = a.order_id"
                " JOIN sales.orders g ON g.order_id = b.order_id AND g.order_date = f.order_date"
                " WHERE f.order_date < %s AND a.payment_mode <> b.payment_mode"
                " AND f.order_date <> ALL(%s)"
                " ORDER BY f.order_date, a.payment_id, b.payment_id LIMIT 1",
                (END - dt.timedelta(days=200), [r[1] for r in old]),
            ).fetchone()
            swap = "UPDATE sales.payments SET payment_mode = %s WHERE payment_id = %s"
            conn.execute(swap, (mode_b, pay_a))
            conn.execute(swap, (mode_a, pay_b))
        t1 = _now(conn)
        actions = _build(conn, names)
        assert actions["fact_payment_days"] == "incremental_load"
        new_window = {appended.day - dt.timedelta(days=i) for i in range(reload_days)}
        payment_days = {new_pay_day, amount_day, mode_day, deleted_day, swap_day, tampered}
        order_days = {status_day, gone_day}
        assert _reloaded_days(conn, t1, "fact_orders") == order_days | new_window
        assert (
            _reloaded_days(conn, t1, "fact_payment_days") == payment_days | order_days | new_window
        )
        incremental = actual_payment_days(conn)
        _assert_same(incremental, expected_payment_days(conn), "fact_payment_days")
        _partition_rows_match(conn, "fact_payment_days")
        assert _whole_record(conn, "fact_payment_days") == _whole_now(conn, "sales.payments", 2)
        assert_payment_kpis_match_source(conn)

        # The same data loaded from scratch (definition changed: re-created) gives the same rows.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old'"
            " WHERE object_name = 'fact_payment_days'"
        )
        conn.commit()
        assert _build(conn, names)["fact_payment_days"] == "recreate"
        assert actual_payment_days(conn) == incremental
        assert_payment_kpis_match_source(conn)


# --------------------------------------------------------------------------------------------------
# Sales day fact: fact_sales_days (read by mv_daily_sales_summary)


def _excluded_statuses(conn: psycopg.Connection) -> list[str | None]:
    return conn.execute(
        "SELECT analytics.fn_config_text_array('sales.excluded_order_statuses')"
    ).fetchone()[0]


def expected_sales_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """fact_sales_days in pandas: fact_orders recomputed from the raw source (expected_fact_orders),
    sales orders only (status not excluded; a NULL status is not excluded), summed per order day."""
    orders = expected_fact_orders(conn)
    excluded = set(_excluded_statuses(conn) or [])
    sales = orders[[s is None or s not in excluded for s in orders["order_status"]]]

    def money(values: pd.Series) -> Decimal | None:
        present = [v for v in values if v is not None and not pd.isna(v)]
        return sum(present, Decimal(0)) if present else None

    out: dict[tuple, tuple] = {}
    for day, g in sales.groupby("order_date"):
        out[(day,)] = (
            len(g),
            int(g["cust_id"].dropna().nunique()),
            int(g["units"].sum()),
            money(g["list_value"]),
            money(g["discount_amount"]),
            money(g["total_amount"]),
            money(g["refund_amount"]),
        )
    return out


SALES_DAY_VALUES = [
    "orders",
    "customers",
    "items",
    "list_value",
    "discount_amount",
    "revenue",
    "refunds",
]


def actual_sales_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    return _keyed(
        _frame(conn, "SELECT * FROM analytics.fact_sales_days"), ["order_date"], SALES_DAY_VALUES
    )


def test_sales_day_fact_matches_pandas(kpi_conn: psycopg.Connection) -> None:
    actual = actual_sales_days(kpi_conn)
    assert actual
    _assert_same(actual, expected_sales_days(kpi_conn), "fact_sales_days")
    # One partition per day of fact_orders, with the fact's row count of that day (0 or 1).
    bad = kpi_conn.execute(
        """
        SELECT count(*) FROM analytics.fact_partitions AS u
        FULL JOIN (SELECT partition_date, row_count FROM analytics.fact_partitions
                    WHERE fact_name = 'fact_sales_days') AS p USING (partition_date)
        LEFT JOIN (SELECT order_date AS partition_date, count(*) AS n
                     FROM analytics.fact_sales_days GROUP BY 1) AS f USING (partition_date)
        WHERE u.fact_name = 'fact_orders'
          AND (p.partition_date IS NULL OR coalesce(f.n, 0) <> p.row_count)
        """
    ).fetchone()[0]
    assert bad == 0


def _build_facts_only(conn: psycopg.Connection, names: list[str]) -> dict[str, str]:
    """Build these facts in order, without re-applying setup (so a config edit made by the test
    stays in place)."""
    objects = {o.name: o for o in load_sql_objects()}
    builder = SqlBuilder(list(objects.values()), post_hooks={"config": _config_hook})
    actions = {n: builder.build(conn, objects[n], run_id="test-facts").action for n in names}
    conn.execute("RESET ROLE")
    conn.commit()
    return actions


def test_sales_day_fact_incremental_load_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    names = ["fact_orders", "fact_sales_days"]
    url = new_database("sales_days")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=17, end_date=END)
        assert _build(conn, set(names))["fact_sales_days"] == "create"
        _assert_same(actual_sales_days(conn), expected_sales_days(conn), "full")
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )
        window = {END - dt.timedelta(days=i) for i in range(reload_days)}

        # Nothing changed: fact_orders reloads its window, so do the day totals, nothing else.
        t0 = _now(conn)
        assert _build_facts_only(conn, names)["fact_sales_days"] == "incremental_load"
        assert _reloaded_days(conn, t0, "fact_sales_days") == window
        _assert_same(actual_sales_days(conn), expected_sales_days(conn), "unchanged")

        # A new day, an old order cancelled (it leaves its day's totals), a deleted order and a day
        # whose orders all vanished.
        appended = append_day(conn, seed=17)
        with conn.transaction():
            old = conn.execute(
                "SELECT DISTINCT ON (order_date) order_id, order_date FROM sales.orders"
                " WHERE order_date < %s AND order_status <> 'Cancelled'"
                " ORDER BY order_date, order_id LIMIT 3",
                (END - dt.timedelta(days=100),),
            ).fetchall()
            (cancel_id, cancel_day), (gone_id, gone_day), (_, vanish_day) = old
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id = %s",
                (cancel_id,),
            )
            _delete_orders(conn, [gone_id])
            vanish_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT order_id FROM sales.orders WHERE order_date = %s", (vanish_day,)
                ).fetchall()
            ]
            _delete_orders(conn, vanish_ids)
        t1 = _now(conn)
        _build_facts_only(conn, names)
        new_window = {appended.day - dt.timedelta(days=i) for i in range(reload_days)}
        assert _reloaded_days(conn, t1, "fact_sales_days") == {cancel_day, gone_day} | new_window
        incremental = actual_sales_days(conn)
        _assert_same(incremental, expected_sales_days(conn), "after edits")
        assert (vanish_day,) not in incremental

        # Another status rule: every day reloads, with the new rule.
        conn.execute(
            'UPDATE analytics.config SET value = \'["Cancelled", "Returned"]\'::jsonb'
            " WHERE key = 'sales.excluded_order_statuses'"
        )
        conn.commit()
        t2 = _now(conn)
        _build_facts_only(conn, names)
        all_days = {
            r[0]
            for r in conn.execute(
                "SELECT partition_date FROM analytics.fact_partitions"
                " WHERE fact_name = 'fact_orders'"
            ).fetchall()
        }
        assert _reloaded_days(conn, t2, "fact_sales_days") == all_days
        fewer = actual_sales_days(conn)
        _assert_same(fewer, expected_sales_days(conn), "Returned excluded too")
        assert sum(v[0] for v in fewer.values()) < sum(v[0] for v in incremental.values())

        # Back to the configured rule, then the same data loaded from scratch: the same rows.
        _build(conn, set(names))
        assert actual_sales_days(conn) == incremental
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old'"
            " WHERE object_name = 'fact_sales_days'"
        )
        conn.commit()
        assert _build(conn, set(names))["fact_sales_days"] == "recreate"
        assert actual_sales_days(conn) == incremental


# --------------------------------------------------------------------------------------------------
# Order status day fact: fact_order_status_days (read by mv_operations_summary and
# mv_sales_returns_analysis)


def expected_order_status_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """fact_order_status_days in pandas: the orders of the raw source with an order date (as in
    fact_orders), counted per order day and status (a NULL status is a group of its own)."""
    orders = expected_fact_orders(conn)
    status = orders["order_status"].astype(object).where(orders["order_status"].notna(), "<NULL>")
    counts = orders.assign(status=status).groupby(["order_date", "status"]).size()
    return {(day, None if st == "<NULL>" else st): (int(n),) for (day, st), n in counts.items()}


def actual_order_status_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    return _keyed(
        _frame(conn, "SELECT * FROM analytics.fact_order_status_days"),
        ["order_date", "order_status"],
        ["orders"],
    )


def test_order_status_day_fact_matches_pandas(kpi_conn: psycopg.Connection) -> None:
    actual = actual_order_status_days(kpi_conn)
    assert len({status for _, status in actual}) > 1
    _assert_same(actual, expected_order_status_days(kpi_conn), "fact_order_status_days")
    # One partition per day of fact_orders, with the fact's row count of that day.
    bad = kpi_conn.execute(
        """
        SELECT count(*) FROM analytics.fact_partitions AS u
        FULL JOIN (SELECT partition_date, row_count FROM analytics.fact_partitions
                    WHERE fact_name = 'fact_order_status_days') AS p USING (partition_date)
        LEFT JOIN (SELECT order_date AS partition_date, count(*) AS n
                     FROM analytics.fact_order_status_days GROUP BY 1) AS f USING (partition_date)
        WHERE u.fact_name = 'fact_orders'
          AND (p.partition_date IS NULL OR coalesce(f.n, 0) <> p.row_count)
        """
    ).fetchone()[0]
    assert bad == 0


def test_order_status_day_fact_incremental_load_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    names = ["fact_orders", "fact_order_status_days"]
    url = new_database("status_days")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=19, end_date=END)
        assert _build(conn, set(names))["fact_order_status_days"] == "create"
        _assert_same(actual_order_status_days(conn), expected_order_status_days(conn), "full")

        # Nothing changed: fact_orders reloads its window with the same fingerprints, so no day
        # is reloaded here.
        t0 = _now(conn)
        assert _build_facts_only(conn, names)["fact_order_status_days"] == "incremental_load"
        assert _reloaded_days(conn, t0, "fact_order_status_days") == set()

        # A new day, an old order's status changed, a NULL status, a deleted order and a day
        # whose orders all vanished: exactly those days reload.
        appended = append_day(conn, seed=19)
        with conn.transaction():
            old = conn.execute(
                "SELECT DISTINCT ON (order_date) order_id, order_date FROM sales.orders"
                " WHERE order_date < %s AND order_status <> 'Cancelled'"
                " ORDER BY order_date, order_id LIMIT 4",
                (END - dt.timedelta(days=100),),
            ).fetchall()
            (cancel_id, cancel_day), (null_id, null_day), (gone_id, gone_day), (_, vanish_day) = old
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id = %s",
                (cancel_id,),
            )
            conn.execute(
                "UPDATE sales.orders SET order_status = NULL WHERE order_id = %s", (null_id,)
            )
            _delete_orders(conn, [gone_id])
            vanish_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT order_id FROM sales.orders WHERE order_date = %s", (vanish_day,)
                ).fetchall()
            ]
            _delete_orders(conn, vanish_ids)
        t1 = _now(conn)
        _build_facts_only(conn, names)
        assert _reloaded_days(conn, t1, "fact_order_status_days") == {
            appended.day,
            cancel_day,
            null_day,
            gone_day,
        }
        incremental = actual_order_status_days(conn)
        _assert_same(incremental, expected_order_status_days(conn), "after edits")
        assert (null_day, None) in incremental
        assert not any(day == vanish_day for day, _ in incremental)
        assert not conn.execute(
            "SELECT 1 FROM analytics.fact_partitions"
            " WHERE fact_name = 'fact_order_status_days' AND partition_date = %s",
            (vanish_day,),
        ).fetchone()

        # The same data loaded from scratch: the same rows.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old'"
            " WHERE object_name = 'fact_order_status_days'"
        )
        conn.commit()
        assert _build(conn, set(names))["fact_order_status_days"] == "recreate"
        assert actual_order_status_days(conn) == incremental


def _first_line(conn: psycopg.Connection, order_id: int) -> tuple[int, int]:
    return conn.execute(
        "SELECT order_item_id, prod_id FROM sales.order_items WHERE order_id = %s"
        " ORDER BY order_item_id LIMIT 1",
        (order_id,),
    ).fetchone()


def test_edited_order_lines_reload_their_days_old_or_recent(new_database) -> None:  # noqa: ANN001
    """Lines edited after their orders were loaded, where the orders' own rows stay the same: a
    quantity changed, two lines of different days swapping their products (every order total and
    count unchanged), a line deleted and a late line added — long before facts.line_recent_days, and
    within it. fact_orders reloads exactly those days (plus its usual window), the product facts
    follow, and everything equals the source (pandas)."""
    from retailmart_dagster.generate import generate

    names = {"fact_orders", *PRODUCT_FACTS, *MONTH_FACTS}
    url = new_database("line_edits")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=17, end_date=END)
        _build(conn, names)
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )
        recent_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.line_recent_days')").fetchone()[0]
        )
        window = {END - dt.timedelta(days=i) for i in range(reload_days)}

        def orders_with_lines(before: dt.date, after: dt.date, n: int) -> list[tuple[int, dt.date]]:
            """n orders with two or more lines, on n different days in (after, before)."""
            return conn.execute(
                "SELECT DISTINCT ON (o.order_date) o.order_id, o.order_date FROM sales.orders o"
                " WHERE o.order_date < %s AND o.order_date > %s AND (SELECT count(DISTINCT"
                " i.prod_id) FROM sales.order_items i WHERE i.order_id = o.order_id) >= 2"
                " ORDER BY o.order_date, o.order_id LIMIT %s",
                (before, after, n),
            ).fetchall()

        for before, after in (
            (END - dt.timedelta(days=recent_days + 60), END - dt.timedelta(days=900)),  # old
            (END - dt.timedelta(days=reload_days), END - dt.timedelta(days=recent_days - 5)),
        ):
            picked = orders_with_lines(before, after, 5)
            assert len(picked) == 5
            (qty, qty_day), (a, a_day), (b, b_day), (gone, gone_day), (late, late_day) = picked
            line_a, prod_a = _first_line(conn, a)
            line_b, prod_b = _first_line(conn, b)
            assert prod_a != prod_b
            with conn.transaction():
                conn.execute(
                    "UPDATE sales.order_items SET quantity = quantity + 1 WHERE order_item_id = %s",
                    (_first_line(conn, qty)[0],),
                )
                swap = "UPDATE sales.order_items SET prod_id = %s WHERE order_item_id = %s"
                conn.execute(swap, (prod_b, line_a))
                conn.execute(swap, (prod_a, line_b))
                conn.execute(
                    "DELETE FROM sales.order_items WHERE order_item_id = %s",
                    (_first_line(conn, gone)[0],),
                )
                conn.execute(
                    "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity,"
                    " unit_price, discount) SELECT max(order_item_id) + 1, %s, min(prod_id), 2,"
                    " 7.5, 0 FROM sales.order_items",
                    (late,),
                )
            t0 = _now(conn)
            _build(conn, names)
            edited = {qty_day, a_day, b_day, gone_day, late_day}
            assert _reloaded_days(conn, t0, "fact_orders") == edited | window, (before, after)
            assert _reloaded(conn, t0) == dict.fromkeys(PRODUCT_FACTS, edited | window)
            assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))
            assert_product_facts_match_source(conn)
            assert_month_rollups_match_days(conn)

        # Nothing changed, and a line whose order does not exist: only the usual window reloads.
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # past the foreign key
            conn.execute(
                "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity,"
                " unit_price, discount) SELECT max(order_item_id) + 1,"
                " (SELECT max(order_id) + 1000 FROM sales.orders), min(prod_id), 1, 3, 0"
                " FROM sales.order_items"
            )
        t1 = _now(conn)
        _build(conn, names)
        assert _reloaded_days(conn, t1, "fact_orders") == window
        assert _reloaded(conn, t1) == dict.fromkeys(PRODUCT_FACTS, window)
        assert_same_facts(actual_fact_orders(conn), expected_fact_orders(conn))


def _table_print(conn: psycopg.Connection, boundary: int | None, recorded: str | None) -> tuple:
    return conn.execute(
        "SELECT table_rows, table_h, state"
        " FROM analytics.fn_table_print('public.t', 5, 'order_id', %s, %s)",
        (boundary, recorded),
    ).fetchone()


def _table_print_now(conn: psycopg.Connection, boundary: int) -> tuple:
    """What fn_table_print must return, computed in plain SQL over every row."""
    rows, h = conn.execute(
        "SELECT count(*), coalesce(sum(hashint8extended(hash_record_extended(t, 5), 5)), 0)"
        " FROM public.t AS t"
    ).fetchone()
    return rows, h, _state_now(conn, "public.t", 5, boundary)


def test_table_print_reads_versions_of_older_rows_and_hashes_only_the_rest(new_database) -> None:  # noqa: ANN001
    """analytics.fn_table_print gives the whole table's count and content hash sum, and the state
    of its older rows, whichever way it computes them: from the recorded state while the older
    rows' versions are unchanged, by hashing every row otherwise — and every edit, insert, delete or
    value swap among the older rows is found."""
    url = new_database("table_print")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
        conn.execute(next(o for o in load_sql_objects() if o.name == "fn_table_print").sql)
        conn.execute("CREATE TABLE public.t (id int PRIMARY KEY, order_id int, v text)")
        conn.execute("CREATE INDEX ON public.t (order_id)")
        conn.execute(
            "INSERT INTO public.t SELECT g, g / 3, md5(g::text) FROM generate_series(1, 3000) AS g"
        )
        conn.execute("INSERT INTO public.t VALUES (5001, NULL, 'no order')")
        conn.commit()

        # Without a boundary: the plain count and sum, no state.
        rows, h, _ = _table_print_now(conn, 0)
        assert _table_print(conn, None, None) == (rows, h, "")

        # The first call (nothing recorded) hashes every row and returns the state at 900.
        first = _table_print(conn, 900, None)
        assert first == _table_print_now(conn, 900)
        assert first[2].startswith("900:2699:")  # ids 1-2699
        conn.commit()

        # Unchanged: the recorded state is taken, at the same or a later boundary.
        assert _table_print(conn, 900, first[2]) == first
        assert _table_print(conn, 950, first[2]) == _table_print_now(conn, 950)
        # It is trusted without hashing the older rows: a content sum tampered with shows through.
        boundary, older, content, versions = first[2].split(":")
        trusted = _table_print(conn, 900, f"{boundary}:{older}:{int(content) + 7}:{versions}")
        assert trusted[1] == first[1] + 7
        # A boundary that moved back cannot use it: every row is hashed, same result.
        assert _table_print(conn, 800, first[2]) == _table_print_now(conn, 800)
        # A state that does not match the versions (tampered) is not used either.
        forged = first[2].rsplit(":", 1)[0] + ":12345"
        assert _table_print(conn, 900, forged) == first

        # New rows from the boundary on and without an order: hashed, the older state is kept.
        conn.execute("INSERT INTO public.t VALUES (6001, 1200, 'new'), (6002, NULL, 'none')")
        conn.commit()
        assert _table_print(conn, 900, first[2]) == _table_print_now(conn, 900)

        # Each change to the older rows is found (the versions differ), and the result is exact.
        edits = [
            "UPDATE public.t SET v = 'edited' WHERE id = 10",
            "DELETE FROM public.t WHERE id = 20",
            "INSERT INTO public.t VALUES (7001, 5, 'late line of an old order')",
            # two older rows swapping their values: every value stays in the table
            "UPDATE public.t SET v = CASE id WHEN 30 THEN (SELECT v FROM public.t WHERE id = 31)"
            " ELSE (SELECT v FROM public.t WHERE id = 30) END WHERE id IN (30, 31)",
            # rewritten with the same value: a new version, the same content
            "UPDATE public.t SET v = v WHERE id = 40",
        ]
        for edit in edits:
            before = _table_print(conn, 900, None)
            conn.execute(edit)
            conn.commit()
            expected = _table_print_now(conn, 900)
            assert _table_print(conn, 900, before[2]) == expected, edit
            assert expected[2] != before[2], edit  # the versions changed
        assert _table_print(conn, 900, None)[1] == expected[1]


def test_full_build_leaves_every_fact_all_visible(kpi_run) -> None:  # noqa: ANN001
    """After a full build (two steps at once), analytics/fact_vacuum ran after every fact and left
    every fact's pages all-visible. (The VACUUM right after a first load cannot mark the pages while
    the other step runs a statement older than the load: at scale 10 it left 12 of 14 facts for
    fact_vacuum; how many here depends on timing, so it is not asserted.)"""
    from retailmart_dagster.assets.fact_vacuum import FACT_VACUUM_KEY

    facts = sorted(o.name for o in load_sql_objects() if o.kind == "fact_table")
    [event] = [
        e for e in kpi_run.get_asset_materialization_events() if e.asset_key == FACT_VACUUM_KEY
    ]
    metadata = event.step_materialization_data.materialization.metadata
    shares = metadata["facts"].data
    assert sorted(shares) == facts
    assert metadata["older_snapshots_left"].value == 0
    assert metadata["still_unmarked"].value == 0
    for name, share in shares.items():
        if share["pages"]:
            assert share["visible_share_after"] >= 0.9, (name, share)


def test_fact_vacuum_waits_for_older_snapshots(new_database) -> None:  # noqa: ANN001
    """Pages whose rows an older snapshot may not see cannot be marked all-visible: vacuum_facts
    waits (at most its timeout) for such transactions, says how many were left, and marks the
    pages once they ended; a fact whose pages are all-visible is not vacuumed again."""
    from retailmart_dagster.assets.fact_vacuum import vacuum_facts

    url = new_database("fvac")
    with psycopg.connect(url, autocommit=True) as old, psycopg.connect(url) as conn:
        old.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT 1")  # takes the snapshot, before the load below commits
        with conn.transaction():
            conn.execute("CREATE SCHEMA analytics")
            conn.execute("CREATE TABLE analytics.fact_t (id int) WITH (autovacuum_enabled = false)")
            conn.execute("INSERT INTO analytics.fact_t SELECT generate_series(1, 5000)")
        started = time.perf_counter()
        blocked = vacuum_facts(conn, ["fact_t", "fact_missing"], 0.9, 0.3)
        # It kept trying for its whole 0.3 s (a pause, then waits, before its second VACUUM).
        assert time.perf_counter() - started >= 0.3
        assert sorted(blocked["before"]) == ["fact_t"]
        assert 0.05 <= blocked["waited_s"] < 1
        assert blocked["older_snapshots_left"] == 1
        assert list(blocked["vacuumed"]) == ["fact_t"]
        assert blocked["after"]["fact_t"].pages > 0
        assert blocked["after"]["fact_t"].all_visible == 0
        assert blocked["unmarked"] == ["fact_t"]
        old.execute("COMMIT")
        done = vacuum_facts(conn, ["fact_t"], 0.9, 5)
        assert done["older_snapshots_left"] == 0 and done["waited_s"] < 5
        assert list(done["vacuumed"]) == ["fact_t"]
        assert done["after"]["fact_t"].share == 1.0
        assert done["unmarked"] == []
        again = vacuum_facts(conn, ["fact_t"], 0.9, 5)
        assert again["vacuumed"] == {} and again["waited_s"] == 0
        # Right after an asynchronous commit the rows may not get their "committed" hint bit, and a
        # page is marked all-visible only with it: vacuum_facts flushes the WAL first.
        with conn.transaction():
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("CREATE TABLE analytics.fact_u (id int) WITH (autovacuum_enabled = false)")
            conn.execute("INSERT INTO analytics.fact_u SELECT generate_series(1, 5000)")
        fresh = vacuum_facts(conn, ["fact_u"], 0.9, 5)
        assert list(fresh["vacuumed"]) == ["fact_u"]
        assert fresh["after"]["fact_u"].share == 1.0
