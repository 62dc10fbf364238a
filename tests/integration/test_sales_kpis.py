"""Sales KPI objects checked against an independent pandas computation from the source tables.

Every Sales view / materialized view in ``analytics`` is recomputed here from the raw tables
(``sales.orders``, ``order_items``, ``payments``, ``returns``) with pandas only, and compared row by
row: counts exactly, money and percentages within 0.01. The export functions are checked for their
JSON shape, their bounds (from ``analytics.config``) and their agreement with the views.

Needs the ``kpi_conn`` fixture (psycopg 3 connection, autocommit, to a database with sample data where
every analytics object is built), provided by ``tests/conftest.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.kpi_support import (
    ISO_DATE,
    MONEY_TOL,
    SQL_DIR,
    assert_matches,
    check_export_rows,
    check_sql_file,
    export,
    query_df,
    read_once,
    safe_div,
    same_value,
    snake,
    view,
)

pytestmark = pytest.mark.integration

SALES_OBJECTS = [
    "mv_daily_sales_summary",
    "vw_sales_recent_trend",
    "mv_monthly_sales_dashboard",
    "mv_executive_summary",
    "vw_sales_by_day_of_week",
    "mv_sales_by_payment_mode",
    "vw_quarterly_sales",
    "vw_weekend_vs_weekday",
    "vw_hourly_sales_pattern",
    "mv_sales_returns_analysis",
]
EXPORTS = [
    "fn_export_sales_daily_summary",
    "fn_export_sales_recent_trend",
    "fn_export_sales_monthly",
    "fn_export_sales_executive_summary",
    "fn_export_sales_day_of_week",
    "fn_export_sales_payment_modes",
    "fn_export_sales_quarterly",
    "fn_export_sales_weekend_vs_weekday",
    "fn_export_sales_hourly_pattern",
    "fn_export_sales_returns",
]


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """Raw source tables and the derived basics, computed with pandas only."""

    orders: pd.DataFrame
    items: pd.DataFrame
    payments: pd.DataFrame
    returns: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    first_date: pd.Timestamp
    sales_orders: pd.DataFrame  # sales orders dated in [first_date, ref_date]

    def cfg(self, key: str) -> Any:
        return self.config[key]


_SOURCE_CACHE: dict[str, Source] = {}


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    """The source read once per database (kpi_conn may be function-scoped; the data is not)."""
    return read_once(_SOURCE_CACHE, kpi_conn, read_source)


def read_source(kpi_conn: psycopg.Connection) -> Source:
    orders = query_df(
        kpi_conn,
        "SELECT order_id, cust_id, order_date, order_status, total_amount FROM sales.orders",
    )
    items = query_df(
        kpi_conn, "SELECT order_id, quantity, unit_price, discount FROM sales.order_items"
    )
    payments = query_df(
        kpi_conn, "SELECT payment_id, order_id, payment_mode, amount FROM sales.payments"
    )
    returns = query_df(
        kpi_conn,
        "SELECT return_id, order_id, return_date, reason, refund_amount FROM sales.returns",
    )
    with kpi_conn.cursor() as cur:
        cur.execute("SELECT key, value FROM analytics.config")
        config = {k: v for k, v in cur.fetchall()}

    # The data's "today": latest order date not after the wall clock (else the latest order date).
    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    first_date = dates[dates <= ref_date].min()

    excluded = set(config["sales.excluded_order_statuses"])
    in_range = orders["order_date"].between(first_date, ref_date)
    is_sale = ~orders["order_status"].isin(excluded)  # a NULL status is not excluded
    sales_orders = orders[in_range & is_sale].copy()
    return Source(orders, items, payments, returns, config, ref_date, first_date, sales_orders)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


def growth_pct(cur: pd.Series, prev: pd.Series) -> pd.Series:
    prev = prev.astype(float)
    out = (cur.astype(float) - prev) / prev * 100
    return out.where(prev.notna() & (prev != 0))


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def expected_daily(s: Source) -> pd.DataFrame:
    so = s.sales_orders
    cal = pd.DataFrame({"sales_date": pd.date_range(s.first_date, s.ref_date, freq="D")})
    by_order = so.groupby("order_date").agg(
        orders=("order_id", "size"),
        customers=("cust_id", "nunique"),
        revenue=("total_amount", "sum"),
    )
    lines = s.items.merge(so[["order_id", "order_date"]], on="order_id", how="inner")
    lines["list_value"] = lines["quantity"] * lines["unit_price"]
    lines["discount_amount"] = lines["list_value"] * lines["discount"] / 100
    by_line = lines.groupby("order_date").agg(
        items=("quantity", "sum"),
        list_value=("list_value", "sum"),
        discount_amount=("discount_amount", "sum"),
    )
    refunds = (
        s.returns.merge(so[["order_id", "order_date"]], on="order_id", how="inner")
        .groupby("order_date")["refund_amount"]
        .sum()
        .rename("refunds")
    )
    d = cal.set_index("sales_date").join(by_order).join(by_line).join(refunds)
    for c in [
        "orders",
        "customers",
        "revenue",
        "items",
        "list_value",
        "discount_amount",
        "refunds",
    ]:
        d[c] = d[c].fillna(0)
    d["net_revenue"] = d["revenue"] - d["refunds"]
    d["aov"] = safe_div(d["revenue"], d["orders"])
    d["is_weekend"] = d.index.day_of_week >= 5
    d["day_name"] = d.index.day_name()
    return d.reset_index()


def expected_monthly(s: Source) -> pd.DataFrame:
    so = s.sales_orders.copy()
    so["month"] = so["order_date"].dt.to_period("M")
    months = pd.period_range(s.first_date, s.ref_date, freq="M")
    g = so.groupby("month").agg(
        orders=("order_id", "size"),
        customers=("cust_id", "nunique"),
        revenue=("total_amount", "sum"),
    )
    first_month = so.groupby("cust_id")["month"].min()
    cust_months = so[["cust_id", "month"]].dropna().drop_duplicates()
    cust_months["first_month"] = cust_months["cust_id"].map(first_month)
    new = cust_months[cust_months["first_month"] == cust_months["month"]].groupby("month").size()
    ret = cust_months[cust_months["first_month"] < cust_months["month"]].groupby("month").size()
    refunds = (
        s.returns.merge(so[["order_id", "month"]], on="order_id")
        .groupby("month")["refund_amount"]
        .sum()
    )
    m = pd.DataFrame(index=months)
    m["orders"] = g["orders"].reindex(months).fillna(0)
    m["customers"] = g["customers"].reindex(months).fillna(0)
    m["new_customers"] = new.reindex(months).fillna(0)
    m["returning_customers"] = ret.reindex(months).fillna(0)
    m["revenue"] = g["revenue"].reindex(months).fillna(0)
    m["refunds"] = refunds.reindex(months).fillna(0)
    m["net_revenue"] = m["revenue"] - m["refunds"]
    m["aov"] = safe_div(m["revenue"], m["orders"])
    rev = m["revenue"]
    m["mom_growth_pct"] = growth_pct(rev, pd.Series(rev.reindex(months - 1).values, index=months))
    m["yoy_growth_pct"] = growth_pct(rev, pd.Series(rev.reindex(months - 12).values, index=months))
    m["ytd_revenue"] = rev.groupby(months.year).cumsum()
    short = s.cfg("sales.moving_average_short_months")
    long_ = s.cfg("sales.moving_average_long_months")
    m["moving_avg_short"] = rev.rolling(short).mean()
    m["moving_avg_long"] = rev.rolling(long_).mean()
    m["month_start"] = months.to_timestamp()
    month_end = months.to_timestamp(how="end").normalize()
    m["is_partial_month"] = (m["month_start"] <= s.ref_date) & (s.ref_date < month_end)
    m["year"] = months.year
    m["month"] = months.month
    return m.reset_index(drop=True)


def _period_totals(s: Source, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    so = s.sales_orders[s.sales_orders["order_date"].between(start, end)]
    refunds = s.returns[s.returns["order_id"].isin(so["order_id"])]["refund_amount"].sum()
    revenue = so["total_amount"].sum()
    orders = len(so)
    return {
        "period_start": start,
        "period_end": end,
        "days": (end - start).days + 1,
        "orders": orders,
        "customers": so["cust_id"].nunique(),
        "revenue": revenue,
        "refunds": refunds,
        "net_revenue": revenue - refunds,
        "aov": revenue / orders if orders else np.nan,
    }


def expected_executive(s: Source) -> pd.DataFrame:
    n = s.cfg("sales.comparison_window_days")
    day = pd.Timedelta(days=1)
    rows = {
        "all_time": _period_totals(s, s.first_date, s.ref_date),
        "reference_day": _period_totals(s, s.ref_date, s.ref_date),
        "last_N_days": _period_totals(s, s.ref_date - (n - 1) * day, s.ref_date),
        "previous_N_days": _period_totals(s, s.ref_date - (2 * n - 1) * day, s.ref_date - n * day),
    }
    e = pd.DataFrame.from_dict(rows, orient="index")
    e.index.name = "period"
    for col in ["revenue", "net_revenue", "orders", "aov"]:
        last, prev = e.loc["last_N_days", col], e.loc["previous_N_days", col]
        g = (last - prev) / prev * 100 if prev and not pd.isna(prev) else np.nan
        e[f"{col}_growth_pct"] = np.nan
        e.loc["last_N_days", f"{col}_growth_pct"] = g
    return e.reset_index()


def calendar(s: Source) -> pd.DatetimeIndex:
    return pd.date_range(s.first_date, s.ref_date, freq="D")


def expected_day_of_week(s: Source) -> pd.DataFrame:
    cal = calendar(s)
    days = pd.Series(cal.day_of_week + 1).value_counts()
    so = s.sales_orders.assign(iso_dow=s.sales_orders["order_date"].dt.day_of_week + 1)
    g = so.groupby("iso_dow").agg(orders=("order_id", "size"), revenue=("total_amount", "sum"))
    idx = pd.Index(range(1, 8), name="iso_dow")
    e = pd.DataFrame(index=idx)
    e["days"] = days.reindex(idx).fillna(0)
    e["orders"] = g["orders"].reindex(idx).fillna(0)
    e["revenue"] = g["revenue"].reindex(idx).fillna(0)
    e["avg_orders_per_day"] = safe_div(e["orders"], e["days"])
    e["avg_revenue_per_day"] = safe_div(e["revenue"], e["days"])
    e["revenue_share_pct"] = e["revenue"] / e["revenue"].sum() * 100
    e["day_name"] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    e["is_weekend"] = e.index >= 6
    return e.reset_index()


def expected_payment_modes(s: Source) -> pd.DataFrame:
    p = s.payments[s.payments["order_id"].isin(s.sales_orders["order_id"])].copy()
    p["payment_mode"] = p["payment_mode"].fillna("Unknown")
    g = p.groupby("payment_mode").agg(
        payments=("payment_id", "size"),
        orders=("order_id", "nunique"),
        amount_paid=("amount", "sum"),
    )
    g["amount_share_pct"] = g["amount_paid"] / g["amount_paid"].sum() * 100
    g["avg_payment"] = g["amount_paid"] / g["payments"]
    return g.reset_index()


def expected_quarterly(s: Source) -> pd.DataFrame:
    so = s.sales_orders.assign(q=s.sales_orders["order_date"].dt.to_period("Q"))
    quarters = pd.period_range(s.first_date, s.ref_date, freq="Q")
    g = so.groupby("q").agg(orders=("order_id", "size"), revenue=("total_amount", "sum"))
    refunds = (
        s.returns.merge(so[["order_id", "q"]], on="order_id").groupby("q")["refund_amount"].sum()
    )
    e = pd.DataFrame(index=quarters)
    e["orders"] = g["orders"].reindex(quarters).fillna(0)
    e["revenue"] = g["revenue"].reindex(quarters).fillna(0)
    e["refunds"] = refunds.reindex(quarters).fillna(0)
    e["net_revenue"] = e["revenue"] - e["refunds"]
    rev = e["revenue"]
    e["qoq_growth_pct"] = growth_pct(
        rev, pd.Series(rev.reindex(quarters - 1).values, index=quarters)
    )
    e["yoy_growth_pct"] = growth_pct(
        rev, pd.Series(rev.reindex(quarters - 4).values, index=quarters)
    )
    e["quarter_start"] = quarters.to_timestamp()
    e["quarter_end"] = quarters.to_timestamp(how="end").normalize()
    e["is_partial"] = (e["quarter_start"] <= s.ref_date) & (s.ref_date < e["quarter_end"])
    e["year"] = quarters.year
    e["quarter"] = quarters.quarter
    return e.reset_index(drop=True)


def expected_weekend(s: Source) -> pd.DataFrame:
    cal = calendar(s)
    days = pd.Series(cal.day_of_week >= 5).value_counts()
    so = s.sales_orders.assign(is_weekend=s.sales_orders["order_date"].dt.day_of_week >= 5)
    g = so.groupby("is_weekend").agg(orders=("order_id", "size"), revenue=("total_amount", "sum"))
    idx = pd.Index([False, True], name="is_weekend")
    e = pd.DataFrame(index=idx)
    e["days"] = days.reindex(idx).fillna(0)
    e["orders"] = g["orders"].reindex(idx).fillna(0)
    e["revenue"] = g["revenue"].reindex(idx).fillna(0)
    e["avg_orders_per_day"] = safe_div(e["orders"], e["days"])
    e["avg_revenue_per_day"] = safe_div(e["revenue"], e["days"])
    e["revenue_share_pct"] = e["revenue"] / e["revenue"].sum() * 100
    e["day_type"] = ["weekday", "weekend"]
    return e.reset_index()


def expected_returns(s: Source) -> pd.DataFrame:
    r = s.returns[
        s.returns["order_id"].isin(s.sales_orders["order_id"])
        & (s.returns["return_date"] <= s.ref_date)
    ].copy()
    r["return_month"] = r["return_date"].dt.to_period("M").dt.to_timestamp()
    r["reason"] = r["reason"].fillna("Unknown")
    g = r.groupby(["return_month", "reason"]).agg(
        returns=("return_id", "size"),
        returned_orders=("order_id", "nunique"),
        refund_amount=("refund_amount", "sum"),
    )
    base_statuses = set(s.cfg("sales.return_rate_base_statuses"))
    o = s.orders[
        (s.orders["order_date"] <= s.ref_date) & s.orders["order_status"].isin(base_statuses)
    ]
    base = o.groupby(o["order_date"].dt.to_period("M").dt.to_timestamp()).size()
    g = g.reset_index()
    g["base_orders"] = g["return_month"].map(base).fillna(0)
    g["return_rate_pct"] = safe_div(g["returned_orders"] * 100, g["base_orders"])
    return g


# --------------------------------------------------------------------------------------------------
# The views against pandas
# --------------------------------------------------------------------------------------------------


def test_daily_sales_summary(kpi_conn, src):
    actual = view(kpi_conn, "mv_daily_sales_summary")
    expected = expected_daily(src)
    assert len(actual) == len(expected) == (src.ref_date - src.first_date).days + 1
    assert_matches(
        actual,
        expected,
        ["sales_date"],
        exact=["orders", "customers", "items"],
        money=["list_value", "discount_amount", "revenue", "refunds", "net_revenue", "aov"],
        other=["is_weekend", "day_name"],
        label="mv_daily_sales_summary",
    )
    # Zero-sales days inside the range are real rows of zeros (AOV NULL, not 0).
    zero = actual[actual["orders"] == 0]
    assert (zero["revenue"] == 0).all() and zero["aov"].isna().all()


def test_recent_trend(kpi_conn, src):
    n = src.cfg("sales.recent_trend_days")
    ma = src.cfg("sales.daily_moving_average_days")
    d = expected_daily(src).set_index("sales_date")
    d["moving_avg_revenue"] = d["revenue"].rolling(ma).mean()  # over the FULL series
    d["revenue_change"] = d["revenue"].diff()
    d["revenue_change_pct"] = growth_pct(d["revenue"], d["revenue"].shift(1))
    expected = d[d.index > src.ref_date - pd.Timedelta(days=n)].reset_index()
    actual = view(kpi_conn, "vw_sales_recent_trend")
    assert len(actual) == min(n, len(d))
    assert_matches(
        actual,
        expected,
        ["sales_date"],
        exact=["orders", "customers"],
        money=[
            "revenue",
            "net_revenue",
            "aov",
            "moving_avg_revenue",
            "revenue_change",
            "revenue_change_pct",
        ],
        label="vw_sales_recent_trend",
    )
    # The first day of the window already has a full moving-average window when data allows.
    if len(d) >= n + ma:
        assert actual.sort_values("sales_date")["moving_avg_revenue"].notna().all()


def test_monthly_sales_dashboard(kpi_conn, src):
    actual = view(kpi_conn, "mv_monthly_sales_dashboard")
    expected = expected_monthly(src)
    assert_matches(
        actual,
        expected,
        ["month_start"],
        exact=["year", "month", "orders", "customers", "new_customers", "returning_customers"],
        money=[
            "revenue",
            "refunds",
            "net_revenue",
            "aov",
            "mom_growth_pct",
            "yoy_growth_pct",
            "ytd_revenue",
            "moving_avg_short",
            "moving_avg_long",
        ],
        other=["is_partial_month"],
        label="mv_monthly_sales_dashboard",
    )
    assert (actual["new_customers"] + actual["returning_customers"] == actual["customers"]).all()


def test_executive_summary(kpi_conn, src):
    actual = view(kpi_conn, "mv_executive_summary")
    expected = expected_executive(src)
    assert sorted(actual["period"]) == sorted(
        ["all_time", "reference_day", "last_N_days", "previous_N_days"]
    )
    assert (actual["reference_date"] == src.ref_date).all()
    assert_matches(
        actual,
        expected,
        ["period"],
        exact=["orders", "customers", "days"],
        money=[
            "revenue",
            "refunds",
            "net_revenue",
            "aov",
            "revenue_growth_pct",
            "net_revenue_growth_pct",
            "orders_growth_pct",
            "aov_growth_pct",
        ],
        other=["period_start", "period_end"],
        label="mv_executive_summary",
    )


def test_sales_by_day_of_week(kpi_conn, src):
    actual = view(kpi_conn, "vw_sales_by_day_of_week")
    assert sorted(actual["iso_dow"]) == list(range(1, 8))
    assert_matches(
        actual,
        expected_day_of_week(src),
        ["iso_dow"],
        exact=["days", "orders"],
        money=["revenue", "avg_orders_per_day", "avg_revenue_per_day", "revenue_share_pct"],
        other=["day_name", "is_weekend"],
        label="vw_sales_by_day_of_week",
    )
    assert actual["days"].sum() == len(calendar(src))


def test_sales_by_payment_mode(kpi_conn, src):
    actual = view(kpi_conn, "mv_sales_by_payment_mode")
    assert_matches(
        actual,
        expected_payment_modes(src),
        ["payment_mode"],
        exact=["payments", "orders"],
        money=["amount_paid", "amount_share_pct", "avg_payment"],
        label="mv_sales_by_payment_mode",
    )


def test_quarterly_sales(kpi_conn, src):
    actual = view(kpi_conn, "vw_quarterly_sales")
    assert_matches(
        actual,
        expected_quarterly(src),
        ["quarter_start"],
        exact=["year", "quarter", "orders"],
        money=["revenue", "refunds", "net_revenue", "qoq_growth_pct", "yoy_growth_pct"],
        other=["quarter_end", "is_partial"],
        label="vw_quarterly_sales",
    )
    assert actual["is_partial"].sum() <= 1


def test_weekend_vs_weekday(kpi_conn, src):
    actual = view(kpi_conn, "vw_weekend_vs_weekday")
    assert len(actual) == 2
    assert_matches(
        actual,
        expected_weekend(src),
        ["is_weekend"],
        exact=["days", "orders"],
        money=["revenue", "avg_orders_per_day", "avg_revenue_per_day", "revenue_share_pct"],
        other=["day_type"],
        label="vw_weekend_vs_weekday",
    )


def test_returns_analysis(kpi_conn, src):
    actual = view(kpi_conn, "mv_sales_returns_analysis")
    assert_matches(
        actual,
        expected_returns(src),
        ["return_month", "reason"],
        exact=["returns", "returned_orders", "base_orders"],
        money=["refund_amount", "return_rate_pct"],
        label="mv_sales_returns_analysis",
    )


def test_hourly_pattern_is_empty_with_reason(kpi_conn, src):
    with kpi_conn.cursor() as cur:
        cur.execute("SELECT * FROM analytics.vw_hourly_sales_pattern")
        cols = [d.name for d in cur.description]
        assert cur.fetchall() == []
    assert {"hour_of_day", "orders", "revenue", "note"} <= set(cols)
    # The source really has no time of day: order_date is a date.
    with kpi_conn.cursor() as cur:
        cur.execute(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_schema = 'sales' AND table_name = 'orders' AND column_name = 'order_date'"
        )
        assert cur.fetchone()[0] == "date"
    out = export(kpi_conn, "fn_export_sales_hourly_pattern")
    assert out["available"] is False
    assert out["rows"] == []
    assert isinstance(out["reason"], str) and "time" in out["reason"]


# --------------------------------------------------------------------------------------------------
# Reference date, traps
# --------------------------------------------------------------------------------------------------

DATE_COLUMNS = {
    "mv_daily_sales_summary": "sales_date",
    "vw_sales_recent_trend": "sales_date",
    "mv_monthly_sales_dashboard": "month_start",
    "mv_executive_summary": "period_end",
    "vw_quarterly_sales": "quarter_start",
    "mv_sales_returns_analysis": "return_month",
}


def test_reference_date_matches_pandas(kpi_conn, src):
    with kpi_conn.cursor() as cur:
        cur.execute("SELECT analytics.fn_reference_date()")
        assert pd.Timestamp(cur.fetchone()[0]) == src.ref_date


@pytest.mark.parametrize("obj", sorted(DATE_COLUMNS))
def test_no_row_after_reference_date(kpi_conn, src, obj):
    actual = view(kpi_conn, obj)
    col = DATE_COLUMNS[obj]
    assert not actual.empty, f"{obj} is empty"
    assert (actual[col] <= src.ref_date).all(), f"{obj}.{col} has rows after the reference date"
    if obj in ("mv_daily_sales_summary", "vw_sales_recent_trend"):
        assert actual[col].max() == src.ref_date


def test_integer_division_trap(kpi_conn, src):
    """AOV is a numeric division: it has decimals, and equals revenue / orders."""
    monthly = view(kpi_conn, "mv_monthly_sales_dashboard")
    m = monthly[monthly["orders"] > 0]
    assert (((m["aov"] * 100).round() % 100) != 0).any(), "every AOV is a whole number"
    assert ((m["aov"] - m["revenue"] / m["orders"]).abs() <= MONEY_TOL).all()
    exe = view(kpi_conn, "mv_executive_summary").set_index("period")
    all_time = src.sales_orders
    assert (
        abs(exe.loc["all_time", "aov"] - all_time["total_amount"].sum() / len(all_time))
        <= MONEY_TOL
    )


def test_fan_out_trap(kpi_conn, src):
    """Monthly revenue is the order-grain sum of total_amount, not multiplied by the order lines."""
    monthly = view(kpi_conn, "mv_monthly_sales_dashboard")
    true_revenue = src.sales_orders["total_amount"].sum()
    assert abs(monthly["revenue"].sum() - true_revenue) <= MONEY_TOL
    fanned = src.sales_orders.merge(src.items, on="order_id")["total_amount"].sum()
    if fanned > true_revenue + 1:  # the data has multi-line orders: the trap is real
        assert abs(monthly["revenue"].sum() - fanned) > 1
    daily = view(kpi_conn, "mv_daily_sales_summary")
    assert abs(daily["revenue"].sum() - true_revenue) <= MONEY_TOL
    exe = view(kpi_conn, "mv_executive_summary").set_index("period")
    assert abs(exe.loc["all_time", "revenue"] - true_revenue) <= MONEY_TOL
    # Refunds are summed once per return row, not once per order line either.
    true_refunds = src.returns[src.returns["order_id"].isin(src.sales_orders["order_id"])][
        "refund_amount"
    ].sum()
    assert abs(exe.loc["all_time", "refunds"] - true_refunds) <= MONEY_TOL
    assert abs(monthly["refunds"].sum() - true_refunds) <= MONEY_TOL


def test_excluded_statuses_do_not_count(kpi_conn, src):
    """Cancelled (excluded) orders count nowhere; Returned orders are sales orders."""
    excluded = src.cfg("sales.excluded_order_statuses")
    in_range = src.orders["order_date"].between(src.first_date, src.ref_date)
    is_excluded = src.orders["order_status"].isin(excluded)
    exe = view(kpi_conn, "mv_executive_summary").set_index("period")
    assert exe.loc["all_time", "orders"] == (in_range & ~is_excluded).sum()
    returned = in_range & (src.orders["order_status"] == "Returned")
    if "Returned" not in excluded and returned.any():
        monthly = view(kpi_conn, "mv_monthly_sales_dashboard")
        without_returned = src.orders[in_range & ~is_excluded & ~returned]["total_amount"].sum()
        assert monthly["revenue"].sum() > without_returned + MONEY_TOL


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------


# export -> (view, view key column, export key field, field -> view column overrides)
EXPORT_VIEWS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "fn_export_sales_daily_summary": ("mv_daily_sales_summary", "sales_date", "date", {}),
    "fn_export_sales_recent_trend": ("vw_sales_recent_trend", "sales_date", "date", {}),
    "fn_export_sales_monthly": ("mv_monthly_sales_dashboard", "month_start", "monthStart", {}),
    "fn_export_sales_executive_summary": ("mv_executive_summary", "period", "period", {}),
    "fn_export_sales_day_of_week": (
        "vw_sales_by_day_of_week",
        "iso_dow",
        "isoDayOfWeek",
        {"isoDayOfWeek": "iso_dow"},
    ),
    "fn_export_sales_payment_modes": (
        "mv_sales_by_payment_mode",
        "payment_mode",
        "paymentMode",
        {},
    ),
    "fn_export_sales_quarterly": ("vw_quarterly_sales", "quarter_start", "quarterStart", {}),
    "fn_export_sales_weekend_vs_weekday": ("vw_weekend_vs_weekday", "day_type", "dayType", {}),
    "fn_export_sales_returns": ("mv_sales_returns_analysis", "return_month", "returnMonth", {}),
}


@pytest.mark.parametrize("fn", EXPORTS)
def test_export_shape(kpi_conn, src, fn):
    out = export(kpi_conn, fn)
    assert {"referenceDate", "period", "rows"} <= set(out)
    assert out["referenceDate"] == src.ref_date.strftime("%Y-%m-%d")
    assert set(out["period"]) == {"from", "to"}
    assert out["period"]["to"] == out["referenceDate"]
    if out["rows"]:
        assert (
            ISO_DATE.match(out["period"]["from"]) and out["period"]["from"] <= out["period"]["to"]
        )
    assert isinstance(out["rows"], list)
    check_export_rows(fn, out["rows"])
    # Deterministic: the same call gives the same text.
    assert export(kpi_conn, fn) == out


@pytest.mark.parametrize("fn", sorted(EXPORT_VIEWS))
def test_export_rows_match_view(kpi_conn, src, fn):
    view_name, key_col, key_field, overrides = EXPORT_VIEWS[fn]
    out = export(kpi_conn, fn)
    v = view(kpi_conn, view_name)
    if view_name == "mv_sales_returns_analysis":
        v = v.set_index(["return_month", "reason"])
    else:
        v = v.set_index(key_col)
    assert out["rows"], f"{fn}: no rows"
    for row in out["rows"]:
        if view_name == "mv_sales_returns_analysis":
            vrow = v.loc[(pd.Timestamp(row["returnMonth"]), row["reason"])]
        else:
            k = row[key_field]
            if isinstance(v.index, pd.DatetimeIndex):
                k = pd.Timestamp(k)
            vrow = v.loc[k]
        for field, value in row.items():
            col = overrides.get(field) or ("sales_date" if field == "date" else snake(field))
            if col in (key_col, "reason") or field == "rank":
                continue
            assert col in vrow.index, f"{fn}: field {field} has no column {col} in {view_name}"
            assert same_value(value, vrow[col], nat_is_null=False), (
                f"{fn}: {field}={value!r}, view {col}={vrow[col]!r}"
            )


def test_export_order_and_bounds(kpi_conn, src):
    cfg = src.cfg
    daily = export(kpi_conn, "fn_export_sales_daily_summary")["rows"]
    n_days = (src.ref_date - src.first_date).days + 1
    assert len(daily) == min(cfg("sales.daily_export_days"), n_days)
    dates = [r["date"] for r in daily]
    assert dates == sorted(dates) and dates[-1] == src.ref_date.strftime("%Y-%m-%d")

    trend = export(kpi_conn, "fn_export_sales_recent_trend")["rows"]
    assert len(trend) == min(cfg("sales.recent_trend_days"), n_days)

    monthly = export(kpi_conn, "fn_export_sales_monthly")["rows"]
    assert 0 < len(monthly) <= cfg("sales.monthly_export_months")
    assert [r["monthStart"] for r in monthly] == sorted(r["monthStart"] for r in monthly)

    quarterly = export(kpi_conn, "fn_export_sales_quarterly")["rows"]
    assert 0 < len(quarterly) <= cfg("sales.quarterly_export_quarters")

    returns = export(kpi_conn, "fn_export_sales_returns")["rows"]
    assert len({r["returnMonth"] for r in returns}) <= cfg("sales.returns_export_months")
    keys = [(r["returnMonth"], r["reason"]) for r in returns]
    assert keys == sorted(keys)

    modes = export(kpi_conn, "fn_export_sales_payment_modes")["rows"]
    assert len(modes) <= cfg("sales.top_n_export")
    amounts = [r["amountPaid"] for r in modes]
    assert amounts == sorted(amounts, reverse=True)

    exe = export(kpi_conn, "fn_export_sales_executive_summary")["rows"]
    assert [r["period"] for r in exe] == [
        "all_time",
        "reference_day",
        "last_N_days",
        "previous_N_days",
    ]
    dow = export(kpi_conn, "fn_export_sales_day_of_week")["rows"]
    assert [r["isoDayOfWeek"] for r in dow] == list(range(1, 8))
    wk = export(kpi_conn, "fn_export_sales_weekend_vs_weekday")["rows"]
    assert [r["dayType"] for r in wk] == ["weekday", "weekend"]


def test_export_bounds_follow_config(kpi_conn, src):
    """Shrinking the configured limits shrinks the exports (inside a rolled-back transaction)."""
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            cur.execute(
                "UPDATE analytics.config SET value = to_jsonb(%s::int) WHERE key = %s",
                (10, "sales.daily_export_days"),
            )
            cur.execute(
                "UPDATE analytics.config SET value = to_jsonb(%s::int) WHERE key = %s",
                (2, "sales.top_n_export"),
            )
            cur.execute(
                "UPDATE analytics.config SET value = to_jsonb(%s::int) WHERE key = %s",
                (2, "sales.monthly_export_months"),
            )
        daily = export(kpi_conn, "fn_export_sales_daily_summary")
        assert len(daily["rows"]) == 10
        expected_from = (src.ref_date - pd.Timedelta(days=9)).strftime("%Y-%m-%d")
        assert daily["period"]["from"] == expected_from
        assert len(export(kpi_conn, "fn_export_sales_payment_modes")["rows"]) <= 2
        assert len(export(kpi_conn, "fn_export_sales_monthly")["rows"]) == 2


# --------------------------------------------------------------------------------------------------
# The SQL files themselves (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = [SQL_DIR / "sales" / f"{o}.sql" for o in SALES_OBJECTS] + [
    SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS
]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    check_sql_file(path, populated_mv=True)
