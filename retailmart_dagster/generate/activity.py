"""Customer activity and merchandising: reviews, loyalty, inventory, promotions and marketing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import reference as ref
from .context import Context, days_between, round_to, weighted_choice
from .dates import daily_weights, day_range
from .sizes import INVENTORY_SHARE

RATING_P_KEPT = (0.07, 0.06, 0.12, 0.29, 0.46)  # ratings 1..5 for products kept
RATING_P_RETURNED = (0.38, 0.27, 0.20, 0.10, 0.05)


def build_reviews(ctx: Context) -> None:
    """``customers.reviews``: buyers review delivered lines a few days after delivery (never after end)."""
    rng = ctx.rng("reviews")
    lines = ctx.side["lines"]
    orders = ctx.tables["sales.orders"]
    status = orders["order_status"].to_numpy()[lines["order_idx"].to_numpy()]
    pool = np.flatnonzero(np.isin(status, ("Delivered", "Returned")))
    n = min(ctx.sizes.reviews, len(pool))
    picked = np.sort(rng.choice(pool, size=n, replace=False))
    order_idx = lines["order_idx"].to_numpy()[picked]
    delivered = ctx.side["orders"]["delivered"].to_numpy().astype("datetime64[D]")[order_idx]
    review_date = np.minimum(
        delivered + (1 + rng.geometric(0.15, n)).astype("timedelta64[D]"), ctx.end64
    )
    returned = status[picked] == "Returned"
    rating = 1 + np.where(
        returned,
        weighted_choice(rng, np.asarray(RATING_P_RETURNED), n),
        weighted_choice(rng, np.asarray(RATING_P_KEPT), n),
    )
    texts = np.empty(n, dtype=object)
    for stars, options in ref.REVIEW_TEXTS.items():
        rows = np.flatnonzero(rating == stars)
        texts[rows] = np.asarray(options, dtype=object)[rng.integers(0, len(options), len(rows))]
    frame = pd.DataFrame(
        {
            "cust_id": orders["cust_id"].to_numpy()[order_idx],
            "prod_id": lines["prod_id"].to_numpy()[picked],
            "rating": rating,
            "review_date": review_date,
            "review_text": texts,
        }
    ).sort_values(["review_date", "cust_id", "prod_id"], kind="stable")
    frame.insert(0, "review_id", np.arange(1, n + 1))
    ctx.tables["customers.reviews"] = frame.reset_index(drop=True)[
        ["review_id", "cust_id", "prod_id", "rating", "review_date", "review_text"]
    ]


def build_loyalty(ctx: Context) -> None:
    """``customers.loyalty_points``: 1 point per Rs 100 spent minus redemptions; welcome points for some."""
    rng = ctx.rng("loyalty")
    cust = ctx.tables["customers.customers"]
    orders = ctx.tables["sales.orders"]
    n = len(cust)
    live = orders["order_status"].to_numpy() != "Cancelled"
    idx = orders["cust_id"].to_numpy()[live] - 1
    spend = np.bincount(idx, weights=orders["total_amount"].to_numpy()[live], minlength=n) / 100
    last = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    dates = orders["order_date"].to_numpy().astype("datetime64[D]")[live]
    last_frame = pd.DataFrame({"i": idx, "d": dates}).groupby("i", sort=True)["d"].max()
    last[last_frame.index.to_numpy()] = last_frame.to_numpy().astype("datetime64[D]")
    buyers = spend > 0
    redeemed = rng.beta(1.2, 3.5, n)
    points = np.floor(spend / 100 * (1 - redeemed)).astype(np.int64)
    updated = np.minimum(last + rng.integers(0, 4, n).astype("timedelta64[D]"), ctx.end64)
    join = cust["join_date"].to_numpy().astype("datetime64[D]")
    welcome = ~buyers & (rng.random(n) < 0.35)
    keep = buyers | welcome
    ctx.tables["customers.loyalty_points"] = pd.DataFrame(
        {
            "cust_id": cust["cust_id"].to_numpy()[keep],
            "total_points": np.where(buyers, points, 100)[keep],
            "last_updated": np.where(buyers, updated, join)[keep],
        }
    )


def build_inventory(ctx: Context) -> None:
    """``products.inventory``: ~47% of (store, product) pairs, bigger stores and popular items more often."""
    rng = ctx.rng("inventory")
    stores = ctx.side["stores"]
    products = ctx.side["products"]
    size = stores["size"].to_numpy()
    pop = products["popularity"].to_numpy()
    pop_rank = np.argsort(np.argsort(-pop, kind="stable"), kind="stable") / max(len(pop) - 1, 1)
    store_p = np.clip(INVENTORY_SHARE * size / size.mean(), 0.1, 0.9)
    prod_factor = 1.45 - 0.9 * pop_rank  # popular products stocked more widely
    prob = np.clip(store_p[:, None] * prod_factor[None, :], 0.02, 0.98)
    s_idx, p_idx = np.nonzero(rng.random(prob.shape) < prob)
    m = len(s_idx)
    demand = pop[p_idx] * len(pop) * size[s_idx]
    stock = rng.poisson(np.clip(12 + 25 * demand, 5, 400))
    stock[rng.random(m) < 0.05] = 0
    ctx.tables["products.inventory"] = pd.DataFrame(
        {
            "store_id": stores["store_id"].to_numpy()[s_idx],
            "prod_id": products["prod_id"].to_numpy()[p_idx],
            "stock_qty": stock.astype(np.int64),
            "last_updated": ctx.end64 - rng.integers(0, 30, m).astype("timedelta64[D]"),
        }
    )


def _window_days(ctx: Context, rng: np.random.Generator, n: int, last: dt.date) -> np.ndarray:
    """``n`` start days in the window up to ``last``, more of them around festivals."""
    days = day_range(ctx.start, last)
    return days[weighted_choice(rng, daily_weights(days, rng) ** 0.6, n)]


def build_promotions(ctx: Context) -> None:
    """``products.promotions``: short promotions across the window, ending no later than the end date."""
    rng = ctx.rng("promotions")
    n = ctx.sizes.promotions
    start = np.sort(_window_days(ctx, rng, n, ctx.end_date - dt.timedelta(days=1)))
    end = np.minimum(start + rng.integers(1, 22, n).astype("timedelta64[D]"), ctx.end64)
    names = np.asarray(ref.PROMO_NAMES, dtype=object)[rng.integers(0, len(ref.PROMO_NAMES), n)]
    cats = np.asarray([c.name for c in ref.CATEGORIES], dtype=object)[
        rng.integers(0, len(ref.CATEGORIES), n)
    ]
    disc = np.array([5, 10, 15, 20, 25, 30, 40, 50])[
        weighted_choice(rng, np.array([12, 22, 18, 16, 10, 10, 7, 5]), n)
    ]
    ctx.tables["products.promotions"] = pd.DataFrame(
        {
            "promo_id": np.arange(1, n + 1),
            "promo_name": names + " - " + cats,
            "start_date": start,
            "end_date": end,
            "discount_percent": disc,
        }
    )


CAMPAIGN_MEDIAN_BUDGET = 200_000  # rupees, at scale 1


def build_campaigns(ctx: Context) -> None:
    """``marketing.campaigns`` and ``marketing.ads_spend`` (16 rows: 8 channels x 2 flights)."""
    rng = ctx.rng("campaigns")
    n = ctx.sizes.campaigns
    start = np.sort(_window_days(ctx, rng, n, ctx.end_date - dt.timedelta(days=7)))
    end = np.minimum(start + rng.integers(7, 46, n).astype("timedelta64[D]"), ctx.end64)
    themes = np.asarray(ref.CAMPAIGN_THEMES, dtype=object)[
        rng.integers(0, len(ref.CAMPAIGN_THEMES), n)
    ]
    audiences = np.asarray(ref.CAMPAIGN_AUDIENCES, dtype=object)[
        rng.integers(0, len(ref.CAMPAIGN_AUDIENCES), n)
    ]
    years = pd.DatetimeIndex(start).year.astype(str).to_numpy().astype(object)
    names = pd.Series(themes + " " + years + " - " + audiences)
    seq = names.groupby(names, sort=False).cumcount().to_numpy()
    names = np.where(seq > 0, names + " #" + (seq + 1).astype(str).astype(object), names)
    # Budgets follow the size of the business: about 5% of revenue goes to campaigns at every scale
    # (median 2 lakh per campaign at scale 1), so ROI and cost per acquisition stay plausible.
    median = max(CAMPAIGN_MEDIAN_BUDGET * ctx.scale, 5_000)
    budget = np.maximum(round_to(rng.lognormal(np.log(median), 0.7, n), 1000), 1000)
    ctx.tables["marketing.campaigns"] = pd.DataFrame(
        {
            "campaign_id": np.arange(1, n + 1),
            "campaign_name": names,
            "start_date": start,
            "end_date": end,
            "budget": budget * 100,
        }
    )
    ctx.tables["marketing.ads_spend"] = _ads_spend(rng, budget * 100)


def _ads_spend(rng: np.random.Generator, budget_paise: np.ndarray) -> pd.DataFrame:
    """Spend rows: total per campaign 70-98% of its budget; clicks from CPC; conversions <= clicks."""
    n = len(budget_paise)
    channels = ref.AD_CHANNELS
    per = 2 * len(channels)
    channel_idx = np.tile(np.repeat(np.arange(len(channels)), 2), n)
    alpha = np.tile(np.repeat([1.0, 3.0, 2.0, 1.0, 2.5, 0.8, 2.0, 1.2], 2), n).reshape(n, per)
    share = rng.gamma(alpha)
    share /= share.sum(axis=1, keepdims=True)
    used = budget_paise * rng.uniform(0.70, 0.98, n)
    amount = (
        np.floor(share * used[:, None]).astype(np.int64).ravel()
    )  # floor keeps the sum <= budget
    cpc_lo = np.array([c[1] for c in channels])[channel_idx]
    cpc_hi = np.array([c[2] for c in channels])[channel_idx]
    cpc = cpc_lo + (cpc_hi - cpc_lo) * rng.random(n * per)
    clicks = np.floor(amount / 100 / cpc).astype(np.int64)
    cvr = np.array([c[3] for c in channels])[channel_idx] * rng.lognormal(0.0, 0.3, n * per)
    conversions = rng.binomial(clicks, np.clip(cvr, 0.0, 1.0))
    return pd.DataFrame(
        {
            "spend_id": np.arange(1, n * per + 1),
            "campaign_id": np.repeat(np.arange(1, n + 1), per),
            "channel": np.asarray([c[0] for c in channels], dtype=object)[channel_idx],
            "amount": amount,
            "clicks": clicks,
            "conversions": conversions,
        }
    )


def build_emails(ctx: Context) -> None:
    """``marketing.email_clicks``: sends during campaigns to customers who had joined; clicked => opened."""
    rng = ctx.rng("emails")
    camps = ctx.tables["marketing.campaigns"]
    n = ctx.sizes.emails
    c_idx = weighted_choice(rng, np.sqrt(camps["budget"].to_numpy().astype(float)), n)
    c_start = camps["start_date"].to_numpy().astype("datetime64[D]")[c_idx]
    c_len = days_between(c_start, camps["end_date"].to_numpy().astype("datetime64[D]")[c_idx])
    sent = c_start + np.floor(rng.random(n) * (c_len + 1)).astype("timedelta64[D]")
    side = ctx.side["customers"]
    join = side["join"].to_numpy().astype("datetime64[D]")
    by_join = np.argsort(join, kind="stable")
    eligible = np.searchsorted(join[by_join], sent, side="right")  # joined on or before the send
    cust = by_join[np.minimum(np.floor(rng.random(n) * eligible).astype(np.int64), eligible - 1)]
    engaged = np.clip(0.28 * side["value"].to_numpy()[cust] ** 0.2, 0.05, 0.7)
    opened = rng.random(n) < engaged
    clicked = opened & (rng.random(n) < 0.24)
    frame = pd.DataFrame(
        {
            "cust_id": side["cust_id"].to_numpy()[cust],
            "campaign_id": camps["campaign_id"].to_numpy()[c_idx],
            "sent_date": sent,
            "opened": opened,
            "clicked": clicked,
        }
    ).sort_values(["sent_date", "campaign_id", "cust_id"], kind="stable")
    frame.insert(0, "email_id", np.arange(1, n + 1))
    ctx.tables["marketing.email_clicks"] = frame.reset_index(drop=True)
