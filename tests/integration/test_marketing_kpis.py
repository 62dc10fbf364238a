"""Marketing KPI objects checked against an independent pandas computation from the source tables.

Every Marketing view / materialized view in ``analytics`` (campaign performance with its last-e-mail-
click attribution, channel performance, e-mail engagement, promotion effectiveness, the ROI summary)
is recomputed here from the raw tables (``marketing.campaigns``, ``ads_spend``, ``email_clicks``,
``products.promotions``, ``sales.orders``) with pandas only and compared row by row: counts exactly,
money and percentages within 0.01. Traps (budget fan-out over spend rows, revenue credited to two
campaigns, conversions > clicks, clicked-but-not-opened e-mails, overlapping promotions, reference
date, top-N bounds) are tested explicitly; source rows and configuration are changed only inside
rolled-back transactions. The exports are checked for shape, bounds and agreement with the views.
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

from tests.kpi_support import MONEY_TOL as TOL
from tests.kpi_support import (
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
from tests.kpi_support import assert_close as assert_matches

pytestmark = pytest.mark.integration

MARKETING_OBJECTS = [
    "mv_campaign_performance",
    "vw_channel_performance",
    "vw_email_engagement",
    "mv_promotion_effectiveness",
    "mv_marketing_roi_summary",
]
EXPORTS = [
    "fn_export_marketing_campaigns",
    "fn_export_marketing_channels",
    "fn_export_marketing_email_engagement",
    "fn_export_marketing_promotions",
    "fn_export_marketing_roi_summary",
]


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


@dataclass
class Source:
    orders: pd.DataFrame
    campaigns: pd.DataFrame
    spend: pd.DataFrame
    emails: pd.DataFrame
    promotions: pd.DataFrame
    config: dict[str, Any]
    ref_date: pd.Timestamp
    first_date: pd.Timestamp

    def cfg(self, key: str) -> Any:
        return self.config[key]


def read_promotions(conn: psycopg.Connection) -> pd.DataFrame:
    return query_df(
        conn,
        "SELECT promo_id, promo_name, start_date, end_date, discount_percent "
        "FROM products.promotions",
    )


def read_source(conn: psycopg.Connection) -> Source:
    orders = query_df(
        conn, "SELECT order_id, cust_id, order_date, order_status, total_amount FROM sales.orders"
    )
    campaigns = query_df(
        conn,
        "SELECT campaign_id, campaign_name, start_date, end_date, budget FROM marketing.campaigns",
    )
    spend = query_df(
        conn,
        "SELECT spend_id, campaign_id, channel, amount, clicks, conversions FROM marketing.ads_spend",
    )
    emails = query_df(
        conn,
        "SELECT email_id, cust_id, campaign_id, sent_date, opened, clicked "
        "FROM marketing.email_clicks",
    )
    with conn.cursor() as cur:
        cur.execute("SELECT key, value FROM analytics.config")
        config = {k: v for k, v in cur.fetchall()}
    dates = orders["order_date"].dropna()
    today = pd.Timestamp(dt.date.today())
    ref_date = dates[dates <= today].max() if (dates <= today).any() else dates.max()
    first_date = dates[dates <= ref_date].min()
    return Source(
        orders,
        campaigns,
        spend,
        emails,
        read_promotions(conn),
        config,
        ref_date,
        first_date,
    )


_CACHE: dict[str, Source] = {}


@pytest.fixture
def src(kpi_conn: psycopg.Connection) -> Source:
    return read_once(_CACHE, kpi_conn, read_source)


# --------------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------------


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return (num.astype(float) / den).where(den != 0)


# --------------------------------------------------------------------------------------------------
# Expected results, pandas only
# --------------------------------------------------------------------------------------------------


def scoped_campaigns(s: Source) -> pd.DataFrame:
    return s.campaigns[s.campaigns["start_date"] <= s.ref_date]


def scoped_emails(s: Source) -> pd.DataFrame:
    e = s.emails[
        (s.emails["sent_date"] <= s.ref_date)
        & s.emails["campaign_id"].isin(scoped_campaigns(s)["campaign_id"])
    ].copy()
    e["opened"] = e["opened"].fillna(False).astype(bool)
    e["clicked"] = e["clicked"].fillna(False).astype(bool)
    return e


def attribution_candidates(s: Source, window: int) -> pd.DataFrame:
    """Every (order, clicked e-mail) pair where the order falls in the e-mail's window."""
    clicks = scoped_emails(s)
    clicks = clicks[clicks["clicked"]]
    so = sales_orders(s)[["order_id", "cust_id", "order_date", "total_amount"]]
    pairs = so.merge(clicks[["email_id", "cust_id", "campaign_id", "sent_date"]], on="cust_id")
    lag = (pairs["order_date"] - pairs["sent_date"]).dt.days
    return pairs[(lag >= 0) & (lag <= window)]


