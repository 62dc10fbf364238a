"""Sales tables: orders, order lines, payments, shipments and returns, with a consistent lifecycle.

Money is computed in int64 paise. Prices are whole rupees and discounts multiples of 5 %, so every line
amount ``quantity x unit_price x (1 - discount/100)`` is an exact number of paise: rounding each line to
2 decimals and summing, or summing and rounding once, give the same ``total_amount``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import reference as ref
from .context import Context, days_between, weighted_choice
from .dates import daily_weights, day_range, festive_boost

CANCEL_RATE = 0.08
MAX_LINES = 8
# Days from order to dispatch (0..4) and their probabilities.
DISPATCH_P = (0.25, 0.35, 0.20, 0.12, 0.08)
# Orders stuck in a state, by age: (Pending, Processing, Shipped-in-transit) probabilities.
STUCK_OLD = (0.01, 0.016, 0.08)  # older than 30 days
STUCK_RECENT = (0.025, 0.04, 0.10)  # 30 days old or newer
RETURN_P_APPAREL = 0.075
RETURN_P_OTHER = 0.036
PARTIAL_RETURN_P = 0.006
DISCOUNTS = np.array([0, 5, 10, 15, 20])
DISCOUNT_P_NORMAL = (0.68, 0.10, 0.11, 0.06, 0.05)
DISCOUNT_P_FESTIVE = (0.45, 0.12, 0.18, 0.13, 0.12)
QTY_P = (0.58, 0.24, 0.09, 0.05, 0.04)  # quantities 1..5


def order_dates(ctx: Context, rng: np.random.Generator) -> np.ndarray:
    """Sorted order dates over the window; the first and the last day always have orders."""
    days = day_range(ctx.start, ctx.end_date)
    counts = rng.multinomial(ctx.sizes.orders, daily_weights(days, rng))
    for edge in (0, len(days) - 1):
        if counts[edge] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[edge] += 1
    return np.repeat(days, counts)


def pick_customers(ctx: Context, rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    """A customer per order: joined strictly before the order, weighted by value, mostly not churned."""
    side = ctx.side["customers"]
    join = side["join"].to_numpy().astype("datetime64[D]")
    churn = side["churn"].to_numpy().astype("datetime64[D]")
    by_join = np.argsort(join, kind="stable")
    cdf = np.cumsum(side["value"].to_numpy()[by_join])
    eligible = np.searchsorted(join[by_join], dates, side="left")  # customers with join < date

    def draw(rows: np.ndarray) -> np.ndarray:
        limit = cdf[eligible[rows] - 1]
        pos = np.searchsorted(cdf, rng.random(len(rows)) * limit, side="right")
        return by_join[np.minimum(pos, eligible[rows] - 1)]

    chosen = draw(np.arange(len(dates)))
    for _ in range(12):  # re-draw orders placed after the customer's churn date
        again = np.flatnonzero(dates > churn[chosen])
        if len(again) == 0:
            break
        chosen[again] = draw(again)
    return chosen


def pick_stores(ctx: Context, rng: np.random.Generator, cust_idx: np.ndarray) -> np.ndarray:
    """Store per order: the customer's home store 72% of the time, else any store by size."""
    stores = ctx.side["stores"]
    home = ctx.side["customers"]["home_store"].to_numpy()[cust_idx]
    other = stores["store_id"].to_numpy()[
        weighted_choice(rng, stores["size"].to_numpy(), len(cust_idx))
    ]
    return np.where(rng.random(len(cust_idx)) < 0.72, home, other)


def build_lines(ctx: Context, rng: np.random.Generator, dates: np.ndarray) -> pd.DataFrame:
    """Order lines (0-based ``order_idx``), distinct products per order, qty, price, discount, net."""
    products = ctx.side["products"]
    n_orders = len(dates)
    n_lines = np.minimum(1 + rng.poisson(1.9, n_orders), MAX_LINES)
    order_idx = np.repeat(np.arange(n_orders), n_lines)
    prod_idx = weighted_choice(rng, products["popularity"].to_numpy(), len(order_idx))
    key = order_idx.astype(np.int64) * len(products) + prod_idx
    keep = ~pd.Series(key).duplicated().to_numpy()
    order_idx, prod_idx = order_idx[keep], prod_idx[keep]
    m = len(order_idx)

    qty = 1 + weighted_choice(rng, np.asarray(QTY_P), m)
    qty = np.where(qty > products["max_qty"].to_numpy()[prod_idx], 1, qty)
    festive = festive_boost(dates)[order_idx] > 1.4
    disc = np.where(
        festive,
        DISCOUNTS[weighted_choice(rng, np.asarray(DISCOUNT_P_FESTIVE), m)],
        DISCOUNTS[weighted_choice(rng, np.asarray(DISCOUNT_P_NORMAL), m)],
    )
    price = products["price"].to_numpy()[prod_idx]
    return pd.DataFrame(
        {
            "order_idx": order_idx,
            "prod_id": products["prod_id"].to_numpy()[prod_idx],
            "quantity": qty,
            "unit_price": price,
            "discount": disc,
            "net": line_net_paise(qty, price, disc),
            "apparel": products["apparel"].to_numpy()[prod_idx],
        }
    )


