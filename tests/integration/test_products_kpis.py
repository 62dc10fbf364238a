"""Products KPI objects checked against an independent pandas computation from the source tables.

Every Products view / materialized view in ``analytics`` is recomputed here from the raw tables
(``products.products``, ``products.inventory``, ``sales.orders``, ``sales.order_items``,
``customers.reviews``, ``stores.stores``) with pandas only and compared row by row: counts exactly,
money and percentages within 0.01. Traps of the published version are tested explicitly (inventory
units multiplied by store rows, revenue multiplied by order lines, ranks without tie-breakers, top-N
limits that do not limit, orphan references, dates after the reference date), and so are the JSON
exports (shape, bounds from ``analytics.config``, agreement with the views).

Needs the ``kpi_conn`` fixture from ``tests/conftest.py`` (autocommit connection to a database with
sample data on which every asset has been materialized).
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

from tests.kpi_support import (
    MONEY_TOL,
    SQL_DIR,
    assert_export_envelope,
    assert_matches,
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

STATUS_ORDER = {"Out of Stock": 1, "Low": 2, "Normal": 3, "Overstocked": 4, "Dead Stock": 5}

PRODUCT_OBJECTS = [
    "mv_product_stock",
    "mv_product_totals",
    "mv_top_products",
    "mv_product_abc",
    "mv_product_group_totals",
    "vw_product_abc_summary",
    "vw_category_performance",
    "vw_brand_performance",
    "mv_inventory_turnover",
    "vw_inventory_status_summary",
]
EXPORTS = [
    "fn_export_products_top_products",
    "fn_export_products_abc",
    "fn_export_products_categories",
    "fn_export_products_brands",
    "fn_export_products_inventory_status",
    "fn_export_products_inventory_turnover",
]


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """Raw source tables and the derived basics, computed with pandas only."""

    products: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    reviews: pd.DataFrame
    inventory: pd.DataFrame
    stores: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    first_date: pd.Timestamp
    lines: pd.DataFrame  # lines of sales orders dated up to ref_date, with line amounts

    def cfg(self, key: str) -> Any:
        return self.config[key]


_SOURCE_CACHE: dict[str, Source] = {}


def read_source(conn: psycopg.Connection, config: dict[str, Any] | None = None) -> Source:
    products = query_df(
        conn,
        "SELECT prod_id, prod_name, category, brand, supplier_id, price FROM products.products",
    )
    orders = query_df(
        conn,
        "SELECT order_id, cust_id, store_id, order_date, order_status, total_amount "
        "FROM sales.orders",
    )
    items = query_df(
        conn,
        "SELECT order_item_id, order_id, prod_id, quantity, unit_price, discount "
        "FROM sales.order_items",
    )
    reviews = query_df(
        conn, "SELECT review_id, prod_id, rating, review_date FROM customers.reviews"
    )
    inventory = query_df(conn, "SELECT store_id, prod_id, stock_qty FROM products.inventory")
    stores = query_df(conn, "SELECT store_id, store_name, region FROM stores.stores")
    config = config or read_config(conn)

    # The data's "today": latest order date not after the wall clock (else the latest order date).
    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    first_date = dates[dates <= ref_date].min()

    excluded = set(config["sales.excluded_order_statuses"])
    sales = orders[(orders["order_date"] <= ref_date) & ~orders["order_status"].isin(excluded)]
    lines = items.merge(sales[["order_id", "order_date"]], on="order_id", how="inner")
    lines["gross"] = lines["quantity"] * lines["unit_price"]
    lines["disc"] = lines["gross"] * lines["discount"] / 100
    lines["net"] = lines["gross"] * (1 - lines["discount"] / 100)
    return Source(
        products,
        orders,
        items,
        reviews,
        inventory,
        stores,
        config,
        ref_date,
        first_date,
        lines,
    )


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    """The source read once per database (kpi_conn may be function-scoped; the data is not)."""
    return read_once(_SOURCE_CACHE, kpi_conn, read_source)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


def exact_key(values: pd.Series) -> pd.Series:
    """Money as a sort key without float noise (the source amounts are exact to the paisa)."""
    return values.astype(float).round(6)


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def known_stock(s: Source) -> pd.DataFrame:
    """Inventory rows of known stores, negative stock counted as 0."""
    inv = s.inventory[s.inventory["store_id"].isin(s.stores["store_id"])].copy()
    inv["units"] = inv["stock_qty"].clip(lower=0)
    return inv


def product_line_sums(s: Source) -> pd.DataFrame:
    """Per product: distinct orders and the line sums of its sales-order lines."""
    return s.lines.groupby("prod_id").agg(
        orders=("order_id", "nunique"),
        units=("quantity", "sum"),
        gross_value=("gross", "sum"),
        discount_amount=("disc", "sum"),
        net_revenue=("net", "sum"),
    )


def expected_top_products(s: Source) -> pd.DataFrame:
    g = product_line_sums(s)
    rv = s.reviews[s.reviews["review_date"] <= s.ref_date]
    r = rv.groupby("prod_id").agg(avg_rating=("rating", "mean"), review_count=("rating", "size"))
    inv = known_stock(s)
    st = inv.groupby("prod_id").agg(
        current_stock=("units", "sum"),
        stores_stocking=("stock_qty", lambda x: int((x > 0).sum())),
    )
    p = s.products.set_index("prod_id").join(g).join(r).join(st)
    for c in [
        "orders",
        "units",
        "gross_value",
        "discount_amount",
        "net_revenue",
        "review_count",
        "current_stock",
        "stores_stocking",
    ]:
        p[c] = p[c].fillna(0)
    p = p.reset_index()
    p["list_price"] = p["price"]
    p["avg_selling_price"] = safe_div(p["net_revenue"], p["units"])
    p["avg_discount_pct"] = safe_div(p["discount_amount"] * 100, p["gross_value"])
    total = p["net_revenue"].sum()
    p["revenue_share_pct"] = p["net_revenue"] / total * 100
    cat_total = p.groupby("category")["net_revenue"].transform("sum")
    p["category_revenue_share_pct"] = safe_div(p["net_revenue"] * 100, cat_total)
    p["rev_key"] = exact_key(p["net_revenue"])
    p["revenue_rank"] = rank_by(p, ["rev_key", "prod_id"], [False, True])
    p["units_rank"] = rank_by(p, ["units", "rev_key", "prod_id"], [False, False, True])
    p["category_rank"] = (
        p.sort_values(["category", "rev_key", "prod_id"], ascending=[True, False, True])
        .groupby("category")
        .cumcount()
        + 1
    )
    p["stock_value"] = p["current_stock"] * p["price"]
    return p


def expected_abc(s: Source) -> pd.DataFrame:
    p = expected_top_products(s).sort_values("revenue_rank").reset_index(drop=True)
    total = p["net_revenue"].sum()
    p["cumulative_revenue"] = p["net_revenue"].cumsum()
    share = p["cumulative_revenue"] / total * 100
    a_cut = s.cfg("products.abc_a_cutoff_pct")
    b_cut = s.cfg("products.abc_b_cutoff_pct")
    positive = p["net_revenue"] > 0
    p["abc_class"] = np.where(
        positive & (share <= a_cut + 1e-9),
        "A",
        np.where(positive & (share <= b_cut + 1e-9), "B", "C"),
    )
    p["cumulative_share_pct"] = share
    p["abc_rank"] = p["revenue_rank"]
    return p


def expected_group_performance(s: Source, by: str) -> pd.DataFrame:
    prods = s.products.copy()
    prods[by] = prods[by].fillna("Unknown")
    prods["category"] = prods["category"].fillna("Unknown")
    lines = s.lines.merge(prods[["prod_id", by]], on="prod_id")
    g = lines.groupby(by).agg(
        products_sold=("prod_id", "nunique"),
        orders=("order_id", "nunique"),
        units=("quantity", "sum"),
        gross_value=("gross", "sum"),
        discount_amount=("disc", "sum"),
        net_revenue=("net", "sum"),
    )
    rv = s.reviews[s.reviews["review_date"] <= s.ref_date].merge(prods[["prod_id", by]])
    r = rv.groupby(by).agg(avg_rating=("rating", "mean"), review_count=("rating", "size"))
    inv = known_stock(s).merge(prods[["prod_id", by, "price"]], on="prod_id")
    inv["value"] = inv["units"] * inv["price"]
    st = inv.groupby(by).agg(current_stock=("units", "sum"), stock_value=("value", "sum"))
    base = prods.groupby(by).agg(products=("prod_id", "size"))
    if by == "brand":
        base["categories"] = prods.groupby(by)["category"].nunique()
        base["category_list"] = prods.groupby(by)["category"].apply(
            lambda x: ", ".join(sorted(set(x)))
        )
    d = base.join(g).join(r).join(st)
    for c in [
        "products_sold",
        "orders",
        "units",
        "gross_value",
        "discount_amount",
        "net_revenue",
        "review_count",
        "current_stock",
        "stock_value",
    ]:
        d[c] = d[c].fillna(0)
    d = d.reset_index()
    d["revenue_share_pct"] = d["net_revenue"] / d["net_revenue"].sum() * 100
    d["avg_selling_price"] = safe_div(d["net_revenue"], d["units"])
    d["avg_discount_pct"] = safe_div(d["discount_amount"] * 100, d["gross_value"])
    d["rev_key"] = exact_key(d["net_revenue"])
    d["revenue_rank"] = rank_by(d, ["rev_key", by], [False, True])
    return d


def expected_turnover(s: Source, cfg: dict[str, Any] | None = None) -> pd.DataFrame:
    cfg = cfg or s.config
    n = cfg["products.turnover_window_days"]
    window = s.lines[s.lines["order_date"] > s.ref_date - pd.Timedelta(days=n)]
    sold = window.groupby("prod_id")["quantity"].sum()
    inv = known_stock(s)
    stock = inv.groupby("prod_id")["units"].sum()
    stocking = inv[inv["stock_qty"] > 0].groupby("prod_id").size()
    p = s.products.copy()
    p["units_sold_window"] = p["prod_id"].map(sold).fillna(0)
    p["current_stock"] = p["prod_id"].map(stock).fillna(0)
    p["stores_stocking"] = p["prod_id"].map(stocking).fillna(0)
    p["daily_velocity"] = p["units_sold_window"] / n
    p["days_of_inventory"] = safe_div(p["current_stock"], p["daily_velocity"])
    p["turnover_ratio"] = safe_div(p["units_sold_window"], p["current_stock"])
    p["stock_value"] = p["current_stock"] * p["price"]
    both = (p["current_stock"] > 0) & (p["units_sold_window"] > 0)
    typical = p.loc[both, "days_of_inventory"].median()
    low = max(cfg["products.min_cover_days"], cfg["products.low_cover_ratio"] * typical)
    over = cfg["products.overstock_cover_ratio"] * typical
    doi = p["days_of_inventory"]
    p["stock_status"] = np.select(
        [
            p["current_stock"] == 0,
            p["units_sold_window"] == 0,
            doi < low,
            doi > over,
        ],
        ["Out of Stock", "Dead Stock", "Low", "Overstocked"],
        default="Normal",
    )
    p["status_order"] = p["stock_status"].map(STATUS_ORDER)
    p["typical_cover_days"] = typical
    p["low_cover_days"] = low
    p["overstock_cover_days"] = over
    return p


# --------------------------------------------------------------------------------------------------
# The views against pandas
# --------------------------------------------------------------------------------------------------

TOP_EXACT = [
    "orders",
    "units",
    "revenue_rank",
    "category_rank",
    "units_rank",
    "review_count",
    "current_stock",
    "stores_stocking",
]
TOP_MONEY = [
    "list_price",
    "gross_value",
    "discount_amount",
    "net_revenue",
    "avg_selling_price",
    "avg_discount_pct",
    "revenue_share_pct",
    "category_revenue_share_pct",
    "avg_rating",
    "stock_value",
]


def test_top_products(kpi_conn, src):
    actual = view(kpi_conn, "mv_top_products")
    expected = expected_top_products(src)
    assert len(actual) == len(src.products)
    assert_matches(
        actual,
        expected,
        ["prod_id"],
        exact=TOP_EXACT,
        money=TOP_MONEY,
        other=["prod_name", "category", "brand"],
        label="mv_top_products",
    )
    assert (actual["period_end"] == src.ref_date).all()
    assert (actual["period_start"] == src.first_date).all()


def test_product_abc(kpi_conn, src):
    actual = view(kpi_conn, "mv_product_abc")
    expected = expected_abc(src)
    assert_matches(
        actual,
        expected,
        ["prod_id"],
        exact=["abc_rank", "units"],
        money=["net_revenue", "revenue_share_pct", "cumulative_revenue", "cumulative_share_pct"],
        other=["abc_class"],
        label="mv_product_abc",
    )
    assert (actual["a_cutoff_pct"] == src.cfg("products.abc_a_cutoff_pct")).all()
    assert (actual["b_cutoff_pct"] == src.cfg("products.abc_b_cutoff_pct")).all()
    # Classes are contiguous in rank order: every A before every B before every C.
    ordered = actual.sort_values("abc_rank")["abc_class"].tolist()
    assert ordered == sorted(ordered)
    assert {"A", "B", "C"} <= set(ordered), "the sample data should fill all three classes"


def test_product_abc_summary(kpi_conn, src):
    actual = view(kpi_conn, "vw_product_abc_summary")
    p = expected_abc(src)
    g = p.groupby("abc_class").agg(
        products=("prod_id", "size"), units=("units", "sum"), net_revenue=("net_revenue", "sum")
    )
    g = g.reindex(["A", "B", "C"]).fillna(0).reset_index()
    g["product_share_pct"] = g["products"] / len(p) * 100
    g["revenue_share_pct"] = g["net_revenue"] / p["net_revenue"].sum() * 100
    g["avg_revenue_per_product"] = safe_div(g["net_revenue"], g["products"])
    g["cutoff_pct"] = [
        src.cfg("products.abc_a_cutoff_pct"),
        src.cfg("products.abc_b_cutoff_pct"),
        100.0,
    ]
    g["class_order"] = [1, 2, 3]
    assert len(actual) == 3
    assert_matches(
        actual,
        g,
        ["abc_class"],
        exact=["products", "units", "class_order"],
        money=[
            "net_revenue",
            "product_share_pct",
            "revenue_share_pct",
            "avg_revenue_per_product",
            "cutoff_pct",
        ],
        label="vw_product_abc_summary",
    )


GROUP_EXACT = ["products", "products_sold", "orders", "units", "review_count", "current_stock"]
GROUP_MONEY = [
    "gross_value",
    "discount_amount",
    "net_revenue",
    "revenue_share_pct",
    "avg_selling_price",
    "avg_discount_pct",
    "avg_rating",
    "stock_value",
]


def test_category_performance(kpi_conn, src):
    actual = view(kpi_conn, "vw_category_performance")
    expected = expected_group_performance(src, "category")
    assert_matches(
        actual,
        expected,
        ["category"],
        exact=[*GROUP_EXACT, "revenue_rank"],
        money=GROUP_MONEY,
        label="vw_category_performance",
    )
    # A category's orders are distinct orders, not lines: fewer than its lines when an order has
    # two products of the same category.
    lines = src.lines.merge(src.products[["prod_id", "category"]], on="prod_id")
    n_lines = lines.groupby("category").size()
    a = actual.set_index("category")
    assert (a["orders"] <= n_lines.reindex(a.index).fillna(0)).all()


def test_brand_performance(kpi_conn, src):
    actual = view(kpi_conn, "vw_brand_performance")
    expected = expected_group_performance(src, "brand")
    assert_matches(
        actual,
        expected,
        ["brand"],
        exact=[*GROUP_EXACT, "revenue_rank", "categories"],
        money=GROUP_MONEY,
        other=["category_list"],
        label="vw_brand_performance",
    )


def test_product_group_totals(kpi_conn, src):
    """The shared totals behind vw_category_performance and vw_brand_performance: one row per
    category and one per brand, each product in exactly one row of each level, orders counted
    distinct per group (not summed over the group's products)."""
    actual = view(kpi_conn, "mv_product_group_totals")
    assert set(actual["level"]) == {"category", "brand"}
    assert not actual.duplicated(["level", "group_name"]).any()
    for level in ("category", "brand"):
        rows = actual[actual["level"] == level].rename(columns={"group_name": level})
        assert rows["products"].sum() == len(src.products), level
        expected = expected_group_performance(src, level)
        assert_matches(
            rows,
            expected,
            [level],
            exact=GROUP_EXACT,
            money=["gross_value", "discount_amount", "net_revenue", "avg_rating", "stock_value"],
            label=f"mv_product_group_totals[{level}]",
        )
        assert (rows["period_end"] == src.ref_date).all()
    brands = actual[actual["level"] == "brand"].rename(columns={"group_name": "brand"})
    assert_matches(
        brands,
        expected_group_performance(src, "brand"),
        ["brand"],
        exact=["categories"],
        other=["category_list"],
        label="mv_product_group_totals[brand]",
    )


TURNOVER_EXACT = ["units_sold_window", "current_stock", "stores_stocking", "status_order"]
TURNOVER_MONEY = [
    "daily_velocity",
    "stock_value",
    "days_of_inventory",
    "turnover_ratio",
    "typical_cover_days",
    "low_cover_days",
    "overstock_cover_days",
]


def test_inventory_turnover(kpi_conn, src):
    actual = view(kpi_conn, "mv_inventory_turnover")
    expected = expected_turnover(src)
    # One row PER PRODUCT, never per product and stock level.
    assert actual["prod_id"].is_unique
    assert len(actual) == len(src.products)
    assert_matches(
        actual,
        expected,
        ["prod_id"],
        exact=TURNOVER_EXACT,
        money=TURNOVER_MONEY,
        other=["stock_status"],
        label="mv_inventory_turnover",
    )
    n = src.cfg("products.turnover_window_days")
    assert (actual["window_days"] == n).all()
    assert (actual["window_end"] == src.ref_date).all()
    assert (actual["window_start"] == src.ref_date - pd.Timedelta(days=n - 1)).all()
    assert set(actual["stock_status"]) <= set(STATUS_ORDER)
    assert actual["stock_status"].nunique() >= 3, "the default levels should separate products"


def test_inventory_turnover_follows_config(kpi_conn, src):
    """Other levels in analytics.config give other statuses, exactly as pandas predicts."""
    changes = {
        "products.turnover_window_days": 7,
        "products.min_cover_days": 30,
        "products.low_cover_ratio": 0.8,
        "products.overstock_cover_ratio": 1.5,
    }
    cfg = {**src.config, **changes}
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for key, value in changes.items():
                cur.execute(
                    "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s",
                    (json.dumps(value), key),
                )
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_inventory_turnover")
        actual = view(kpi_conn, "mv_inventory_turnover")
        summary = view(kpi_conn, "vw_inventory_status_summary")
    expected = expected_turnover(src, cfg)
    assert_matches(
        actual,
        expected,
        ["prod_id"],
        exact=TURNOVER_EXACT,
        money=TURNOVER_MONEY,
        other=["stock_status"],
        label="mv_inventory_turnover (changed config)",
    )
    assert (actual["window_days"] == 7).all()
    counts = expected["stock_status"].value_counts()
    s = summary.set_index("stock_status")
    for status in STATUS_ORDER:
        assert s.loc[status, "products"] == counts.get(status, 0)


def test_inventory_status_summary(kpi_conn, src):
    actual = view(kpi_conn, "vw_inventory_status_summary")
    t = expected_turnover(src)
    g = t.groupby("stock_status").agg(
        products=("prod_id", "size"),
        stock_units=("current_stock", "sum"),
        stock_value=("stock_value", "sum"),
        units_sold_window=("units_sold_window", "sum"),
    )
    g = g.reindex(list(STATUS_ORDER)).fillna(0)
    g.index.name = "stock_status"
    g = g.reset_index()
    g["status_order"] = g["stock_status"].map(STATUS_ORDER)
    g["product_share_pct"] = g["products"] / len(t) * 100
    g["stock_unit_share_pct"] = g["stock_units"] / t["current_stock"].sum() * 100
    assert len(actual) == len(STATUS_ORDER)
    assert_matches(
        actual,
        g,
        ["stock_status"],
        exact=["products", "stock_units", "units_sold_window", "status_order"],
        money=["stock_value", "product_share_pct", "stock_unit_share_pct"],
        label="vw_inventory_status_summary",
    )
    assert actual["products"].sum() == len(src.products)


# --------------------------------------------------------------------------------------------------
# Traps
# --------------------------------------------------------------------------------------------------


def test_product_stock(kpi_conn, src):
    """mv_product_stock against pandas: per product with an inventory row of a known store, the
    stock (negative counted as 0) and the stores with stock; the three product readers use it."""
    inv = known_stock(src)
    expected = (
        inv.assign(stocking=inv["stock_qty"] > 0)
        .groupby("prod_id")
        .agg(current_stock=("units", "sum"), stores_stocking=("stocking", "sum"))
    )
    actual = view(kpi_conn, "mv_product_stock").set_index("prod_id").sort_index()
    assert len(actual) == len(expected) > 0
    assert list(actual.index) == sorted(int(i) for i in expected.index)
    for col in ("current_stock", "stores_stocking"):
        assert [int(v) for v in actual[col]] == [int(v) for v in expected.sort_index()[col]], col
    # The readers show the same stock per product (0 without an inventory row).
    top = view(kpi_conn, "mv_top_products").set_index("prod_id")
    turnover = view(kpi_conn, "mv_inventory_turnover").set_index("prod_id")
    for reader in (top, turnover):
        stock = actual["current_stock"].reindex(reader.index, fill_value=0)
        assert [int(v) for v in reader["current_stock"]] == [int(v) for v in stock]
    stocking = actual["stores_stocking"].reindex(top.index, fill_value=0)
    assert [int(v) for v in top["stores_stocking"]] == [int(v) for v in stocking]


def test_product_totals(kpi_conn, src):
    """mv_product_totals against pandas: one row per catalogue product with its sales-order line
    sums (0 and has_sales false without a line) and its reviews' count, ratings and rating points;
    the two readers' averages are the rating points over the ratings."""
    lines = product_line_sums(src)
    rv = src.reviews[src.reviews["review_date"] <= src.ref_date]
    reviews = rv.groupby("prod_id").agg(
        review_count=("review_id", "size"),
        ratings=("rating", "count"),
        rating_sum=("rating", "sum"),
    )
    expected = src.products.set_index("prod_id")[[]].join(lines).join(reviews).sort_index()
    expected["has_sales"] = expected["units"].notna()
    actual = view(kpi_conn, "mv_product_totals").set_index("prod_id").sort_index()
    assert list(actual.index) == [int(i) for i in expected.index]
    assert int(actual["has_sales"].sum()) > 0
    assert [bool(v) for v in actual["has_sales"]] == list(expected["has_sales"])
    for col in ("orders", "units", "review_count", "ratings"):
        assert [int(v) for v in actual[col]] == [int(v) for v in expected[col].fillna(0)], col
    for col in ("gross_value", "discount_amount", "net_revenue"):
        diff = (actual[col].astype(float) - expected[col].fillna(0).astype(float)).abs()
        assert diff.max() < MONEY_TOL, col
    rated = expected["ratings"].fillna(0) > 0
    assert actual["rating_sum"].isna().tolist() == (~rated).tolist()
    assert [int(v) for v in actual["rating_sum"][rated]] == [
        int(v) for v in expected["rating_sum"][rated]
    ]
    # Both readers take their sales and reviews from here: per product, and per category.
    top = view(kpi_conn, "mv_top_products").set_index("prod_id").sort_index()
    assert (top["units"].astype(int) == actual["units"].astype(int)).all()
    mean = actual["rating_sum"].astype(float) / actual["ratings"].where(actual["ratings"] > 0)
    assert ((top["avg_rating"].astype(float) - mean.round(2)).abs().fillna(0) < 0.006).all()
    groups = view(kpi_conn, "mv_product_group_totals")
    categories = groups[groups["level"] == "category"].set_index("group_name")
    category = src.products.set_index("prod_id")["category"].fillna("Unknown")
    by_category = actual.join(category).groupby("category")
    assert {k: int(v) for k, v in by_category["review_count"].sum().items()} == {
        k: int(v) for k, v in categories["review_count"].items()
    }
    assert {k: int(v) for k, v in by_category["has_sales"].sum().items()} == {
        k: int(v) for k, v in categories["products_sold"].items()
    }


def test_inventory_units_not_multiplied(kpi_conn, src):
    """Stock is summed once per inventory row: never multiplied by store rows or order lines."""
    true_stock = known_stock(src)["units"].sum()
    top = view(kpi_conn, "mv_top_products")
    turnover = view(kpi_conn, "mv_inventory_turnover")
    categories = view(kpi_conn, "vw_category_performance")
    brands = view(kpi_conn, "vw_brand_performance")
    summary = view(kpi_conn, "vw_inventory_status_summary")
    for name, frame, col in [
        ("mv_top_products", top, "current_stock"),
        ("mv_inventory_turnover", turnover, "current_stock"),
        ("vw_category_performance", categories, "current_stock"),
        ("vw_brand_performance", brands, "current_stock"),
        ("vw_inventory_status_summary", summary, "stock_units"),
    ]:
        assert frame[col].sum() == true_stock, f"{name}.{col} does not add up to the inventory"
    # The trap is real: joining inventory to the sales lines would multiply the stock.
    fanned = known_stock(src).merge(src.lines[["prod_id"]], on="prod_id")["units"].sum()
    assert fanned > true_stock * 2


def test_revenue_not_multiplied(kpi_conn, src):
    """Product revenue is at line grain: all products together make exactly the sales orders'
    revenue (total_amount is the sum of the order's line amounts), not a multiple of it."""
    excluded = set(src.cfg("sales.excluded_order_statuses"))
    o = src.orders[
        (src.orders["order_date"] <= src.ref_date) & ~src.orders["order_status"].isin(excluded)
    ]
    revenue = o["total_amount"].sum()
    top = view(kpi_conn, "mv_top_products")
    assert abs(top["net_revenue"].sum() - revenue) <= MONEY_TOL * 10
    categories = view(kpi_conn, "vw_category_performance")
    brands = view(kpi_conn, "vw_brand_performance")
    assert abs(categories["net_revenue"].sum() - revenue) <= MONEY_TOL * 10
    assert abs(brands["net_revenue"].sum() - revenue) <= MONEY_TOL * 10
    assert top["units"].sum() == src.lines["quantity"].sum()
    # Cancelled orders count nowhere.
    cancelled = src.orders[src.orders["order_status"].isin(excluded)]
    if not cancelled.empty:
        with_cancelled = src.items.merge(src.orders, on="order_id")
        assert with_cancelled["quantity"].sum() > top["units"].sum()


def test_ranks_are_unique_and_deterministic(kpi_conn, src):
    top = view(kpi_conn, "mv_top_products")
    n = len(top)
    for col in ("revenue_rank", "units_rank"):
        assert sorted(top[col]) == list(range(1, n + 1)), f"{col} is not 1..n"
    for _, g in top.groupby("category"):
        assert sorted(g["category_rank"]) == list(range(1, len(g) + 1))
    # Ties (e.g. products without sales) are broken by prod_id.
    ordered = top.sort_values("revenue_rank")
    for _, g in ordered.groupby("net_revenue"):
        if len(g) > 1:
            assert g["prod_id"].is_monotonic_increasing
    for name, key in (("vw_category_performance", "category"), ("vw_brand_performance", "brand")):
        v = view(kpi_conn, name)
        assert sorted(v["revenue_rank"]) == list(range(1, len(v) + 1))
        assert v[key].is_unique


def test_unsold_products_tie_and_are_ranked_by_prod_id(kpi_conn, src):
    """Products never sold are rows of zeros, all tied on revenue: the tie-breaker (prod_id) must
    give them distinct, stable ranks and class C (injected, then rolled back)."""
    top_before = view(kpi_conn, "mv_top_products")
    n = len(top_before)
    new_ids = [int(src.products["prod_id"].max()) + k for k in (3, 1, 2)]
    category = str(src.products["category"].iloc[0])
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for pid in new_ids:
                cur.execute(
                    "INSERT INTO products.products"
                    " (prod_id, prod_name, category, brand, supplier_id, price)"
                    " SELECT %s, 'Unsold ' || %s, %s, 'NoBrand', min(supplier_id), 10"
                    " FROM products.suppliers",
                    (pid, pid, category),
                )
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_totals")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_top_products")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_abc")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_group_totals")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_inventory_turnover")
        top = view(kpi_conn, "mv_top_products").set_index("prod_id")
        abc = view(kpi_conn, "mv_product_abc").set_index("prod_id")
        turnover = view(kpi_conn, "mv_inventory_turnover").set_index("prod_id")
        brands = view(kpi_conn, "vw_brand_performance").set_index("brand")
    unsold = sorted(new_ids)
    assert top.loc[unsold, "net_revenue"].eq(0).all() and top.loc[unsold, "units"].eq(0).all()
    assert sorted(top["revenue_rank"]) == list(range(1, n + 4))
    # Ties are broken by prod_id: among the tied zero-revenue products, ranks follow prod_id.
    zero = top[top["net_revenue"] == 0].sort_values("revenue_rank")
    assert list(zero.index) == sorted(zero.index)
    cat = top[top["category"] == category]
    assert sorted(cat["category_rank"]) == list(range(1, len(cat) + 1))
    assert (abc.loc[unsold, "abc_class"] == "C").all()
    assert (turnover.loc[unsold, "stock_status"] == "Out of Stock").all()
    assert brands.loc["NoBrand", "products"] == 3 and brands.loc["NoBrand", "net_revenue"] == 0