def credited_orders(s: Source, window: int) -> pd.DataFrame:
    pairs = attribution_candidates(s, window)
    latest = pairs.sort_values(
        ["order_id", "sent_date", "email_id"], ascending=[True, False, False]
    )
    return latest.drop_duplicates("order_id")


def expected_campaigns(s: Source, window: int | None = None) -> pd.DataFrame:
    window = s.cfg("marketing.attribution_window_days") if window is None else window
    c = scoped_campaigns(s).set_index("campaign_id")
    sp = s.spend[s.spend["campaign_id"].isin(c.index)]
    g = sp.groupby("campaign_id")
    c["spend_rows"] = g.size()
    c["spend"] = g["amount"].sum()
    c["clicks"] = g["clicks"].sum()
    c["conversions"] = g["conversions"].sum()
    c["rows_conversions_over_clicks"] = (
        sp[sp["conversions"] > sp["clicks"]].groupby("campaign_id").size()
    )
    em = scoped_emails(s)
    c["emails_sent"] = em.groupby("campaign_id").size()
    c["email_clicks"] = em[em["clicked"]].groupby("campaign_id").size()
    cr = credited_orders(s, window)
    ga = cr.groupby("campaign_id")
    c["attributed_orders"] = ga.size()
    c["attributed_customers"] = ga["cust_id"].nunique()
    c["attributed_revenue"] = ga["total_amount"].sum()
    counts = [
        "spend_rows",
        "spend",
        "clicks",
        "conversions",
        "rows_conversions_over_clicks",
        "emails_sent",
        "email_clicks",
        "attributed_orders",
        "attributed_customers",
        "attributed_revenue",
    ]
    c[counts] = c[counts].fillna(0)
    c["duration_days"] = (c["end_date"] - c["start_date"]).dt.days + 1
    c["campaign_status"] = np.where(c["end_date"] < s.ref_date, "Completed", "Active")
    c["remaining_budget"] = c["budget"] - c["spend"]
    c["budget_utilization_pct"] = pct(c["spend"], c["budget"])
    c["conversion_rate_pct"] = pct(c["conversions"], c["clicks"])
    c["cpc"] = ratio(c["spend"], c["clicks"])
    c["cpa"] = ratio(c["spend"], c["conversions"])
    c["roi_pct"] = pct(c["attributed_revenue"] - c["spend"], c["spend"])
    return c.reset_index()


def expected_channels(s: Source) -> pd.DataFrame:
    sp = s.spend[s.spend["campaign_id"].isin(scoped_campaigns(s)["campaign_id"])].copy()
    sp["channel"] = sp["channel"].fillna("Unknown")
    over = sp[sp["conversions"] > sp["clicks"]]
    g = sp.groupby("channel")
    c = pd.DataFrame(
        {
            "campaigns": g["campaign_id"].nunique(),
            "spend_rows": g.size(),
            "spend": g["amount"].sum(),
            "clicks": g["clicks"].sum(),
            "conversions": g["conversions"].sum(),
        }
    )
    c["rows_conversions_over_clicks"] = over.groupby("channel").size()
    c["excess_conversions"] = (over["conversions"] - over["clicks"]).groupby(over["channel"]).sum()
    c = c.fillna(0)
    c["spend_share_pct"] = pct(c["spend"], pd.Series(c["spend"].sum(), index=c.index))
    c["conversion_rate_pct"] = pct(c["conversions"], c["clicks"])
    c["cpc"] = ratio(c["spend"], c["clicks"])
    c["cpa"] = ratio(c["spend"], c["conversions"])
    return c.reset_index()


