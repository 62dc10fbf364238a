"""The shipment fact analytics.fact_shipment_days: against an independent pandas computation from the
raw tables, its incremental load against a full rebuild (appended day, late deliveries inside and
outside the reload window, deleted shipment and order, status change, new shipment on an old order),
and its three readers (mv_delivery_performance, mv_courier_performance, mv_operations_summary)
against the definitions they had before the fact (one row per shipment joined to its order,
mv_shipment_facts, kept here verbatim): identical rows, EXCEPT ALL both ways."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from benchmarks.append_day import append_day
from retailmart_dagster.assets.sql_parse import SQL_DIR, parse_sql_file
from tests.integration.test_facts import (
    _assert_same,
    _build,
    _delete_orders,
    _frame,
    _none,
    _now,
    _partition_rows_match,
    _reloaded_days,
    _tamper_day_hash,
    _whole_now,
    _whole_record,
)
from tests.kpi_support import rolled_back, set_config

pytestmark = pytest.mark.integration

END = dt.date(2025, 10, 1)
FACT = "fact_shipment_days"
FACT_FILE = SQL_DIR / "facts" / f"{FACT}.sql"
READERS = ("mv_courier_performance", "mv_delivery_performance", "mv_operations_summary")
# The readers and everything they read (the day facts of orders: fact_sales_days for the delivery
# performance's orders, fact_order_status_days and fact_product_returns for the operations
# summary's orders and returns).
OBJECTS = {
    "fact_orders",
    "fact_sales_days",
    "fact_order_status_days",
    "fact_product_returns",
    FACT,
    "mv_pending_shipments",
    "vw_shipment_outcomes",
    *READERS,
}
KEYS = [
    "order_date",
    "order_status",
    "courier_name",
    "shipment_status",
    "is_shipped",
    "has_delivered_date",
    "dates_conflict",
    "order_to_deliver_days",
]
VALUES = ["shipments", "order_to_ship_days_sum", "ship_to_deliver_days_sum", "first_shipped_orders"]

# The definitions before the fact (git history: retailmart_dagster/sql/operations/
# mv_shipment_facts.sql and the readers that read it), verbatim but for the name of the per-shipment
# relation, here a temporary view.
OLD_SHIPMENT_FACTS = """
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('operations.sla_days') AS sla_days,
        analytics.fn_config_text_array('operations.delivered_shipment_statuses')
            AS delivered_shipment_statuses
),

shipments AS (
    SELECT
        s.shipment_id,
        s.order_id,
        o.order_date,
        date_trunc('month', o.order_date)::date AS order_month,
        o.order_status,
        coalesce(s.courier_name, 'Unknown') AS courier_name,
        s.status AS shipment_status,
        s.shipped_date,
        s.delivered_date,
        p.ref_date,
        p.sla_days,
        coalesce(s.status = ANY (p.delivered_shipment_statuses), false) AS status_says_delivered,
        (
            coalesce(s.shipped_date < o.order_date, false)
            OR coalesce(s.delivered_date < coalesce(s.shipped_date, o.order_date), false)
            OR (
                s.delivered_date IS NULL
                AND coalesce(s.status = ANY (p.delivered_shipment_statuses), false)
            )
        ) AS has_date_conflict
    FROM sales.shipments AS s
    JOIN sales.orders AS o ON o.order_id = s.order_id
    CROSS JOIN params AS p
    WHERE o.order_date <= p.ref_date
      AND NOT coalesce(o.order_status = ANY (p.excluded_statuses), false)
),

flagged AS (
    SELECT
        sh.*,
        sh.delivered_date IS NOT NULL OR sh.status_says_delivered AS is_delivered,
        (
            sh.delivered_date IS NOT NULL
            AND NOT sh.has_date_conflict
            AND sh.delivered_date - sh.order_date <= sh.sla_days
        ) AS is_on_time,
        (
            NOT sh.has_date_conflict
            AND (
                (sh.delivered_date IS NOT NULL AND sh.delivered_date - sh.order_date > sh.sla_days)
                OR (sh.delivered_date IS NULL AND sh.ref_date - sh.order_date > sh.sla_days)
            )
        ) AS is_delayed
    FROM shipments AS sh
)