def test_abc_stable_across_refreshes(kpi_conn, src):
    """The same data gives the same classes and ranks after another refresh."""
    before = view(kpi_conn, "mv_product_abc").set_index("prod_id").sort_index()
    with kpi_conn.cursor() as cur:
        cur.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_top_products")
        cur.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_product_abc")
    after = view(kpi_conn, "mv_product_abc").set_index("prod_id").sort_index()
    assert (before["abc_class"] == after["abc_class"]).all()
    assert (before["abc_rank"] == after["abc_rank"]).all()


def test_orphans_negative_stock_and_future_rows_are_ignored(kpi_conn, src):
    """Reviews of unknown products, inventory rows of unknown stores, negative stock and reviews
    after the reference date do not change the product figures (injected, then rolled back)."""
    top_before = view(kpi_conn, "mv_top_products").set_index("prod_id")
    prod = int(top_before.sort_values("revenue_rank").index[0])
    inv = src.inventory[
        (src.inventory["prod_id"] == prod) & src.inventory["store_id"].isin(src.stores["store_id"])
    ]
    neg_store = int(inv.sort_values("store_id")["store_id"].iloc[0])
    neg_qty = int(inv.sort_values("store_id")["stock_qty"].iloc[0])
    unknown_store = int(src.stores["store_id"].max()) + 1000
    unknown_prod = int(src.products["prod_id"].max()) + 1000
    after_ref = (src.ref_date + pd.Timedelta(days=3)).date()
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            cur.execute(
                "INSERT INTO customers.reviews (review_id, cust_id, prod_id, rating, review_date)"
                " SELECT max(review_id) + 1, min(cust_id), %s, 1, %s FROM customers.reviews",
                (unknown_prod, src.ref_date.date()),
            )
            cur.execute(
                "INSERT INTO customers.reviews (review_id, cust_id, prod_id, rating, review_date)"
                " SELECT max(review_id) + 1, min(cust_id), %s, 1, %s FROM customers.reviews",
                (prod, after_ref),
            )
            cur.execute(
                "INSERT INTO products.inventory (store_id, prod_id, stock_qty, last_updated)"
                " VALUES (%s, %s, 5000, %s)",
                (unknown_store, prod, src.ref_date.date()),
            )
            cur.execute(
                "UPDATE products.inventory SET stock_qty = -7 WHERE store_id = %s AND prod_id = %s",
                (neg_store, prod),
            )
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_stock")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_totals")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_top_products")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_product_group_totals")
            cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_inventory_turnover")
        top = view(kpi_conn, "mv_top_products").set_index("prod_id")
        turnover = view(kpi_conn, "mv_inventory_turnover").set_index("prod_id")
        categories = view(kpi_conn, "vw_category_performance")
    assert unknown_prod not in top.index
    assert top.loc[prod, "review_count"] == top_before.loc[prod, "review_count"]
    assert top.loc[prod, "avg_rating"] == top_before.loc[prod, "avg_rating"]
    expected_stock = top_before.loc[prod, "current_stock"] - max(neg_qty, 0)
    assert top.loc[prod, "current_stock"] == expected_stock
    assert turnover.loc[prod, "current_stock"] == expected_stock
    assert categories["current_stock"].sum() == known_stock(src)["units"].sum() - max(neg_qty, 0)
    # Rolled back: the materialized view is as before.
    restored = view(kpi_conn, "mv_top_products").set_index("prod_id")
    assert restored.loc[prod, "current_stock"] == top_before.loc[prod, "current_stock"]


