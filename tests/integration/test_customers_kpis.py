"""Customers KPI objects checked against an independent pandas computation from the source tables.

Every Customers view / materialized view in ``analytics`` is recomputed here from the raw tables
(``customers.customers``, ``reviews``, ``loyalty_points``, ``sales.orders``, ``returns``) with pandas
only, and compared row by row: counts and ranks exactly, money and percentages within 0.01. Traps from
the published version of these KPIs are tested on purpose: fan-out, ties in scores and ranks, segments
that change between two refreshes, top-N limits that do not limit, dates after the reference date,
customers without orders. The export functions are checked for their JSON shape, their bounds (from
``analytics.config``) and their agreement with the views.

Needs the ``kpi_conn`` fixture (psycopg 3 connection, autocommit, to a database with sample data where
every analytics object is built), provided by ``tests/conftest.py``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

from retailmart_dagster.assets.sql_parse import parse_sql_file
from tests.kpi_support import (
    ISO_DATE,
    SQL_DIR,
    analytics_config,
    assert_header_fields,
    check_export_rows,
    check_sql_file,
    export,
    query_df,
    read_once,
    read_sql_file,
    safe_div,
    same_value,
    snake,
    view,
)
from tests.kpi_support import MONEY_TOL as TOL

pytestmark = pytest.mark.integration

# The customer facts live with the other facts (sql/facts/); the KPI objects in sql/customers/.
CUSTOMER_FACTS = ["fact_customer_months", "fact_customer_summary", "fact_customer_cohort_months"]
CUSTOMER_OBJECTS = [
    "mv_customer_lifetime_value",
    "mv_customer_rfm",
    "mv_cohort_retention",
    "mv_churn_risk",
    "mv_churn_risk_summary",
    "mv_customer_segments",
    "mv_customer_reviews",
    "vw_customer_demographics",
    "vw_customer_geography",
    "vw_customer_value_summary",
    "mv_new_vs_returning_customers",
    "vw_rfm_segment_summary",
    "vw_top_customers",
]
EXPORTS = [
    "fn_export_customers_lifetime_value",
    "fn_export_customers_rfm_segments",
    "fn_export_customers_cohort_retention",
    "fn_export_customers_churn_risk",
    "fn_export_customers_demographics",
    "fn_export_customers_geography",
    "fn_export_customers_new_vs_returning",
    "fn_export_customers_top_customers",
]
TIER_ORDER = {"Platinum": 1, "Gold": 2, "Silver": 3, "Bronze": 4, "No Purchase": 5}
STATUS_ORDER = {"Active": 1, "At Risk": 2, "Churning": 3, "Churned": 4, "Never Purchased": 5}
RISK_ORDER = {"Critical": 1, "High": 2, "Medium": 3, "Low": 4}
# Each segment's action must say what the segment calls for (one word or phrase that must appear).
SEGMENT_ACTION_WORDS = {
    "Champions": "Reward",
    "Loyal Customers": "Upsell",
    "Potential Loyalists": "frequency",
    "New Customers": "Onboard",
    "Promising": "relationship",
    "Need Attention": "Reactivate",
    "About to Sleep": "Re-engage",
    "Can't Lose Them": "Win back personally",
    "At Risk": "win-back",
    "Lost": "Low-cost reactivation",
}


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """Raw source tables and the derived basics, computed with pandas only."""

    customers: pd.DataFrame
    orders: pd.DataFrame
    returns: pd.DataFrame
    reviews: pd.DataFrame
    loyalty: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    sales_orders: pd.DataFrame  # sales orders dated on or before the reference date

    def cfg(self, key: str) -> Any:
        return self.config[key]


_SOURCE_CACHE: dict[str, Source] = {}


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    return read_once(_SOURCE_CACHE, kpi_conn, read_source)


def read_source(conn: psycopg.Connection) -> Source:
    customers = query_df(
        conn,
        "SELECT cust_id, full_name, gender, age, city, state, region_name, join_date "
        "FROM customers.customers",
    )
    orders = query_df(
        conn, "SELECT order_id, cust_id, order_date, order_status, total_amount FROM sales.orders"
    )
    returns = query_df(conn, "SELECT return_id, order_id, refund_amount FROM sales.returns")
    reviews = query_df(
        conn, "SELECT review_id, cust_id, rating, review_date FROM customers.reviews"
    )
    loyalty = query_df(conn, "SELECT cust_id, total_points FROM customers.loyalty_points")
    with conn.cursor() as cur:
        cur.execute("SELECT key, value FROM analytics.config")
        config = dict(cur.fetchall())
    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    excluded = set(config["sales.excluded_order_statuses"])
    is_sale = ~orders["order_status"].isin(excluded)  # a NULL status is not excluded
    sales_orders = orders[(orders["order_date"] <= ref_date) & is_sale].copy()
    return Source(customers, orders, returns, reviews, loyalty, config, ref_date, sales_orders)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


def assert_matches(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    key: list[str],
    exact: list[str] = (),
    money: list[str] = (),
    other: list[str] = (),
    label: str = "",
) -> None:
    """Same keys, no duplicate keys; `exact` integer-equal (NULL == NULL); `money` within 0.01
    (NULL == NULL); `other` equal (NULL == NULL)."""
    assert not actual.duplicated(key).any(), f"{label}: duplicate keys in the view"
    a = actual.set_index(key).sort_index()
    e = expected.set_index(key).sort_index()
    missing = e.index.difference(a.index)
    extra = a.index.difference(e.index)
    assert missing.empty and extra.empty, (
        f"{label}: keys differ; missing in view {list(missing)[:5]}, unexpected {list(extra)[:5]}"
    )
    a = a.reindex(e.index)
    for c in exact:
        av, ev = a[c].astype(float), e[c].astype(float)
        bad = ~((av.isna() & ev.isna()) | (av == ev))
        assert not bad.any(), (
            f"{label}.{c}: view {av[bad].head().to_dict()} != {ev[bad].head().to_dict()}"
        )
    for c in money:
        av, ev = a[c].astype(float), e[c].astype(float)
        close = ((av - ev).abs() <= TOL + 1e-9).fillna(False)
        bad = ~((av.isna() & ev.isna()) | close)
        assert not bad.any(), (
            f"{label}.{c}: view {av[bad].head().to_dict()} != {ev[bad].head().to_dict()}"
        )
    for c in other:
        av, ev = a[c], e[c]
        bad = ~((av.isna() & ev.isna()) | (av == ev))
        assert not bad.any(), (
            f"{label}.{c}: view {av[bad].head().to_dict()} != {ev[bad].head().to_dict()}"
        )


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def age_bands(s: Source) -> list[tuple[int, int | None, str]]:
    starts = [int(x) for x in s.cfg("customers.age_band_starts")]
    out = []
    for i, lo in enumerate(starts):
        hi = starts[i + 1] if i + 1 < len(starts) else None
        out.append((lo, hi, f"{lo}+" if hi is None else f"{lo}-{hi - 1}"))
    return out


def age_group(s: Source, age: float) -> tuple[str, int]:
    bands = age_bands(s)
    if pd.isna(age) or age < 0 or age > s.cfg("customers.age_max_plausible"):
        return "Unknown", len(bands) + 1
    for i, (lo, hi, label) in enumerate(bands, start=1):
        if age >= lo and (hi is None or age < hi):
            return label, i
    return f"Under {bands[0][0]}", 0


def value_tier(s: Source, orders: int, revenue: float) -> str:
    if orders == 0:
        return "No Purchase"
    if revenue >= s.cfg("customers.tier_platinum_min_revenue"):
        return "Platinum"
    if revenue >= s.cfg("customers.tier_gold_min_revenue"):
        return "Gold"
    if revenue >= s.cfg("customers.tier_silver_min_revenue"):
        return "Silver"
    return "Bronze"


def customer_status(s: Source, orders: int, days: float) -> str:
    if orders == 0:
        return "Never Purchased"
    if days <= s.cfg("customers.status_active_max_days"):
        return "Active"
    if days <= s.cfg("customers.status_at_risk_max_days"):
        return "At Risk"
    if days <= s.cfg("customers.status_churning_max_days"):
        return "Churning"
    return "Churned"


def expected_ltv(s: Source) -> pd.DataFrame:
    so = s.sales_orders
    by_order = so.groupby("cust_id").agg(
        orders=("order_id", "size"),
        revenue=("total_amount", "sum"),
        first_order_date=("order_date", "min"),
        last_order_date=("order_date", "max"),
    )
    refunds = (
        s.returns.merge(so[["order_id", "cust_id"]], on="order_id")
        .groupby("cust_id")["refund_amount"]
        .sum()
        .rename("refunds")
    )
    rv = s.reviews[s.reviews["review_date"].isna() | (s.reviews["review_date"] <= s.ref_date)]
    by_review = rv.groupby("cust_id").agg(
        reviews_given=("review_id", "size"), avg_rating_given=("rating", "mean")
    )
    points = s.loyalty.set_index("cust_id")["total_points"]
    d = s.customers.set_index("cust_id").join(by_order).join(refunds).join(by_review)
    d["orders"] = d["orders"].fillna(0).astype(int)
    d["revenue"] = d["revenue"].fillna(0.0).round(2)  # exact cents (float sums drift in the 1e-10)
    d["refunds"] = d["refunds"].fillna(0.0)
    d["net_revenue"] = d["revenue"] - d["refunds"]
    d["aov"] = safe_div(d["revenue"], d["orders"])
    d["days_since_last_order"] = (s.ref_date - d["last_order_date"]).dt.days
    span = (d["last_order_date"] - d["first_order_date"]).dt.days
    d["avg_days_between_orders"] = (span / (d["orders"] - 1)).where(d["orders"] >= 2)
    d["tenure_days"] = (s.ref_date - d["join_date"]).dt.days.where(d["join_date"] <= s.ref_date)
    d["has_loyalty_account"] = d.index.isin(points.index)
    d["loyalty_points"] = points.reindex(d.index).fillna(0)
    d["reviews_given"] = d["reviews_given"].fillna(0)
    groups = [age_group(s, a) for a in d["age"]]
    d["age_group"] = [g for g, _ in groups]
    d["age_group_order"] = [o for _, o in groups]
    d["value_tier"] = [value_tier(s, o, r) for o, r in zip(d["orders"], d["revenue"], strict=True)]
    d["value_tier_order"] = d["value_tier"].map(TIER_ORDER)
    d["customer_status"] = [
        customer_status(s, o, x)
        for o, x in zip(d["orders"], d["days_since_last_order"], strict=True)
    ]
    d["customer_status_order"] = d["customer_status"].map(STATUS_ORDER)
    return d.reset_index()


def score(rank: pd.Series, n: int) -> pd.Series:
    return (1 + np.floor(5 * (rank - 1) / n)).astype(int)


def level(x: float, s: Source) -> str:
    if x >= s.cfg("customers.rfm_high_score_min"):
        return "High"
    if x >= s.cfg("customers.rfm_mid_score_min"):
        return "Medium"
    return "Low"


def segment(r_level: str, fm_level: str, frequency: int) -> str:
    if r_level == "High":
        if fm_level == "High":
            return "Champions"
        if fm_level == "Medium":
            return "Potential Loyalists"
        return "New Customers" if frequency == 1 else "Promising"
    if r_level == "Medium":
        return {"High": "Loyal Customers", "Medium": "Need Attention", "Low": "About to Sleep"}[
            fm_level
        ]
    return {"High": "Can't Lose Them", "Medium": "At Risk", "Low": "Lost"}[fm_level]


def expected_rfm(s: Source, ltv: pd.DataFrame) -> pd.DataFrame:
    b = ltv[ltv["orders"] > 0].copy()
    n = len(b)
    b["recency_days"] = b["days_since_last_order"]
    b["frequency"] = b["orders"]
    b["monetary"] = b["revenue"]
    # rank() semantics: ties share the lowest rank; worse values rank first.
    b["recency_score"] = score(b["recency_days"].rank(method="min", ascending=False), n)
    b["frequency_score"] = score(b["frequency"].rank(method="min"), n)
    b["monetary_score"] = score(b["monetary"].rank(method="min"), n)
    b["fm_score"] = (b["frequency_score"] + b["monetary_score"]) / 2
    b["rfm_score"] = (
        b["recency_score"].astype(str)
        + b["frequency_score"].astype(str)
        + b["monetary_score"].astype(str)
    )
    b["rfm_total"] = b["recency_score"] + b["frequency_score"] + b["monetary_score"]
    b["recency_level"] = [level(x, s) for x in b["recency_score"]]
    b["fm_level"] = [level(x, s) for x in b["fm_score"]]
    b["rfm_segment"] = [
        segment(r, f, q)
        for r, f, q in zip(b["recency_level"], b["fm_level"], b["frequency"], strict=True)
    ]
    return b


def expected_cohorts(s: Source) -> pd.DataFrame:
    so = s.sales_orders[s.sales_orders["cust_id"].notna()].copy()
    so["m"] = so["order_date"].dt.year * 12 + so["order_date"].dt.month - 1
    first = so.groupby("cust_id")["m"].min()
    so["cohort"] = so["cust_id"].map(first)
    so["k"] = so["m"] - so["cohort"]
    sizes = first.value_counts()
    act = so.groupby(["cohort", "k"]).agg(
        active_customers=("cust_id", "nunique"),
        orders=("order_id", "size"),
        revenue=("total_amount", "sum"),
    )
    ref_m = s.ref_date.year * 12 + s.ref_date.month - 1
    rows = []
    for cohort, size in sizes.items():
        for k in range(s.cfg("customers.cohort_max_months") + 1):
            if cohort + k > ref_m:
                break
            a = act.loc[(cohort, k)] if (cohort, k) in act.index else None
            month = pd.Timestamp(year=(cohort + k) // 12, month=(cohort + k) % 12 + 1, day=1)
            active = 0 if a is None else a["active_customers"]
            rows.append(
                {
                    "cohort_month": pd.Timestamp(year=cohort // 12, month=cohort % 12 + 1, day=1),
                    "month_number": k,
                    "activity_month": month,
                    "is_partial_month": bool(
                        cohort + k == ref_m and s.ref_date != month + pd.offsets.MonthEnd(0)
                    ),
                    "cohort_size": size,
                    "active_customers": active,
                    "retention_pct": active / size * 100,
                    "orders": 0 if a is None else a["orders"],
                    "revenue": 0.0 if a is None else a["revenue"],
                }
            )
    return pd.DataFrame(rows)


def expected_churn(s: Source, ltv: pd.DataFrame, rfm: pd.DataFrame) -> pd.DataFrame:
    b = ltv[ltv["orders"] > 0].merge(
        rfm[["cust_id", "monetary_score", "rfm_segment"]], on="cust_id", how="left"
    )
    days_for = {
        "Platinum": s.cfg("customers.churn_days_platinum"),
        "Gold": s.cfg("customers.churn_days_gold"),
    }
    standard = s.cfg("customers.churn_days_standard")
    b["churn_days"] = b["value_tier"].map(lambda t: days_for.get(t, standard))
    medium = Fraction(str(s.cfg("customers.risk_medium_ratio")))
    critical = Fraction(str(s.cfg("customers.risk_critical_ratio")))
    ratios = [
        Fraction(int(d), int(c))
        for d, c in zip(b["days_since_last_order"], b["churn_days"], strict=True)
    ]
    b["risk_ratio"] = [float(r) for r in ratios]
    b["risk_level"] = [
        "Critical" if r >= critical else "High" if r >= 1 else "Medium" if r >= medium else "Low"
        for r in ratios
    ]
    b["risk_level_order"] = b["risk_level"].map(RISK_ORDER)
    exact = [
        100 * min(r / critical, Fraction(1)) * Fraction(int(m), 5)
        for r, m in zip(ratios, b["monetary_score"], strict=True)
    ]
    shown = [math.floor(x * 100 + Fraction(1, 2)) for x in exact]  # 2 decimals, half up, x100
    b["priority_score"] = [float(x) for x in exact]
    order = sorted(
        range(len(b)),
        key=lambda i: (-shown[i], -b["revenue"].iat[i], b["cust_id"].iat[i]),
    )
    rank = np.empty(len(b), dtype=int)
    rank[order] = np.arange(1, len(b) + 1)
    b["priority_rank"] = rank
    return b


def expected_demographics(ltv: pd.DataFrame) -> pd.DataFrame:
    d = ltv.copy()
    d["gender"] = d["gender"].where(d["gender"].isin(["M", "F"]), "Unknown")
    d["buyer"] = d["orders"] > 0
    g = (
        d.groupby(["gender", "age_group", "age_group_order"])
        .agg(
            customers=("cust_id", "size"),
            buyers=("buyer", "sum"),
            orders=("orders", "sum"),
            revenue=("revenue", "sum"),
        )
        .reset_index()
    )
    g["gender_label"] = g["gender"].map({"F": "Female", "M": "Male"}).fillna("Unknown")
    g["buyer_pct"] = safe_div(g["buyers"] * 100, g["customers"])
    g["aov"] = safe_div(g["revenue"], g["orders"])
    g["revenue_per_buyer"] = safe_div(g["revenue"], g["buyers"])
    g["customer_share_pct"] = g["customers"] / g["customers"].sum() * 100
    g["revenue_share_pct"] = g["revenue"] / g["revenue"].sum() * 100
    return g


def expected_geography(ltv: pd.DataFrame) -> pd.DataFrame:
    d = ltv.copy()
    d["state"] = d["state"].fillna("Unknown")
    d["city"] = d["city"].fillna("Unknown")
    d["buyer"] = d["orders"] > 0
    g = (
        d.groupby(["state", "city"])
        .agg(
            customers=("cust_id", "size"),
            buyers=("buyer", "sum"),
            orders=("orders", "sum"),
            revenue=("revenue", "sum"),
        )
        .reset_index()
    )
    g["revenue"] = g["revenue"].round(2)
    g["aov"] = safe_div(g["revenue"], g["orders"])
    g["revenue_per_customer"] = safe_div(g["revenue"], g["customers"])
    g["revenue_share_pct"] = g["revenue"] / g["revenue"].sum() * 100
    g["state_customers"] = g.groupby("state")["customers"].transform("sum")
    g["state_revenue"] = g.groupby("state")["revenue"].transform("sum").round(2)
    states = (
        g[["state", "state_revenue"]]
        .drop_duplicates()
        .sort_values(["state_revenue", "state"], ascending=[False, True])
    )
    g["state_rank"] = g["state"].map(
        dict(zip(states["state"], range(1, len(states) + 1), strict=True))
    )
    g = g.sort_values(
        ["revenue", "customers", "state", "city"], ascending=[False, False, True, True]
    )
    g["city_rank"] = range(1, len(g) + 1)
    g = g.sort_values(
        ["state", "revenue", "customers", "city"], ascending=[True, False, False, True]
    )
    g["city_rank_in_state"] = g.groupby("state").cumcount() + 1
    return g


def expected_new_vs_returning(s: Source) -> pd.DataFrame:
    so = s.sales_orders[s.sales_orders["cust_id"].notna()].copy()
    so["month_start"] = so["order_date"].dt.to_period("M").dt.to_timestamp()
    first = so.groupby("cust_id")["month_start"].min()
    so["is_new"] = so["cust_id"].map(first) == so["month_start"]
    months = pd.date_range(so["month_start"].min(), s.ref_date, freq="MS")
    out = pd.DataFrame({"month_start": months})
    for flag, prefix in ((True, "new"), (False, "returning")):
        part = so[so["is_new"] == flag].groupby("month_start")
        out[f"{prefix}_customers"] = out["month_start"].map(part["cust_id"].nunique()).fillna(0)
        out[f"{prefix}_customer_orders"] = out["month_start"].map(part.size()).fillna(0)
        out[f"{prefix}_customer_revenue"] = (
            out["month_start"].map(part["total_amount"].sum()).fillna(0.0)
        )
    out["active_customers"] = out["new_customers"] + out["returning_customers"]
    out["returning_customer_pct"] = safe_div(
        out["returning_customers"] * 100, out["active_customers"]
    )
    out["returning_revenue_share_pct"] = safe_div(
        out["returning_customer_revenue"] * 100,
        out["new_customer_revenue"] + out["returning_customer_revenue"],
    )
    out["new_customer_aov"] = safe_div(out["new_customer_revenue"], out["new_customer_orders"])
    out["returning_customer_aov"] = safe_div(
        out["returning_customer_revenue"], out["returning_customer_orders"]
    )
    out["year"] = out["month_start"].dt.year
    out["month"] = out["month_start"].dt.month
    month_end = out["month_start"] + pd.offsets.MonthEnd(0)
    out["is_partial_month"] = (out["month_start"] <= s.ref_date) & (s.ref_date < month_end)
    return out


def expected_top(s: Source, ltv: pd.DataFrame, rfm: pd.DataFrame) -> pd.DataFrame:
    b = ltv[ltv["orders"] > 0].sort_values(
        ["revenue", "orders", "cust_id"], ascending=[False, False, True]
    )
    total = b["revenue"].sum()
    b = b.assign(revenue_rank=range(1, len(b) + 1))
    b["revenue_share_pct"] = b["revenue"] / total * 100
    b["cumulative_share_pct"] = b["revenue"].cumsum() / total * 100
    top = b.head(s.cfg("customers.top_customers_limit"))
    return top.merge(rfm[["cust_id", "rfm_segment"]], on="cust_id", how="left")


@dataclass
class Expected:
    ltv: pd.DataFrame
    rfm: pd.DataFrame
    churn: pd.DataFrame


_EXPECTED_CACHE: dict[int, Expected] = {}


@pytest.fixture
def exp(src: Source) -> Expected:
    if id(src) not in _EXPECTED_CACHE:
        ltv = expected_ltv(src)
        rfm = expected_rfm(src, ltv)
        _EXPECTED_CACHE[id(src)] = Expected(ltv, rfm, expected_churn(src, ltv, rfm))
    return _EXPECTED_CACHE[id(src)]


# --------------------------------------------------------------------------------------------------
# The objects against pandas
# --------------------------------------------------------------------------------------------------


def test_customer_lifetime_value(kpi_conn, src, exp):
    actual = view(kpi_conn, "mv_customer_lifetime_value")
    assert len(actual) == len(src.customers), "every customer exactly once"
    assert_matches(
        actual,
        exp.ltv,
        ["cust_id"],
        exact=[
            "orders",
            "days_since_last_order",
            "tenure_days",
            "loyalty_points",
            "reviews_given",
            "age_group_order",
            "value_tier_order",
            "customer_status_order",
        ],
        money=[
            "revenue",
            "refunds",
            "net_revenue",
            "aov",
            "avg_days_between_orders",
            "avg_rating_given",
        ],
        other=[
            "first_order_date",
            "last_order_date",
            "has_loyalty_account",
            "value_tier",
            "customer_status",
            "age_group",
            "full_name",
            "city",
            "state",
        ],
        label="mv_customer_lifetime_value",
    )
    assert (actual["reference_date"] == src.ref_date).all()


def test_never_purchased_customers_are_kept(kpi_conn, src, exp):
    """Customers without a sales order stay in the LTV view with zeros and 'Never Purchased'."""
    actual = view(kpi_conn, "mv_customer_lifetime_value")
    never = actual[actual["orders"] == 0]
    buyers = set(src.sales_orders["cust_id"].dropna())
    assert len(never) == len(set(src.customers["cust_id"]) - buyers) > 0
    assert (never["customer_status"] == "Never Purchased").all()
    assert (never["value_tier"] == "No Purchase").all()
    assert (never["revenue"] == 0).all()
    assert never["days_since_last_order"].isna().all() and never["aov"].isna().all()
    # Customers whose only orders are excluded (Cancelled) are not buyers either.
    excluded = src.orders[src.orders["order_status"].isin(src.cfg("sales.excluded_order_statuses"))]
    only_cancelled = set(excluded["cust_id"]) - buyers
    if only_cancelled:
        assert set(never["cust_id"]) >= only_cancelled


def test_tiers_and_statuses_are_populated(kpi_conn, exp):
    """The configured thresholds make sense for the data: every tier and status has customers."""
    actual = view(kpi_conn, "mv_customer_lifetime_value")
    assert set(actual["value_tier"]) == set(TIER_ORDER)
    assert set(actual["customer_status"]) == set(STATUS_ORDER)
    buyers = actual[actual["orders"] > 0]
    shares = buyers["value_tier"].value_counts(normalize=True)
    assert shares["Platinum"] < shares["Bronze"] + shares["Silver"]  # a pyramid, not a flat top


def test_customer_rfm(kpi_conn, src, exp):
    actual = view(kpi_conn, "mv_customer_rfm")
    assert_matches(
        actual,
        exp.rfm,
        ["cust_id"],
        exact=[
            "recency_days",
            "frequency",
            "recency_score",
            "frequency_score",
            "monetary_score",
            "rfm_total",
        ],
        money=["monetary", "fm_score"],
        other=["rfm_score", "recency_level", "fm_level", "rfm_segment", "value_tier"],
        label="mv_customer_rfm",
    )
    for c in ("recency_score", "frequency_score", "monetary_score"):
        assert actual[c].between(1, 5).all()
        assert actual[c].nunique() == 5, f"{c}: not all five scores used"


def test_rfm_ties_share_a_score(kpi_conn, src):
    """Equal values get equal scores (no arbitrary NTILE split), and the trap is real: ties exist."""
    actual = view(kpi_conn, "mv_customer_rfm")
    for value, sc in (
        ("frequency", "frequency_score"),
        ("recency_days", "recency_score"),
        ("monetary", "monetary_score"),
    ):
        assert (actual.groupby(value)[sc].nunique() == 1).all(), f"{sc} differs for equal {value}"
        # higher value (lower recency) never gets a lower score
        ordered = actual.sort_values(value, ascending=(value != "recency_days"))
        assert ordered[sc].is_monotonic_increasing, f"{sc} not monotonic in {value}"
    assert actual["frequency"].duplicated().any(), "no frequency ties: the tie trap is not tested"


def test_rfm_segments_stable_across_refreshes(kpi_conn):
    """Refreshing the same data (concurrently and not) never changes a score or a segment."""
    cols = (
        "cust_id, recency_score, frequency_score, monetary_score, rfm_segment, recommended_action"
    )
    query = f"SELECT {cols} FROM analytics.mv_customer_rfm ORDER BY cust_id"
    before = query_df(kpi_conn, query)
    kpi_conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_customer_lifetime_value")
    kpi_conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_customer_rfm")
    middle = query_df(kpi_conn, query)
    kpi_conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_customer_rfm")
    after = query_df(kpi_conn, query)
    pd.testing.assert_frame_equal(before, middle)
    pd.testing.assert_frame_equal(before, after)


def test_rfm_one_consistent_action_per_segment(kpi_conn):
    actual = view(kpi_conn, "mv_customer_rfm")
    per_segment = actual.groupby("rfm_segment")["recommended_action"].nunique()
    assert (per_segment == 1).all(), per_segment[per_segment != 1].to_dict()
    per_action = actual.groupby("recommended_action")["rfm_segment"].nunique()
    assert (per_action == 1).all(), "two segments share an action"
    assert set(actual["rfm_segment"]) <= set(SEGMENT_ACTION_WORDS)
    for seg, action in actual.groupby("rfm_segment")["recommended_action"].first().items():
        assert SEGMENT_ACTION_WORDS[seg] in action, f"{seg}: action {action!r} does not fit"
    # Consistency of segment and behaviour: recent segments are recent, lapsed ones are not.
    recent = actual[actual["rfm_segment"].isin(["Champions", "New Customers", "Promising"])]
    lapsed = actual[actual["rfm_segment"].isin(["Can't Lose Them", "At Risk", "Lost"])]
    assert recent["recency_days"].max() < lapsed["recency_days"].min()
    new = actual[actual["rfm_segment"] == "New Customers"]
    assert (new["frequency"] == 1).all()


def test_rfm_only_buyers(kpi_conn, exp):
    actual = view(kpi_conn, "mv_customer_rfm")
    assert len(actual) == int((exp.ltv["orders"] > 0).sum())
    assert actual["recency_days"].notna().all()


@pytest.mark.parametrize(
    "orders",
    [
        [3],
        [1, 1],
        [1, 2, 2],
        [5, 1, 5, 1],
        [1, 2, 3, 4, 5, 6],
        [2, 2, 2, 1, 3, 3, 1],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 9],
    ],
    ids=lambda o: f"{len(o)}-buyers",
)
def test_rfm_scores_for_few_buyers_with_ties_at_the_cuts(kpi_conn, orders):
    """The scores come from four cut positions ceil((k - 1) * buyers / 5), not from a rank per buyer:
    with 1 to 11 buyers (no count a multiple of 5 but one) and ties that straddle those positions,
    each score is still 1 + floor(5 * (rank() - 1) / buyers), computed here with pandas. Inside a
    rolled-back transaction, the customer summary keeps only these buyers, with these order counts
    (frequency), revenues (monetary, tied like the orders) and last order dates (recency)."""
    with kpi_conn.transaction(force_rollback=True):
        ids = [
            r[0]
            for r in kpi_conn.execute(
                "SELECT s.cust_id FROM analytics.fact_customer_summary AS s"
                " JOIN customers.customers AS c USING (cust_id) ORDER BY s.cust_id LIMIT %s",
                (len(orders),),
            ).fetchall()
        ]
        kpi_conn.execute(
            "DELETE FROM analytics.fact_customer_summary WHERE NOT (cust_id = ANY(%s))", (ids,)
        )
        ref = kpi_conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0]
        for cust_id, n in zip(ids, orders, strict=True):
            kpi_conn.execute(
                "UPDATE analytics.fact_customer_summary SET orders = %s, revenue = %s * 10.25,"
                " last_order_date = %s, first_order_date = %s WHERE cust_id = %s",
                (n, n, ref - dt.timedelta(days=n), ref - dt.timedelta(days=400), cust_id),
            )
        for mv in ("mv_customer_lifetime_value", "mv_customer_rfm"):
            kpi_conn.execute(f"REFRESH MATERIALIZED VIEW analytics.{mv}")
        actual = query_df(
            kpi_conn,
            "SELECT cust_id, recency_days, frequency, monetary, recency_score, frequency_score,"
            " monetary_score FROM analytics.mv_customer_rfm ORDER BY cust_id",
        )
    n = len(orders)
    assert actual["cust_id"].tolist() == ids
    assert actual["frequency"].tolist() == orders
    for value, sc, worse_first in (
        ("recency_days", "recency_score", False),
        ("frequency", "frequency_score", True),
        ("monetary", "monetary_score", True),
    ):
        expected = score(actual[value].astype(float).rank(method="min", ascending=worse_first), n)
        assert actual[sc].tolist() == expected.tolist(), f"{sc} for {orders}"


def test_rfm_and_churn_risk_without_buyers(kpi_conn):
    """No buyer at all (rolled back): the cut positions would divide by the buyer count, 0; RFM and
    churn risk are then empty, not an error, and the customers are still listed without orders."""
    with kpi_conn.transaction(force_rollback=True):
        kpi_conn.execute("DELETE FROM analytics.fact_customer_summary")
        for mv in ("mv_customer_lifetime_value", "mv_customer_rfm", "mv_churn_risk"):
            kpi_conn.execute(f"REFRESH MATERIALIZED VIEW analytics.{mv}")
        counts = kpi_conn.execute(
            "SELECT (SELECT count(*) FROM analytics.mv_customer_rfm),"
            " (SELECT count(*) FROM analytics.mv_churn_risk),"
            " (SELECT count(*) FILTER (WHERE orders > 0) FROM analytics.mv_customer_lifetime_value),"
            " (SELECT count(*) FROM analytics.mv_customer_lifetime_value)"
        ).fetchone()
    assert counts[:3] == (0, 0, 0)
    assert counts[3] > 0


def test_cohort_retention(kpi_conn, src):
    actual = view(kpi_conn, "mv_cohort_retention")
    assert_matches(
        actual,
        expected_cohorts(src),
        ["cohort_month", "month_number"],
        exact=["cohort_size", "active_customers", "orders"],
        money=["retention_pct", "revenue"],
        other=["activity_month", "is_partial_month"],
        label="mv_cohort_retention",
    )
    assert actual["month_number"].between(0, src.cfg("customers.cohort_max_months")).all()
    m0 = actual[actual["month_number"] == 0]
    assert (m0["retention_pct"] == 100).all()
    # Cohort sizes add up to the number of buyers: each customer in exactly one cohort.
    buyers = src.sales_orders["cust_id"].dropna().nunique()
    assert m0["cohort_size"].sum() == buyers
    assert (actual["activity_month"] <= src.ref_date).all()


def test_churn_risk(kpi_conn, src, exp):
    actual = view(kpi_conn, "mv_churn_risk")
    assert_matches(
        actual,
        exp.churn,
        ["cust_id"],
        exact=[
            "churn_days",
            "days_since_last_order",
            "orders",
            "monetary_score",
            "priority_rank",
            "risk_level_order",
        ],
        money=["risk_ratio", "priority_score", "revenue", "aov"],
        other=["risk_level", "value_tier", "customer_status", "rfm_segment"],
        label="mv_churn_risk",
    )
    # Only customers who purchased; each once.
    assert len(actual) == int((exp.ltv["orders"] > 0).sum())
    assert actual["priority_score"].between(0, 100).all()
    # Platinum and Gold use their own configured churn windows.
    for tier, key in (("Platinum", "churn_days_platinum"), ("Gold", "churn_days_gold")):
        rows = actual[actual["value_tier"] == tier]
        assert not rows.empty and (rows["churn_days"] == src.cfg(f"customers.{key}")).all()


def test_churn_risk_actions_follow_risk_level(kpi_conn):
    actual = view(kpi_conn, "mv_churn_risk")
    key = actual["risk_level"] + "/" + actual["value_tier"].isin(["Platinum", "Gold"]).astype(str)
    assert (actual.groupby(key)["recommended_action"].nunique() == 1).all()
    low = actual[actual["risk_level"] == "Low"]["recommended_action"]
    assert low.str.startswith("No action").all()
    critical_vip = actual[
        (actual["risk_level"] == "Critical") & actual["value_tier"].isin(["Platinum", "Gold"])
    ]
    assert critical_vip["recommended_action"].str.contains("Personal call").all()


def test_churn_risk_summary(kpi_conn, exp):
    c = exp.churn
    g = (
        c.groupby(["risk_level", "value_tier"])
        .agg(
            customers=("cust_id", "size"),
            revenue_at_risk=("revenue", "sum"),
            avg_days_since_last_order=("days_since_last_order", "mean"),
            avg_priority_score=("priority_score", "mean"),
            churn_days=("churn_days", "first"),
        )
        .reset_index()
    )
    g["customer_share_pct"] = g["customers"] / g["customers"].sum() * 100
    g["revenue_share_pct"] = g["revenue_at_risk"] / g["revenue_at_risk"].sum() * 100
    assert_matches(
        view(kpi_conn, "mv_churn_risk_summary"),
        g,
        ["risk_level", "value_tier"],
        exact=["customers", "churn_days"],
        money=[
            "customer_share_pct",
            "revenue_at_risk",
            "revenue_share_pct",
            "avg_days_since_last_order",
            "avg_priority_score",
        ],
        label="mv_churn_risk_summary",
    )


def test_customer_demographics(kpi_conn, exp):
    actual = view(kpi_conn, "vw_customer_demographics")
    assert_matches(
        actual,
        expected_demographics(exp.ltv),
        ["gender", "age_group"],
        exact=["customers", "buyers", "orders", "age_group_order"],
        money=[
            "buyer_pct",
            "revenue",
            "aov",
            "revenue_per_buyer",
            "customer_share_pct",
            "revenue_share_pct",
        ],
        other=["gender_label"],
        label="vw_customer_demographics",
    )
    assert actual["customers"].sum() == len(exp.ltv), "customers counted more than once"


def test_customer_geography(kpi_conn, exp):
    actual = view(kpi_conn, "vw_customer_geography")
    assert_matches(
        actual,
        expected_geography(exp.ltv),
        ["state", "city"],
        exact=[
            "customers",
            "buyers",
            "orders",
            "state_customers",
            "state_rank",
            "city_rank",
            "city_rank_in_state",
        ],
        money=[
            "revenue",
            "aov",
            "revenue_per_customer",
            "revenue_share_pct",
            "state_revenue",
        ],
        label="vw_customer_geography",
    )
    assert actual["customers"].sum() == len(exp.ltv), "customers counted more than once"
    assert sorted(actual["city_rank"]) == list(range(1, len(actual) + 1))
    states = actual.drop_duplicates("state")
    assert sorted(states["state_rank"]) == list(range(1, len(states) + 1))


def test_customer_value_summary(kpi_conn, exp):
    d = exp.ltv
    g = (
        d.groupby(["value_tier", "customer_status"])
        .agg(
            customers=("cust_id", "size"),
            orders=("orders", "sum"),
            revenue=("revenue", "sum"),
            avg_days_since_last_order=("days_since_last_order", "mean"),
            avg_tenure_days=("tenure_days", "mean"),
            loyalty_points=("loyalty_points", "sum"),
            reviews_given=("reviews_given", "sum"),
            value_tier_order=("value_tier_order", "first"),
            customer_status_order=("customer_status_order", "first"),
        )
        .reset_index()
    )
    g["customer_share_pct"] = g["customers"] / g["customers"].sum() * 100
    g["revenue_share_pct"] = g["revenue"] / g["revenue"].sum() * 100
    g["revenue_per_customer"] = g["revenue"] / g["customers"]
    g["orders_per_customer"] = g["orders"] / g["customers"]
    g["aov"] = safe_div(g["revenue"], g["orders"])
    g["avg_loyalty_points"] = g["loyalty_points"] / g["customers"]
    actual = view(kpi_conn, "vw_customer_value_summary")
    assert_matches(
        actual,
        g,
        ["value_tier", "customer_status"],
        exact=[
            "customers",
            "orders",
            "loyalty_points",
            "reviews_given",
            "value_tier_order",
            "customer_status_order",
        ],
        money=[
            "customer_share_pct",
            "revenue",
            "revenue_share_pct",
            "revenue_per_customer",
            "orders_per_customer",
            "aov",
            "avg_days_since_last_order",
            "avg_tenure_days",
            "avg_loyalty_points",
        ],
        label="vw_customer_value_summary",
    )
    assert len(actual) <= len(TIER_ORDER) * len(STATUS_ORDER)


def test_rfm_segment_summary(kpi_conn, exp):
    r = exp.rfm
    g = (
        r.groupby("rfm_segment")
        .agg(
            customers=("cust_id", "size"),
            orders=("frequency", "sum"),
            revenue=("monetary", "sum"),
            avg_recency_days=("recency_days", "mean"),
            avg_recency_score=("recency_score", "mean"),
            avg_frequency_score=("frequency_score", "mean"),
            avg_monetary_score=("monetary_score", "mean"),
        )
        .reset_index()
    )
    g["customer_share_pct"] = g["customers"] / g["customers"].sum() * 100
    g["revenue_share_pct"] = g["revenue"] / g["revenue"].sum() * 100
    g["avg_frequency"] = g["orders"] / g["customers"]
    g["avg_monetary"] = g["revenue"] / g["customers"]
    actual = view(kpi_conn, "vw_rfm_segment_summary")
    assert_matches(
        actual,
        g,
        ["rfm_segment"],
        exact=["customers", "orders"],
        money=[
            "customer_share_pct",
            "revenue",
            "revenue_share_pct",
            "avg_recency_days",
            "avg_frequency",
            "avg_monetary",
            "avg_recency_score",
            "avg_frequency_score",
            "avg_monetary_score",
        ],
        label="vw_rfm_segment_summary",
    )
    assert actual["customers"].sum() == len(r)


def test_new_vs_returning(kpi_conn, src):
    actual = view(kpi_conn, "mv_new_vs_returning_customers")
    assert_matches(
        actual,
        expected_new_vs_returning(src),
        ["month_start"],
        exact=[
            "year",
            "month",
            "new_customers",
            "returning_customers",
            "active_customers",
            "new_customer_orders",
            "returning_customer_orders",
        ],
        money=[
            "new_customer_revenue",
            "returning_customer_revenue",
            "returning_customer_pct",
            "returning_revenue_share_pct",
            "new_customer_aov",
            "returning_customer_aov",
        ],
        other=["is_partial_month"],
        label="mv_new_vs_returning_customers",
    )
    # Every buyer is new exactly once.
    assert actual["new_customers"].sum() == src.sales_orders["cust_id"].dropna().nunique()
    assert actual["is_partial_month"].sum() <= 1


def test_top_customers(kpi_conn, src, exp):
    actual = view(kpi_conn, "vw_top_customers")
    limit = src.cfg("customers.top_customers_limit")
    buyers = int((exp.ltv["orders"] > 0).sum())
    assert len(actual) == min(limit, buyers), "the top-N limit does not limit"
    assert_matches(
        actual,
        expected_top(src, exp.ltv, exp.rfm),
        ["cust_id"],
        exact=[
            "revenue_rank",
            "orders",
            "days_since_last_order",
            "loyalty_points",
            "reviews_given",
        ],
        money=["revenue", "aov", "revenue_share_pct", "cumulative_share_pct"],
        other=["value_tier", "customer_status", "rfm_segment", "age_group", "full_name"],
        label="vw_top_customers",
    )
    assert sorted(actual["revenue_rank"]) == list(range(1, len(actual) + 1))


# --------------------------------------------------------------------------------------------------
# Traps
# --------------------------------------------------------------------------------------------------


def test_fan_out_trap(kpi_conn, src, exp):
    """Customer revenue is the order-grain sum, not multiplied by reviews, returns or loyalty rows."""
    actual = view(kpi_conn, "mv_customer_lifetime_value")
    true_revenue = src.sales_orders["total_amount"].sum()
    assert abs(actual["revenue"].sum() - true_revenue) <= TOL
    true_refunds = src.returns[src.returns["order_id"].isin(src.sales_orders["order_id"])][
        "refund_amount"
    ].sum()
    assert abs(actual["refunds"].sum() - true_refunds) <= TOL
    # The trap is real: customers with several reviews AND several orders exist.
    multi = actual[(actual["reviews_given"] > 1) & (actual["orders"] > 1)]
    assert not multi.empty
    for obj, col in (
        ("vw_customer_demographics", "revenue"),
        ("vw_customer_geography", "revenue"),
        ("vw_customer_value_summary", "revenue"),
    ):
        total = view(kpi_conn, obj)[col].sum()
        assert abs(total - true_revenue) <= TOL, f"{obj}.{col} sums to {total}, not {true_revenue}"
    nvr = view(kpi_conn, "mv_new_vs_returning_customers")
    with_cust = src.sales_orders[src.sales_orders["cust_id"].notna()]["total_amount"].sum()
    total = nvr["new_customer_revenue"].sum() + nvr["returning_customer_revenue"].sum()
    assert abs(total - with_cust) <= TOL


def test_integer_division_trap(kpi_conn, exp):
    actual = view(kpi_conn, "mv_customer_lifetime_value")
    b = actual[actual["orders"] > 1]
    assert (((b["aov"] * 100).round() % 100) != 0).any(), "every AOV is a whole number"
    gaps = b[b["orders"] > 2]["avg_days_between_orders"]
    assert ((gaps * 100).round() % 100 != 0).any(), "average gaps are whole numbers"
    cohorts = view(kpi_conn, "mv_cohort_retention")
    later = cohorts[cohorts["month_number"] > 0]
    assert (later["retention_pct"] > 0).any() and (later["retention_pct"] < 100).all()


def test_no_dates_after_reference_date(kpi_conn, src):
    for obj, cols in {
        "mv_customer_lifetime_value": ["first_order_date", "last_order_date"],
        "mv_cohort_retention": ["cohort_month", "activity_month"],
        "mv_new_vs_returning_customers": ["month_start"],
        "mv_churn_risk": ["last_order_date"],
        "vw_top_customers": ["last_order_date"],
    }.items():
        actual = view(kpi_conn, obj)
        assert not actual.empty, f"{obj} is empty"
        for c in cols:
            assert (actual[c].dropna() <= src.ref_date).all(), f"{obj}.{c} after the reference date"
    nvr = view(kpi_conn, "mv_new_vs_returning_customers")
    assert nvr["month_start"].max() == src.ref_date.to_period("M").to_timestamp()
    ltv = view(kpi_conn, "mv_customer_lifetime_value")
    assert (ltv["days_since_last_order"].dropna() >= 0).all()
    assert ltv["days_since_last_order"].min() == 0  # measured from the data's date, not the clock


def test_edge_cases_on_modified_data(kpi_conn, src):
    """Inside a rolled-back transaction: a customer with only a Cancelled order, one with an
    implausible age and no gender, an order dated after the wall clock (must not count), and an
    order without a customer. The MVs are refreshed on that data and checked, then everything is
    rolled back (the refresh too)."""
    base = int(src.customers["cust_id"].max())
    order_base = int(src.orders["order_id"].max())
    store = kpi_conn.execute("SELECT min(store_id) FROM stores.stores").fetchone()[0]
    ref = src.ref_date.date()
    with kpi_conn.transaction(force_rollback=True):
        kpi_conn.execute(
            "INSERT INTO customers.customers (cust_id, full_name, gender, age, city, state, "
            "join_date, region_name) VALUES "
            "(%s, 'Only Cancelled', 'F', 30, 'Pune', 'Maharashtra', '2024-01-01', 'West'), "
            "(%s, 'Odd Age', NULL, 150, NULL, NULL, %s, NULL), "
            "(%s, 'Future Buyer', 'M', 17, 'Pune', 'Maharashtra', '2024-01-01', 'West')",
            (base + 1, base + 2, ref + dt.timedelta(days=5), base + 3),
        )
        kpi_conn.execute(
            "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status, "
            "total_amount) VALUES "
            "(%s, %s, %s, %s, 'Cancelled', 999.00), "
            "(%s, %s, %s, '2099-01-01', 'Delivered', 5000.00), "
            "(%s, NULL, %s, %s, 'Delivered', 777.00), "
            "(%s, %s, %s, %s, 'Delivered', 100.50)",
            (
                order_base + 1, base + 1, store, ref,
                order_base + 2, base + 3, store,
                order_base + 3, store, ref,
                order_base + 4, base + 2, store, ref - dt.timedelta(days=400),
            ),
        )  # fmt: skip
        assert kpi_conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0] == ref
        # mv_customer_lifetime_value reads the customer-month fact, built on the order fact: load
        # their changed days and months (and the cohort months built on them) first, as a build
        # does (their load statements, rolled back with the rest).
        kpi_conn.execute(parse_sql_file(SQL_DIR / "facts" / "fact_orders.sql").load_sql)
        kpi_conn.execute(parse_sql_file(FACT_FILE).load_sql)
        kpi_conn.execute(parse_sql_file(SUMMARY_FILE).load_sql)
        kpi_conn.execute(parse_sql_file(SQL_DIR / "facts" / f"{COHORTS}.sql").load_sql)
        for mv in (
            "mv_new_vs_returning_customers",
            "mv_customer_reviews",
            "mv_customer_lifetime_value",
            "mv_customer_segments",
            "mv_customer_rfm",
            "mv_churn_risk",
            "mv_churn_risk_summary",
            "mv_cohort_retention",
        ):
            kpi_conn.execute(f"REFRESH MATERIALIZED VIEW analytics.{mv}")
        rows = query_df(
            kpi_conn,
            "SELECT * FROM analytics.mv_customer_lifetime_value WHERE cust_id > %s ORDER BY cust_id",
            (base,),
        ).set_index("cust_id")
        only_cancelled, odd_age, future = rows.loc[base + 1], rows.loc[base + 2], rows.loc[base + 3]
        assert only_cancelled["customer_status"] == "Never Purchased"
        assert only_cancelled["orders"] == 0 and only_cancelled["revenue"] == 0
        assert future["customer_status"] == "Never Purchased", "an order after the clock counted"
        assert future["age_group"] == f"Under {src.cfg('customers.age_band_starts')[0]}"
        assert odd_age["age_group"] == "Unknown"
        assert pd.isna(odd_age["tenure_days"]), "join date after the reference date has a tenure"
        assert odd_age["customer_status"] == "Churned" and odd_age["value_tier"] == "Bronze"
        demo = view(kpi_conn, "vw_customer_demographics")
        assert ((demo["gender"] == "Unknown") & (demo["age_group"] == "Unknown")).any()
        geo = view(kpi_conn, "vw_customer_geography")
        assert (geo["state"] == "Unknown").any()
        churn = view(kpi_conn, "mv_churn_risk").set_index("cust_id")
        assert base + 1 not in churn.index and base + 3 not in churn.index
        assert churn.loc[base + 2, "risk_level"] == "Critical"
        rfm = view(kpi_conn, "mv_customer_rfm").set_index("cust_id")
        assert base + 2 in rfm.index and base + 1 not in rfm.index
        nvr = view(kpi_conn, "mv_new_vs_returning_customers")
        assert nvr["month_start"].max() <= src.ref_date
    # Rolled back: the MVs are as before.
    n = kpi_conn.execute("SELECT count(*) FROM analytics.mv_customer_lifetime_value").fetchone()[0]
    assert n == len(src.customers)


def test_customer_reviews(kpi_conn, src):
    """mv_customer_reviews against pandas: per customer, the reviews not dated after the reference
    date (undated ones count), their number and mean rating."""
    rv = src.reviews[
        src.reviews["review_date"].isna() | (src.reviews["review_date"] <= src.ref_date)
    ]
    expected = rv.groupby("cust_id").agg(n=("review_id", "size"), avg=("rating", "mean"))
    actual = view(kpi_conn, "mv_customer_reviews").set_index("cust_id").sort_index()
    assert list(actual.index) == [int(i) for i in expected.index]
    assert [int(v) for v in actual["reviews_given"]] == [int(v) for v in expected["n"]]
    assert list(actual["avg_rating_given"]) == pytest.approx(list(expected["avg"]), abs=1e-9)
    # A review dated after the reference date is in the source but not here.
    assert (src.reviews["review_date"] > src.ref_date).any() or len(rv) == len(src.reviews)


def test_customer_segments_count_every_customer_once(kpi_conn, src):
    """mv_customer_segments: every customer in exactly one segment, the segments' totals equal the
    per-customer figures of mv_customer_lifetime_value (summed in pandas), per place and overall."""
    seg = view(kpi_conn, "mv_customer_segments")
    clv = view(kpi_conn, "mv_customer_lifetime_value")
    keys = ["state", "city", "gender", "age_group", "value_tier", "customer_status"]
    assert not seg.duplicated(keys).any()
    assert int(seg["customers"].sum()) == len(clv) == len(src.customers)
    assert int(seg["buyers"].sum()) == int((clv["orders"] > 0).sum())
    clv = clv.assign(
        state=clv["state"].fillna("Unknown"),
        city=clv["city"].fillna("Unknown"),
        gender=clv["gender"].where(clv["gender"].isin(["M", "F"]), "Unknown"),
    )
    expected = clv.groupby(["state", "city"]).agg(
        customers=("cust_id", "size"),
        orders=("orders", "sum"),
        revenue=("revenue", "sum"),
        days=("days_since_last_order", "sum"),
        days_n=("days_since_last_order", "count"),
        loyalty=("loyalty_points", "sum"),
    )
    actual = seg.groupby(["state", "city"]).agg(
        customers=("customers", "sum"),
        orders=("orders", "sum"),
        revenue=("revenue", "sum"),
        days=("days_since_last_order_sum", "sum"),
        days_n=("days_since_last_order_count", "sum"),
        loyalty=("loyalty_points", "sum"),
    )
    assert list(actual.index) == list(expected.index)
    for col in expected.columns:
        if col == "revenue":  # read as floats: summed in another order, equal to the cent
            assert list(actual[col]) == pytest.approx(list(expected[col]), abs=0.005), col
        else:
            assert [int(v) for v in actual[col]] == [int(v) for v in expected[col]], col
    first = clv["first_order_date"].dropna().min()
    assert seg["first_order_date"].dropna().min() == first


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------

# export -> list of (JSON list, view, key columns)
EXPORT_VIEWS: dict[str, list[tuple[str, str, list[str]]]] = {
    "fn_export_customers_lifetime_value": [
        ("rows", "vw_customer_value_summary", ["value_tier", "customer_status"])
    ],
    "fn_export_customers_rfm_segments": [("rows", "vw_rfm_segment_summary", ["rfm_segment"])],
    "fn_export_customers_cohort_retention": [
        ("rows", "mv_cohort_retention", ["cohort_month", "month_number"])
    ],
    "fn_export_customers_churn_risk": [
        ("rows", "mv_churn_risk_summary", ["risk_level", "value_tier"]),
        ("riskiest", "mv_churn_risk", ["cust_id"]),
    ],
    "fn_export_customers_demographics": [
        ("rows", "vw_customer_demographics", ["gender", "age_group"])
    ],
    "fn_export_customers_geography": [("rows", "vw_customer_geography", ["state", "city"])],
    "fn_export_customers_new_vs_returning": [
        ("rows", "mv_new_vs_returning_customers", ["month_start"])
    ],
    "fn_export_customers_top_customers": [("rows", "vw_top_customers", ["cust_id"])],
}


@pytest.mark.parametrize("fn", EXPORTS)
def test_export_shape(kpi_conn, src, fn):
    out = export(kpi_conn, fn)
    assert {"referenceDate", "period", "rows"} <= set(out)
    assert out["referenceDate"] == src.ref_date.strftime("%Y-%m-%d")
    assert set(out["period"]) == {"from", "to"} and out["period"]["to"] == out["referenceDate"]
    assert ISO_DATE.match(out["period"]["from"]) and out["period"]["from"] <= out["period"]["to"]
    assert isinstance(out["rows"], list) and out["rows"], f"{fn}: no rows"
    for list_key, _, _ in EXPORT_VIEWS[fn]:
        check_export_rows(fn, out[list_key])
    assert export(kpi_conn, fn) == out, "not deterministic"


def _view_key(row: dict[str, Any], key_cols: list[str]) -> Any:
    """The view index value of an export row: its key fields, dates as Timestamps."""
    fields = {snake(f): f for f in row}
    values = []
    for c in key_cols:
        value = row[fields[c]]
        if c.endswith("_month") or c == "month_start":
            value = pd.Timestamp(value)
        values.append(value)
    return tuple(values) if len(values) > 1 else values[0]


@pytest.mark.parametrize("fn", sorted(EXPORT_VIEWS))
def test_export_rows_match_view(kpi_conn, fn):
    out = export(kpi_conn, fn)
    for list_key, view_name, key_cols in EXPORT_VIEWS[fn]:
        v = view(kpi_conn, view_name).set_index(key_cols)
        rows = out[list_key]
        assert rows, f"{fn}.{list_key}: empty"
        for row in rows:
            vrow = v.loc[_view_key(row, key_cols)]
            for field, value in row.items():
                col = snake(field)
                if col in key_cols:
                    continue
                assert col in vrow.index, f"{fn}: field {field} has no column {col} in {view_name}"
                assert same_value(value, vrow[col]), (
                    f"{fn}.{field}={value!r}, {view_name}.{col}={vrow[col]!r}"
                )


def test_export_sizes_and_order(kpi_conn, src, exp):
    cfg = src.cfg
    top_n = cfg("customers.export_top_n")

    ltv = export(kpi_conn, "fn_export_customers_lifetime_value")
    assert len(ltv["rows"]) <= len(TIER_ORDER) * len(STATUS_ORDER), "one row per customer?"
    assert sum(r["customers"] for r in ltv["rows"]) == len(src.customers)
    summary = ltv["summary"]
    assert summary["customers"] == len(src.customers)
    assert summary["buyers"] == int((exp.ltv["orders"] > 0).sum())
    assert abs(summary["revenue"] - src.sales_orders["total_amount"].sum()) <= TOL
    assert ltv["thresholds"]["platinumMinRevenue"] == cfg("customers.tier_platinum_min_revenue")
    order = [(TIER_ORDER[r["valueTier"]], STATUS_ORDER[r["customerStatus"]]) for r in ltv["rows"]]
    assert order == sorted(order)

    rfm = export(kpi_conn, "fn_export_customers_rfm_segments")["rows"]
    assert len(rfm) <= len(SEGMENT_ACTION_WORDS)
    segment_order = list(SEGMENT_ACTION_WORDS)  # Champions first, Lost last
    positions = [segment_order.index(r["rfmSegment"]) for r in rfm]
    assert positions == sorted(positions)

    cohorts = export(kpi_conn, "fn_export_customers_cohort_retention")
    months = {r["cohortMonth"] for r in cohorts["rows"]}
    assert len(months) <= cfg("customers.export_months")
    assert len(cohorts["rows"]) <= cfg("customers.export_months") * (
        cfg("customers.cohort_max_months") + 1
    )
    assert max(months) == src.ref_date.to_period("M").to_timestamp().strftime("%Y-%m-%d")
    keys = [(r["cohortMonth"], r["monthNumber"]) for r in cohorts["rows"]]
    assert keys == sorted(keys)

    churn = export(kpi_conn, "fn_export_customers_churn_risk")
    assert len(churn["riskiest"]) == min(top_n, len(exp.churn))
    assert [r["priorityRank"] for r in churn["riskiest"]] == list(
        range(1, len(churn["riskiest"]) + 1)
    )
    expected_ids = exp.churn.sort_values("priority_rank")["cust_id"].head(top_n).tolist()
    assert [r["custId"] for r in churn["riskiest"]] == expected_ids
    assert len(churn["rows"]) <= len(RISK_ORDER) * 4
    assert sum(r["customers"] for r in churn["rows"]) == len(exp.churn)
    assert churn["churnDays"] == {
        "platinum": cfg("customers.churn_days_platinum"),
        "gold": cfg("customers.churn_days_gold"),
        "standard": cfg("customers.churn_days_standard"),
    }

    demo = export(kpi_conn, "fn_export_customers_demographics")["rows"]
    assert len(demo) <= 3 * (len(cfg("customers.age_band_starts")) + 2)

    geo = export(kpi_conn, "fn_export_customers_geography")
    assert len(geo["rows"]) == min(top_n, len(expected_geography(exp.ltv)))
    assert [r["cityRank"] for r in geo["rows"]] == list(range(1, len(geo["rows"]) + 1))
    g = expected_geography(exp.ltv)
    states = g.groupby("state").agg(
        customers=("customers", "sum"), revenue=("revenue", "sum"), cities=("city", "size")
    )
    states["rank"] = g.groupby("state")["state_rank"].first()
    assert len(geo["states"]) == min(top_n, len(states))
    for r in geo["states"]:
        st = states.loc[r["state"]]
        assert r["stateRank"] == st["rank"] and r["customers"] == st["customers"]
        assert r["cities"] == st["cities"] and abs(r["revenue"] - st["revenue"]) <= TOL
        assert abs(r["revenueSharePct"] - st["revenue"] / states["revenue"].sum() * 100) <= TOL

    nvr = export(kpi_conn, "fn_export_customers_new_vs_returning")["rows"]
    assert 0 < len(nvr) <= cfg("customers.export_months")
    assert [r["monthStart"] for r in nvr] == sorted(r["monthStart"] for r in nvr)

    top = export(kpi_conn, "fn_export_customers_top_customers")["rows"]
    assert len(top) == min(cfg("customers.top_customers_limit"), int((exp.ltv["orders"] > 0).sum()))
    assert [r["revenueRank"] for r in top] == list(range(1, len(top) + 1))


def test_export_bounds_follow_config(kpi_conn, src):
    """Shrinking the configured limits shrinks the exports (inside a rolled-back transaction)."""
    with kpi_conn.transaction(force_rollback=True):
        for key, value in (
            ("customers.export_top_n", 3),
            ("customers.top_customers_limit", 5),
            ("customers.export_months", 2),
        ):
            kpi_conn.execute(
                "UPDATE analytics.config SET value = to_jsonb(%s::int) WHERE key = %s", (value, key)
            )
        assert len(export(kpi_conn, "fn_export_customers_churn_risk")["riskiest"]) == 3
        geo = export(kpi_conn, "fn_export_customers_geography")
        assert len(geo["rows"]) == 3 and len(geo["states"]) == 3
        assert len(export(kpi_conn, "fn_export_customers_top_customers")["rows"]) == 5
        assert len(view(kpi_conn, "vw_top_customers")) == 5
        assert len(export(kpi_conn, "fn_export_customers_new_vs_returning")["rows"]) == 2
        cohorts = export(kpi_conn, "fn_export_customers_cohort_retention")
        assert len({r["cohortMonth"] for r in cohorts["rows"]}) == 2


# --------------------------------------------------------------------------------------------------
# The SQL files and the configuration (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = (
    [SQL_DIR / "facts" / f"{o}.sql" for o in CUSTOMER_FACTS]
    + [SQL_DIR / "customers" / f"{o}.sql" for o in CUSTOMER_OBJECTS]
    + [SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS]
)


def test_every_customers_file_is_tested():
    on_disk = {p.stem for p in (SQL_DIR / "customers").glob("*.sql")}
    on_disk |= {p.stem for p in (SQL_DIR / "exports").glob("fn_export_customers_*.sql")}
    on_disk |= {p.stem for p in (SQL_DIR / "facts").glob("fact_customer_*.sql")}
    assert on_disk == set(CUSTOMER_FACTS) | set(CUSTOMER_OBJECTS) | set(EXPORTS)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    if path.stem.startswith("fact_"):
        # A fact table: its DDL, then its load statements (kind fact_table, checked below).
        text, header = read_sql_file(path)
        assert header[0].startswith(f"-- analytics.{path.stem}")
        assert f"CREATE TABLE analytics.{path.stem} (" in text
        assert parse_sql_file(path).kind == "fact_table"
    else:
        text, header = check_sql_file(path)
    assert_header_fields(header)
    # Every "-- KPI" line is parsed as a KPI (one KPI per line), none leaks into the description.
    parsed = parse_sql_file(path)
    kpi_lines = [line for line in header if line.startswith("-- KPI ")]
    assert len(parsed.kpis) == len(kpi_lines), "a KPI line does not parse as '-- KPI name: formula'"
    assert "KPI " not in parsed.description
    assert parsed.field("owner") == "Customer analytics"
    # A fact says how it is loaded: "daily, incremental by ...".
    assert parsed.field("refresh") == "daily" or (
        parsed.kind == "fact_table" and parsed.field("refresh").startswith("daily, incremental")
    )
    lowered = text.lower()
    assert "current_date" not in lowered and "now()" not in lowered, "wall clock in a KPI"
    if "fn_config_" in text:
        assert "params AS MATERIALIZED" in text, "config read outside a materialized params CTE"


def test_customers_config_keys_defined_and_read():
    config = analytics_config()
    defined = {f"customers.{k}" for k in config["customers"]}
    for name, spec in config["customers"].items():
        assert spec.get("description"), f"customers.{name} has no description"
    text = "\n".join(p.read_text(encoding="utf-8") for p in SQL_FILES)
    read = set(re.findall(r"fn_config_\w+\('(customers\.\w+)'\)", text))
    all_sql = "\n".join(p.read_text(encoding="utf-8") for p in SQL_DIR.glob("*/*.sql"))
    read_anywhere = set(re.findall(r"fn_config_\w+\('(customers\.\w+)'\)", all_sql))
    assert read_anywhere <= defined, f"read but not defined: {sorted(read_anywhere - defined)}"
    assert defined <= read, f"defined but never read: {sorted(defined - read)}"
    assert "customers.churn_days_platinum" in defined and "customers.churn_days_gold" in defined


# --------------------------------------------------------------------------------------------------
# The customer-month fact (analytics.fact_customer_months) and the objects that read it
# --------------------------------------------------------------------------------------------------

FACT = "fact_customer_months"
FACT_FILE = SQL_DIR / "facts" / f"{FACT}.sql"
FACT_KEY = ["month_start", "cust_id"]
FACT_VALUES = ["orders", "revenue", "refunds", "first_order_date", "last_order_date"]
SUMMARY = "fact_customer_summary"
SUMMARY_FILE = SQL_DIR / "facts" / f"{SUMMARY}.sql"
SUMMARY_VALUES = [*FACT_VALUES, "first_month"]
FACTS = (FACT, SUMMARY)
COHORTS = "fact_customer_cohort_months"
# The objects that read the fact (their former definitions aggregated every order themselves).
FACT_READERS = (
    COHORTS,
    "mv_customer_lifetime_value",
    "mv_cohort_retention",
    "mv_new_vs_returning_customers",
    "mv_monthly_sales_dashboard",
)

# Straight from the source tables (sales.orders, sales.returns), as the readers computed them before
# the fact: one query per reader, the columns the fact feeds, for the rows with sales orders.
_DIRECT_BASE = """
WITH p AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date,
           analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded,
           analytics.fn_config_int('customers.cohort_max_months') AS max_months
),
refund AS (SELECT order_id, sum(refund_amount) AS refund FROM sales.returns GROUP BY order_id),
so AS (
    SELECT o.order_id, o.cust_id, o.order_date, date_trunc('month', o.order_date)::date AS m,
           o.total_amount, r.refund
      FROM sales.orders AS o CROSS JOIN p LEFT JOIN refund AS r ON r.order_id = o.order_id
     WHERE o.order_date <= p.ref_date AND NOT coalesce(o.order_status = ANY (p.excluded), false)
),
f AS (SELECT cust_id, min(m) AS c FROM so WHERE cust_id IS NOT NULL GROUP BY cust_id)
"""
DIRECT: dict[str, tuple[str, str]] = {
    FACT: (
        """SELECT so.m AS month_start, so.cust_id, count(*)::int AS orders,
                  sum(so.total_amount) AS revenue, coalesce(sum(so.refund), 0) AS refunds,
                  min(so.order_date) AS first_order_date, max(so.order_date) AS last_order_date
             FROM so WHERE so.cust_id IS NOT NULL GROUP BY so.m, so.cust_id""",
        f"SELECT month_start, cust_id, {', '.join(FACT_VALUES)} FROM analytics.{FACT}",
    ),
    SUMMARY: (
        """SELECT so.cust_id, count(*) AS orders, sum(so.total_amount) AS revenue,
                  coalesce(sum(so.refund), 0) AS refunds, min(so.order_date) AS first_order_date,
                  max(so.order_date) AS last_order_date, min(so.m) AS first_month
             FROM so WHERE so.cust_id IS NOT NULL GROUP BY so.cust_id""",
        f"SELECT cust_id, {', '.join(SUMMARY_VALUES)} FROM analytics.{SUMMARY}",
    ),
    "fact_customer_cohort_months": (
        """SELECT f.c AS cohort_month, so.m AS activity_month,
                  count(DISTINCT so.cust_id) AS customers, count(*) AS orders,
                  sum(so.total_amount) AS revenue, coalesce(sum(so.refund), 0) AS refunds
             FROM so JOIN f ON f.cust_id = so.cust_id GROUP BY f.c, so.m""",
        """SELECT cohort_month, activity_month, customers, orders, revenue, refunds
             FROM analytics.fact_customer_cohort_months""",
    ),
    "mv_customer_lifetime_value": (
        """SELECT so.cust_id, count(*) AS orders, coalesce(sum(so.total_amount), 0) AS revenue,
                  coalesce(sum(so.refund), 0) AS refunds, min(so.order_date) AS first_order_date,
                  max(so.order_date) AS last_order_date
             FROM so WHERE so.cust_id IS NOT NULL GROUP BY so.cust_id""",
        """SELECT cust_id, orders, revenue, refunds, first_order_date, last_order_date
             FROM analytics.mv_customer_lifetime_value WHERE orders > 0""",
    ),
    "mv_cohort_retention": (
        """SELECT f.c AS cohort_month, so.m AS activity_month,
                  (SELECT count(*) FROM f AS f2 WHERE f2.c = f.c) AS cohort_size,
                  count(DISTINCT so.cust_id) AS active_customers, count(*) AS orders,
                  coalesce(sum(so.total_amount), 0) AS revenue
             FROM so JOIN f ON f.cust_id = so.cust_id CROSS JOIN p
            WHERE so.m <= f.c + make_interval(months => p.max_months)
            GROUP BY f.c, so.m""",
        """SELECT cohort_month, activity_month, cohort_size, active_customers, orders, revenue
             FROM analytics.mv_cohort_retention WHERE active_customers > 0""",
    ),
    "mv_new_vs_returning_customers": (
        """SELECT so.m AS month_start,
                  count(DISTINCT so.cust_id) FILTER (WHERE f.c = so.m) AS new_customers,
                  count(DISTINCT so.cust_id) FILTER (WHERE f.c < so.m) AS returning_customers,
                  count(*) FILTER (WHERE f.c = so.m) AS new_customer_orders,
                  count(*) FILTER (WHERE f.c < so.m) AS returning_customer_orders,
                  coalesce(sum(so.total_amount) FILTER (WHERE f.c = so.m), 0)
                      AS new_customer_revenue,
                  coalesce(sum(so.total_amount) FILTER (WHERE f.c < so.m), 0)
                      AS returning_customer_revenue
             FROM so JOIN f ON f.cust_id = so.cust_id GROUP BY so.m""",
        """SELECT month_start, new_customers, returning_customers, new_customer_orders,
                  returning_customer_orders, new_customer_revenue, returning_customer_revenue
             FROM analytics.mv_new_vs_returning_customers WHERE active_customers > 0""",
    ),
    "mv_monthly_sales_dashboard": (
        """SELECT so.m AS month_start, count(*) AS orders, count(DISTINCT so.cust_id) AS customers,
                  count(DISTINCT so.cust_id) FILTER (WHERE f.c = so.m) AS new_customers,
                  count(DISTINCT so.cust_id) FILTER (WHERE f.c < so.m) AS returning_customers,
                  coalesce(sum(so.total_amount), 0) AS revenue,
                  coalesce(sum(so.refund), 0) AS refunds
             FROM so LEFT JOIN f ON f.cust_id = so.cust_id GROUP BY so.m""",
        """SELECT month_start, orders, customers, new_customers, returning_customers, revenue,
                  refunds
             FROM analytics.mv_monthly_sales_dashboard WHERE orders > 0""",
    ),
}


def assert_equal_to_direct(
    conn: psycopg.Connection, names: tuple[str, ...] = (*FACTS, *FACT_READERS)
):
    """Each object's rows EXCEPT ALL its direct computation from the source, both ways, are empty
    (values compared exactly: numeric equality, NULL = NULL)."""
    for name in names:
        direct, stored = DIRECT[name]
        for a, b in ((direct, stored), (stored, direct)):
            diff = conn.execute(
                f"{_DIRECT_BASE} SELECT count(*) FROM (({a}) EXCEPT ALL ({b})) AS d"
            ).fetchone()[0]
            assert diff == 0, f"{name}: {diff} rows differ from the direct computation"
        assert conn.execute(f"{_DIRECT_BASE} SELECT count(*) FROM ({direct}) AS d").fetchone()[0]


def expected_customer_months(s: Source) -> pd.DataFrame:
    so = s.sales_orders[s.sales_orders["cust_id"].notna()].copy()
    refunds = s.returns.groupby("order_id")["refund_amount"].sum()
    so["refund"] = so["order_id"].map(refunds).fillna(0.0)
    so["month_start"] = so["order_date"].dt.to_period("M").dt.to_timestamp()
    return (
        so.groupby(["month_start", "cust_id"])
        .agg(
            orders=("order_id", "size"),
            revenue=("total_amount", "sum"),
            refunds=("refund", "sum"),
            first_order_date=("order_date", "min"),
            last_order_date=("order_date", "max"),
        )
        .reset_index()
    )


def test_customer_month_fact(kpi_conn, src):
    actual = view(kpi_conn, FACT)
    assert_matches(
        actual,
        expected_customer_months(src),
        FACT_KEY,
        exact=["orders"],
        money=["revenue", "refunds"],
        other=["first_order_date", "last_order_date"],
        label=FACT,
    )
    assert (actual["last_order_date"] <= src.ref_date).all()
    # One partition row per month with an order day up to the reference date, with its row count.
    parts = query_df(
        kpi_conn,
        "SELECT partition_date AS month_start, row_count FROM analytics.fact_partitions"
        " WHERE fact_name = %s",
        (FACT,),
    ).set_index("month_start")["row_count"]
    days = src.orders["order_date"].dropna()
    months = set(days[days <= src.ref_date].dt.to_period("M").dt.to_timestamp())
    assert set(parts.index) == months
    counts = actual.groupby("month_start").size()
    assert (parts == counts.reindex(parts.index).fillna(0)).all()


def test_customer_summary_fact(kpi_conn, src):
    months = expected_customer_months(src)
    expected = (
        months.groupby("cust_id")
        .agg(
            orders=("orders", "sum"),
            revenue=("revenue", "sum"),
            refunds=("refunds", "sum"),
            first_order_date=("first_order_date", "min"),
            last_order_date=("last_order_date", "max"),
            first_month=("month_start", "min"),
        )
        .reset_index()
    )
    actual = view(kpi_conn, SUMMARY)
    assert_matches(
        actual,
        expected,
        ["cust_id"],
        exact=["orders"],
        money=["revenue", "refunds"],
        other=["first_order_date", "last_order_date", "first_month"],
        label=SUMMARY,
    )
    # One row per buyer (a customer with a sales order up to the reference date), no one else.
    assert len(actual) == src.sales_orders["cust_id"].dropna().nunique()

    # It has taken in exactly the order days of fact_orders up to the reference date.
    def days_of(fact: str) -> set[dt.date]:
        return {
            r[0]
            for r in kpi_conn.execute(
                "SELECT partition_date FROM analytics.fact_partitions WHERE fact_name = %s",
                (fact,),
            )
        }

    ref = src.ref_date.date()
    assert days_of(SUMMARY) == {d for d in days_of("fact_orders") if d <= ref} != set()


def test_customer_cohort_activity(kpi_conn, src):
    months = expected_customer_months(src)
    months["cohort_month"] = months["cust_id"].map(months.groupby("cust_id")["month_start"].min())
    expected = (
        months.groupby(["cohort_month", "month_start"])
        .agg(
            customers=("cust_id", "nunique"),
            orders=("orders", "sum"),
            revenue=("revenue", "sum"),
            refunds=("refunds", "sum"),
        )
        .reset_index()
        .rename(columns={"month_start": "activity_month"})
    )
    actual = view(kpi_conn, "fact_customer_cohort_months")
    assert_matches(
        actual,
        expected,
        ["cohort_month", "activity_month"],
        exact=["customers", "orders"],
        money=["revenue", "refunds"],
        label="fact_customer_cohort_months",
    )
    # Each cohort's first month holds all of it; no activity before the cohort or after the reference.
    first = actual[actual["activity_month"] == actual["cohort_month"]]
    assert first["customers"].sum() == src.sales_orders["cust_id"].dropna().nunique()
    assert (actual["activity_month"] >= actual["cohort_month"]).all()
    assert (actual["activity_month"] <= src.ref_date).all()


def test_fact_readers_equal_their_direct_definitions(kpi_conn):
    """The two facts and the four objects that read them give exactly the rows their former
    definitions (every order aggregated straight from sales.orders and sales.returns) give."""
    assert_equal_to_direct(kpi_conn)


def _build_fact_and_readers(conn: psycopg.Connection) -> dict[str, str]:
    from retailmart_dagster.assets.builder import (
        SqlBuilder,
        analytics_dependencies,
        topological_order,
    )
    from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects

    objects = load_sql_objects()
    builder = SqlBuilder(objects, post_hooks={"config": _config_hook})
    # The facts, their readers and everything those read (from the lineage of the SQL itself).
    deps = analytics_dependencies(objects)
    wanted: set[str] = set()
    todo = ["fact_orders", *FACTS, *FACT_READERS]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(deps.get(name, ()))
    actions = {}
    for obj in topological_order(objects):
        if obj.group == "setup" or obj.name in wanted:
            actions[obj.name] = builder.build(conn, obj, run_id="test-customer-months").action
    conn.execute("RESET ROLE")  # setup may switch to the pipeline role; the test edits the source
    conn.commit()
    return actions


def _fact_rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        f"SELECT month_start, cust_id, {', '.join(FACT_VALUES)} FROM analytics.{FACT}"
        " ORDER BY month_start, cust_id"
    ).fetchall()


def _reloaded_months(
    conn: psycopg.Connection, since: dt.datetime, fact: str = FACT
) -> set[dt.date]:
    rows = conn.execute(
        "SELECT partition_date FROM analytics.fact_partitions"
        " WHERE fact_name = %s AND loaded_at >= %s",
        (fact, since),
    ).fetchall()
    return {r[0] for r in rows}


def _reloaded_days(conn: psycopg.Connection, since: dt.datetime, fact: str) -> set[dt.date]:
    """The order days a fact that follows fact_orders day by day took in since then."""
    return _reloaded_months(conn, since, fact)


def _summary_rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        f"SELECT cust_id, {', '.join(SUMMARY_VALUES)} FROM analytics.{SUMMARY} ORDER BY cust_id"
    ).fetchall()


def _clock(conn: psycopg.Connection) -> dt.datetime:
    t = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    conn.commit()
    return t


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _delete_orders(conn: psycopg.Connection, ids: list[int]) -> None:
    for table in ("sales.returns", "sales.payments", "sales.shipments", "sales.order_items"):
        conn.execute(f"DELETE FROM {table} WHERE order_id = ANY(%s)", (ids,))
    conn.execute("DELETE FROM sales.orders WHERE order_id = ANY(%s)", (ids,))


def test_customer_facts_incremental_equals_full(new_database) -> None:  # noqa: ANN001
    """Only the months whose order days changed are reloaded (and only the customers with a row in
    them before or after are recomputed), and after an appended day, a status change to an excluded
    status, a deleted order (a customer's only order of its month), a customer's only order deleted,
    a new return, an order dated after the wall clock, a month that vanished and a config change,
    both facts and their readers equal a computation from scratch; re-created facts hold the same
    rows as the incrementally loaded ones."""
    from benchmarks.append_day import append_day
    from retailmart_dagster.generate import generate

    end = dt.date(2025, 10, 1)
    url = new_database("customer_months")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=11, end_date=end)
        actions = _build_fact_and_readers(conn)
        assert {actions[f] for f in FACTS} == {"create"}
        assert_equal_to_direct(conn)

        # Nothing changed: nothing reloaded (fact_orders reloads its last days, same fingerprints).
        t0 = _clock(conn)
        actions = _build_fact_and_readers(conn)
        assert {actions[f] for f in FACTS} == {"incremental_load"}
        assert _reloaded_months(conn, t0) == set()
        assert _reloaded_days(conn, t0, SUMMARY) == set()
        assert actions[COHORTS] == "incremental_load"
        assert _reloaded_months(conn, t0, COHORTS) == set()
        assert_equal_to_direct(conn)

        # A day appended, nothing else: the cohort table reloads that day's month only (of many).
        t_day = _clock(conn)
        first_day = append_day(conn, seed=12).day
        actions = _build_fact_and_readers(conn)
        assert actions[COHORTS] == "incremental_load"
        assert _reloaded_months(conn, t_day, COHORTS) == {_month(first_day)}
        assert (
            conn.execute(f"SELECT count(DISTINCT month_start) FROM analytics.{FACT}").fetchone()[0]
            > 1
        )
        assert_equal_to_direct(conn)

        # A new day; old orders: one Cancelled (excluded), one deleted that was its customer's only
        # order of the month (the customer has others), the only order of a one-order customer
        # deleted, one with a new return; and an order dated after the wall clock (after the
        # reference date: never counted).
        appended = append_day(conn, seed=11)
        sales = (
            "SELECT o.order_id, o.order_date, o.cust_id FROM sales.orders o"
            " WHERE o.order_date < %s AND o.order_status <> 'Cancelled' AND o.cust_id IS NOT NULL"
        )
        before = (end - dt.timedelta(days=120),)
        with conn.transaction():
            cancel_id, cancel_day, _ = conn.execute(
                sales + " ORDER BY o.order_id LIMIT 1", before
            ).fetchone()
            gone_id, gone_day, gone_cust = conn.execute(
                sales + " AND o.order_id > %s AND (SELECT count(*) FROM sales.orders x"
                " WHERE x.cust_id = o.cust_id AND x.order_status <> 'Cancelled') > 2"
                " AND NOT EXISTS (SELECT 1 FROM sales.orders x WHERE x.cust_id = o.cust_id"
                " AND x.order_id <> o.order_id"
                " AND date_trunc('month', x.order_date) = date_trunc('month', o.order_date))"
                " ORDER BY o.order_id LIMIT 1",
                (*before, cancel_id),
            ).fetchone()
            single_id, single_day, single_cust = conn.execute(
                sales + " AND o.cust_id <> %s AND (SELECT count(*) FROM sales.orders x"
                " WHERE x.cust_id = o.cust_id) = 1 ORDER BY o.order_id LIMIT 1",
                (*before, gone_cust),
            ).fetchone()
            return_id, return_day, _ = conn.execute(
                sales + " AND o.order_id NOT IN (%s, %s, %s) ORDER BY o.order_id DESC LIMIT 1",
                (*before, cancel_id, gone_id, single_id),
            ).fetchone()
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id = %s",
                (cancel_id,),
            )
            _delete_orders(conn, [gone_id, single_id])
            conn.execute(
                "INSERT INTO sales.returns (return_id, order_id, prod_id, return_date, reason,"
                " refund_amount) SELECT (SELECT max(return_id) + 1 FROM sales.returns), %s,"
                " oi.prod_id, %s, 'Damaged', 12.34 FROM sales.order_items oi"
                " WHERE oi.order_id = %s ORDER BY oi.order_item_id LIMIT 1",
                (return_id, end, return_id),
            )
            conn.execute(
                "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,"
                " total_amount) SELECT max(order_id) + 1, min(cust_id), min(store_id),"
                " '2099-01-15', 'Delivered', 5000.00 FROM sales.orders"
            )
        t1 = _clock(conn)
        actions = _build_fact_and_readers(conn)
        assert {actions[f] for f in FACTS} == {"incremental_load"}
        assert conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0] == appended.day
        changed_days = {appended.day, cancel_day, gone_day, single_day, return_day}
        assert _reloaded_months(conn, t1) == {_month(d) for d in changed_days}
        # The cohort table: every activity month from the earliest changed one on (a deleted
        # order can move its customer's cohort in every later month), none before.
        all_months = {
            r[0] for r in conn.execute(f"SELECT DISTINCT month_start FROM analytics.{FACT}")
        }
        earliest = min(_month(d) for d in changed_days)
        assert _reloaded_months(conn, t1, COHORTS) == {m for m in all_months if m >= earliest}
        # The summary follows fact_orders day by day: exactly the changed days.
        assert _reloaded_days(conn, t1, SUMMARY) == changed_days
        assert_equal_to_direct(conn)
        assert not conn.execute(
            f"SELECT 1 FROM analytics.{SUMMARY} WHERE cust_id = %s", (single_cust,)
        ).fetchone()

        # A month whose orders all vanished: its rows and its partition rows are deleted.
        first = conn.execute(f"SELECT min(month_start) FROM analytics.{FACT}").fetchone()[0]
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM sales.orders WHERE date_trunc('month', order_date) = %s",
                (first,),
            ).fetchall()
        ]
        with conn.transaction():
            _delete_orders(conn, ids)
        t2 = _clock(conn)
        _build_fact_and_readers(conn)
        assert _reloaded_months(conn, t2) == _reloaded_days(conn, t2, SUMMARY) == set()
        assert not conn.execute(
            f"SELECT 1 FROM analytics.{FACT} WHERE month_start = %s", (first,)
        ).fetchone()
        assert not conn.execute(
            "SELECT 1 FROM analytics.fact_partitions WHERE fact_name = ANY(%s)"
            " AND partition_date >= %s AND partition_date < %s::date + interval '1 month'",
            (list(FACTS), first, first),
        ).fetchone()
        assert_equal_to_direct(conn)

        # A config change (another excluded status) reloads every month; and back again.
        months = {r[0] for r in conn.execute(f"SELECT DISTINCT month_start FROM analytics.{FACT}")}
        days = {
            r[0]
            for r in conn.execute(
                "SELECT partition_date FROM analytics.fact_partitions"
                " WHERE fact_name = 'fact_orders' AND partition_date <= %s",
                (appended.day,),
            )
        }
        loads = [parse_sql_file(f).load_sql for f in (FACT_FILE, SUMMARY_FILE)]
        for value in ('["Cancelled", "Returned"]', '["Cancelled"]'):
            t3 = _clock(conn)
            with conn.transaction():
                conn.execute(
                    "UPDATE analytics.config SET value = %s::jsonb"
                    " WHERE key = 'sales.excluded_order_statuses'",
                    (value,),
                )
                for load in loads:
                    conn.execute(load)
                assert _reloaded_months(conn, t3) == months
                assert _reloaded_days(conn, t3, SUMMARY) == days
                assert_equal_to_direct(conn, FACTS)
        incremental = _fact_rows(conn), _summary_rows(conn)

        # Re-created from scratch (their definitions changed): the same rows.
        for recreated in ((SUMMARY,), FACTS):
            conn.execute(
                "UPDATE analytics.object_registry SET code_version = 'old'"
                " WHERE object_name = ANY(%s)",
                (list(recreated),),
            )
            for fact in recreated:
                conn.execute(f"DELETE FROM analytics.{fact} WHERE cust_id % 2 = 0")
            conn.commit()
            actions = _build_fact_and_readers(conn)
            assert {actions[f] for f in recreated} == {"recreate"}
            assert (_fact_rows(conn), _summary_rows(conn)) == incremental
            assert_equal_to_direct(conn)


def test_customer_months_statistics_follow_big_reloads_only(new_database) -> None:  # noqa: ANN001
    """fact_customer_months, as every fact, is analyzed by the builder when it is new or when a load
    changed more rows than autovacuum would wait for (a config change reloads every month), and not
    for a daily refresh's one month. reltuples, the planner's row count, is exact after an ANALYZE
    of a table this small and stays put without."""
    from benchmarks.append_day import append_day
    from retailmart_dagster.generate import generate

    def reltuples_and_rows(conn: psycopg.Connection) -> tuple[float, int]:
        row = conn.execute(
            f"SELECT (SELECT reltuples FROM pg_class WHERE oid = 'analytics.{FACT}'::regclass),"
            f" (SELECT count(*) FROM analytics.{FACT})"
        ).fetchone()
        return float(row[0]), int(row[1])

    url = new_database("customer_months_stats")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=5, end_date=dt.date(2025, 10, 1))
        assert _build_fact_and_readers(conn)[FACT] == "create"
        estimate, rows = reltuples_and_rows(conn)
        assert estimate == rows > 0  # the first load analyzed
        # Only the builder may analyze it from here on: an autovacuum worker that analyzes or
        # vacuums the table meanwhile (the first load's inserts can reach the statistics system
        # after the builder's VACUUM ANALYZE and count as changes) also moves reltuples.
        conn.execute(f"ALTER TABLE analytics.{FACT} SET (autovacuum_enabled = false)")
        conn.commit()

        appended = append_day(conn, seed=5)
        conn.commit()
        assert appended.orders > 0
        assert _build_fact_and_readers(conn)[FACT] == "incremental_load"
        share = float(conn.execute("SHOW autovacuum_analyze_scale_factor").fetchone()[0])
        month_rows = conn.execute(
            f"SELECT count(*) FROM analytics.{FACT} WHERE month_start = %s",
            (_month(appended.day),),
        ).fetchone()[0]
        assert month_rows < share * estimate  # a small reload ...
        after_day = reltuples_and_rows(conn)
        assert after_day[0] == estimate != after_day[1]  # ... left the statistics as they were

        with conn.transaction():  # every month reloads: analyzed again
            conn.execute(
                "UPDATE analytics.config SET value = %s::jsonb"
                " WHERE key = 'sales.excluded_order_statuses'",
                ('["Cancelled", "Returned"]',),
            )
            # The fact alone (a full build would re-apply the configuration file's value).
            from retailmart_dagster.assets.builder import SqlBuilder

            fact = parse_sql_file(FACT_FILE)
            assert SqlBuilder([fact]).build(conn, fact).action == "incremental_load"
            estimate, rows = reltuples_and_rows(conn)
            assert estimate == rows != after_day[1]