SELECT
    f.shipment_id,
    f.order_id,
    f.order_date,
    f.order_month,
    f.order_status,
    f.courier_name,
    f.shipment_status,
    f.shipped_date,
    f.delivered_date,
    f.sla_days,
    f.order_date + f.sla_days AS sla_deadline,
    f.shipped_date IS NOT NULL AS is_shipped,
    f.is_delivered,
    f.has_date_conflict,
    CASE WHEN NOT f.has_date_conflict THEN f.shipped_date - f.order_date END AS order_to_ship_days,
    CASE WHEN NOT f.has_date_conflict THEN f.delivered_date - f.shipped_date END
        AS ship_to_deliver_days,
    CASE WHEN NOT f.has_date_conflict THEN f.delivered_date - f.order_date END
        AS order_to_deliver_days,
    f.is_on_time,
    f.is_delayed,
    f.is_on_time OR f.is_delayed AS is_assessed
FROM flagged AS f
"""

OLD_DELIVERY = """
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('operations.sla_days') AS sla_days
),

bounds AS (
    SELECT
        p.ref_date,
        p.excluded_statuses,
        p.sla_days,
        (
            SELECT min(f.order_date)
            FROM analytics.fact_orders AS f
            WHERE f.order_date <= p.ref_date
        ) AS first_date
    FROM params AS p
),

months AS (
    SELECT gs.month::date AS order_month
    FROM bounds AS b
    CROSS JOIN LATERAL generate_series(
        date_trunc('month', b.first_date),
        date_trunc('month', b.ref_date),
        interval '1 month'
    ) AS gs (month)
),

orders_by_month AS (
    SELECT
        date_trunc('month', f.order_date)::date AS order_month,
        count(*) AS orders
    FROM analytics.fact_orders AS f
    CROSS JOIN bounds AS b
    WHERE f.order_date BETWEEN b.first_date AND b.ref_date
      AND NOT coalesce(f.order_status = ANY (b.excluded_statuses), false)
    GROUP BY date_trunc('month', f.order_date)::date
),

shipments_by_month AS (
    SELECT
        f.order_month,
        count(DISTINCT f.order_id) FILTER (WHERE f.is_shipped) AS orders_shipped,
        count(*) AS shipments,
        count(*) FILTER (WHERE f.is_delivered) AS delivered,
        count(*) FILTER (WHERE NOT f.is_delivered) AS in_transit,
        count(*) FILTER (WHERE f.is_on_time) AS on_time,
        count(*) FILTER (WHERE f.is_delayed) AS delayed,
        count(*) FILTER (WHERE f.is_assessed) AS assessed,
        count(*) FILTER (WHERE f.is_delivered AND NOT f.has_date_conflict) AS delivered_measured,
        count(*) FILTER (WHERE f.has_date_conflict) AS date_conflicts,
        avg(f.order_to_ship_days::numeric) AS avg_order_to_ship_days,
        avg(f.ship_to_deliver_days::numeric) AS avg_ship_to_deliver_days,
        avg(f.order_to_deliver_days::numeric) AS avg_order_to_deliver_days
    FROM pg_temp.old_shipment_facts AS f
    GROUP BY f.order_month
)

SELECT
    extract(YEAR FROM m.order_month)::int AS year,
    extract(MONTH FROM m.order_month)::int AS month,
    m.order_month,
    b.sla_days,
    coalesce(o.orders, 0) AS orders,
    coalesce(s.orders_shipped, 0) AS orders_shipped,
    coalesce(s.shipments, 0) AS shipments,
    coalesce(s.delivered, 0) AS delivered,
    coalesce(s.in_transit, 0) AS in_transit,
    coalesce(s.on_time, 0) AS on_time,
    coalesce(s.delayed, 0) AS delayed,
    coalesce(s.assessed, 0) AS assessed,
    coalesce(s.date_conflicts, 0) AS date_conflicts,
    round(s.on_time / nullif(s.assessed, 0)::numeric * 100, 2) AS on_time_pct,
    round(s.delayed / nullif(s.assessed, 0)::numeric * 100, 2) AS delayed_pct,
    round(s.on_time / nullif(s.delivered_measured, 0)::numeric * 100, 2) AS delivered_on_time_pct,
    round(s.avg_order_to_ship_days, 2) AS avg_order_to_ship_days,
    round(s.avg_ship_to_deliver_days, 2) AS avg_ship_to_deliver_days,
    round(s.avg_order_to_deliver_days, 2) AS avg_order_to_deliver_days