def test_reference_date_and_no_future_rows(kpi_conn, src):
    with kpi_conn.cursor() as cur:
        cur.execute("SELECT analytics.fn_reference_date()")
        assert pd.Timestamp(cur.fetchone()[0]) == src.ref_date
    for name in ("mv_top_products", "mv_product_abc", "vw_category_performance"):
        v = view(kpi_conn, name)
        assert (v["period_end"] == src.ref_date).all(), name
    assert (view(kpi_conn, "vw_brand_performance")["period_end"] == src.ref_date).all()


def test_integer_division_trap(kpi_conn, src):
    top = view(kpi_conn, "mv_top_products")
    sold = top[top["units"] > 1]
    asp = sold["net_revenue"] / sold["units"]
    assert ((sold["avg_selling_price"] - asp).abs() <= MONEY_TOL).all()
    t = view(kpi_conn, "mv_inventory_turnover")
    # Velocities are fractions of a unit per day, not truncated to whole numbers.
    assert ((t["daily_velocity"] > 0) & (t["daily_velocity"] < 1)).any()


# --------------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", EXPORTS)
def test_export_shape(kpi_conn, src, fn):
    out = export(kpi_conn, fn)
    assert_export_envelope(fn, out, src.ref_date)
    check_uniform_rows(fn, out["rows"], nested=True)
    assert export(kpi_conn, fn) == out  # deterministic