def expected_engagement(s: Source) -> pd.DataFrame:
    e = s.emails[s.emails["sent_date"] <= s.ref_date].copy()
    e["opened"] = e["opened"].fillna(False).astype(bool)
    e["clicked"] = e["clicked"].fillna(False).astype(bool)
    e["sent_month"] = e["sent_date"].dt.to_period("M").dt.to_timestamp()
    e["open_any"] = e["opened"] | e["clicked"]
    e["cno"] = e["clicked"] & ~e["opened"]
    g = e.groupby(["campaign_id", "sent_month"])
    out = pd.DataFrame(
        {
            "sent": g.size(),
            "recipients": g["cust_id"].nunique(),
            "opens": g["open_any"].sum(),
            "clicks": g["clicked"].sum(),
            "clicked_not_opened": g["cno"].sum(),
        }
    ).reset_index()
    out["open_rate_pct"] = pct(out["opens"], out["sent"])
    out["click_rate_pct"] = pct(out["clicks"], out["sent"])
    out["click_to_open_rate_pct"] = pct(out["clicks"], out["opens"])
    names = s.campaigns.set_index("campaign_id")["campaign_name"]
    out["campaign_name"] = out["campaign_id"].map(names)
    return out


def expected_promotions(s: Source, promotions: pd.DataFrame | None = None) -> pd.DataFrame:
    promos = s.promotions if promotions is None else promotions
    window = s.cfg("marketing.promotion_baseline_window_days")
    min_days = s.cfg("marketing.promotion_min_baseline_days")
    days = pd.date_range(s.first_date, s.ref_date, freq="D")
    so = sales_orders(s)
    so = so[so["order_date"] >= s.first_date]
    revenue = so.groupby("order_date")["total_amount"].sum().reindex(days).fillna(0).to_numpy()
    orders = so.groupby("order_date").size().reindex(days).fillna(0).to_numpy()
    d = days.to_numpy()
    starts = promos["start_date"].to_numpy()
    ends = promos["end_date"].to_numpy()
    active = ((d[:, None] >= starts[None, :]) & (d[:, None] <= ends[None, :])).sum(axis=1)
    weekday = days.day_of_week.to_numpy()
    rows = []
    for p in promos.itertuples(index=False):
        if not (p.start_date <= s.ref_date and p.end_date >= s.first_date):
            continue
        if p.end_date < p.start_date:
            continue
        in_promo = (days >= p.start_date) & (days <= p.end_date)
        promo_mask = in_promo  # days is already clipped to [first_date, ref_date]
        weekdays = set(weekday[promo_mask])
        cand = (
            (days >= p.start_date - pd.Timedelta(days=window))
            & (days <= p.end_date + pd.Timedelta(days=window))
            & ~in_promo
            & np.isin(weekday, list(weekdays))
        )
        free = cand & (active == 0)
        if free.sum() >= min_days:
            base, basis = free, "promotion_free"
        else:
            base, basis = cand, "without_this_promotion"
        if base.sum() == 0:
            basis = "no_baseline"
        n_promo, n_base = promo_mask.sum(), base.sum()
        promo_avg = revenue[promo_mask].sum() / n_promo
        promo_avg_orders = orders[promo_mask].sum() / n_promo
        base_avg = revenue[base].sum() / n_base if n_base else np.nan
        base_avg_orders = orders[base].sum() / n_base if n_base else np.nan
        overlapping = (
            (promos["promo_id"] != p.promo_id)
            & (promos["start_date"] <= p.end_date)
            & (promos["end_date"] >= p.start_date)
        ).sum()
        rows.append(
            {
                "promo_id": p.promo_id,
                "promo_days": n_promo,
                "promo_revenue": revenue[promo_mask].sum(),
                "promo_avg_daily_revenue": promo_avg,
                "promo_avg_daily_orders": promo_avg_orders,
                "baseline_basis": basis,
                "baseline_days": n_base,
                "baseline_avg_daily_revenue": base_avg,
                "baseline_avg_daily_orders": base_avg_orders,
                "revenue_uplift_pct": (promo_avg - base_avg) / base_avg * 100
                if base_avg
                else np.nan,
                "orders_uplift_pct": (promo_avg_orders - base_avg_orders) / base_avg_orders * 100
                if base_avg_orders
                else np.nan,
                "promotion_free_days": free.sum(),
                "overlapping_promotions": overlapping,
                "avg_active_promotions_promo_days": active[promo_mask].mean(),
                "avg_active_promotions_baseline_days": active[base].mean() if n_base else np.nan,
            }
        )
    return pd.DataFrame(rows)