FROM months AS m
CROSS JOIN bounds AS b
LEFT JOIN orders_by_month AS o ON o.order_month = m.order_month
LEFT JOIN shipments_by_month AS s ON s.order_month = m.order_month
"""

OLD_COURIERS = """
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_config_int('operations.sla_days') AS sla_days,
        analytics.fn_config_numeric('operations.courier_weight_on_time') AS w_on_time,
        analytics.fn_config_numeric('operations.courier_weight_speed') AS w_speed
),

by_courier AS (
    SELECT
        f.courier_name,
        count(*) AS shipments,
        count(*) FILTER (WHERE f.is_delivered) AS delivered,
        count(*) FILTER (WHERE NOT f.is_delivered) AS in_transit,
        count(*) FILTER (WHERE f.is_on_time) AS on_time,
        count(*) FILTER (WHERE f.is_delayed) AS delayed,
        count(*) FILTER (WHERE f.is_assessed) AS assessed,
        count(*) FILTER (WHERE f.has_date_conflict) AS date_conflicts,
        avg(f.order_to_ship_days::numeric) AS avg_order_to_ship_days,
        avg(f.ship_to_deliver_days::numeric) AS avg_ship_to_deliver_days,
        avg(f.order_to_deliver_days::numeric) AS avg_order_to_deliver_days
    FROM pg_temp.old_shipment_facts AS f
    GROUP BY f.courier_name
),

rated AS (
    SELECT
        c.*,
        c.on_time / nullif(c.assessed, 0)::numeric * 100 AS on_time_pct,
        c.delayed / nullif(c.assessed, 0)::numeric * 100 AS delayed_pct,
        c.shipments / nullif(sum(c.shipments) OVER (), 0)::numeric * 100 AS volume_share_pct,
        100 * min(c.avg_ship_to_deliver_days) OVER ()
        / nullif(c.avg_ship_to_deliver_days, 0) AS speed_index
    FROM by_courier AS c
),

scored AS (
    SELECT
        r.*,
        (p.w_on_time * r.on_time_pct + p.w_speed * r.speed_index)
        / nullif(p.w_on_time + p.w_speed, 0) AS composite_score
    FROM rated AS r
    CROSS JOIN params AS p
)

SELECT
    s.courier_name,
    p.sla_days,
    s.shipments,
    round(s.volume_share_pct, 2) AS volume_share_pct,
    s.delivered,
    s.in_transit,
    s.on_time,
    s.delayed,
    s.assessed,
    s.date_conflicts,
    round(s.on_time_pct, 2) AS on_time_pct,
    round(s.delayed_pct, 2) AS delayed_pct,
    round(s.avg_order_to_ship_days, 2) AS avg_order_to_ship_days,
    round(s.avg_ship_to_deliver_days, 2) AS avg_ship_to_deliver_days,
    round(s.avg_order_to_deliver_days, 2) AS avg_order_to_deliver_days,
    round(s.speed_index, 2) AS speed_index,
    p.w_on_time AS weight_on_time,
    p.w_speed AS weight_speed,
    round(s.composite_score, 2) AS composite_score,
    row_number() OVER (
        ORDER BY s.composite_score DESC NULLS LAST, s.on_time_pct DESC NULLS LAST,
            s.shipments DESC, s.courier_name
    ) AS courier_rank
