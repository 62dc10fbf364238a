"""Stores KPI objects checked against an independent pandas computation from the source tables.

Every Stores view / materialized view in ``analytics`` is recomputed here from the raw tables
(``stores.stores``, ``stores.employees``, ``stores.departments``, ``stores.expenses``,
``finance.expenses``, ``sales.orders``, ``sales.returns``, ``products.inventory``,
``products.products``) with pandas only and compared row by row: counts exactly, money and
percentages within 0.01. Traps are tested explicitly (expenses or payroll counted twice, monthly
salary taken as the period's payroll, averages of store margins, customers counted once per store
instead of once per region, orphan inventory rows, ranks without tie-breakers, top-N limits), and so
are the JSON exports (shape, bounds from ``analytics.config``, agreement with the views).

Needs the ``kpi_conn`` fixture from ``tests/conftest.py``.
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

from retailmart_dagster.assets.sql_parse import parse_sql_file
from tests.kpi_support import (
    MONEY_TOL,
    SQL_DIR,
    assert_export_envelope,
    assert_matches,
    check_row_values,
    check_sql_file,
    check_uniform_rows,
    export,
    query_df,
    rank_by,
    read_config,
    read_once,
    safe_div,
    same_value,
    snake,
    view,
)

pytestmark = pytest.mark.integration

DAYS_PER_MONTH = 365.25 / 12
HEALTH_ORDER = ["Critical", "Needs Attention", "Healthy", "No Inventory"]
TIERS = ["Top Performer", "Above Average", "Below Average", "Underperformer"]

STORE_OBJECTS = [
    "mv_store_performance",
    "mv_regional_performance",
    "vw_store_inventory_status",
    "vw_employee_distribution",
]
EXPORTS = [
    "fn_export_stores_rankings",
    "fn_export_stores_regional",
    "fn_export_stores_inventory_health",
    "fn_export_stores_employees",
]


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """Raw source tables and the derived basics, computed with pandas only."""

    stores: pd.DataFrame
    employees: pd.DataFrame
    departments: pd.DataFrame
    store_expenses: pd.DataFrame
    finance_expenses: pd.DataFrame
    orders: pd.DataFrame
    returns: pd.DataFrame
    inventory: pd.DataFrame
    products: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    first_date: pd.Timestamp
    sales_orders: pd.DataFrame

    def cfg(self, key: str) -> Any:
        return self.config[key]

    @property
    def months_covered(self) -> float:
        return ((self.ref_date - self.first_date).days + 1) / DAYS_PER_MONTH


_SOURCE_CACHE: dict[str, Source] = {}


def read_source(conn: psycopg.Connection) -> Source:
    stores = query_df(conn, "SELECT store_id, store_name, city, state, region FROM stores.stores")
    employees = query_df(
        conn, "SELECT emp_id, role, salary, dept_id, store_id FROM stores.employees"
    )
    departments = query_df(conn, "SELECT dept_id, dept_name FROM stores.departments")
    store_expenses = query_df(
        conn, "SELECT expense_id, store_id, expense_date, expense_type, amount FROM stores.expenses"
    )
    finance_expenses = query_df(
        conn, "SELECT expense_id, store_id, expense_date, category, amount FROM finance.expenses"
    )
    orders = query_df(
        conn,
        "SELECT order_id, cust_id, store_id, order_date, order_status, total_amount "
        "FROM sales.orders",
    )
    returns = query_df(conn, "SELECT return_id, order_id, refund_amount FROM sales.returns")
    inventory = query_df(conn, "SELECT store_id, prod_id, stock_qty FROM products.inventory")
    products = query_df(conn, "SELECT prod_id, price FROM products.products")
    config = read_config(conn)

    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    first_date = dates[dates <= ref_date].min()
    excluded = set(config["sales.excluded_order_statuses"])
    in_range = orders["order_date"].between(first_date, ref_date)
    sales_orders = orders[in_range & ~orders["order_status"].isin(excluded)].copy()
    return Source(
        stores,
        employees,
        departments,
        store_expenses,
        finance_expenses,
        orders,
        returns,
        inventory,
        products,
        config,
        ref_date,
        first_date,
        sales_orders,
    )


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    return read_once(_SOURCE_CACHE, kpi_conn, read_source)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def in_period(s: Source, frame: pd.DataFrame, col: str) -> pd.DataFrame:
    return frame[frame[col].between(s.first_date, s.ref_date)]


def expected_store_performance(s: Source, cfg: dict[str, Any] | None = None) -> pd.DataFrame:
    cfg = cfg or s.config
    so = s.sales_orders
    o = so.groupby("store_id").agg(
        orders=("order_id", "size"),
        customers=("cust_id", "nunique"),
        revenue=("total_amount", "sum"),
    )
    refunds = (
        s.returns.merge(so[["order_id", "store_id"]], on="order_id")
        .groupby("store_id")["refund_amount"]
        .sum()
        .rename("refunds")
    )
    se = (
        in_period(s, s.store_expenses, "expense_date")
        .groupby("store_id")["amount"]
        .sum()
        .rename("store_expenses")
    )
    fe = in_period(s, s.finance_expenses, "expense_date").copy()
    purchase = fe["category"].isin(cfg["stores.purchase_expense_categories"])
    payroll_cat = fe["category"].isin(cfg["stores.payroll_expense_categories"])
    purchases = fe[purchase].groupby("store_id")["amount"].sum().rename("purchases")
    fin_payroll = (
        fe[payroll_cat].groupby("store_id")["amount"].sum().rename("finance_payroll_excluded")
    )
    fin_other = (
        fe[~purchase & ~payroll_cat]
        .groupby("store_id")["amount"]
        .sum()
        .rename("finance_operating_expenses")
    )
    staff = s.employees.groupby("store_id").agg(
        employees=("emp_id", "size"), monthly_payroll=("salary", "sum")
    )
    d = (
        s.stores.set_index("store_id")
        .join(o)
        .join(refunds)
        .join(se)
        .join(purchases)
        .join(fin_payroll)
        .join(fin_other)
        .join(staff)
    )
    for c in [
        "orders",
        "customers",
        "revenue",
        "refunds",
        "store_expenses",
        "purchases",
        "finance_payroll_excluded",
        "finance_operating_expenses",
        "employees",
        "monthly_payroll",
    ]:
        d[c] = d[c].fillna(0)
    d = d.reset_index()
    d["region"] = d["region"].fillna("Unknown")
    any_purchases = bool(purchase.any())
    d["cost_of_goods"] = d["purchases"] if any_purchases else np.nan
    d["operating_expenses"] = d["store_expenses"] + d["finance_operating_expenses"]
    d["months_covered"] = s.months_covered
    d["payroll"] = d["monthly_payroll"] * s.months_covered
    d["gross_profit"] = d["revenue"] - d["refunds"] - d["cost_of_goods"]  # NULL without COGS
    d["net_profit"] = (
        d["revenue"]
        - d["refunds"]
        - d["cost_of_goods"].fillna(0)
        - d["operating_expenses"]
        - d["payroll"]
    )
    d["aov"] = safe_div(d["revenue"], d["orders"])
    d["net_margin_pct"] = safe_div(d["net_profit"] * 100, d["revenue"])
    d["gross_margin_pct"] = safe_div(d["gross_profit"] * 100, d["revenue"])
    d["revenue_per_employee"] = safe_div(d["revenue"], d["employees"])
    d["rev_key"] = d["revenue"].round(4)
    d["profit_key"] = d["net_profit"].round(4)
    d["margin_key"] = d["net_margin_pct"].round(6)
    d["revenue_rank"] = rank_by(d, ["rev_key", "store_id"], [False, True])
    d["profit_rank"] = rank_by(d, ["profit_key", "store_id"], [False, True])
    d["margin_rank"] = rank_by(d, ["margin_key", "store_id"], [False, True])
    pos = d["profit_rank"] / len(d)
    d["performance_tier"] = np.select(
        [
            pos <= cfg["stores.tier_top_share"],
            pos <= cfg["stores.tier_above_average_share"],
            pos <= cfg["stores.tier_below_average_share"],
        ],
        TIERS[:3],
        default=TIERS[3],
    )
    return d


def expected_store_inventory(s: Source, cfg: dict[str, Any] | None = None) -> pd.DataFrame:
    cfg = cfg or s.config
    low_units = cfg["stores.low_stock_units"]
    inv = s.inventory.merge(s.products, on="prod_id")
    inv["units"] = inv["stock_qty"].clip(lower=0)
    inv["value"] = inv["units"] * inv["price"]
    inv["oos"] = inv["stock_qty"] <= 0
    inv["low"] = (inv["stock_qty"] > 0) & (inv["stock_qty"] <= low_units)
    g = inv.groupby("store_id").agg(
        products_listed=("prod_id", "size"),
        stock_units=("units", "sum"),
        stock_value=("value", "sum"),
        out_of_stock_count=("oos", "sum"),
        low_stock_count=("low", "sum"),
    )
    d = s.stores.set_index("store_id").join(g)  # only known stores: orphans excluded
    for c in g.columns:
        d[c] = d[c].fillna(0)
    d = d.reset_index()
    d["out_of_stock_pct"] = safe_div(d["out_of_stock_count"] * 100, d["products_listed"])
    d["low_stock_pct"] = safe_div(d["low_stock_count"] * 100, d["products_listed"])
    d["at_risk_pct"] = safe_div(
        (d["out_of_stock_count"] + d["low_stock_count"]) * 100, d["products_listed"]
    )
    d["inventory_health"] = np.select(
        [
            d["products_listed"] == 0,
            d["at_risk_pct"] >= cfg["stores.health_critical_pct"],
            d["at_risk_pct"] >= cfg["stores.health_attention_pct"],
        ],
        ["No Inventory", "Critical", "Needs Attention"],
        default="Healthy",
    )
    return d


def expected_employee_distribution(s: Source) -> pd.DataFrame:
    e = s.employees.merge(s.departments, on="dept_id", how="left")
    e["dept_name"] = e["dept_name"].fillna("Unknown")
    e["role"] = e["role"].fillna("Unknown")
    g = (
        e.groupby(["store_id", "dept_name", "role"])
        .agg(
            headcount=("emp_id", "size"),
            monthly_payroll=("salary", "sum"),
            min_monthly_salary=("salary", "min"),
            max_monthly_salary=("salary", "max"),
        )
        .reset_index()
    )
    g["avg_monthly_salary"] = g["monthly_payroll"] / g["headcount"]
    store_hc = g.groupby("store_id")["headcount"].transform("sum")
    store_pay = g.groupby("store_id")["monthly_payroll"].transform("sum")
    g["store_headcount_share_pct"] = g["headcount"] / store_hc * 100
    g["store_payroll_share_pct"] = g["monthly_payroll"] / store_pay * 100
    return g


# --------------------------------------------------------------------------------------------------
# The views against pandas
# --------------------------------------------------------------------------------------------------

STORE_EXACT = ["orders", "customers", "employees", "revenue_rank", "profit_rank", "margin_rank"]
STORE_MONEY = [
    "revenue",
    "aov",
    "refunds",
    "cost_of_goods",
    "store_expenses",
    "finance_operating_expenses",
    "operating_expenses",
    "finance_payroll_excluded",
    "monthly_payroll",
    "months_covered",
    "payroll",
    "gross_profit",
    "gross_margin_pct",
    "net_profit",
    "net_margin_pct",
    "revenue_per_employee",
]


def test_store_performance(kpi_conn, src):
    actual = view(kpi_conn, "mv_store_performance")
    expected = expected_store_performance(src)
    assert len(actual) == len(src.stores)
    assert_matches(
        actual,
        expected,
        ["store_id"],
        exact=STORE_EXACT,
        money=STORE_MONEY,
        other=["store_name", "region", "performance_tier"],
        label="mv_store_performance",
    )
    assert (actual["period_start"] == src.first_date).all()
    assert (actual["period_end"] == src.ref_date).all()
    assert actual["cost_of_goods_basis"].str.startswith("estimate").all()
    assert set(actual["performance_tier"]) == set(TIERS)


def test_store_tiers_follow_config(kpi_conn, src):
    """Other tier shares in analytics.config give other tiers after a refresh (rolled back)."""
    changes = {
        "stores.tier_top_share": 0.1,
        "stores.tier_above_average_share": 0.3,
        "stores.tier_below_average_share": 0.9,
    }
    cfg = {**src.config, **changes}
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for key, value in changes.items():
                cur.execute(
                    "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s",
                    (json.dumps(value), key),
                )
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_store_performance")
        actual = view(kpi_conn, "mv_store_performance")
    expected = expected_store_performance(src, cfg)
    assert_matches(
        actual, expected, ["store_id"], other=["performance_tier"], label="tiers (changed config)"
    )
    n = len(actual)
    assert (actual["performance_tier"] == "Top Performer").sum() == int(np.floor(0.1 * n + 1e-9))


def test_regional_performance(kpi_conn, src):
    actual = view(kpi_conn, "mv_regional_performance")
    st = expected_store_performance(src)
    g = st.groupby("region").agg(
        stores=("store_id", "size"),
        employees=("employees", "sum"),
        orders=("orders", "sum"),
        revenue=("revenue", "sum"),
        refunds=("refunds", "sum"),
        cost_of_goods=("cost_of_goods", lambda x: x.sum(min_count=1)),
        operating_expenses=("operating_expenses", "sum"),
        monthly_payroll=("monthly_payroll", "sum"),
        payroll=("payroll", "sum"),
        gross_profit=("gross_profit", lambda x: x.sum(min_count=1)),
        net_profit=("net_profit", "sum"),
        profitable_stores=("net_profit", lambda x: int((x > 0).sum())),
    )
    so = src.sales_orders.merge(src.stores[["store_id", "region"]], on="store_id")
    so["region"] = so["region"].fillna("Unknown")
    g["customers"] = so.groupby("region")["cust_id"].nunique()
    g = g.reset_index()
    g["revenue_share_pct"] = g["revenue"] / g["revenue"].sum() * 100
    g["aov"] = safe_div(g["revenue"], g["orders"])
    g["net_margin_pct"] = safe_div(g["net_profit"] * 100, g["revenue"])
    g["gross_margin_pct"] = safe_div(g["gross_profit"] * 100, g["revenue"])
    g["revenue_per_store"] = g["revenue"] / g["stores"]
    g["revenue_per_employee"] = safe_div(g["revenue"], g["employees"])
    g["rev_key"] = g["revenue"].round(4)
    g["revenue_rank"] = rank_by(g, ["rev_key", "region"], [False, True])
    assert_matches(
        actual,
        g,
        ["region"],
        exact=["stores", "employees", "orders", "customers", "profitable_stores", "revenue_rank"],
        money=[
            "revenue",
            "revenue_share_pct",
            "aov",
            "refunds",
            "cost_of_goods",
            "operating_expenses",
            "monthly_payroll",
            "payroll",
            "net_profit",
            "net_margin_pct",
            "gross_margin_pct",
            "revenue_per_store",
            "revenue_per_employee",
        ],
        label="mv_regional_performance",
    )


def test_store_inventory_status(kpi_conn, src):
    actual = view(kpi_conn, "vw_store_inventory_status")
    expected = expected_store_inventory(src)
    assert len(actual) == len(src.stores)
    assert_matches(
        actual,
        expected,
        ["store_id"],
        exact=["products_listed", "stock_units", "out_of_stock_count", "low_stock_count"],
        money=["stock_value", "out_of_stock_pct", "low_stock_pct", "at_risk_pct"],
        other=["inventory_health", "region"],
        label="vw_store_inventory_status",
    )
    assert (actual["low_stock_units"] == src.cfg("stores.low_stock_units")).all()
    assert actual["inventory_health"].nunique() >= 2, "the default levels should separate stores"


def test_store_inventory_follows_config(kpi_conn, src):
    changes = {
        "stores.low_stock_units": 40,
        "stores.health_attention_pct": 15.0,
        "stores.health_critical_pct": 30.0,
    }
    cfg = {**src.config, **changes}
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for key, value in changes.items():
                cur.execute(
                    "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s",
                    (json.dumps(value), key),
                )
        actual = view(kpi_conn, "vw_store_inventory_status")
    expected = expected_store_inventory(src, cfg)
    assert_matches(
        actual,
        expected,
        ["store_id"],
        exact=["low_stock_count"],
        money=["at_risk_pct"],
        other=["inventory_health"],
        label="vw_store_inventory_status (changed config)",
    )
    assert (
        actual["low_stock_count"].sum()
        > view(kpi_conn, "vw_store_inventory_status")["low_stock_count"].sum()
    )


def test_employee_distribution(kpi_conn, src):
    actual = view(kpi_conn, "vw_employee_distribution")
    expected = expected_employee_distribution(src)
    assert_matches(
        actual,
        expected,
        ["store_id", "dept_name", "role"],
        exact=["headcount"],
        money=[
            "monthly_payroll",
            "avg_monthly_salary",
            "min_monthly_salary",
            "max_monthly_salary",
            "store_headcount_share_pct",
            "store_payroll_share_pct",
        ],
        label="vw_employee_distribution",
    )
    assert actual["headcount"].sum() == len(src.employees)


# --------------------------------------------------------------------------------------------------
# Traps
# --------------------------------------------------------------------------------------------------


def test_costs_counted_once(kpi_conn, src):
    """Every expense row of the period is in exactly one bucket; finance 'Salaries' rows are not
    added on top of the employees' payroll; finance.revenue_summary (a roll-up of both expense
    tables) is not added either."""
    sp = view(kpi_conn, "mv_store_performance")
    fe = in_period(src, src.finance_expenses, "expense_date")
    se = in_period(src, src.store_expenses, "expense_date")
    buckets = (
        sp["cost_of_goods"].sum()
        + sp["finance_operating_expenses"].sum()
        + sp["finance_payroll_excluded"].sum()
    )
    assert abs(buckets - fe["amount"].sum()) <= MONEY_TOL
    assert abs(sp["store_expenses"].sum() - se["amount"].sum()) <= MONEY_TOL
    payroll_categories = src.cfg("stores.payroll_expense_categories")
    booked_salaries = fe[fe["category"].isin(payroll_categories)]["amount"].sum()
    assert booked_salaries > 0, "the sample data books salaries in finance.expenses"
    costs = sp["cost_of_goods"] + sp["operating_expenses"] + sp["payroll"]
    net = sp["revenue"] - sp["refunds"] - costs
    assert ((net - sp["net_profit"]).abs() <= MONEY_TOL).all()
    # The two expense tables do not share categories/types (so adding both is not a double count).
    assert not set(fe["category"].dropna()) & set(se["expense_type"].dropna())


def test_cost_of_goods_not_available_is_null(kpi_conn, src):
    """Without purchases booked in finance.expenses there is no cost of goods at all: NULL with a
    reason (not 0), no gross profit; the rows of the renamed category become operating expenses,
    so net profit is unchanged (injected, then rolled back)."""
    before = view(kpi_conn, "mv_store_performance").set_index("store_id").sort_index()
    categories = src.cfg("stores.purchase_expense_categories")
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            cur.execute(
                "UPDATE finance.expenses SET category = 'Other purchases' WHERE category = ANY(%s)",
                (categories,),
            )
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_store_performance")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_regional_performance")
        after = view(kpi_conn, "mv_store_performance").set_index("store_id").sort_index()
        regions = view(kpi_conn, "mv_regional_performance")
        out = export(kpi_conn, "fn_export_stores_rankings")
    assert after["cost_of_goods"].isna().all()
    assert after["gross_profit"].isna().all() and after["gross_margin_pct"].isna().all()
    assert after["cost_of_goods_basis"].str.startswith("not available").all()
    assert ((after["net_profit"] - before["net_profit"]).abs() <= MONEY_TOL).all()
    moved = after["operating_expenses"] - before["operating_expenses"]
    assert ((moved - before["cost_of_goods"]).abs() <= MONEY_TOL).all()
    assert regions["cost_of_goods"].isna().all() and regions["gross_margin_pct"].isna().all()
    assert all(r["costOfGoods"] is None for r in out["rows"])
    assert out["costOfGoodsBasis"].startswith("not available")


def test_payroll_is_monthly_salary_times_months(kpi_conn, src):
    sp = view(kpi_conn, "mv_store_performance").set_index("store_id")
    monthly = src.employees.groupby("store_id")["salary"].sum()
    months = src.months_covered
    assert months > 12, "the sample data covers more than a year"
    for store_id, pay in monthly.items():
        assert abs(sp.loc[store_id, "payroll"] - pay * months) <= MONEY_TOL
        assert sp.loc[store_id, "payroll"] > pay * 12  # not just one month's salary


def test_regional_margin_is_revenue_weighted(kpi_conn, src):
    regions = view(kpi_conn, "mv_regional_performance").set_index("region")
    stores = view(kpi_conn, "mv_store_performance")
    differs = 0
    for region, g in stores.groupby("region"):
        weighted = g["net_profit"].sum() / g["revenue"].sum() * 100
        mean_of_margins = g["net_margin_pct"].mean()
        assert abs(regions.loc[region, "net_margin_pct"] - weighted) <= MONEY_TOL
        if abs(weighted - mean_of_margins) > 0.5:
            differs += 1
            assert abs(regions.loc[region, "net_margin_pct"] - mean_of_margins) > 0.5
    assert differs > 0, "the trap is real: weighted and unweighted margins differ somewhere"


def test_regional_customers_counted_once(kpi_conn, src):
    regions = view(kpi_conn, "mv_regional_performance").set_index("region")
    stores = view(kpi_conn, "mv_store_performance")
    store_sum = stores.groupby("region")["customers"].sum()
    assert (regions["customers"] <= store_sum.reindex(regions.index)).all()
    assert (regions["customers"] < store_sum.reindex(regions.index)).any(), (
        "some customers buy in two stores of a region: summing store customers would overcount"
    )
    total = src.sales_orders["cust_id"].nunique()
    assert regions["customers"].sum() >= total


def test_ranks_are_unique(kpi_conn, src):
    sp = view(kpi_conn, "mv_store_performance")
    for col in ("revenue_rank", "profit_rank", "margin_rank"):
        assert sorted(sp[col]) == list(range(1, len(sp) + 1)), col
    reg = view(kpi_conn, "mv_regional_performance")
    assert sorted(reg["revenue_rank"]) == list(range(1, len(reg) + 1))
    # Tiers follow the profit ranking: never a better tier for a lower-ranked store.
    tier_index = sp["performance_tier"].map({t: i for i, t in enumerate(TIERS)})
    ordered = tier_index[sp["profit_rank"].sort_values().index]
    assert ordered.is_monotonic_increasing


def test_orphan_inventory_rows_are_excluded(kpi_conn, src):
    """An inventory row of an unknown store (no FK) belongs to no store, and is counted in the
    export; a negative stock counts as 0 units and as out of stock (injected, rolled back)."""
    before = view(kpi_conn, "vw_store_inventory_status").set_index("store_id")
    unknown_store = int(src.stores["store_id"].max()) + 1000
    row = src.inventory[src.inventory["store_id"].isin(src.stores["store_id"])].iloc[0]
    store_id, prod_id, qty = int(row["store_id"]), int(row["prod_id"]), int(row["stock_qty"])
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            cur.execute(
                "INSERT INTO products.inventory (store_id, prod_id, stock_qty, last_updated)"
                " SELECT %s, prod_id, 100, %s FROM products.products ORDER BY prod_id LIMIT 3",
                (unknown_store, src.ref_date.date()),
            )
            cur.execute(
                "UPDATE products.inventory SET stock_qty = -4 WHERE store_id = %s AND prod_id = %s",
                (store_id, prod_id),
            )
        after = view(kpi_conn, "vw_store_inventory_status").set_index("store_id")
        out = export(kpi_conn, "fn_export_stores_inventory_health")
    assert unknown_store not in after.index
    assert len(after) == len(before)
    assert after.loc[store_id, "stock_units"] == before.loc[store_id, "stock_units"] - max(qty, 0)
    expected_oos = before.loc[store_id, "out_of_stock_count"] + (1 if qty > 0 else 0)
    assert after.loc[store_id, "out_of_stock_count"] == expected_oos
    assert out["unknownStoreRowsExcluded"] == 3
    assert sum(r["productsListed"] for r in out["rows"]) == after["products_listed"].sum()


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", EXPORTS)
def test_export_shape(kpi_conn, src, fn):
    out = export(kpi_conn, fn)
    assert_export_envelope(fn, out, src.ref_date)
    check_uniform_rows(fn, out["rows"])
    for extra in out.get("storesNeedingAttention", []):
        check_row_values(fn, extra)
    assert export(kpi_conn, fn) == out  # deterministic


def _rows_match(fn: str, rows: list[dict], v: pd.DataFrame, key: str, skip: set[str]) -> None:
    for row in rows:
        vrow = v.loc[row[key]]
        for field, value in row.items():
            if field in skip or field == key:
                continue
            col = snake(field)
            assert col in vrow.index, f"{fn}: field {field} has no column {col}"
            assert same_value(value, vrow[col], nat_is_null=False, timestamp_as_date=False), (
                f"{fn}: {field}={value!r}, view {col}={vrow[col]!r}"
            )


def test_export_rankings(kpi_conn, src):
    out = export(kpi_conn, "fn_export_stores_rankings")
    n = src.cfg("stores.rankings_top_n")
    sp = view(kpi_conn, "mv_store_performance").set_index("store_id")
    total = len(sp)
    ranks = [r["profitRank"] for r in out["rows"]]
    expected = sorted({*range(1, min(n, total) + 1), *range(max(total - n, 0) + 1, total + 1)})
    assert ranks == expected
    assert len({r["storeId"] for r in out["rows"]}) == len(out["rows"])  # each store once
    for r in out["rows"]:
        assert r["rankGroup"] == ("top" if r["profitRank"] <= n else "bottom")
    assert out["storesRanked"] == total
    _rows_match("rankings", out["rows"], sp, "storeId", {"rankGroup"})


def test_export_regional(kpi_conn, src):
    out = export(kpi_conn, "fn_export_stores_regional")
    v = view(kpi_conn, "mv_regional_performance").set_index("region")
    assert len(out["rows"]) == min(len(v), src.cfg("stores.top_n_export"))
    assert [r["rank"] for r in out["rows"]] == list(range(1, len(out["rows"]) + 1))
    rows = [
        {("revenueRank" if k == "rank" else k): val for k, val in r.items()} for r in out["rows"]
    ]
    _rows_match("regional", rows, v, "region", set())


def test_export_inventory_health(kpi_conn, src):
    out = export(kpi_conn, "fn_export_stores_inventory_health")
    v = view(kpi_conn, "vw_store_inventory_status")
    assert [r["inventoryHealth"] for r in out["rows"]] == HEALTH_ORDER
    by_label = v.groupby("inventory_health")
    for r in out["rows"]:
        label = r["inventoryHealth"]
        g = by_label.get_group(label) if label in by_label.groups else v.iloc[0:0]
        assert r["stores"] == len(g)
        assert r["productsListed"] == g["products_listed"].sum()
        assert r["stockUnits"] == g["stock_units"].sum()
        assert abs(r["stockValue"] - g["stock_value"].sum()) <= MONEY_TOL
        assert r["outOfStockCount"] == g["out_of_stock_count"].sum()
        assert r["lowStockCount"] == g["low_stock_count"].sum()
    assert sum(r["stores"] for r in out["rows"]) == len(src.stores)
    attention = out["storesNeedingAttention"]
    flagged = v[v["inventory_health"].isin(["Critical", "Needs Attention"])]
    assert len(attention) == min(len(flagged), src.cfg("stores.top_n_export"))
    risks = [a["atRiskPct"] for a in attention]
    assert risks == sorted(risks, reverse=True)
    assert out["unknownStoreRowsExcluded"] == int(
        (~src.inventory["store_id"].isin(src.stores["store_id"])).sum()
    )
    assert out["lowStockUnits"] == src.cfg("stores.low_stock_units")


def test_export_employees(kpi_conn, src):
    out = export(kpi_conn, "fn_export_stores_employees")
    e = src.employees.copy()
    e["role"] = e["role"].fillna("Unknown")
    g = e.groupby("role").agg(
        headcount=("emp_id", "size"),
        monthly_payroll=("salary", "sum"),
        stores=("store_id", "nunique"),
    )
    assert out["totalHeadcount"] == len(e)
    assert abs(out["totalMonthlyPayroll"] - e["salary"].sum()) <= MONEY_TOL
    assert len(out["rows"]) == min(len(g), src.cfg("stores.top_n_export"))
    for r in out["rows"]:
        assert r["headcount"] == g.loc[r["role"], "headcount"]
        assert r["stores"] == g.loc[r["role"], "stores"]
        assert abs(r["monthlyPayroll"] - g.loc[r["role"], "monthly_payroll"]) <= MONEY_TOL
        assert abs(r["avgMonthlySalary"] - r["monthlyPayroll"] / r["headcount"]) <= MONEY_TOL
        assert abs(r["headcountSharePct"] - r["headcount"] / len(e) * 100) <= MONEY_TOL
    heads = [(-r["headcount"], r["role"]) for r in out["rows"]]
    assert heads == sorted(heads)


def test_export_bounds_follow_config(kpi_conn, src):
    changes = {"stores.rankings_top_n": 2, "stores.top_n_export": 3}
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for key, value in changes.items():
                cur.execute(
                    "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s",
                    (json.dumps(value), key),
                )
        assert len(export(kpi_conn, "fn_export_stores_rankings")["rows"]) == 4
        assert len(export(kpi_conn, "fn_export_stores_regional")["rows"]) == 3
        assert len(export(kpi_conn, "fn_export_stores_employees")["rows"]) == 3
        health = export(kpi_conn, "fn_export_stores_inventory_health")
        assert len(health["storesNeedingAttention"]) <= 3


# --------------------------------------------------------------------------------------------------
# The SQL files themselves (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = [SQL_DIR / "stores" / f"{o}.sql" for o in STORE_OBJECTS] + [
    SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS
]


def test_every_stores_file_is_tested():
    on_disk = {p.stem for p in (SQL_DIR / "stores").glob("*.sql")}
    on_disk |= {p.stem for p in (SQL_DIR / "exports").glob("fn_export_stores_*.sql")}
    assert on_disk == set(STORE_OBJECTS) | set(EXPORTS)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    text, header = check_sql_file(path)
    stem = path.stem
    if not stem.startswith("fn_export_"):
        for field in ("Question", "Owner", "Refresh"):
            assert any(line.startswith(f"-- {field}: ") for line in header), f"no {field}"
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    assert "current_date" not in body.lower() and "now()" not in body.lower()


# ----------------------------------------------------------------------------------------------------
# The store-customer fact behind mv_store_performance and mv_regional_performance.

STORE_FACT = "fact_store_customers"
STORE_FACT_OBJECTS = {
    "fact_orders",
    "fact_customer_months",
    STORE_FACT,
    "mv_store_performance",
    "mv_regional_performance",
}

# The fact straight from the source: sales orders up to the reference date per store and customer.
_DIRECT_STORE_CUSTOMERS = """
WITH p AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date,
           analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded
),
refund AS (SELECT order_id, sum(refund_amount) AS refund FROM sales.returns GROUP BY order_id)
SELECT o.store_id, o.cust_id, count(*)::int, sum(o.total_amount), sum(coalesce(r.refund, 0)),
       min(o.order_date), max(o.order_date)
  FROM sales.orders AS o CROSS JOIN p LEFT JOIN refund AS r ON r.order_id = o.order_id
 WHERE o.order_date <= p.ref_date AND NOT coalesce(o.order_status = ANY (p.excluded), false)
 GROUP BY o.store_id, o.cust_id