def _rows_match_view(
    fn: str, rows: list[dict], v: pd.DataFrame, key_field: str, renames: dict[str, str]
) -> None:
    for row in rows:
        vrow = v.loc[row[key_field]]
        for field, value in row.items():
            col = renames.get(field, snake(field))
            if field == key_field or isinstance(value, list):
                continue
            assert col in vrow.index, f"{fn}: field {field} has no column {col}"
            assert same_value(value, vrow[col], nat_is_null=False), (
                f"{fn}: {field}={value!r}, view {col}={vrow[col]!r}"
            )


# export -> (view, view key column, export key field, field -> view column overrides)
EXPORT_VIEWS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "fn_export_products_top_products": (
        "mv_top_products",
        "prod_id",
        "prodId",
        {"rank": "revenue_rank"},
    ),
    "fn_export_products_categories": (
        "vw_category_performance",
        "category",
        "category",
        {"rank": "revenue_rank"},
    ),
    "fn_export_products_brands": (
        "vw_brand_performance",
        "brand",
        "brand",
        {"rank": "revenue_rank"},
    ),
    "fn_export_products_inventory_status": (
        "vw_inventory_status_summary",
        "stock_status",
        "stockStatus",
        {},
    ),
    "fn_export_products_inventory_turnover": (
        "mv_inventory_turnover",
        "prod_id",
        "prodId",
        {"priority": "status_order"},
    ),
    "fn_export_products_abc": ("vw_product_abc_summary", "abc_class", "abcClass", {}),
}