FROM scored AS s
CROSS JOIN params AS p
"""

# mv_operations_summary: its shipment figures (the other parts did not change).
SUMMARY_SHIPMENT_COLUMNS = (
    "shipments, delivered, in_transit, on_time, delayed, assessed, date_conflicts, on_time_pct,"
    " delayed_pct, avg_order_to_ship_days, avg_ship_to_deliver_days, avg_order_to_deliver_days"
)
OLD_SUMMARY_SHIPMENTS = """
WITH st AS (
    SELECT
        count(*) AS shipments,
        count(*) FILTER (WHERE f.is_delivered) AS delivered,
        count(*) FILTER (WHERE NOT f.is_delivered) AS in_transit,
        count(*) FILTER (WHERE f.is_on_time) AS on_time,
        count(*) FILTER (WHERE f.is_delayed) AS delayed,
        count(*) FILTER (WHERE f.is_assessed) AS assessed,
        count(*) FILTER (WHERE f.has_date_conflict) AS date_conflicts,
        avg(f.order_to_ship_days::numeric) AS avg_order_to_ship_days,
        avg(f.ship_to_deliver_days::numeric) AS avg_ship_to_deliver_days,
        avg(f.order_to_deliver_days::numeric) AS avg_order_to_deliver_days
    FROM pg_temp.old_shipment_facts AS f
)
SELECT
    st.shipments, st.delivered, st.in_transit, st.on_time, st.delayed, st.assessed,
    st.date_conflicts,
    round(st.on_time / nullif(st.assessed, 0)::numeric * 100, 2) AS on_time_pct,
    round(st.delayed / nullif(st.assessed, 0)::numeric * 100, 2) AS delayed_pct,
    round(st.avg_order_to_ship_days, 2) AS avg_order_to_ship_days,
    round(st.avg_ship_to_deliver_days, 2) AS avg_ship_to_deliver_days,
    round(st.avg_order_to_deliver_days, 2) AS avg_order_to_deliver_days
FROM st
"""


# --------------------------------------------------------------------------------------------------
# The fact in pandas / Python, from the raw tables
# --------------------------------------------------------------------------------------------------


def expected_shipment_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    """fact_shipment_days recomputed from sales.shipments and sales.orders: shipments of existing,
    dated orders, grouped by the fact's keys; each order counted on its first shipped shipment."""
    orders = _frame(
        conn,
        "SELECT order_id, order_date, order_status FROM sales.orders WHERE order_date IS NOT NULL",
    )
    ships = _frame(
        conn,
        "SELECT shipment_id, order_id, courier_name, shipped_date, delivered_date, status"
        " FROM sales.shipments",
    )
    by_order = {
        int(o): (d, s)
        for o, d, s in zip(
            orders["order_id"], orders["order_date"], orders["order_status"], strict=True
        )
    }
    first_shipped: dict[int, int] = {}
    for sid, oid, shipped in zip(
        ships["shipment_id"], ships["order_id"], ships["shipped_date"], strict=True
    ):
        if _none(oid) is not None and _none(shipped) is not None:
            first_shipped[int(oid)] = min(first_shipped.get(int(oid), int(sid)), int(sid))
    groups: dict[tuple, list] = {}
    for row in ships.itertuples(index=False):
        oid = _none(row.order_id)
        if oid is None or int(oid) not in by_order:
            continue
        order_date, order_status = by_order[int(oid)]
        shipped, delivered = _none(row.shipped_date), _none(row.delivered_date)
        conflict = (shipped is not None and shipped < order_date) or (
            delivered is not None and delivered < (shipped or order_date)
        )
        key = (
            order_date,
            _none(order_status),
            _none(row.courier_name) or "Unknown",
            _none(row.status),
            shipped is not None,
            delivered is not None,
            conflict,
            None if conflict or delivered is None else (delivered - order_date).days,
        )
        acc = groups.setdefault(key, [0, None, None, 0])
        acc[0] += 1
        if not conflict and shipped is not None:
            acc[1] = (acc[1] or 0) + (shipped - order_date).days
            if delivered is not None:
                acc[2] = (acc[2] or 0) + (delivered - shipped).days
        acc[3] += int(first_shipped.get(int(oid)) == int(row.shipment_id))
    return {k: tuple(v) for k, v in groups.items()}


def actual_shipment_days(conn: psycopg.Connection) -> dict[tuple, tuple]:
    cur = conn.execute(f"SELECT {', '.join(KEYS + VALUES)} FROM analytics.{FACT}")
    out: dict[tuple, tuple] = {}
    for row in cur.fetchall():
        key = tuple(row[: len(KEYS)])
        assert key not in out, f"duplicate key {key}"
        out[key] = tuple(row[len(KEYS) :])
    return out


def reload_shipment_fact(conn: psycopg.Connection | psycopg.Cursor) -> None:
    """Run the fact's load statements (inside the caller's transaction: once per transaction)."""
    conn.execute(parse_sql_file(FACT_FILE).load_sql)


# --------------------------------------------------------------------------------------------------
# The readers against their definitions before the fact
# --------------------------------------------------------------------------------------------------


