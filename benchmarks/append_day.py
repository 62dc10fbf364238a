"""Append one new day of orders to a generated RetailMart database (for the daily-refresh benchmark).

    .venv/bin/python benchmarks/append_day.py --url URL [--seed 42]

The new day is the day after the latest order. Deterministic (same database and seed, same rows) and
consistent with the generator's rules (``retailmart_dagster/generate/sales.py``):

- as many orders as on the same weekday one week before; customers and stores drawn from the orders
  of the last 60 days (value-weighted, never a customer who joined on or after the new day), the
  order's store that of a recent order of the same customer 72 % of the time;
- 1 + Poisson(1.9) distinct lines (at most 8), products drawn by recent popularity, whole-rupee list
  prices, quantities and 5 %-step discounts with the generator's probabilities (festive ones on
  festive days); ``total_amount`` = sum of the line nets, exact to the paisa;
- lifecycle as of the new day (age 0): 8 % Cancelled, dispatched the same day → Shipped with an
  in-transit shipment, the rest Pending (a few stuck Processing); one payment per order for its
  total, dated the new day;
- ``finance.revenue_summary`` of the day's month updated so it still agrees with the orders.

Orders of earlier days are left as they were (no delivery or return progresses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from retailmart_dagster.generate import reference as ref  # noqa: E402
from retailmart_dagster.generate.context import weighted_choice  # noqa: E402
from retailmart_dagster.generate.dates import festive_boost  # noqa: E402
from retailmart_dagster.generate.sales import (  # noqa: E402
    CANCEL_RATE,
    DISCOUNT_P_FESTIVE,
    DISCOUNT_P_NORMAL,
    DISCOUNTS,
    DISPATCH_P,
    MAX_LINES,
    QTY_P,
    STUCK_RECENT,
    line_net_paise,
)

RECENT_DAYS = 60
HOME_STORE_P = 0.72


@dataclass(frozen=True)
class AppendResult:
    day: dt.date
    orders: int
    lines: int
    payments: int
    shipments: int


def _money(paise: int) -> Decimal:
    return Decimal(int(paise)).scaleb(-2)


def _copy(cur: psycopg.Cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def append_day(conn: psycopg.Connection, seed: int = 42) -> AppendResult:
    """Append the day after the latest order (one transaction, committed) and ANALYZE the tables."""
    with conn.transaction(), conn.cursor() as cur:
        last = cur.execute("SELECT max(order_date) FROM sales.orders").fetchone()[0]
        if last is None:
            raise ValueError("sales.orders is empty: generate data first")
        day = last + dt.timedelta(days=1)
        rng = np.random.default_rng([seed, day.toordinal()])
        n = int(
            cur.execute(
                "SELECT count(*) FROM sales.orders WHERE order_date = %s",
                (day - dt.timedelta(days=7),),
            ).fetchone()[0]
        )
        n = max(n, 1)

        recent = cur.execute(
            """
            SELECT o.cust_id, o.store_id
              FROM sales.orders AS o JOIN customers.customers AS c ON c.cust_id = o.cust_id
             WHERE o.order_date > %s AND c.join_date < %s
             ORDER BY o.order_id
            """,
            (day - dt.timedelta(days=RECENT_DAYS), day),
        ).fetchall()
        if not recent:
            raise ValueError(f"no orders in the {RECENT_DAYS} days before {day}")
        rec_cust = np.array([r[0] for r in recent])
        rec_store = np.array([r[1] for r in recent])
        pick = rng.integers(0, len(recent), n)
        cust = rec_cust[pick]
        other = rec_store[rng.integers(0, len(recent), n)]
        store = np.where(rng.random(n) < HOME_STORE_P, rec_store[pick], other)

        popular = cur.execute(
            """
            SELECT oi.prod_id, count(*) AS lines, max(oi.quantity) AS max_qty, p.price
              FROM sales.order_items AS oi
              JOIN sales.orders AS o ON o.order_id = oi.order_id
              JOIN products.products AS p ON p.prod_id = oi.prod_id
             WHERE o.order_date > %s
             GROUP BY oi.prod_id, p.price
             ORDER BY oi.prod_id
            """,
            (day - dt.timedelta(days=RECENT_DAYS),),
        ).fetchall()
        prod_id = np.array([r[0] for r in popular])
        weight = np.array([r[1] for r in popular], dtype=float)
        max_qty = np.array([r[2] for r in popular])
        price = np.array([int(round(r[3] * 100)) for r in popular], dtype=np.int64)

        n_lines = np.minimum(1 + rng.poisson(1.9, n), MAX_LINES)
        order_idx = np.repeat(np.arange(n), n_lines)
        prod_idx = weighted_choice(rng, weight, len(order_idx))
        key = order_idx.astype(np.int64) * len(prod_id) + prod_idx
        _, first = np.unique(key, return_index=True)
        keep = np.sort(first)
        order_idx, prod_idx = order_idx[keep], prod_idx[keep]
        m = len(order_idx)
        qty = 1 + weighted_choice(rng, np.asarray(QTY_P), m)
        qty = np.where(qty > max_qty[prod_idx], 1, qty)
        festive = bool(festive_boost(np.array([np.datetime64(day, "D")]))[0] > 1.4)
        disc = DISCOUNTS[
            weighted_choice(
                rng, np.asarray(DISCOUNT_P_FESTIVE if festive else DISCOUNT_P_NORMAL), m
            )
        ]
        net = line_net_paise(qty, price[prod_idx], disc)
        total = np.bincount(order_idx, weights=net, minlength=n).round().astype(np.int64)

        cancelled = rng.random(n) < CANCEL_RATE
        dispatched = weighted_choice(rng, np.asarray(DISPATCH_P), n) == 0
        courier = weighted_choice(rng, np.array([c.share for c in ref.COURIERS]), n)
        u = rng.random(n)
        status = np.full(n, "Pending", dtype=object)
        status[dispatched] = "Shipped"
        stuck_pend = u < STUCK_RECENT[0]
        stuck_proc = (u >= STUCK_RECENT[0]) & (u < STUCK_RECENT[0] + STUCK_RECENT[1])
        status[dispatched & stuck_proc] = "Processing"
        status[dispatched & stuck_pend] = "Pending"
        status[cancelled] = "Cancelled"
        modes = [m_ for m_, _ in ref.PAYMENT_MODES]
        mode = weighted_choice(rng, np.array([p for _, p in ref.PAYMENT_MODES]), n)

        first_order, first_item, first_payment, first_shipment = cur.execute(
            "SELECT (SELECT coalesce(max(order_id), 0) FROM sales.orders) + 1,"
            " (SELECT coalesce(max(order_item_id), 0) FROM sales.order_items) + 1,"
            " (SELECT coalesce(max(payment_id), 0) FROM sales.payments) + 1,"
            " (SELECT coalesce(max(shipment_id), 0) FROM sales.shipments) + 1"
        ).fetchone()
        order_id = first_order + np.arange(n)
        _copy(
            cur,
            "sales.orders",
            ["order_id", "cust_id", "store_id", "order_date", "order_status", "total_amount"],
            [
                (int(order_id[i]), int(cust[i]), int(store[i]), day, status[i], _money(total[i]))
                for i in range(n)
            ],
        )
        _copy(
            cur,
            "sales.order_items",
            ["order_item_id", "order_id", "prod_id", "quantity", "unit_price", "discount"],
            [
                (
                    first_item + j,
                    int(order_id[order_idx[j]]),
                    int(prod_id[prod_idx[j]]),
                    int(qty[j]),
                    _money(price[prod_idx[j]]),
                    int(disc[j]),
                )
                for j in range(m)
            ],
        )
        _copy(
            cur,
            "sales.payments",
            ["payment_id", "order_id", "payment_date", "payment_mode", "amount"],
            [
                (first_payment + i, int(order_id[i]), day, modes[mode[i]], _money(total[i]))
                for i in range(n)
            ],
        )
        shipped = np.flatnonzero(status == "Shipped")
        _copy(
            cur,
            "sales.shipments",
            ["shipment_id", "order_id", "courier_name", "shipped_date", "delivered_date", "status"],
            [
                (
                    first_shipment + k,
                    int(order_id[i]),
                    ref.COURIERS[courier[i]].name,
                    day,
                    None,
                    "Shipped",
                )
                for k, i in enumerate(shipped)
            ],
        )
        # The month's revenue summary (one row per store and month, dated the 1st) follows the orders.
        month = day.replace(day=1)
        cur.execute(
            """
            INSERT INTO finance.revenue_summary
                   (summary_date, store_id, total_sales, total_expenses, net_profit)
            SELECT %s, s.store_id, 0, 0, 0
              FROM stores.stores AS s
             WHERE NOT EXISTS (SELECT 1 FROM finance.revenue_summary WHERE summary_date = %s)
             ORDER BY s.store_id
            """,
            (month, month),
        )
        sold = ~cancelled
        per_store: dict[int, int] = {}
        for s, t in zip(store[sold], total[sold], strict=True):
            per_store[int(s)] = per_store.get(int(s), 0) + int(t)
        cur.executemany(
            """
            UPDATE finance.revenue_summary
               SET total_sales = total_sales + %s,
                   net_profit = total_sales + %s - total_expenses
             WHERE summary_date = %s AND store_id = %s
            """,
            [(_money(t), _money(t), month, s) for s, t in sorted(per_store.items())],
        )
        cur.execute(
            "ANALYZE sales.orders, sales.order_items, sales.payments, sales.shipments,"
            " finance.revenue_summary"
        )
    if not conn.autocommit:
        conn.commit()
    return AppendResult(day=day, orders=n, lines=m, payments=n, shipments=len(shipped))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with psycopg.connect(args.url) as conn:
        result = append_day(conn, seed=args.seed)
    print(
        f"appended {result.day}: {result.orders} orders, {result.lines} lines, "
        f"{result.payments} payments, {result.shipments} shipments"
    )


if __name__ == "__main__":
    main()


# Build-time bookkeeping, not KPIs: the audit tables and what reads them.
SNAPSHOT_SKIP_GROUPS = ("setup",)
# Exports of run history (alerts' generatedAt/openedAt, the quality history of every evaluation):
# by design they differ between a database that saw earlier runs and a fresh one. The views they
# are built from (vw_alerts, vw_data_quality_report, ...) are compared.
SNAPSHOT_SKIP_OBJECTS = ("fn_export_alerts", "fn_export_quality")
# Facts are compared through the views that read them, except these: small tables that are
# themselves KPI tables (cohorts x months; it was a materialized view), compared row by row too.
SNAPSHOT_FACTS = ("fact_customer_cohort_months",)
# Columns that identify a run's own record: a failing check's open issue (its id from a sequence,
# the time it was detected). Whether a check has an open issue is compared instead.
SNAPSHOT_RUN_COLUMNS = {"vw_data_quality_report": ("issue_id", "open_since")}


def kpi_snapshot(conn: psycopg.Connection) -> dict[str, object]:
    """Every analytics view and materialized view outside setup and the facts of SNAPSHOT_FACTS
    (rows as text, sorted), and every export function's JSON: what a daily refresh must get
    exactly as a full build does."""
    from psycopg import sql

    from retailmart_dagster.assets.exports import export_target
    from retailmart_dagster.assets.sql_parse import (
        FUNCTION,
        MATERIALIZED_VIEW,
        VIEW,
        discover_sql_objects,
    )

    snapshot: dict[str, object] = {}
    for obj in discover_sql_objects():
        if obj.group in SNAPSHOT_SKIP_GROUPS or obj.name in SNAPSHOT_SKIP_OBJECTS:
            continue
        ident = sql.Identifier("analytics", obj.name)
        if obj.kind in (VIEW, MATERIALIZED_VIEW) or obj.name in SNAPSHOT_FACTS:
            row = sql.SQL("t::text")
            run_columns = SNAPSHOT_RUN_COLUMNS.get(obj.name, ())
            if run_columns:
                row = sql.SQL(
                    "((to_jsonb(t) - {cols}) || jsonb_build_object('has_' || {first}, {ref} IS NOT NULL))::text"
                ).format(
                    cols=sql.SQL("ARRAY[{}]::text[]").format(
                        sql.SQL(", ").join(map(sql.Literal, run_columns))
                    ),
                    first=sql.Literal(run_columns[0]),
                    ref=sql.SQL("t.{}").format(sql.Identifier(run_columns[0])),
                )
            rows = conn.execute(sql.SQL("SELECT {} FROM {} AS t").format(row, ident)).fetchall()
            snapshot[obj.name] = sorted(r[0] for r in rows)
        elif obj.kind == FUNCTION and export_target(obj) is not None:
            snapshot[obj.name] = conn.execute(
                sql.SQL("SELECT {}()::text").format(ident)
            ).fetchone()[0]
    return snapshot


def snapshot_differences(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """Names of the objects whose contents differ (or exist in only one snapshot)."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