@pytest.mark.parametrize("fn", sorted(EXPORT_VIEWS))
def test_export_rows_match_view(kpi_conn, src, fn):
    view_name, key_col, key_field, renames = EXPORT_VIEWS[fn]
    out = export(kpi_conn, fn)
    v = view(kpi_conn, view_name).set_index(key_col)
    rows = out["rows"]
    if fn == "fn_export_products_inventory_turnover":
        rows = [{k: val for k, val in r.items() if k != "priority"} for r in rows]
    _rows_match_view(fn, rows, v, key_field, renames)


def test_export_bounds_and_order(kpi_conn, src):
    top_n = src.cfg("products.top_n_export")
    top = export(kpi_conn, "fn_export_products_top_products")
    assert len(top["rows"]) == min(top_n, len(src.products))
    assert [r["rank"] for r in top["rows"]] == list(range(1, len(top["rows"]) + 1))
    assert top["totalProducts"] == len(src.products)

    for fn, total_key in (
        ("fn_export_products_categories", "totalCategories"),
        ("fn_export_products_brands", "totalBrands"),
    ):
        out = export(kpi_conn, fn)
        assert len(out["rows"]) == min(top_n, out[total_key])
        revenues = [r["netRevenue"] for r in out["rows"]]
        assert revenues == sorted(revenues, reverse=True)
    brands = export(kpi_conn, "fn_export_products_brands")
    assert brands["totalBrands"] > top_n, "the brand list must really be cut at top N"

    status = export(kpi_conn, "fn_export_products_inventory_status")
    assert [r["stockStatus"] for r in status["rows"]] == list(STATUS_ORDER)
    assert status["windowDays"] == src.cfg("products.turnover_window_days")

    crit = export(kpi_conn, "fn_export_products_inventory_turnover")
    critical = set(src.cfg("products.critical_stock_statuses"))
    t = expected_turnover(src)
    expected_crit = t[t["stock_status"].isin(critical)].copy()
    assert crit["criticalProducts"] == len(expected_crit)
    assert len(crit["rows"]) == min(top_n, len(expected_crit))
    assert {r["stockStatus"] for r in crit["rows"]} <= critical
    expected_crit["doi_key"] = expected_crit["days_of_inventory"].fillna(-1)
    expected_order = expected_crit.sort_values(
        ["status_order", "doi_key", "units_sold_window", "prod_id"],
        ascending=[True, True, False, True],
    )["prod_id"].tolist()[:top_n]
    assert [r["prodId"] for r in crit["rows"]] == expected_order
    assert [r["priority"] for r in crit["rows"]] == list(range(1, len(crit["rows"]) + 1))