def _old_shipment_facts(conn: psycopg.Connection) -> None:
    conn.execute(f"CREATE OR REPLACE TEMP VIEW old_shipment_facts AS {OLD_SHIPMENT_FACTS}")


def _except_all_both_ways(conn: psycopg.Connection, new: str, old: str, what: str) -> None:
    for a, b, side in ((new, old, "new"), (old, new, "old")):
        rows = conn.execute(f"(({a}) EXCEPT ALL ({b}))").fetchall()
        assert not rows, f"{what}: {len(rows)} {side} rows not in the other, first {rows[:2]}"


def assert_readers_equal_old_definitions(conn: psycopg.Connection) -> None:
    """The three readers (stored rows) equal the old definitions computed now, row for row."""
    _old_shipment_facts(conn)
    _except_all_both_ways(
        conn, "TABLE analytics.mv_delivery_performance", OLD_DELIVERY, "mv_delivery_performance"
    )
    _except_all_both_ways(
        conn, "TABLE analytics.mv_courier_performance", OLD_COURIERS, "mv_courier_performance"
    )
    _except_all_both_ways(
        conn,
        f"SELECT {SUMMARY_SHIPMENT_COLUMNS} FROM analytics.mv_operations_summary",
        OLD_SUMMARY_SHIPMENTS,
        "mv_operations_summary",
    )
    conn.execute("DROP VIEW pg_temp.old_shipment_facts")


def refresh_readers(conn: psycopg.Connection | psycopg.Cursor) -> None:
    for name in READERS:
        conn.execute(f"REFRESH MATERIALIZED VIEW analytics.{name}")


# --------------------------------------------------------------------------------------------------
# On the fully materialized KPI database
# --------------------------------------------------------------------------------------------------


def test_shipment_fact_matches_pandas(kpi_conn: psycopg.Connection) -> None:
    actual = actual_shipment_days(kpi_conn)
    assert actual
    _assert_same(actual, expected_shipment_days(kpi_conn), FACT)
    _partition_rows_match(kpi_conn, FACT)
    # Every shipment of a dated order is counted exactly once (no fan-out, none lost).
    total, joined = kpi_conn.execute(
        f"SELECT (SELECT sum(shipments) FROM analytics.{FACT}),"
        " (SELECT count(*) FROM sales.shipments s JOIN sales.orders o USING (order_id)"
        "   WHERE o.order_date IS NOT NULL)"
    ).fetchone()
    assert total == joined
    assert len(actual) <= joined  # aggregated (at scale 3: 8.6 shipments per row)


def test_readers_equal_old_definitions(kpi_conn: psycopg.Connection) -> None:
    assert_readers_equal_old_definitions(kpi_conn)


def test_readers_follow_config_without_fact_reload(kpi_conn: psycopg.Connection) -> None:
    """SLA and delivered statuses are applied by the readers: changing them (rolled back) and
    refreshing only the readers gives the old definitions' rows under the new config."""
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "operations.sla_days", 3)
        set_config(cur, "operations.delivered_shipment_statuses", ["Delivered", "Shipped"])
        before = kpi_conn.execute(
            "SELECT on_time, date_conflicts FROM analytics.mv_operations_summary"
        ).fetchone()
        refresh_readers(kpi_conn)
        after = kpi_conn.execute(
            "SELECT on_time, date_conflicts FROM analytics.mv_operations_summary"
        ).fetchone()
        assert after[0] < before[0] and after[1] > before[1], (before, after)
        assert_readers_equal_old_definitions(kpi_conn)


