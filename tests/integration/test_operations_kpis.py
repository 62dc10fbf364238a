"""Operations KPI objects checked against an independent pandas computation from the source tables.

Every Operations view / materialized view in ``analytics`` (delivery performance, courier
comparison, return analysis, payment analysis, pending shipments, operations summary) is
recomputed here from the raw tables (``sales.orders``, ``order_items``, ``shipments``, ``returns``,
``payments``, ``products.products``) with pandas only and compared row by row: counts exactly, money,
days and percentages within 0.01. Traps (fan-out, averages of rates, overdue shipments, ties,
reference date, top-N bounds, contradictory source rows) are tested explicitly; source rows and
configuration are changed only inside rolled-back transactions. The exports are checked for their
JSON shape, their bounds and their agreement with the views.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.integration.test_fact_shipments import (
    actual_shipment_days,
    expected_shipment_days,
    reload_shipment_fact,
)
from tests.kpi_support import (
    ISO_DATE,
    SQL_DIR,
    assert_export_envelope,
    check_sql_file_with_params,
    check_values,
    config_keys_read,
    config_section_keys,
    export,
    pct,
    query_df,
    read_once,
    rolled_back,
    sales_orders,
    same_value,
    set_config,
    snake,
    view,
)
from tests.kpi_support import MONEY_TOL as TOL
from tests.kpi_support import assert_close as assert_matches

pytestmark = pytest.mark.integration

OPERATIONS_OBJECTS = [
    "vw_shipment_outcomes",
    "mv_delivery_performance",
    "mv_courier_performance",
    "mv_return_analysis",
    "mv_payment_analysis",
    "mv_pending_shipments",
    "mv_operations_summary",
]
EXPORTS = [
    "fn_export_operations_delivery_performance",
    "fn_export_operations_couriers",
    "fn_export_operations_returns",
    "fn_export_operations_payments",
    "fn_export_operations_pending_shipments",
    "fn_export_operations_summary",
]


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    orders: pd.DataFrame
    items: pd.DataFrame
    products: pd.DataFrame
    shipments: pd.DataFrame
    returns: pd.DataFrame
    payments: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    first_date: pd.Timestamp

    def cfg(self, key: str) -> Any:
        return self.config[key]


def read_source(conn: psycopg.Connection) -> Source:
    orders = query_df(
        conn,
        "SELECT order_id, cust_id, store_id, order_date, order_status, total_amount "
        "FROM sales.orders",
    )
    items = query_df(conn, "SELECT order_item_id, order_id, prod_id FROM sales.order_items")
    products = query_df(conn, "SELECT prod_id, category FROM products.products")
    shipments = query_df(
        conn,
        "SELECT shipment_id, order_id, courier_name, shipped_date, delivered_date, status "
        "FROM sales.shipments",
    )
    returns = query_df(
        conn,
        "SELECT return_id, order_id, prod_id, return_date, reason, refund_amount FROM sales.returns",
    )
    payments = query_df(
        conn, "SELECT payment_id, order_id, payment_date, payment_mode, amount FROM sales.payments"
    )
    for col in ("shipped_date", "delivered_date"):
        shipments[col] = pd.to_datetime(shipments[col])
    with conn.cursor() as cur:
        cur.execute("SELECT key, value FROM analytics.config")
        config = {k: v for k, v in cur.fetchall()}
    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    first_date = dates[dates <= ref_date].min()
    return Source(
        orders, items, products, shipments, returns, payments, config, ref_date, first_date
    )


_CACHE: dict[str, Source] = {}


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    return read_once(_CACHE, kpi_conn, read_source)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


def month_start(s: pd.Series) -> pd.Series:
    return s.dt.to_period("M").dt.to_timestamp()


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def expected_shipment_facts(s: Source, sla: int | None = None) -> pd.DataFrame:
    sla = s.cfg("operations.sla_days") if sla is None else sla
    so = sales_orders(s)[["order_id", "order_date", "order_status"]]
    f = s.shipments.merge(so, on="order_id", how="inner")
    f["courier_name"] = f["courier_name"].fillna("Unknown")
    says_delivered = f["status"].isin(s.cfg("operations.delivered_shipment_statuses"))
    conflict = (
        (f["shipped_date"] < f["order_date"])
        | (f["delivered_date"] < f["shipped_date"].fillna(f["order_date"]))
        | (f["delivered_date"].isna() & says_delivered)
    )
    f["has_date_conflict"] = conflict
    delivered = f["delivered_date"].notna() | says_delivered
    f["is_delivered"] = delivered
    f["is_shipped"] = f["shipped_date"].notna()
    to_deliver = (f["delivered_date"] - f["order_date"]).dt.days
    age = (s.ref_date - f["order_date"]).dt.days
    f["order_to_ship_days"] = (f["shipped_date"] - f["order_date"]).dt.days.where(~conflict)
    f["ship_to_deliver_days"] = (f["delivered_date"] - f["shipped_date"]).dt.days.where(~conflict)
    f["order_to_deliver_days"] = to_deliver.where(~conflict)
    f["is_on_time"] = delivered & ~conflict & (to_deliver <= sla)
    f["is_delayed"] = ~conflict & ((delivered & (to_deliver > sla)) | (~delivered & (age > sla)))
    f["is_assessed"] = f["is_on_time"] | f["is_delayed"]
    f["order_month"] = month_start(f["order_date"])
    return f


def test_shipment_outcomes_match_pandas(kpi_conn, src):
    """vw_shipment_outcomes: per (order day, courier), the shipments of each flag equal the
    per-shipment flags computed in pandas (delivered, date conflict, on time, delayed, assessed)."""
    flags = ["is_delivered", "has_date_conflict", "is_on_time", "is_delayed", "is_assessed"]
    cur = kpi_conn.execute(
        "SELECT order_date, courier_name, sum(shipments) AS shipments, "
        + ", ".join(f"coalesce(sum(shipments) FILTER (WHERE {c}), 0) AS {c}" for c in flags)
        + " FROM analytics.vw_shipment_outcomes GROUP BY 1, 2"
    )
    actual = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    f = expected_shipment_facts(src)
    g = f.groupby([f["order_date"].dt.date, "courier_name"])
    expected = pd.DataFrame({"shipments": g.size(), **{c: g[c].sum() for c in flags}}).reset_index()
    expected = expected.rename(columns={"level_0": "order_date"})
    a = actual.set_index(["order_date", "courier_name"]).sort_index().astype(int)
    e = expected.set_index(["order_date", "courier_name"]).sort_index().astype(int)
    assert a.index.equals(e.index)
    assert (a[e.columns] == e).all().all()
    assert a["is_delayed"].sum() > 0 and a["is_on_time"].sum() > 0


def shipment_aggregates(f: pd.DataFrame, by: str) -> pd.DataFrame:
    f = f.assign(
        not_delivered=~f["is_delivered"],
        delivered_measured=f["is_delivered"] & ~f["has_date_conflict"],
    )
    g = f.groupby(by)
    out = pd.DataFrame(
        {
            "shipments": g.size(),
            "delivered": g["is_delivered"].sum(),
            "in_transit": g["not_delivered"].sum(),
            "on_time": g["is_on_time"].sum(),
            "delayed": g["is_delayed"].sum(),
            "assessed": g["is_assessed"].sum(),
            "date_conflicts": g["has_date_conflict"].sum(),
            "delivered_measured": g["delivered_measured"].sum(),
            "avg_order_to_ship_days": g["order_to_ship_days"].mean(),
            "avg_ship_to_deliver_days": g["ship_to_deliver_days"].mean(),
            "avg_order_to_deliver_days": g["order_to_deliver_days"].mean(),
        }
    )
    out["on_time_pct"] = pct(out["on_time"], out["assessed"])
    out["delayed_pct"] = pct(out["delayed"], out["assessed"])
    return out


def expected_delivery(s: Source, sla: int | None = None) -> pd.DataFrame:
    f = expected_shipment_facts(s, sla)
    months = pd.date_range(s.first_date.to_period("M").to_timestamp(), s.ref_date, freq="MS")
    agg = shipment_aggregates(f, "order_month").reindex(months)
    so = sales_orders(s)
    so = so[so["order_date"] >= s.first_date]
    agg["orders"] = so.groupby(month_start(so["order_date"])).size().reindex(months)
    agg["orders_shipped"] = (
        f[f["is_shipped"]].groupby("order_month")["order_id"].nunique().reindex(months)
    )
    agg["delivered_on_time_pct"] = pct(agg["on_time"], agg["delivered_measured"])
    for c in ("orders", "orders_shipped", "shipments", "delivered", "in_transit", "on_time"):
        agg[c] = agg[c].fillna(0)
    for c in ("delayed", "assessed", "date_conflicts"):
        agg[c] = agg[c].fillna(0)
    agg.index.name = "order_month"
    return agg.reset_index()


def expected_couriers(s: Source) -> pd.DataFrame:
    f = expected_shipment_facts(s)
    c = shipment_aggregates(f, "courier_name")
    w_on, w_speed = (
        s.cfg("operations.courier_weight_on_time"),
        s.cfg("operations.courier_weight_speed"),
    )
    c["volume_share_pct"] = c["shipments"] / c["shipments"].sum() * 100
    c["speed_index"] = 100 * c["avg_ship_to_deliver_days"].min() / c["avg_ship_to_deliver_days"]
    c["composite_score"] = (w_on * c["on_time_pct"] + w_speed * c["speed_index"]) / (w_on + w_speed)
    c = c.reset_index()
    order = c.assign(
        _score=c["composite_score"].fillna(-np.inf), _ot=c["on_time_pct"].fillna(-np.inf)
    ).sort_values(
        ["_score", "_ot", "shipments", "courier_name"], ascending=[False, False, False, True]
    )
    c.loc[order.index, "courier_rank"] = np.arange(1, len(c) + 1)
    return c


def delivered_order_ids(s: Source) -> pd.Series:
    o = s.orders
    base = set(s.cfg("operations.delivered_order_statuses"))
    return o.loc[(o["order_date"] <= s.ref_date) & o["order_status"].isin(base), "order_id"]


def expected_returns(s: Source) -> pd.DataFrame:
    base = delivered_order_ids(s)
    prod_cat = s.products.assign(category=s.products["category"].fillna("Unknown"))
    oc = (
        s.items[s.items["order_id"].isin(base)]
        .merge(prod_cat, on="prod_id", how="left")
        .assign(category=lambda d: d["category"].fillna("Unknown"))[["order_id", "category"]]
        .drop_duplicates()
    )
    denom = oc.groupby("category").size().rename("delivered_orders")
    r = s.returns[s.returns["return_date"] <= s.ref_date].merge(prod_cat, on="prod_id", how="left")
    r["category"] = r["category"].fillna("Unknown")
    r["reason"] = r["reason"].fillna("Unknown")
    r = r.merge(oc, on=["order_id", "category"], how="inner")
    by_reason = r.groupby(["category", "reason"]).agg(
        returns=("return_id", "size"),
        returned_orders=("order_id", "nunique"),
        refund_amount=("refund_amount", "sum"),
    )
    by_cat = r.groupby("category").agg(
        category_returns=("return_id", "size"),
        category_returned_orders=("order_id", "nunique"),
        category_refund_amount=("refund_amount", "sum"),
    )
    grid = pd.MultiIndex.from_product(
        [denom.index, sorted(r["reason"].unique())], names=["category", "reason"]
    )
    g = pd.DataFrame(index=grid).reset_index()
    g = g.join(denom, on="category").join(by_cat, on="category")
    g = g.join(by_reason, on=["category", "reason"])
    for c in g.columns[2:]:
        g[c] = g[c].fillna(0)
    g["return_rate_pct"] = pct(g["returned_orders"], g["delivered_orders"])
    g["category_return_rate_pct"] = pct(g["category_returned_orders"], g["delivered_orders"])
    g["reason_share_pct"] = pct(g["returns"], g["category_returns"])
    g["is_high_return_category"] = g["category_return_rate_pct"].fillna(0) >= s.cfg(
        "operations.high_return_rate_pct"
    )
    return g


def expected_payments(s: Source) -> pd.DataFrame:
    so = sales_orders(s)
    so = so[so["order_date"] >= s.first_date][["order_id", "order_date"]]
    p = s.payments.merge(so, on="order_id", how="inner")
    p["day"] = p["payment_date"].fillna(p["order_date"])
    p = p[(p["day"] >= s.first_date) & (p["day"] <= s.ref_date)].copy()
    p["payment_month"] = month_start(p["day"])
    p["payment_mode"] = p["payment_mode"].fillna("Unknown")
    months = pd.date_range(s.first_date.to_period("M").to_timestamp(), s.ref_date, freq="MS")
    grid = pd.MultiIndex.from_product(
        [months, sorted(p["payment_mode"].unique())], names=["payment_month", "payment_mode"]
    )
    g = (
        p.groupby(["payment_month", "payment_mode"])
        .agg(
            payments=("payment_id", "size"),
            orders=("order_id", "nunique"),
            amount=("amount", "sum"),
        )
        .reindex(grid)
        .fillna(0)
        .reset_index()
    )
    g["avg_payment"] = g["amount"] / g["payments"].where(g["payments"] != 0)
    month_payments = g.groupby("payment_month")["payments"].transform("sum")
    month_amount = g.groupby("payment_month")["amount"].transform("sum")
    g["payment_share_pct"] = pct(g["payments"], month_payments)
    g["amount_share_pct"] = pct(g["amount"], month_amount)
    return g


def expected_pending(s: Source, thresholds: tuple[int, int, int] | None = None) -> pd.DataFrame:
    medium, high, critical = thresholds or (
        s.cfg("operations.pending_priority_medium_days"),
        s.cfg("operations.pending_priority_high_days"),
        s.cfg("operations.pending_priority_critical_days"),
    )
    closed = set(s.cfg("sales.excluded_order_statuses")) | set(
        s.cfg("operations.delivered_order_statuses")
    )
    o = s.orders
    op = o[(o["order_date"] <= s.ref_date) & ~o["order_status"].isin(closed)].copy()
    op["age_days"] = (s.ref_date - op["order_date"]).dt.days
    sh = s.shipments[s.shipments["order_id"].isin(op["order_id"])]
    sh = sh.assign(
        delivered_any=sh["delivered_date"].notna()
        | sh["status"].isin(s.cfg("operations.delivered_shipment_statuses"))
    )
    agg = sh.groupby("order_id").agg(
        shipments=("shipment_id", "size"),
        last_shipped_date=("shipped_date", "max"),
        has_delivered_shipment=("delivered_any", "any"),
    )
    latest = sh.sort_values(
        ["order_id", "shipped_date", "shipment_id"],
        ascending=[True, False, False],
        na_position="last",
    ).drop_duplicates("order_id")
    agg["courier_name"] = latest.set_index("order_id")["courier_name"]
    op = op.join(agg, on="order_id")
    op["shipments"] = op["shipments"].fillna(0)
    op["has_delivered_shipment"] = op["has_delivered_shipment"].fillna(False).astype(bool)
    op["stage"] = np.where(op["last_shipped_date"].notna(), "In transit", "Awaiting dispatch")
    op["days_since_shipped"] = (s.ref_date - op["last_shipped_date"]).dt.days
    age = op["age_days"]
    op["priority"] = np.select(
        [age > critical, age > high, age > medium], ["Critical", "High", "Medium"], "Low"
    )
    op["priority_order"] = np.select([age > critical, age > high, age > medium], [1, 2, 3], 4)
    return op


def expected_summary(s: Source) -> dict[str, Any]:
    f = expected_shipment_facts(s)
    pend = expected_pending(s)
    base = delivered_order_ids(s)
    r = s.returns[(s.returns["return_date"] <= s.ref_date) & s.returns["order_id"].isin(base)]
    couriers = expected_couriers(s)
    best = couriers.sort_values("courier_rank").iloc[0]
    return {
        "orders": len(sales_orders(s)),
        "shipments": len(f),
        "delivered": int(f["is_delivered"].sum()),
        "in_transit": int((~f["is_delivered"]).sum()),
        "on_time": int(f["is_on_time"].sum()),
        "delayed": int(f["is_delayed"].sum()),
        "assessed": int(f["is_assessed"].sum()),
        "date_conflicts": int(f["has_date_conflict"].sum()),
        "on_time_pct": f["is_on_time"].sum() / f["is_assessed"].sum() * 100,
        "delayed_pct": f["is_delayed"].sum() / f["is_assessed"].sum() * 100,
        "avg_order_to_ship_days": f["order_to_ship_days"].mean(),
        "avg_ship_to_deliver_days": f["ship_to_deliver_days"].mean(),
        "avg_order_to_deliver_days": f["order_to_deliver_days"].mean(),
        "open_orders": len(pend),
        "open_orders_critical": int((pend["priority"] == "Critical").sum()),
        "open_orders_high": int((pend["priority"] == "High").sum()),
        "open_orders_medium": int((pend["priority"] == "Medium").sum()),
        "open_orders_low": int((pend["priority"] == "Low").sum()),
        "awaiting_dispatch": int((pend["stage"] == "Awaiting dispatch").sum()),
        "oldest_open_age_days": int(pend["age_days"].max()),
        "open_order_value": pend["total_amount"].sum(),
        "delivered_orders": len(base),
        "returned_orders": r["order_id"].nunique(),
        "return_rate_pct": r["order_id"].nunique() / len(base) * 100,
        "refund_amount": r["refund_amount"].sum(),
        "best_courier": best["courier_name"],
        "best_courier_score": best["composite_score"],
        "sla_days": s.cfg("operations.sla_days"),
    }


# --------------------------------------------------------------------------------------------------
# The views against pandas
# --------------------------------------------------------------------------------------------------

AGG_EXACT = ["shipments", "delivered", "in_transit", "on_time", "delayed", "assessed"]
AGG_CLOSE = [
    "on_time_pct",
    "delayed_pct",
    "avg_order_to_ship_days",
    "avg_ship_to_deliver_days",
    "avg_order_to_deliver_days",
]


def test_delivery_performance(kpi_conn, src):
    actual = view(kpi_conn, "mv_delivery_performance")
    assert_matches(
        actual,
        expected_delivery(src),
        ["order_month"],
        exact=["orders", "orders_shipped", *AGG_EXACT, "date_conflicts"],
        close=[*AGG_CLOSE, "delivered_on_time_pct"],
        label="mv_delivery_performance",
    )
    assert (actual["sla_days"] == src.cfg("operations.sla_days")).all()
    assessed = actual[actual["assessed"] > 0]
    assert ((assessed["on_time_pct"] + assessed["delayed_pct"] - 100).abs() <= TOL).all()


def test_delivery_sla_follows_config(kpi_conn, src):
    """A different SLA changes on time / delayed exactly as pandas says (rolled back)."""
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "operations.sla_days", 4)
        # The SLA is applied by the reader: the shipment fact needs no reload.
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_delivery_performance")
        actual = view(kpi_conn, "mv_delivery_performance")
    expected = expected_delivery(src, sla=4)
    assert_matches(
        actual,
        expected,
        ["order_month"],
        exact=AGG_EXACT,
        close=["on_time_pct", "delayed_pct"],
        label="mv_delivery_performance(sla=4)",
    )
    assert (actual["sla_days"] == 4).all()
    default = expected_delivery(src)
    assert expected["on_time"].sum() < default["on_time"].sum(), "SLA change has no effect"


def test_on_time_is_measured_from_the_order_date(kpi_conn, src):
    """Trap: measuring from the ship date would report more shipments on time."""
    f = expected_shipment_facts(src)
    sla = src.cfg("operations.sla_days")
    from_ship = (f["ship_to_deliver_days"] <= sla) & f["is_delivered"] & ~f["has_date_conflict"]
    actual = view(kpi_conn, "mv_delivery_performance")
    assert actual["on_time"].sum() == f["is_on_time"].sum()
    assert from_ship.sum() > f["is_on_time"].sum(), "the sample data has no dispatch delay"


def test_overdue_in_transit_shipments_are_delayed(kpi_conn, src):
    """Trap: shipments never delivered and far past the SLA are delayed, not ignored."""
    f = expected_shipment_facts(src)
    overdue = f[~f["is_delivered"] & f["is_delayed"]]
    assert len(overdue) > 0, "the sample data has no stuck shipment"
    delivered_late = f[f["is_delivered"] & f["is_delayed"]]
    monthly = view(kpi_conn, "mv_delivery_performance")
    assert monthly["delayed"].sum() == len(overdue) + len(delivered_late)
    by_month = overdue.groupby("order_month").size()
    actual = monthly.set_index("order_month")
    for month, n in by_month.items():
        late = (delivered_late["order_month"] == month).sum()
        assert actual.loc[month, "delayed"] == n + late, month
    not_due = f[~f["is_delivered"] & ~f["is_assessed"]]
    assert ((src.ref_date - not_due["order_date"]).dt.days <= src.cfg("operations.sla_days")).all()


def test_courier_performance(kpi_conn, src):
    actual = view(kpi_conn, "mv_courier_performance")
    expected = expected_couriers(src)
    assert_matches(
        actual,
        expected,
        ["courier_name"],
        exact=[*AGG_EXACT, "date_conflicts", "courier_rank"],
        close=[*AGG_CLOSE, "volume_share_pct", "speed_index", "composite_score"],
        label="mv_courier_performance",
    )
    assert sorted(actual["courier_rank"]) == list(range(1, len(actual) + 1))
    assert abs(actual["shipments"].sum() - len(expected_shipment_facts(src))) == 0
    assert actual["speed_index"].max() == pytest.approx(100)


def test_courier_rank_ties_are_deterministic(kpi_conn, src):
    """With zero weights every score is NULL: ranks fall back to on-time %, volume, then name."""
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "operations.courier_weight_on_time", 0.0)
        set_config(cur, "operations.courier_weight_speed", 0.0)
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_courier_performance")
        first = view(kpi_conn, "mv_courier_performance")
        second = view(kpi_conn, "mv_courier_performance")
    assert first["composite_score"].isna().all()
    ordered = first.sort_values(
        ["on_time_pct", "shipments", "courier_name"], ascending=[False, False, True]
    )
    assert list(ordered["courier_rank"]) == list(range(1, len(first) + 1))
    pd.testing.assert_frame_equal(
        first.sort_values("courier_name").reset_index(drop=True),
        second.sort_values("courier_name").reset_index(drop=True),
    )


def test_return_analysis(kpi_conn, src):
    actual = view(kpi_conn, "mv_return_analysis")
    expected = expected_returns(src)
    assert_matches(
        actual,
        expected,
        ["category", "reason"],
        exact=[
            "delivered_orders",
            "returns",
            "returned_orders",
            "category_returns",
            "category_returned_orders",
        ],
        close=[
            "refund_amount",
            "return_rate_pct",
            "category_refund_amount",
            "category_return_rate_pct",
            "reason_share_pct",
        ],
        other=["is_high_return_category"],
        label="mv_return_analysis",
    )
    assert actual["is_high_return_category"].any() and not actual["is_high_return_category"].all()


def test_return_rate_is_not_an_average_of_rates(kpi_conn, src):
    """Category rate = distinct returned orders / delivered orders; multi-category orders count in
    each of their categories; an order returned for two reasons counts once in the category."""
    actual = view(kpi_conn, "mv_return_analysis")
    per_cat = actual.groupby("category").agg(
        delivered=("delivered_orders", "first"),
        returned=("category_returned_orders", "first"),
        reason_orders=("returned_orders", "sum"),
        rate=("category_return_rate_pct", "first"),
        mean_reason_rate=("return_rate_pct", "mean"),
    )
    assert ((per_cat["rate"] - per_cat["returned"] / per_cat["delivered"] * 100).abs() <= TOL).all()
    assert ((per_cat["rate"] - per_cat["mean_reason_rate"]).abs() > TOL).any()
    assert (per_cat["reason_orders"] >= per_cat["returned"]).all()
    n_delivered = len(delivered_order_ids(src))
    assert per_cat["delivered"].sum() > n_delivered, "no multi-category order in the sample data"
    assert per_cat["delivered"].max() <= n_delivered
    assert (actual["return_rate_pct"] <= 100).all()


def test_payment_analysis(kpi_conn, src):
    actual = view(kpi_conn, "mv_payment_analysis")
    assert_matches(
        actual,
        expected_payments(src),
        ["payment_month", "payment_mode"],
        exact=["payments", "orders"],
        close=["amount", "avg_payment", "payment_share_pct", "amount_share_pct"],
        label="mv_payment_analysis",
    )


def test_payment_success_rate_is_not_available(kpi_conn, src):
    actual = view(kpi_conn, "mv_payment_analysis")
    assert actual["success_rate_pct"].isna().all(), "success rate invented without a status"
    notes = actual["success_rate_note"].unique()
    assert len(notes) == 1 and "status" in notes[0] and notes[0].startswith("Not available")
    with kpi_conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'sales' AND table_name = 'payments' AND column_name ILIKE '%status%'"
        )
        assert cur.fetchone()[0] == 0


def test_pending_shipments(kpi_conn, src):
    actual = view(kpi_conn, "mv_pending_shipments")
    expected = expected_pending(src)
    assert_matches(
        actual,
        expected,
        ["order_id"],
        exact=["age_days", "shipments", "priority_order"],
        close=["total_amount", "days_since_shipped"],
        other=[
            "order_status",
            "stage",
            "priority",
            "courier_name",
            "last_shipped_date",
            "has_delivered_shipment",
        ],
        label="mv_pending_shipments",
    )
    closed = set(src.cfg("sales.excluded_order_statuses")) | set(
        src.cfg("operations.delivered_order_statuses")
    )
    assert not actual["order_status"].isin(closed).any()
    assert {"Cancelled", "Returned", "Delivered"} <= closed
    assert set(actual["priority"]) == {"Critical", "High", "Medium", "Low"}


def test_pending_priority_follows_config(kpi_conn, src):
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "operations.pending_priority_medium_days", 1)
        set_config(cur, "operations.pending_priority_high_days", 60)
        set_config(cur, "operations.pending_priority_critical_days", 365)
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_pending_shipments")
        actual = view(kpi_conn, "mv_pending_shipments")
    expected = expected_pending(src, (1, 60, 365))
    assert_matches(actual, expected, ["order_id"], other=["priority"], label="pending(1, 60, 365)")


def test_pending_status_conflicts_are_reported(kpi_conn, src):
    """An open order whose shipment carries a delivered_date stays open and is flagged (rolled back)."""
    pend = expected_pending(src)
    target = int(pend[pend["stage"] == "In transit"]["order_id"].iloc[0])
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "UPDATE sales.shipments SET delivered_date = shipped_date + 2 WHERE order_id = %s",
            (target,),
        )
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_pending_shipments")
        actual = view(kpi_conn, "mv_pending_shipments").set_index("order_id")
    assert bool(actual.loc[target, "has_delivered_shipment"]) is True
    assert actual["has_delivered_shipment"].sum() == 1


def test_date_conflicts_are_flagged_not_averaged(kpi_conn, src):
    """A shipment delivered before it was shipped counts as a shipment but in no average."""
    f = expected_shipment_facts(src)
    victim = f[f["is_delivered"]].iloc[0]
    month = victim["order_month"]
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "UPDATE sales.shipments SET delivered_date = shipped_date - 1 WHERE shipment_id = %s",
            (int(victim["shipment_id"]),),
        )
        reload_shipment_fact(cur)
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_delivery_performance")
        conflict_rows = query_df(
            kpi_conn,
            "SELECT * FROM analytics.fact_shipment_days WHERE dates_conflict AND order_date = %s",
            (victim["order_date"].date(),),
        )
        monthly = view(kpi_conn, "mv_delivery_performance").set_index("order_month")
    assert conflict_rows["shipments"].sum() == 1
    row = conflict_rows.iloc[0]
    assert pd.isna(row["ship_to_deliver_days_sum"]) and pd.isna(row["order_to_deliver_days"])
    assert pd.isna(row["order_to_ship_days_sum"])
    before = f[(f["order_month"] == month) & (f["shipment_id"] != victim["shipment_id"])]
    # Neither on time nor delayed: the month's outcomes are those of its other shipments.
    assert (
        monthly.loc[month, "on_time"] + monthly.loc[month, "delayed"]
        == (before["is_on_time"] | before["is_delayed"]).sum()
    )
    assert monthly.loc[month, "date_conflicts"] == 1
    assert monthly.loc[month, "shipments"] == len(before) + 1
    assert monthly.loc[month, "avg_ship_to_deliver_days"] == pytest.approx(
        before["ship_to_deliver_days"].mean(), abs=TOL
    )


def test_views_match_pandas_on_contradictory_rows(kpi_conn, src):
    """Real data disagrees with itself: delivered before shipped, 'Delivered' without a date,
    shipped before ordered, a second shipment for one order, a NULL courier, an open order with a
    delivered shipment. Every shipment view still matches pandas on the modified source."""
    f = expected_shipment_facts(src)
    delivered = f[f["is_delivered"] & ~f["has_date_conflict"]].sort_values("shipment_id")
    ids = [int(x) for x in delivered["shipment_id"].iloc[[0, 10, 20, 30, 40]]]
    open_in_transit = expected_pending(src)
    open_order = int(open_in_transit[open_in_transit["stage"] == "In transit"]["order_id"].iloc[0])
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "UPDATE sales.shipments SET delivered_date = shipped_date - 1 WHERE shipment_id = %s",
            (ids[0],),
        )
        cur.execute(
            "UPDATE sales.shipments SET delivered_date = NULL WHERE shipment_id = %s", (ids[1],)
        )
        cur.execute(
            "UPDATE sales.shipments s SET shipped_date = o.order_date - 2 FROM sales.orders o "
            "WHERE o.order_id = s.order_id AND s.shipment_id = %s",
            (ids[2],),
        )
        cur.execute(
            "UPDATE sales.shipments SET courier_name = NULL WHERE shipment_id = %s", (ids[3],)
        )
        cur.execute(
            "INSERT INTO sales.shipments (shipment_id, order_id, courier_name, shipped_date, "
            "delivered_date, status) SELECT (SELECT max(shipment_id) + 1 FROM sales.shipments), "
            "order_id, 'DTDC', shipped_date + 1, delivered_date + 9, 'Delivered' "
            "FROM sales.shipments WHERE shipment_id = %s",
            (ids[4],),
        )
        cur.execute(
            "UPDATE sales.shipments SET delivered_date = shipped_date + 1 WHERE order_id = %s",
            (open_order,),
        )
        reload_shipment_fact(cur)
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_delivery_performance")
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_courier_performance")
        modified = read_source(kpi_conn)
        fact = actual_shipment_days(kpi_conn)
        fact_expected = expected_shipment_days(kpi_conn)
        monthly = view(kpi_conn, "mv_delivery_performance")
        couriers = view(kpi_conn, "mv_courier_performance")
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_pending_shipments")
        pending = view(kpi_conn, "mv_pending_shipments")
    exp_facts = expected_shipment_facts(modified)
    assert exp_facts["has_date_conflict"].sum() == 3
    assert fact == fact_expected, "fact_shipment_days(modified) differs from pandas"
    assert_matches(
        monthly,
        expected_delivery(modified),
        ["order_month"],
        exact=["orders", "orders_shipped", *AGG_EXACT, "date_conflicts"],
        close=[*AGG_CLOSE, "delivered_on_time_pct"],
        label="delivery(modified)",
    )
    assert monthly["shipments"].sum() == len(f) + 1
    assert monthly["orders_shipped"].sum() == len(f)  # two shipments, one order
    assert_matches(
        couriers,
        expected_couriers(modified),
        ["courier_name"],
        exact=[*AGG_EXACT, "courier_rank"],
        close=[*AGG_CLOSE, "composite_score"],
        label="couriers(modified)",
    )
    assert "Unknown" in set(couriers["courier_name"])
    assert_matches(
        pending,
        expected_pending(modified),
        ["order_id"],
        other=["has_delivered_shipment", "stage", "priority"],
        label="pending(modified)",
    )
    assert pending.set_index("order_id").loc[open_order, "has_delivered_shipment"]


def test_operations_summary(kpi_conn, src):
    actual = view(kpi_conn, "mv_operations_summary")
    assert len(actual) == 1 and actual["scope"].iloc[0] == "all_time"
    row = actual.iloc[0]
    for k, v in expected_summary(src).items():
        if isinstance(v, str):
            assert row[k] == v, k
        else:
            assert float(row[k]) == pytest.approx(float(v), abs=TOL), k
    assert row["reference_date"] == src.ref_date


def test_operations_summary_agrees_with_views(kpi_conn):
    summary = view(kpi_conn, "mv_operations_summary").iloc[0]
    monthly = view(kpi_conn, "mv_delivery_performance")
    couriers = view(kpi_conn, "mv_courier_performance")
    for c in AGG_EXACT:
        assert summary[c] == monthly[c].sum() == couriers[c].sum(), c
    pend = view(kpi_conn, "mv_pending_shipments")
    assert summary["open_orders"] == len(pend)
    assert (
        summary["best_courier"]
        == couriers.loc[couriers["courier_rank"] == 1, "courier_name"].item()
    )


# --------------------------------------------------------------------------------------------------
# Reference date
# --------------------------------------------------------------------------------------------------

DATE_COLUMNS = {
    "mv_delivery_performance": "order_month",
    "mv_payment_analysis": "payment_month",
    "mv_pending_shipments": "order_date",
}


@pytest.mark.parametrize("obj", sorted(DATE_COLUMNS))
def test_no_row_after_reference_date(kpi_conn, src, obj):
    actual = view(kpi_conn, obj)
    assert not actual.empty, f"{obj} is empty"
    assert (actual[DATE_COLUMNS[obj]] <= src.ref_date).all()


def test_pending_age_uses_reference_date_not_wall_clock(kpi_conn, src):
    actual = view(kpi_conn, "mv_pending_shipments")
    assert ((src.ref_date - actual["order_date"]).dt.days == actual["age_days"]).all()
    assert actual["age_days"].min() >= 0
    assert src.ref_date.date() != dt.date.today()  # the sample data ends 2025-10-01


def test_orders_after_reference_date_are_ignored(kpi_conn, src):
    """An order dated after the wall clock is a data error: it neither moves the reference date nor
    shows up as an open order (rolled back)."""
    future = dt.date.today() + dt.timedelta(days=30)
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status, "
            "total_amount) SELECT max(order_id) + 1, min(cust_id), min(store_id), %s, 'Pending', 10 "
            "FROM sales.orders",
            (future,),
        )
        cur.execute("SELECT analytics.fn_reference_date()")
        assert pd.Timestamp(cur.fetchone()[0]) == src.ref_date
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_pending_shipments")
        pend = view(kpi_conn, "mv_pending_shipments")
    assert (pend["order_date"] <= src.ref_date).all()
    assert len(pend) == len(expected_pending(src))


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", EXPORTS)
def test_export_shape(kpi_conn, src, fn):
    out = export(kpi_conn, fn)
    assert_export_envelope(fn, out, src.ref_date)
    keys = set(out["rows"][0])
    assert all(set(r) == keys for r in out["rows"]), f"{fn}: rows have different fields"
    check_values(fn, out)
    assert export(kpi_conn, fn) == out  # deterministic


def assert_rows_match_view(
    fn: str, rows: list[dict], v: pd.DataFrame, key: list[str], renames: dict[str, str]
) -> None:
    v = v.set_index(key)
    for row in rows:
        k = tuple(
            pd.Timestamp(row[f]) if ISO_DATE.match(str(row[f])) else row[f]
            for f in (renames.get(c, c) for c in key)
        )
        vrow = v.loc[k if len(k) > 1 else k[0]]
        for field, value in row.items():
            col = {v_: k_ for k_, v_ in renames.items()}.get(field, snake(field))
            if col in key or field in ("rank", "categoryRank", "reasonRank"):
                continue
            assert col in vrow.index, f"{fn}: field {field} has no column {col}"
            assert same_value(value, vrow[col]), (
                f"{fn}: {field}={value!r}, view {col}={vrow[col]!r}"
            )


def test_export_delivery_performance(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_delivery_performance")
    v = view(kpi_conn, "mv_delivery_performance")
    months = src.cfg("operations.export_months")
    assert len(out["rows"]) == min(months, len(v))
    assert [r["orderMonth"] for r in out["rows"]] == sorted(r["orderMonth"] for r in out["rows"])
    assert out["rows"][-1]["orderMonth"] == src.ref_date.strftime("%Y-%m-01")
    assert out["slaDays"] == src.cfg("operations.sla_days")
    assert_rows_match_view(
        "delivery", out["rows"], v, ["order_month"], {"order_month": "orderMonth"}
    )


def test_export_couriers(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_couriers")
    v = view(kpi_conn, "mv_courier_performance")
    assert len(out["rows"]) == min(len(v), src.cfg("operations.top_n_export"))
    assert [r["rank"] for r in out["rows"]] == list(range(1, len(out["rows"]) + 1))
    assert out["weights"] == {
        "onTime": src.cfg("operations.courier_weight_on_time"),
        "speed": src.cfg("operations.courier_weight_speed"),
    }
    assert_rows_match_view(
        "couriers", out["rows"], v, ["courier_name"], {"courier_name": "courierName"}
    )
    ranks = v.set_index("courier_name")["courier_rank"]
    assert all(ranks[r["courierName"]] == r["rank"] for r in out["rows"])


def test_export_returns(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_returns")
    v = view(kpi_conn, "mv_return_analysis")
    n = src.cfg("operations.top_n_export")
    assert len({r["category"] for r in out["rows"]}) == min(n, v["category"].nunique())
    assert max(r["reasonRank"] for r in out["rows"]) <= n
    assert len(out["rows"]) <= n * n
    rates = [r["categoryReturnRatePct"] for r in out["rows"] if r["reasonRank"] == 1]
    assert rates == sorted(rates, reverse=True)
    assert out["highReturnRatePct"] == src.cfg("operations.high_return_rate_pct")
    assert_rows_match_view("returns", out["rows"], v, ["category", "reason"], {})


def test_export_payments(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_payments")
    v = view(kpi_conn, "mv_payment_analysis")
    assert out["successRateAvailable"] is False and "status" in out["successRateNote"]
    assert all(r["successRatePct"] is None for r in out["rows"])
    assert len({r["paymentMonth"] for r in out["rows"]}) <= src.cfg("operations.export_months")
    assert len({r["paymentMode"] for r in out["rows"]}) <= src.cfg("operations.top_n_export")
    keys = [(r["paymentMonth"], r["paymentMode"]) for r in out["rows"]]
    assert keys == sorted(keys)
    assert_rows_match_view(
        "payments",
        out["rows"],
        v.drop(columns=["success_rate_note"]),
        ["payment_month", "payment_mode"],
        {"payment_month": "paymentMonth", "payment_mode": "paymentMode"},
    )


def test_export_pending_shipments(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_pending_shipments")
    v = view(kpi_conn, "mv_pending_shipments")
    n = src.cfg("operations.top_n_export")
    assert len(out["rows"]) == min(n, len(v))
    s = out["summary"]
    assert s["openOrders"] == len(v)
    assert s["critical"] + s["high"] + s["medium"] + s["low"] == len(v)
    assert s["awaitingDispatch"] + s["inTransit"] == len(v)
    assert s["openOrderValue"] == pytest.approx(v["total_amount"].sum(), abs=TOL)
    top = v.sort_values(["priority_order", "age_days", "order_id"], ascending=[True, False, True])
    assert [r["orderId"] for r in out["rows"]] == list(top["order_id"].head(n))
    assert_rows_match_view("pending", out["rows"], v, ["order_id"], {"order_id": "orderId"})


def test_export_summary(kpi_conn, src):
    out = export(kpi_conn, "fn_export_operations_summary")
    v = view(kpi_conn, "mv_operations_summary")
    assert len(out["rows"]) == 1
    assert_rows_match_view("summary", out["rows"], v, ["scope"], {})


def test_export_bounds_follow_config(kpi_conn, src):
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "operations.top_n_export", 2)
        set_config(cur, "operations.export_months", 3)
        assert len(export(kpi_conn, "fn_export_operations_couriers")["rows"]) == 2
        assert len(export(kpi_conn, "fn_export_operations_pending_shipments")["rows"]) == 2
        returns = export(kpi_conn, "fn_export_operations_returns")["rows"]
        assert len({r["category"] for r in returns}) == 2 and len(returns) <= 4
        payments = export(kpi_conn, "fn_export_operations_payments")["rows"]
        assert len({r["paymentMonth"] for r in payments}) == 3
        assert len({r["paymentMode"] for r in payments}) == 2
        assert len(export(kpi_conn, "fn_export_operations_delivery_performance")["rows"]) == 3


def test_exports_written_by_dagster(kpi_dashboard_dir, kpi_conn):
    """The Dagster run wrote each export to dashboard/data/operations/<name>.json."""
    for fn in EXPORTS:
        name = fn.removeprefix("fn_export_operations_")
        path = kpi_dashboard_dir / "operations" / f"{name}.json"
        assert path.exists(), path
        assert json.loads(path.read_text()) == export(kpi_conn, fn)


# --------------------------------------------------------------------------------------------------
# The SQL files and the configuration (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = [SQL_DIR / "operations" / f"{o}.sql" for o in OPERATIONS_OBJECTS] + [
    SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS
]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    check_sql_file_with_params(path)


def test_operations_config_keys_defined_and_read():
    defined = config_section_keys("operations")
    read = config_keys_read("operations")
    assert defined, "no [operations] keys"
    assert defined - read == set(), f"defined but never read: {sorted(defined - read)}"
    assert read - defined == set(), f"read but never defined: {sorted(read - defined)}"