def line_net_paise(qty: np.ndarray, price_paise: np.ndarray, discount: np.ndarray) -> np.ndarray:
    """``qty x price x (1 - discount/100)`` in paise, rounded half away from zero to whole paise."""
    scaled = np.asarray(qty, dtype=np.int64) * np.asarray(price_paise, dtype=np.int64)
    scaled = scaled * (100 - np.asarray(discount, dtype=np.int64))
    return np.sign(scaled) * ((np.abs(scaled) + 50) // 100)


def simulate_lifecycle(
    ctx: Context, rng: np.random.Generator, dates: np.ndarray, any_apparel: np.ndarray
) -> pd.DataFrame:
    """Status as of the end date, courier and dates of dispatch, delivery and a full return."""
    n = len(dates)
    end = ctx.end64
    age = days_between(dates, end)
    cancelled = rng.random(n) < CANCEL_RATE
    dispatch = weighted_choice(rng, np.asarray(DISPATCH_P), n)
    courier = weighted_choice(rng, np.array([c.share for c in ref.COURIERS]), n)
    lo = np.array([c.min_days for c in ref.COURIERS])[courier]
    hi = np.array([c.max_days for c in ref.COURIERS])[courier]
    transit = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    shipped = dates + dispatch.astype("timedelta64[D]")
    delivered = shipped + transit.astype("timedelta64[D]")

    old = age > 30
    p_pend = np.where(old, STUCK_OLD[0], STUCK_RECENT[0])
    p_proc = np.where(old, STUCK_OLD[1], STUCK_RECENT[1])
    p_ship = np.where(old, STUCK_OLD[2], STUCK_RECENT[2])
    u = rng.random(n)
    stuck_pend = u < p_pend
    stuck_proc = (u >= p_pend) & (u < p_pend + p_proc)
    stuck_ship = (u >= p_pend + p_proc) & (u < p_pend + p_proc + p_ship)

    not_dispatched = shipped > end
    fresh = (age == 0) | ((age == 1) & (rng.random(n) < 0.5))
    status = np.full(n, "Delivered", dtype=object)
    status[(delivered > end) | stuck_ship] = "Shipped"
    status[stuck_proc] = "Processing"
    status[stuck_pend] = "Pending"
    status[not_dispatched] = np.where(fresh[not_dispatched], "Pending", "Processing")

    returned_at = delivered + rng.integers(1, 15, n).astype("timedelta64[D]")
    wants_return = rng.random(n) < np.where(any_apparel, RETURN_P_APPAREL, RETURN_P_OTHER)
    status[(status == "Delivered") & wants_return & (returned_at <= end)] = "Returned"
    status[cancelled] = "Cancelled"
    return pd.DataFrame(
        {
            "status": status,
            "courier": np.asarray([c.name for c in ref.COURIERS], dtype=object)[courier],
            "shipped": shipped,
            "delivered": delivered,
            "returned_at": returned_at,
        }
    )


def build_sales(ctx: Context) -> None:
    """Build ``sales.orders``, ``order_items``, ``payments``, ``shipments`` and ``returns``."""
    rng = ctx.rng("sales")
    dates = order_dates(ctx, rng)
    cust_idx = pick_customers(ctx, rng, dates)
    store_id = pick_stores(ctx, rng, cust_idx)
    lines = build_lines(ctx, rng, dates)
    n = len(dates)
    total = np.bincount(lines["order_idx"].to_numpy(), weights=lines["net"].to_numpy(), minlength=n)
    total = np.round(total).astype(np.int64)  # exact: sums of int64 paise well below 2**53
    any_apparel = (
        np.bincount(lines["order_idx"].to_numpy(), weights=lines["apparel"].to_numpy(), minlength=n)
        > 0
    )
    life = simulate_lifecycle(ctx, rng, dates, any_apparel)
    order_id = np.arange(1, n + 1)
    cust_id = ctx.side["customers"]["cust_id"].to_numpy()[cust_idx]

    ctx.tables["sales.orders"] = pd.DataFrame(
        {
            "order_id": order_id,
            "cust_id": cust_id,
            "store_id": store_id,
            "order_date": dates,
            "order_status": life["status"].to_numpy(),
            "total_amount": total,
        }
    )
    ctx.tables["sales.order_items"] = pd.DataFrame(
        {
            "order_item_id": np.arange(1, len(lines) + 1),
            "order_id": order_id[lines["order_idx"].to_numpy()],
            "prod_id": lines["prod_id"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "unit_price": lines["unit_price"].to_numpy(),
            "discount": lines["discount"].to_numpy(),
        }
    )
    ctx.tables["sales.payments"] = build_payments(ctx, rng, order_id, dates, total)
    ctx.tables["sales.shipments"] = build_shipments(order_id, life)
    ctx.tables["sales.returns"] = build_returns(ctx, rng, lines, life)
    ctx.side["lines"] = lines.assign(order_id=order_id[lines["order_idx"].to_numpy()])
    ctx.side["orders"] = pd.DataFrame(
        {"order_id": order_id, "cust_idx": cust_idx, "delivered": life["delivered"].to_numpy()}
    )


def build_payments(
    ctx: Context,
    rng: np.random.Generator,
    order_id: np.ndarray,
    dates: np.ndarray,
    total: np.ndarray,
) -> pd.DataFrame:
    """One payment per order for its full total, on the order day or the next (never after the end)."""
    n = len(order_id)
    lag = (rng.random(n) < 0.15).astype("timedelta64[D]")
    modes = np.asarray([m for m, _ in ref.PAYMENT_MODES], dtype=object)
    return pd.DataFrame(
        {
            "payment_id": np.arange(1, n + 1),
            "order_id": order_id,
            "payment_date": np.minimum(dates + lag, ctx.end64),
            "payment_mode": modes[
                weighted_choice(rng, np.array([p for _, p in ref.PAYMENT_MODES]), n)
            ],
            "amount": total,
        }
    )


def build_shipments(order_id: np.ndarray, life: pd.DataFrame) -> pd.DataFrame:
    """One shipment per Shipped/Delivered/Returned order; delivered_date only once delivered."""
    status = life["status"].to_numpy()
    has = np.isin(status, ("Shipped", "Delivered", "Returned"))
    in_transit = status[has] == "Shipped"
    delivered = life["delivered"].to_numpy()[has].astype("datetime64[D]")
    return pd.DataFrame(
        {
            "shipment_id": np.arange(1, int(has.sum()) + 1),
            "order_id": order_id[has],
            "courier_name": life["courier"].to_numpy()[has],
            "shipped_date": life["shipped"].to_numpy()[has],
            "delivered_date": np.where(in_transit, np.datetime64("NaT"), delivered),
            "status": np.where(in_transit, "Shipped", "Delivered").astype(object),
        }
    )


def _choose_lines(
    rng: np.random.Generator, first: np.ndarray, count: np.ndarray, two: np.ndarray
) -> np.ndarray:
    """Line positions to return per order: one random line, plus a second distinct one where ``two``."""
    r1 = np.floor(rng.random(len(first)) * count).astype(np.int64)
    second = two & (count > 1)
    r2 = (
        r1 + 1 + np.floor(rng.random(len(first)) * np.maximum(count - 1, 1)).astype(np.int64)
    ) % count
    return np.concatenate([first + r1, (first + r2)[second]])


def build_returns(
    ctx: Context, rng: np.random.Generator, lines: pd.DataFrame, life: pd.DataFrame
) -> pd.DataFrame:
    """Returns: every Returned order (1-2 of its lines) and a few single-line returns of Delivered orders."""
    end = ctx.end64
    status = life["status"].to_numpy()
    order_idx = lines["order_idx"].to_numpy()
    n_orders = len(status)
    count = np.bincount(order_idx, minlength=n_orders)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])

    full = np.flatnonzero(status == "Returned")
    partial_lag = rng.integers(1, 15, n_orders).astype("timedelta64[D]")
    partial_at = life["delivered"].to_numpy().astype("datetime64[D]") + partial_lag
    partial = np.flatnonzero(
        (status == "Delivered")
        & (count > 1)
        & (rng.random(n_orders) < PARTIAL_RETURN_P)
        & (partial_at <= end)
    )
    two = rng.random(len(full)) < 0.15
    picked = np.concatenate(
        [
            _choose_lines(rng, first[full], count[full], two),
            _choose_lines(rng, first[partial], count[partial], np.zeros(len(partial), dtype=bool)),
        ]
    )
    ret_date = np.where(
        status[order_idx[picked]] == "Returned",
        life["returned_at"].to_numpy().astype("datetime64[D]")[order_idx[picked]],
        partial_at[order_idx[picked]],
    )
    qty = lines["quantity"].to_numpy()[picked]
    net = lines["net"].to_numpy()[picked]
    one_unit = (qty > 1) & (rng.random(len(picked)) < 0.3)
    refund = np.where(one_unit, net // np.maximum(qty, 1), net)
    apparel = lines["apparel"].to_numpy()[picked]
    reasons = np.asarray(ref.RETURN_REASONS, dtype=object)
    reason = np.where(
        apparel,
        reasons[weighted_choice(rng, np.asarray(ref.RETURN_REASON_WEIGHTS[1]), len(picked))],
        reasons[weighted_choice(rng, np.asarray(ref.RETURN_REASON_WEIGHTS[0]), len(picked))],
    )
    frame = pd.DataFrame(
        {
            "order_id": order_idx[picked] + 1,
            "prod_id": lines["prod_id"].to_numpy()[picked],
            "return_date": ret_date,
            "reason": reason,
            "refund_amount": refund,
        }
    ).sort_values(["return_date", "order_id", "prod_id"], kind="stable")
    frame.insert(0, "return_id", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)