def test_readers_ignore_cancelled_and_future_orders(kpi_conn: psycopg.Connection) -> None:
    """The fact keeps every status and date (a config change needs no reload); the readers take
    sales orders dated up to the reference date only: a shipment of a Cancelled order and of an
    order dated after the wall clock (a data error) change the fact, not the KPIs (rolled back)."""
    before = {n: kpi_conn.execute(f"TABLE analytics.{n}").fetchall() for n in READERS}
    with kpi_conn.transaction(force_rollback=True):
        future = dt.date.today() + dt.timedelta(days=30)
        new_id = kpi_conn.execute("SELECT max(order_id) + 1 FROM sales.orders").fetchone()[0]
        kpi_conn.execute(
            "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,"
            " total_amount) SELECT %s, min(cust_id), min(store_id), %s, 'Shipped', 10"
            " FROM sales.orders",
            (new_id, future),
        )
        cancelled = kpi_conn.execute(
            "SELECT order_id, order_date FROM sales.orders WHERE order_status = 'Cancelled'"
            " AND order_date < %s ORDER BY order_id LIMIT 1",
            (END - dt.timedelta(days=60),),
        ).fetchone()
        for oid, shipped in ((new_id, future), (cancelled[0], cancelled[1])):
            kpi_conn.execute(
                "INSERT INTO sales.shipments (shipment_id, order_id, courier_name, shipped_date,"
                " delivered_date, status) SELECT max(shipment_id) + 1, %s, 'ZZ Courier', %s, NULL,"
                " 'Shipped' FROM sales.shipments",
                (oid, shipped),
            )
        kpi_conn.execute(parse_sql_file(SQL_DIR / "facts" / "fact_orders.sql").load_sql)
        reload_shipment_fact(kpi_conn)
        in_fact = kpi_conn.execute(
            f"SELECT order_date, order_status FROM analytics.{FACT}"
            " WHERE courier_name = 'ZZ Courier' ORDER BY order_date"
        ).fetchall()
        assert in_fact == [(cancelled[1], "Cancelled"), (future, "Shipped")]
        refresh_readers(kpi_conn)
        after = {n: kpi_conn.execute(f"TABLE analytics.{n}").fetchall() for n in READERS}
        assert_readers_equal_old_definitions(kpi_conn)
    for name in READERS:
        assert sorted(after[name], key=str) == sorted(before[name], key=str), name


# --------------------------------------------------------------------------------------------------
# Incremental load = full rebuild
# --------------------------------------------------------------------------------------------------


def _old_days(conn: psycopg.Connection, where: str, n: int, lo: dt.date, hi: dt.date) -> list:
    """(order_id, order_date, shipment_id) of n orders on n distinct days in [lo, hi]."""
    return conn.execute(
        "SELECT DISTINCT ON (o.order_date) o.order_id, o.order_date, s.shipment_id"
        " FROM sales.orders o JOIN sales.shipments s USING (order_id)"
        f" WHERE o.order_date BETWEEN %s AND %s AND {where}"
        " ORDER BY o.order_date, o.order_id, s.shipment_id LIMIT %s",
        (lo, hi, n),
    ).fetchall()