PROMO_EXACT = ["promo_days", "baseline_days", "promotion_free_days", "overlapping_promotions"]
PROMO_CLOSE = [
    "promo_revenue",
    "promo_avg_daily_revenue",
    "promo_avg_daily_orders",
    "baseline_avg_daily_revenue",
    "baseline_avg_daily_orders",
    "revenue_uplift_pct",
    "orders_uplift_pct",
    "avg_active_promotions_promo_days",
    "avg_active_promotions_baseline_days",
]

CAMPAIGN_EXACT = [
    "spend_rows",
    "clicks",
    "conversions",
    "rows_conversions_over_clicks",
    "emails_sent",
    "email_clicks",
    "attributed_orders",
    "attributed_customers",
    "duration_days",
]
CAMPAIGN_CLOSE = [
    "budget",
    "spend",
    "remaining_budget",
    "budget_utilization_pct",
    "conversion_rate_pct",
    "cpc",
    "cpa",
    "attributed_revenue",
    "roi_pct",
]


# --------------------------------------------------------------------------------------------------
# The views against pandas
# --------------------------------------------------------------------------------------------------


def test_campaign_performance(kpi_conn, src):
    actual = view(kpi_conn, "mv_campaign_performance")
    assert_matches(
        actual,
        expected_campaigns(src),
        ["campaign_id"],
        exact=CAMPAIGN_EXACT,
        close=CAMPAIGN_CLOSE,
        other=["campaign_name", "campaign_status"],
        label="mv_campaign_performance",
    )
    assert (actual["attribution_window_days"] == src.cfg("marketing.attribution_window_days")).all()
    assert actual["attributed_orders"].sum() > 0, "no attributed order in the sample data"


def test_budget_is_counted_once_per_campaign(kpi_conn, src):
    """Trap: ads_spend has 16 rows per campaign; joining before aggregating multiplies budgets."""
    actual = view(kpi_conn, "mv_campaign_performance")
    true_budget = scoped_campaigns(src)["budget"].sum()
    fanned = scoped_campaigns(src).merge(src.spend, on="campaign_id")["budget"].sum()
    assert fanned > true_budget * 2, "the trap is not present in the sample data"
    assert actual["budget"].sum() == pytest.approx(true_budget, abs=TOL)
    assert actual["campaign_id"].is_unique
    assert (actual["spend_rows"] == 16).all()
    summary = view(kpi_conn, "mv_marketing_roi_summary").set_index("period")
    assert summary.loc["all_time", "budget"] == pytest.approx(true_budget, abs=TOL)
    assert summary.loc["all_time", "spend"] == pytest.approx(src.spend["amount"].sum(), abs=TOL)


@pytest.mark.parametrize("window", [0, 30, 120])
def test_attribution_never_credits_an_order_twice(kpi_conn, src, window):
    """With any window, each order goes to one campaign: its customer's most recent click."""
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "marketing.attribution_window_days", window)
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_campaign_performance")
        actual = view(kpi_conn, "mv_campaign_performance")
    expected = expected_campaigns(src, window)
    assert_matches(
        actual,
        expected,
        ["campaign_id"],
        exact=["attributed_orders", "attributed_customers"],
        close=["attributed_revenue", "roi_pct"],
        label=f"attribution(window={window})",
    )
    pairs = attribution_candidates(src, window)
    credited = pairs.drop_duplicates("order_id")
    assert actual["attributed_orders"].sum() == len(credited)
    assert actual["attributed_revenue"].sum() == pytest.approx(
        credited["total_amount"].sum(), abs=TOL
    )
    if window == 120:
        multi = pairs.groupby("order_id")["campaign_id"].nunique()
        assert (multi > 1).any(), "no order with clicks from two campaigns: trap not exercised"
        naive = pairs.drop_duplicates(["order_id", "campaign_id"])["total_amount"].sum()
        assert actual["attributed_revenue"].sum() < naive - TOL