def test_export_abc_top_per_class(kpi_conn, src):
    out = export(kpi_conn, "fn_export_products_abc")
    per_class = src.cfg("products.abc_top_per_class")
    abc = expected_abc(src)
    assert [r["abcClass"] for r in out["rows"]] == ["A", "B", "C"]
    assert out["aCutoffPct"] == src.cfg("products.abc_a_cutoff_pct")
    for row in out["rows"]:
        members = abc[abc["abc_class"] == row["abcClass"]].sort_values("abc_rank")
        expected_ids = members["prod_id"].tolist()[:per_class]
        assert [p["prodId"] for p in row["topProducts"]] == expected_ids
        assert len(row["topProducts"]) <= per_class
        assert row["products"] == len(members)


def test_export_bounds_follow_config(kpi_conn, src):
    """Smaller configured limits give smaller exports (inside a rolled-back transaction)."""
    changes = {
        "products.top_n_export": 3,
        "products.abc_top_per_class": 2,
        "products.critical_stock_statuses": ["Normal", "Overstocked"],
    }
    with kpi_conn.transaction(force_rollback=True):
        with kpi_conn.cursor() as cur:
            for key, value in changes.items():
                cur.execute(
                    "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s",
                    (json.dumps(value), key),
                )
        assert len(export(kpi_conn, "fn_export_products_top_products")["rows"]) == 3
        assert len(export(kpi_conn, "fn_export_products_categories")["rows"]) == 3
        assert len(export(kpi_conn, "fn_export_products_brands")["rows"]) == 3
        crit = export(kpi_conn, "fn_export_products_inventory_turnover")
        assert len(crit["rows"]) == 3
        assert {r["stockStatus"] for r in crit["rows"]} <= {"Normal", "Overstocked"}
        abc = export(kpi_conn, "fn_export_products_abc")
        assert all(len(r["topProducts"]) <= 2 for r in abc["rows"])


# --------------------------------------------------------------------------------------------------
# The SQL files themselves (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = [SQL_DIR / "products" / f"{o}.sql" for o in PRODUCT_OBJECTS] + [
    SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS
]


def test_every_products_file_is_tested():
    on_disk = {p.stem for p in (SQL_DIR / "products").glob("*.sql")}
    on_disk |= {p.stem for p in (SQL_DIR / "exports").glob("fn_export_products_*.sql")}
    assert on_disk == set(PRODUCT_OBJECTS) | set(EXPORTS)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    text, header = check_sql_file(path)
    stem = path.stem
    if not stem.startswith("fn_export_"):
        for field in ("Question", "Owner", "Refresh"):
            assert any(line.startswith(f"-- {field}: ") for line in header), f"no {field}"
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    assert "current_date" not in body.lower() and "now()" not in body.lower()