def test_shipment_fact_incremental_load_equals_full_build(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("shipment_facts")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=15, end_date=END)
        actions = _build(conn, OBJECTS)
        assert actions[FACT] == "create"
        full = actual_shipment_days(conn)
        _assert_same(full, expected_shipment_days(conn), FACT)
        _partition_rows_match(conn, FACT)
        assert_readers_equal_old_definitions(conn)
        conn.commit()
        reload_days = int(
            conn.execute("SELECT analytics.fn_config_int('facts.reload_days')").fetchone()[0]
        )

        # Nothing changed: only the always-reloaded last days.
        t0 = _now(conn)
        assert _build(conn, OBJECTS)[FACT] == "incremental_load"
        window = {END - dt.timedelta(days=i) for i in range(reload_days)}
        assert _reloaded_days(conn, t0, FACT) == window
        assert actual_shipment_days(conn) == full
        assert _whole_record(conn, FACT) == _whole_now(conn, "sales.shipments", 3)

        # While no shipment outside the fresh days changed, the other days keep their recorded
        # hashes (a tampered one is trusted: its day is not reloaded); the edits below make the
        # next load hash every day, and the tampered day is reloaded with them.
        tampered = END - dt.timedelta(days=45)
        _tamper_day_hash(conn, FACT, tampered)
        t0 = _now(conn)
        assert _build(conn, OBJECTS)[FACT] == "incremental_load"
        assert _reloaded_days(conn, t0, FACT) == window

        # A new day; a shipment delivered late inside the new reload window and one outside it (the
        # order's own row does not change: only the shipment hash sees it); a deleted shipment; a
        # new shipment on an old order; a status change and a deleted order (fact_orders sees them).
        appended = append_day(conn, seed=15)
        new_window = {appended.day - dt.timedelta(days=i) for i in range(reload_days)}
        with conn.transaction():
            in_window = _old_days(
                conn,
                "s.delivered_date IS NULL",
                1,
                min(new_window),
                appended.day - dt.timedelta(days=1),
            )
            assert in_window, "no undelivered shipment in the reload window"
            outside = _old_days(
                conn,
                "s.delivered_date IS NULL",
                1,
                END - dt.timedelta(days=300),
                END - dt.timedelta(days=30),
            )
            assert outside, "no old undelivered shipment"
            others = _old_days(
                conn,
                "o.order_status = 'Delivered'",
                4,
                END - dt.timedelta(days=200),
                END - dt.timedelta(days=100),
            )
            (_, deleted_day, deleted_ship), (new_ship_order, new_ship_day, _) = others[:2]
            (status_id, status_day, _), (gone_id, gone_day, _) = others[2:]
            late_days = set()
            for _, day, sid in (*in_window, *outside):
                conn.execute(
                    "UPDATE sales.shipments SET delivered_date = %s, status = 'Delivered'"
                    " WHERE shipment_id = %s",
                    (appended.day, sid),
                )
                late_days.add(day)
            conn.execute("DELETE FROM sales.shipments WHERE shipment_id = %s", (deleted_ship,))
            conn.execute(
                "INSERT INTO sales.shipments (shipment_id, order_id, courier_name, shipped_date,"
                " delivered_date, status) SELECT max(shipment_id) + 1, %s, NULL, %s, NULL,"
                " 'Shipped' FROM sales.shipments",
                (new_ship_order, appended.day),
            )
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Returned' WHERE order_id = %s",
                (status_id,),
            )
            _delete_orders(conn, [gone_id])
            # Two shipments of one old day swapping their couriers: every column keeps its values,
            # only the rows holding them change (a plain sum of hash_record_extended missed this).
            taken = [r[1] for r in (*in_window, *outside, *others)]
            swap_day, ship_a, courier_a, ship_b, courier_b = conn.execute(
                "SELECT o.order_date, a.shipment_id, a.courier_name, b.shipment_id, b.courier_name"
                " FROM sales.shipments a JOIN sales.shipments b ON b.shipment_id > a.shipment_id"
                " JOIN sales.orders o ON o.order_id = a.order_id"
                " JOIN sales.orders q ON q.order_id = b.order_id AND q.order_date = o.order_date"
                " WHERE o.order_date < %s AND a.courier_name <> b.courier_name"
                " AND o.order_date <> ALL(%s)"
                " ORDER BY o.order_date, a.shipment_id, b.shipment_id LIMIT 1",
                (END - dt.timedelta(days=60), taken),
            ).fetchone()
            swap = "UPDATE sales.shipments SET courier_name = %s WHERE shipment_id = %s"
            conn.execute(swap, (courier_b, ship_a))
            conn.execute(swap, (courier_a, ship_b))
        t1 = _now(conn)
        actions = _build(conn, OBJECTS)
        assert actions[FACT] == "incremental_load"
        order_days = {status_day, gone_day}
        assert _reloaded_days(conn, t1, "fact_orders") == order_days | new_window
        assert _reloaded_days(conn, t1, FACT) == (
            order_days | late_days | {deleted_day, new_ship_day, swap_day, tampered} | new_window
        )
        incremental = actual_shipment_days(conn)
        _assert_same(incremental, expected_shipment_days(conn), FACT)
        assert any(k[2] == "Unknown" for k in incremental)  # the new shipment without courier
        _partition_rows_match(conn, FACT)
        assert _whole_record(conn, FACT) == _whole_now(conn, "sales.shipments", 3)
        assert_readers_equal_old_definitions(conn)

        # The same data loaded from scratch (definition changed: re-created) gives the same rows.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old' WHERE object_name = %s",
            (FACT,),
        )
        conn.commit()
        assert _build(conn, OBJECTS)[FACT] == "recreate"
        assert actual_shipment_days(conn) == incremental
        assert_readers_equal_old_definitions(conn)


def test_fact_file_reads_no_config_in_its_rows() -> None:
    """Nothing stored depends on the configuration or the reference date (only the reload window
    of the load reads config): the readers apply them, so a config change needs no reload."""
    text = Path(FACT_FILE).read_text(encoding="utf-8")
    insert = text[text.index(f"INSERT INTO analytics.{FACT}") :]
    insert = insert[: insert.index("analytics.fn_record_fact_partitions")]
    assert "fn_config" not in insert and "fn_reference_date" not in insert