def test_future_campaigns_are_not_reported(kpi_conn, src):
    future = (src.ref_date + pd.Timedelta(days=10)).date()
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "INSERT INTO marketing.campaigns (campaign_id, campaign_name, start_date, end_date, "
            "budget) SELECT max(campaign_id) + 1, 'Future', %s, %s, 1000 FROM marketing.campaigns",
            (future, future + dt.timedelta(days=5)),
        )
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_campaign_performance")
        actual = view(kpi_conn, "mv_campaign_performance")
        channels = view(kpi_conn, "vw_channel_performance")
    assert "Future" not in set(actual["campaign_name"])
    assert (actual["start_date"] <= src.ref_date).all()
    assert channels["spend"].sum() == pytest.approx(expected_channels(src)["spend"].sum(), abs=TOL)


def test_channel_performance(kpi_conn, src):
    actual = view(kpi_conn, "vw_channel_performance")
    assert_matches(
        actual,
        expected_channels(src),
        ["channel"],
        exact=[
            "campaigns",
            "spend_rows",
            "clicks",
            "conversions",
            "rows_conversions_over_clicks",
            "excess_conversions",
        ],
        close=["spend", "spend_share_pct", "conversion_rate_pct", "cpc", "cpa"],
        label="vw_channel_performance",
    )
    assert actual["click_through_rate_pct"].isna().all()
    assert actual["click_through_rate_note"].str.contains("impressions").all()


def test_conversions_over_clicks_are_reported_not_hidden(kpi_conn, src):
    row = src.spend.sort_values("spend_id").iloc[0]
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "UPDATE marketing.ads_spend SET conversions = clicks + 5 WHERE spend_id = %s",
            (int(row["spend_id"]),),
        )
        channels = view(kpi_conn, "vw_channel_performance").set_index("channel")
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_campaign_performance")
        campaigns = view(kpi_conn, "mv_campaign_performance").set_index("campaign_id")
    ch = channels.loc[row["channel"]]
    base = expected_channels(src).set_index("channel").loc[row["channel"]]
    assert ch["rows_conversions_over_clicks"] == 1
    assert ch["excess_conversions"] == 5
    assert ch["conversions"] == base["conversions"] - row["conversions"] + row["clicks"] + 5
    camp = campaigns.loc[int(row["campaign_id"])]
    assert camp["rows_conversions_over_clicks"] == 1
    assert channels["rows_conversions_over_clicks"].sum() == 1


def test_email_engagement(kpi_conn, src):
    actual = view(kpi_conn, "vw_email_engagement")
    assert_matches(
        actual,
        expected_engagement(src),
        ["campaign_id", "sent_month"],
        exact=["sent", "recipients", "opens", "clicks", "clicked_not_opened"],
        close=["open_rate_pct", "click_rate_pct", "click_to_open_rate_pct"],
        other=["campaign_name"],
        label="vw_email_engagement",
    )
    assert actual["sent"].sum() == (src.emails["sent_date"] <= src.ref_date).sum()


def test_clicked_but_not_opened_counts_as_opened(kpi_conn, src):
    e = src.emails[~src.emails["opened"].astype(bool)].sort_values("email_id").iloc[0]
    month = e["sent_date"].to_period("M").to_timestamp()
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "UPDATE marketing.email_clicks SET clicked = true, opened = false WHERE email_id = %s",
            (int(e["email_id"]),),
        )
        actual = view(kpi_conn, "vw_email_engagement").set_index(["campaign_id", "sent_month"])
    before = expected_engagement(src).set_index(["campaign_id", "sent_month"])
    key = (int(e["campaign_id"]), month)
    row, old = actual.loc[key], before.loc[key]
    assert row["clicked_not_opened"] == old["clicked_not_opened"] + 1
    assert row["opens"] == old["opens"] + 1
    assert row["clicks"] == old["clicks"] + 1
    assert (actual["click_to_open_rate_pct"].dropna() <= 100).all()
    assert actual["clicked_not_opened"].sum() == 1