"""

# The two readers' store and region customer counts as they were computed before the fact: a
# count(DISTINCT) over every sales order of the data period.
_DIRECT_STORE_COUNTS = """
WITH p AS MATERIALIZED (
    SELECT analytics.fn_reference_date() AS ref_date,
           analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded
),
so AS (
    SELECT o.* FROM sales.orders AS o CROSS JOIN p
     WHERE o.order_date <= p.ref_date AND NOT coalesce(o.order_status = ANY (p.excluded), false)
)
SELECT 'store', s.store_id::text, count(so.order_id), count(DISTINCT so.cust_id)
  FROM stores.stores AS s LEFT JOIN so ON so.store_id = s.store_id GROUP BY s.store_id
UNION ALL
SELECT 'region', coalesce(s.region, 'Unknown'), count(so.order_id), count(DISTINCT so.cust_id)
  FROM stores.stores AS s LEFT JOIN so ON so.store_id = s.store_id GROUP BY 2
"""


def _store_fact_rows(conn: psycopg.Connection) -> list[tuple]:
    return sorted(
        conn.execute(f"SELECT * FROM analytics.{STORE_FACT}").fetchall(),
        key=lambda r: (r[0] is None, r[0] or 0, r[1] is None, r[1] or 0),
    )


def _assert_store_fact_equals_direct(conn: psycopg.Connection) -> None:
    direct = sorted(
        conn.execute(_DIRECT_STORE_CUSTOMERS).fetchall(),
        key=lambda r: (r[0] is None, r[0] or 0, r[1] is None, r[1] or 0),
    )
    assert _store_fact_rows(conn) == direct
    readers = conn.execute(
        "SELECT 'store', store_id::text, orders, customers FROM analytics.mv_store_performance"
        " UNION ALL SELECT 'region', region, orders, customers"
        " FROM analytics.mv_regional_performance"
    ).fetchall()
    assert sorted(readers) == sorted(conn.execute(_DIRECT_STORE_COUNTS).fetchall())


def test_store_customer_fact_incremental_equals_full(new_database) -> None:  # noqa: ANN001
    """The store-customer fact after an appended day and edits of old orders — a store moved, a
    status changed to an excluded one, a customer's only order deleted, an order without customer
    and one without store, an order dated after the wall clock — equals the sales orders grouped
    from scratch, and so do the store and region orders and customers of its two readers; a config
    change reloads it with the new statuses; re-created, it holds the same rows."""
    from benchmarks.append_day import append_day
    from retailmart_dagster.generate import generate
    from tests.integration.test_facts import _build, _delete_orders, _now, _reloaded_days

    end = dt.date(2025, 10, 1)
    url = new_database("store_customers")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=17, end_date=end)
        actions = _build(conn, STORE_FACT_OBJECTS)
        assert actions[STORE_FACT] == "create"
        _assert_store_fact_equals_direct(conn)
        full = _store_fact_rows(conn)

        # Nothing changed: the same rows, and no day taken in again.
        t0 = _now(conn)
        assert _build(conn, STORE_FACT_OBJECTS)[STORE_FACT] == "incremental_load"
        assert _store_fact_rows(conn) == full
        assert _reloaded_days(conn, t0, STORE_FACT) == set()

        appended = append_day(conn, seed=17)
        sales = (
            "SELECT o.order_id, o.cust_id, o.store_id FROM sales.orders o WHERE o.order_date < %s"
            " AND o.order_status <> 'Cancelled' AND o.cust_id IS NOT NULL"
        )
        before = (end - dt.timedelta(days=120),)
        with conn.transaction():
            moved_id, _, moved_store = conn.execute(
                sales + " ORDER BY o.order_id LIMIT 1", before
            ).fetchone()
            other_store = conn.execute(
                "SELECT min(store_id) FROM stores.stores WHERE store_id <> %s", (moved_store,)
            ).fetchone()[0]
            conn.execute(
                "UPDATE sales.orders SET store_id = %s WHERE order_id = %s",
                (other_store, moved_id),
            )
            cancel_id = conn.execute(
                sales + " AND o.order_id > %s ORDER BY o.order_id LIMIT 1", (*before, moved_id)
            ).fetchone()[0]
            conn.execute(
                "UPDATE sales.orders SET order_status = 'Cancelled' WHERE order_id = %s",
                (cancel_id,),
            )
            single_id, single_cust, _ = conn.execute(
                sales + " AND (SELECT count(*) FROM sales.orders x WHERE x.cust_id = o.cust_id) = 1"
                " AND o.order_id NOT IN (%s, %s) ORDER BY o.order_id LIMIT 1",
                (*before, moved_id, cancel_id),
            ).fetchone()
            _delete_orders(conn, [single_id])
            anonymous_id, stateless_id = (
                r[0]
                for r in conn.execute(
                    sales + " AND o.order_id NOT IN (%s, %s) ORDER BY o.order_id DESC LIMIT 2",
                    (*before, moved_id, cancel_id),
                ).fetchall()
            )
            conn.execute(
                "UPDATE sales.orders SET cust_id = NULL WHERE order_id = %s", (anonymous_id,)
            )
            conn.execute(
                "UPDATE sales.orders SET store_id = NULL WHERE order_id = %s", (stateless_id,)
            )
            conn.execute(
                "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,"
                " total_amount) SELECT max(order_id) + 1, min(cust_id), min(store_id),"
                " '2099-01-15', 'Delivered', 5000.00 FROM sales.orders"
            )
        t1 = _now(conn)
        assert _build(conn, STORE_FACT_OBJECTS)[STORE_FACT] == "incremental_load"
        assert conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0] == appended.day
        # Only days whose orders changed (the new day, the edited orders' days) are taken in again.
        taken = _reloaded_days(conn, t1, STORE_FACT)
        assert appended.day in taken
        assert taken <= _reloaded_days(conn, t1, "fact_orders")
        assert len(taken) <= 6
        _assert_store_fact_equals_direct(conn)
        rows = _store_fact_rows(conn)
        assert any(r[1] is None for r in rows) and any(r[0] is None for r in rows)
        assert not any(r[1] == single_cust for r in rows)

        # A config change (another excluded status) reloads it with the new statuses; and back.
        for value in ('["Cancelled", "Returned"]', '["Cancelled"]'):
            conn.commit()
            with conn.transaction():
                conn.execute(
                    "UPDATE analytics.config SET value = %s::jsonb"
                    " WHERE key = 'sales.excluded_order_statuses'",
                    (value,),
                )
                for name in ("fact_customer_months", STORE_FACT):
                    conn.execute(parse_sql_file(SQL_DIR / "facts" / f"{name}.sql").load_sql)
                direct = conn.execute(_DIRECT_STORE_CUSTOMERS).fetchall()
                assert len(direct) == len(_store_fact_rows(conn))
                assert sorted(map(repr, direct)) == sorted(map(repr, _store_fact_rows(conn)))
        incremental = _store_fact_rows(conn)

        # Re-created from scratch (its definition changed): the same rows.
        conn.execute(
            "UPDATE analytics.object_registry SET code_version = 'old' WHERE object_name = %s",
            (STORE_FACT,),
        )
        conn.execute(f"DELETE FROM analytics.{STORE_FACT} WHERE cust_id % 2 = 0")
        conn.commit()
        assert _build(conn, STORE_FACT_OBJECTS)[STORE_FACT] == "recreate"
        assert _store_fact_rows(conn) == incremental
        _assert_store_fact_equals_direct(conn)