def test_promotion_effectiveness(kpi_conn, src):
    actual = view(kpi_conn, "mv_promotion_effectiveness")
    expected = expected_promotions(src)
    assert_matches(
        actual,
        expected,
        ["promo_id"],
        exact=PROMO_EXACT,
        close=PROMO_CLOSE,
        other=["baseline_basis"],
        label="mv_promotion_effectiveness",
    )
    # The sample data's promotions cover every day: the fallback is used and overlaps are visible.
    assert (actual["overlapping_promotions"] > 0).all()
    assert (actual["avg_active_promotions_promo_days"] >= 1).all()


def test_promotion_free_baseline_is_used_when_available(kpi_conn, src):
    """Remove every promotion touching two months, add one short promotion inside them: it is
    compared with promotion-free days only; others keep the fallback (rolled back)."""
    with rolled_back(kpi_conn) as cur:
        cur.execute(
            "DELETE FROM products.promotions "
            "WHERE start_date <= '2025-04-30' AND end_date >= '2025-03-01'"
        )
        cur.execute(
            "INSERT INTO products.promotions (promo_id, promo_name, start_date, end_date, "
            "discount_percent) SELECT max(promo_id) + 1, 'Isolated', '2025-03-20', '2025-03-25', "
            "10 FROM products.promotions"
        )
        cur.execute("REFRESH MATERIALIZED VIEW analytics.mv_promotion_effectiveness")
        promotions = read_promotions(kpi_conn)
        actual = view(kpi_conn, "mv_promotion_effectiveness")
    expected = expected_promotions(src, promotions)
    assert_matches(
        actual,
        expected,
        ["promo_id"],
        exact=PROMO_EXACT,
        close=PROMO_CLOSE,
        other=["baseline_basis"],
        label="promotions(isolated)",
    )
    isolated = actual[actual["promo_name"] == "Isolated"].iloc[0]
    assert isolated["baseline_basis"] == "promotion_free"
    assert isolated["avg_active_promotions_baseline_days"] == 0
    assert isolated["overlapping_promotions"] == 0


def test_marketing_roi_summary(kpi_conn, src):
    actual = view(kpi_conn, "mv_marketing_roi_summary")
    c = expected_campaigns(src)
    c["period"] = "year_" + c["start_date"].dt.year.astype(str)
    groups = [g for _, g in c.groupby("period")] + [c.assign(period="all_time")]
    sums = [
        "budget",
        "spend",
        "clicks",
        "conversions",
        "emails_sent",
        "email_clicks",
        "attributed_orders",
        "attributed_revenue",
        "rows_conversions_over_clicks",
    ]
    rows = [
        {"period": g["period"].iloc[0], "campaigns": len(g), **g[sums].sum().to_dict()}
        for g in groups
    ]
    e = pd.DataFrame(rows)
    e["remaining_budget"] = e["budget"] - e["spend"]
    e["budget_utilization_pct"] = pct(e["spend"], e["budget"])
    e["conversion_rate_pct"] = pct(e["conversions"], e["clicks"])
    e["cpc"] = ratio(e["spend"], e["clicks"])
    e["cpa"] = ratio(e["spend"], e["conversions"])
    e["roi_pct"] = pct(e["attributed_revenue"] - e["spend"], e["spend"])
    assert_matches(
        actual,
        e,
        ["period"],
        exact=[
            "campaigns",
            "clicks",
            "conversions",
            "emails_sent",
            "email_clicks",
            "attributed_orders",
            "rows_conversions_over_clicks",
        ],
        close=[
            "budget",
            "spend",
            "remaining_budget",
            "budget_utilization_pct",
            "conversion_rate_pct",
            "cpc",
            "cpa",
            "attributed_revenue",
            "roi_pct",
        ],
        label="mv_marketing_roi_summary",
    )
    # Ratios are recomputed from sums, not averaged over campaigns.
    mean_cpc = c["cpc"].mean()
    all_time = actual.set_index("period").loc["all_time"]
    assert abs(all_time["cpc"] - mean_cpc) > TOL
    assert (actual["period_end"] <= src.ref_date).all()
    assert (actual["reference_date"] == src.ref_date).all()


# --------------------------------------------------------------------------------------------------
# Reference date
# --------------------------------------------------------------------------------------------------

DATE_COLUMNS = {
    "mv_campaign_performance": "start_date",
    "vw_email_engagement": "sent_month",
    "mv_promotion_effectiveness": "start_date",
    "mv_marketing_roi_summary": "period_end",
}


@pytest.mark.parametrize("obj", sorted(DATE_COLUMNS))
def test_no_row_after_reference_date(kpi_conn, src, obj):
    actual = view(kpi_conn, obj)
    assert not actual.empty, f"{obj} is empty"
    assert (actual[DATE_COLUMNS[obj]] <= src.ref_date).all()


def test_promotion_days_stop_at_reference_date(kpi_conn, src):
    actual = view(kpi_conn, "mv_promotion_effectiveness")
    clipped_end = actual["end_date"].clip(upper=src.ref_date)
    clipped_start = actual["start_date"].clip(lower=src.first_date)
    assert ((clipped_end - clipped_start).dt.days + 1 == actual["promo_days"]).all()


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
    fn: str, rows: list[dict], v: pd.DataFrame, key: str, field: str, skip: set[str] = frozenset()
) -> None:
    v = v.set_index(key)
    for row in rows:
        vrow = v.loc[row[field]]
        for f, value in row.items():
            col = snake(f)
            if f in ({field, "rank"} | skip):
                continue
            assert col in vrow.index, f"{fn}: field {f} has no column {col}"
            assert same_value(value, vrow[col]), f"{fn}: {f}={value!r}, view {col}={vrow[col]!r}"


def test_export_campaigns(kpi_conn, src):
    out = export(kpi_conn, "fn_export_marketing_campaigns")
    v = view(kpi_conn, "mv_campaign_performance")
    n = src.cfg("marketing.top_n_export")
    assert len(out["rows"]) == min(n, len(v))
    top = v.sort_values(["spend", "campaign_id"], ascending=[False, True]).head(n)
    assert [r["campaignId"] for r in out["rows"]] == list(top["campaign_id"])
    assert [r["rank"] for r in out["rows"]] == list(range(1, len(out["rows"]) + 1))
    assert out["attribution"]["windowDays"] == src.cfg("marketing.attribution_window_days")
    assert "one campaign per order" in out["attribution"]["method"]
    assert_rows_match_view("campaigns", out["rows"], v, "campaign_id", "campaignId")


def test_export_channels(kpi_conn, src):
    out = export(kpi_conn, "fn_export_marketing_channels")
    v = view(kpi_conn, "vw_channel_performance")
    assert len(out["rows"]) == min(src.cfg("marketing.top_n_export"), len(v))
    spend = [r["spend"] for r in out["rows"]]
    assert spend == sorted(spend, reverse=True)
    assert "impressions" in out["clickThroughRateNote"]
    assert_rows_match_view("channels", out["rows"], v, "channel", "channel")


def test_export_promotions(kpi_conn, src):
    out = export(kpi_conn, "fn_export_marketing_promotions")
    v = view(kpi_conn, "mv_promotion_effectiveness")
    n = src.cfg("marketing.top_n_export")
    assert len(out["rows"]) == min(n, len(v))
    top = v.assign(u=v["revenue_uplift_pct"].fillna(-np.inf)).sort_values(
        ["u", "promo_id"], ascending=[False, True]
    )
    assert [r["promoId"] for r in out["rows"]] == list(top["promo_id"].head(n))
    s = out["summary"]
    assert s["promotions"] == len(v)
    assert s["promotionFreeBaselines"] == (v["baseline_basis"] == "promotion_free").sum()
    assert s["fallbackBaselines"] == (v["baseline_basis"] == "without_this_promotion").sum()
    assert s["positiveUplift"] == (v["revenue_uplift_pct"] > 0).sum()
    assert out["baselineWindowDays"] == src.cfg("marketing.promotion_baseline_window_days")
    assert_rows_match_view("promotions", out["rows"], v, "promo_id", "promoId")


def test_export_email_engagement(kpi_conn, src):
    out = export(kpi_conn, "fn_export_marketing_email_engagement")
    v = view(kpi_conn, "vw_email_engagement")
    months = src.cfg("marketing.export_months")
    first = src.ref_date.to_period("M").to_timestamp() - pd.DateOffset(months=months - 1)
    w = v[v["sent_month"] >= first]
    by_month = w.groupby("sent_month")[["sent", "opens", "clicks", "clicked_not_opened"]].sum()
    assert len(out["rows"]) == len(by_month) <= months
    for r in out["rows"]:
        m = by_month.loc[pd.Timestamp(r["sentMonth"])]
        assert (r["sent"], r["opens"], r["clicks"], r["clickedNotOpened"]) == tuple(m)
        assert r["openRatePct"] == pytest.approx(m["opens"] / m["sent"] * 100, abs=TOL)
        assert r["clickRatePct"] == pytest.approx(m["clicks"] / m["sent"] * 100, abs=TOL)
        if m["opens"]:
            assert r["clickToOpenRatePct"] == pytest.approx(m["clicks"] / m["opens"] * 100, abs=TOL)
        else:
            assert r["clickToOpenRatePct"] is None
    assert sum(r["sent"] for r in out["rows"]) == w["sent"].sum()
    camps = out["campaigns"]
    assert len(camps) == min(src.cfg("marketing.top_n_export"), w["campaign_id"].nunique())
    by_campaign = w.groupby("campaign_id")["sent"].sum()
    top = by_campaign.reset_index().sort_values(["sent", "campaign_id"], ascending=[False, True])
    assert [c["campaignId"] for c in camps] == list(top["campaign_id"].head(len(camps)))
    check_values("email_engagement.campaigns", camps)


def test_export_roi_summary(kpi_conn, src):
    out = export(kpi_conn, "fn_export_marketing_roi_summary")
    v = view(kpi_conn, "mv_marketing_roi_summary")
    assert [r["period"] for r in out["rows"]][0] == "all_time"
    assert len(out["rows"]) == len(v)
    assert_rows_match_view("roi_summary", out["rows"], v, "period", "period")


def test_export_bounds_follow_config(kpi_conn, src):
    with rolled_back(kpi_conn) as cur:
        set_config(cur, "marketing.top_n_export", 3)
        set_config(cur, "marketing.export_months", 2)
        assert len(export(kpi_conn, "fn_export_marketing_campaigns")["rows"]) == 3
        assert len(export(kpi_conn, "fn_export_marketing_channels")["rows"]) == 3
        assert len(export(kpi_conn, "fn_export_marketing_promotions")["rows"]) == 3
        email = export(kpi_conn, "fn_export_marketing_email_engagement")
        assert len(email["rows"]) <= 2 and len(email["campaigns"]) <= 3


def test_exports_written_by_dagster(kpi_dashboard_dir, kpi_conn):
    """The Dagster run wrote each export to dashboard/data/marketing/<name>.json."""
    for fn in EXPORTS:
        name = fn.removeprefix("fn_export_marketing_")
        path = kpi_dashboard_dir / "marketing" / f"{name}.json"
        assert path.exists(), path
        assert json.loads(path.read_text()) == export(kpi_conn, fn)


# --------------------------------------------------------------------------------------------------
# The SQL files and the configuration (no database needed)
# --------------------------------------------------------------------------------------------------

SQL_FILES = [SQL_DIR / "marketing" / f"{o}.sql" for o in MARKETING_OBJECTS] + [
    SQL_DIR / "exports" / f"{f}.sql" for f in EXPORTS
]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_sql_file_conventions(path: Path):
    check_sql_file_with_params(path)


def test_marketing_config_keys_defined_and_read():
    defined = config_section_keys("marketing")
    read = config_keys_read("marketing")
    assert defined, "no [marketing] keys"
    assert defined - read == set(), f"defined but never read: {sorted(defined - read)}"
    assert read - defined == set(), f"read but never defined: {sorted(read - defined)}"
