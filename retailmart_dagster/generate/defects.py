"""Known data defects injected into clean generated data (``defects=True``).

Each defect touches its own rows (never rows of another defect) and is recorded with its exact count, so
a data-quality check written like the query in ``DEFECTS`` finds exactly ``affected_count`` rows, and
finds zero on clean data. The defective rows still satisfy every declared PK/FK/CHECK constraint.

Order-line defects (negative quantity, discount over 100 %) recompute the order's ``total_amount`` and
payment from its lines, so they do not also show up as total or payment mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .context import Context
from .sales import line_net_paise


@dataclass(frozen=True)
class Defect:
    """A defect kind: the table it is counted in, its name and a SQL query returning its count."""

    table: str
    name: str
    count_sql: str


_LINE_NET = "round(i.quantity * i.unit_price * (1 - i.discount / 100), 2)"

DEFECTS: tuple[Defect, ...] = (
    Defect(
        "sales.orders",
        "total_mismatch",
        "SELECT count(*) FROM sales.orders o JOIN (SELECT i.order_id, sum("
        + _LINE_NET
        + ") AS lines_total FROM sales.order_items i GROUP BY i.order_id) l USING (order_id) "
        "WHERE abs(o.total_amount - l.lines_total) > 0.01",
    ),
    Defect(
        "sales.order_items",
        "negative_quantity",
        "SELECT count(*) FROM sales.order_items WHERE quantity < 1",
    ),
    Defect(
        "sales.order_items",
        "discount_over_100",
        "SELECT count(*) FROM sales.order_items WHERE discount > 100",
    ),
    Defect(
        "customers.customers",
        "null_full_name",
        "SELECT count(*) FROM customers.customers WHERE full_name IS NULL",
    ),
    Defect(
        "customers.customers",
        "implausible_age",
        "SELECT count(*) FROM customers.customers WHERE age < 0 OR age > 120",
    ),
    Defect(
        "customers.customers",
        "duplicate_natural_key",
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM customers.customers "
        "WHERE full_name IS NOT NULL GROUP BY full_name, city, join_date HAVING count(*) > 1) d",
    ),
    Defect(
        "customers.reviews",
        "orphan_prod_id",
        "SELECT count(*) FROM customers.reviews r WHERE NOT EXISTS "
        "(SELECT 1 FROM products.products p WHERE p.prod_id = r.prod_id)",
    ),
    Defect(
        "products.inventory",
        "orphan_store_id",
        "SELECT count(*) FROM products.inventory v WHERE NOT EXISTS "
        "(SELECT 1 FROM stores.stores s WHERE s.store_id = v.store_id)",
    ),
    Defect(
        "products.inventory",
        "negative_stock",
        "SELECT count(*) FROM products.inventory WHERE stock_qty < 0",
    ),
    Defect(
        "sales.shipments",
        "delivered_before_shipped",
        "SELECT count(*) FROM sales.shipments WHERE delivered_date < shipped_date",
    ),
    Defect(
        "sales.shipments",
        "delivered_without_date",
        "SELECT count(*) FROM sales.shipments WHERE status = 'Delivered' AND delivered_date IS NULL",
    ),
    Defect(
        "sales.payments",
        "amount_mismatch",
        "SELECT count(*) FROM sales.payments p JOIN sales.orders o USING (order_id) "
        "WHERE abs(p.amount - o.total_amount) > 0.01",
    ),
    Defect(
        "sales.payments",
        "duplicate_payment",
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM sales.payments "
        "GROUP BY order_id HAVING count(*) > 1) d",
    ),
    Defect(
        "marketing.email_clicks",
        "clicked_not_opened",
        "SELECT count(*) FROM marketing.email_clicks WHERE clicked AND NOT opened",
    ),
    Defect(
        "marketing.ads_spend",
        "conversions_over_clicks",
        "SELECT count(*) FROM marketing.ads_spend WHERE conversions > clicks",
    ),
    Defect(
        "sales.returns",
        "return_not_delivered",
        "SELECT count(*) FROM sales.returns r JOIN sales.orders o USING (order_id) "
        "WHERE o.order_status NOT IN ('Delivered', 'Returned')",
    ),
    Defect(
        "sales.returns",
        "refund_over_line",
        "SELECT count(*) FROM sales.returns r JOIN sales.order_items i "
        "ON i.order_id = r.order_id AND i.prod_id = r.prod_id WHERE r.refund_amount > " + _LINE_NET,
    ),
)

MIN_COUNT, MAX_COUNT = 3, 7


@dataclass
class Injected:
    """One injected defect: table, defect name, exact row count and a few sample keys."""

    table: str
    defect: str
    count: int
    sample_keys: str


class _Picker:
    """Draws disjoint random subsets of row positions for successive defects."""

    def __init__(self, rng: np.random.Generator, size: int) -> None:
        self.rng = rng
        self.used = np.zeros(size, dtype=bool)

    def take(self, eligible: np.ndarray, k: int) -> np.ndarray:
        """Up to ``k`` unused positions where ``eligible`` is true, sorted."""
        pool = np.flatnonzero(eligible & ~self.used)
        chosen = np.sort(self.rng.permutation(pool)[:k])
        self.used[chosen] = True
        return chosen


def _keys(frame: pd.DataFrame, rows: np.ndarray, cols: tuple[str, ...]) -> str:
    """``"col=value; ..."`` for up to five rows (composite keys joined by commas)."""
    parts = []
    for r in rows[:5]:
        parts.append(",".join(f"{c}={frame[c].iat[int(r)]}" for c in cols))
    return "; ".join(parts)


def inject_defects(ctx: Context) -> list[Injected]:
    """Inject every defect kind into ``ctx.tables`` and return what was injected."""
    rng = ctx.rng("defects")
    k = {d.name: int(rng.integers(MIN_COUNT, MAX_COUNT + 1)) for d in DEFECTS}
    out: list[Injected] = []
    out += _order_defects(ctx, rng, k)
    out += _customer_defects(ctx, rng, k)
    out += _simple_defects(ctx, rng, k)
    return out


def _order_defects(ctx: Context, rng: np.random.Generator, k: dict[str, int]) -> list[Injected]:
    """Defects on orders, lines, payments, shipments and returns (all on distinct orders)."""
    t = ctx.tables
    orders, items, pays = t["sales.orders"], t["sales.order_items"], t["sales.payments"]
    ships, rets = t["sales.shipments"], t["sales.returns"]
    n = len(orders)
    status = orders["order_status"].to_numpy()
    line_count = np.bincount(items["order_id"].to_numpy() - 1, minlength=n)
    has_return = np.zeros(n, dtype=bool)
    has_return[rets["order_id"].to_numpy() - 1] = True
    ship_pos = np.full(n, -1)
    ship_pos[ships["order_id"].to_numpy() - 1] = np.arange(len(ships))
    dispatched_late = np.zeros(n, dtype=bool)
    ship_dates = ships["shipped_date"].to_numpy().astype("datetime64[D]")
    order_dates = orders["order_date"].to_numpy().astype("datetime64[D]")
    dispatched_late[ships["order_id"].to_numpy() - 1] = (
        ship_dates > order_dates[ships["order_id"].to_numpy() - 1]
    )
    clean_delivered = (status == "Delivered") & ~has_return & (line_count >= 2) & (ship_pos >= 0)
    pick = _Picker(rng, n)
    out: list[Injected] = []

    total = orders["total_amount"].to_numpy().copy()
    pay_amount = pays["amount"].to_numpy().copy()  # payment i belongs to order i + 1 (clean data)

    # Line defects: cheapest line of a multi-line order; order total and payment follow the lines.
    net = line_net_paise(items["quantity"], items["unit_price"], items["discount"])
    first_line = np.concatenate([[0], np.cumsum(line_count)[:-1]])
    qty = items["quantity"].to_numpy().copy()
    disc = items["discount"].to_numpy().copy()
    for name in ("negative_quantity", "discount_over_100"):
        chosen = pick.take(clean_delivered, k[name])
        lines = np.array(
            [
                first_line[o] + int(np.argmin(net[first_line[o] : first_line[o] + line_count[o]]))
                for o in chosen
            ],
            dtype=np.int64,
        )
        if name == "negative_quantity":
            qty[lines] = -qty[lines]
        else:
            disc[lines] = rng.choice(np.array([110, 125, 150]), len(lines))
        new_net = line_net_paise(qty[lines], items["unit_price"].to_numpy()[lines], disc[lines])
        total[chosen] += new_net - net[lines]
        pay_amount[chosen] = total[chosen]
        out.append(
            Injected("sales.order_items", name, len(lines), _keys(items, lines, ("order_item_id",)))
        )
    items = items.assign(quantity=qty, discount=disc)

    chosen = pick.take(clean_delivered, k["total_mismatch"])
    delta = np.maximum(np.round(total[chosen] * rng.uniform(0.02, 0.15, len(chosen))), 100).astype(
        np.int64
    )
    total[chosen] += delta * rng.choice(np.array([-1, 1]), len(chosen))
    total[chosen] = np.maximum(total[chosen], 100)
    pay_amount[chosen] = total[chosen]
    out.append(
        Injected(
            "sales.orders", "total_mismatch", len(chosen), _keys(orders, chosen, ("order_id",))
        )
    )

    chosen = pick.take(clean_delivered, k["amount_mismatch"])
    pay_amount[chosen] += np.maximum(
        np.round(total[chosen] * rng.uniform(0.03, 0.2, len(chosen))), 100
    ).astype(np.int64)
    out.append(
        Injected(
            "sales.payments", "amount_mismatch", len(chosen), _keys(pays, chosen, ("payment_id",))
        )
    )
    pays = pays.assign(amount=pay_amount)

    chosen = pick.take(clean_delivered, k["duplicate_payment"])
    extra = pays.iloc[chosen].copy()
    extra["payment_id"] = np.arange(len(pays) + 1, len(pays) + len(chosen) + 1)
    extra["payment_mode"] = rng.choice(
        np.array(["UPI", "Credit Card", "Debit Card"], dtype=object), len(chosen)
    )
    pays = pd.concat([pays, extra], ignore_index=True)
    out.append(
        Injected(
            "sales.payments",
            "duplicate_payment",
            len(chosen),
            _keys(extra.reset_index(drop=True), np.arange(len(extra)), ("payment_id", "order_id")),
        )
    )

    ship_delivered = ships["delivered_date"].to_numpy().astype("datetime64[D]").copy()
    chosen = pick.take(clean_delivered & dispatched_late, k["delivered_before_shipped"])
    rows = ship_pos[chosen]
    ship_delivered[rows] = ship_dates[rows] - np.timedelta64(1, "D")
    out.append(
        Injected(
            "sales.shipments",
            "delivered_before_shipped",
            len(rows),
            _keys(ships, rows, ("shipment_id",)),
        )
    )
    chosen = pick.take(clean_delivered, k["delivered_without_date"])
    rows = ship_pos[chosen]
    ship_delivered[rows] = np.datetime64("NaT")
    out.append(
        Injected(
            "sales.shipments",
            "delivered_without_date",
            len(rows),
            _keys(ships, rows, ("shipment_id",)),
        )
    )
    ships = ships.assign(delivered_date=ship_delivered)

    rets, injected = _return_defects(ctx, rng, k, pick, orders, items, rets, status, first_line)
    out += injected
    t["sales.orders"] = orders.assign(total_amount=total)
    t["sales.order_items"], t["sales.payments"] = items, pays
    t["sales.shipments"], t["sales.returns"] = ships, rets
    return out


def _return_defects(
    ctx: Context,
    rng: np.random.Generator,
    k: dict[str, int],
    pick: _Picker,
    orders: pd.DataFrame,
    items: pd.DataFrame,
    rets: pd.DataFrame,
    status: np.ndarray,
    first_line: np.ndarray,
) -> tuple[pd.DataFrame, list[Injected]]:
    """Returns of Pending orders, and refunds larger than the returned line."""
    out: list[Injected] = []
    chosen = pick.take(status == "Pending", k["return_not_delivered"])
    lines = first_line[chosen]
    net = line_net_paise(items["quantity"], items["unit_price"], items["discount"])
    when = np.minimum(
        orders["order_date"].to_numpy().astype("datetime64[D]")[chosen]
        + rng.integers(0, 3, len(chosen)).astype("timedelta64[D]"),
        ctx.end64,
    )
    extra = pd.DataFrame(
        {
            "return_id": np.arange(len(rets) + 1, len(rets) + len(chosen) + 1),
            "order_id": orders["order_id"].to_numpy()[chosen],
            "prod_id": items["prod_id"].to_numpy()[lines],
            "return_date": when,
            "reason": "Changed Mind",
            "refund_amount": net[lines],
        }
    )
    out.append(
        Injected(
            "sales.returns",
            "return_not_delivered",
            len(extra),
            _keys(extra, np.arange(len(extra)), ("return_id",)),
        )
    )

    ret_order = rets["order_id"].to_numpy() - 1
    first_of_order = ~pd.Series(ret_order).duplicated().to_numpy()
    eligible_orders = np.zeros(len(orders), dtype=bool)
    eligible_orders[ret_order[first_of_order & (status[ret_order] == "Returned")]] = True
    chosen = pick.take(eligible_orders, k["refund_over_line"])
    rows = np.flatnonzero(np.isin(ret_order, chosen) & first_of_order)
    line_of = pd.Series(
        np.arange(len(items)),
        index=pd.MultiIndex.from_arrays([items["order_id"], items["prod_id"]]),
    )
    line_rows = line_of.loc[
        list(zip(rets["order_id"].to_numpy()[rows], rets["prod_id"].to_numpy()[rows], strict=True))
    ]
    refund = rets["refund_amount"].to_numpy().copy()
    bump = np.maximum(
        np.round(net[line_rows.to_numpy()] * rng.uniform(0.1, 0.5, len(rows))), 100
    ).astype(np.int64)
    refund[rows] = net[line_rows.to_numpy()] + bump
    out.append(
        Injected("sales.returns", "refund_over_line", len(rows), _keys(rets, rows, ("return_id",)))
    )
    rets = pd.concat([rets.assign(refund_amount=refund), extra], ignore_index=True)
    return rets, out


def _customer_defects(ctx: Context, rng: np.random.Generator, k: dict[str, int]) -> list[Injected]:
    """NULL names, implausible ages and duplicate customers (by full_name, city, join_date)."""
    cust = ctx.tables["customers.customers"].copy()
    n = len(cust)
    pick = _Picker(rng, n)
    out: list[Injected] = []
    distinct_key = ~cust[["city", "join_date"]].duplicated(keep=False).to_numpy()
    rows = pick.take(distinct_key, k["null_full_name"])
    cust.loc[rows, "full_name"] = None
    out.append(
        Injected(
            "customers.customers", "null_full_name", len(rows), _keys(cust, rows, ("cust_id",))
        )
    )
    rows = pick.take(np.ones(n, dtype=bool), k["implausible_age"])
    cust.loc[rows, "age"] = 150
    out.append(
        Injected(
            "customers.customers", "implausible_age", len(rows), _keys(cust, rows, ("cust_id",))
        )
    )
    rows = pick.take(np.ones(n, dtype=bool), k["duplicate_natural_key"])
    dupes = cust.iloc[rows].copy()
    dupes["cust_id"] = np.arange(n + 1, n + len(rows) + 1)
    out.append(
        Injected(
            "customers.customers",
            "duplicate_natural_key",
            len(rows),
            _keys(dupes.reset_index(drop=True), np.arange(len(dupes)), ("cust_id",)),
        )
    )
    ctx.tables["customers.customers"] = pd.concat([cust, dupes], ignore_index=True)
    return out


def _simple_defects(ctx: Context, rng: np.random.Generator, k: dict[str, int]) -> list[Injected]:
    """Orphan review products, inventory defects, clicked-not-opened e-mails, conversions > clicks."""
    t = ctx.tables
    out: list[Injected] = []

    reviews = t["customers.reviews"].copy()
    rows = _Picker(rng, len(reviews)).take(np.ones(len(reviews), dtype=bool), k["orphan_prod_id"])
    max_prod = int(t["products.products"]["prod_id"].max())
    reviews.loc[rows, "prod_id"] = max_prod + 1000 + np.arange(len(rows))
    t["customers.reviews"] = reviews
    out.append(
        Injected(
            "customers.reviews", "orphan_prod_id", len(rows), _keys(reviews, rows, ("review_id",))
        )
    )

    inv = t["products.inventory"].copy()
    pick = _Picker(rng, len(inv))
    rows = pick.take(np.ones(len(inv), dtype=bool), k["orphan_store_id"])
    inv.loc[rows, "store_id"] = (
        int(t["stores.stores"]["store_id"].max()) + 1000 + np.arange(len(rows))
    )
    out.append(
        Injected(
            "products.inventory",
            "orphan_store_id",
            len(rows),
            _keys(inv, rows, ("store_id", "prod_id")),
        )
    )
    rows = pick.take(np.ones(len(inv), dtype=bool), k["negative_stock"])
    inv.loc[rows, "stock_qty"] = -rng.integers(1, 25, len(rows))
    out.append(
        Injected(
            "products.inventory",
            "negative_stock",
            len(rows),
            _keys(inv, rows, ("store_id", "prod_id")),
        )
    )
    t["products.inventory"] = inv

    mails = t["marketing.email_clicks"].copy()
    unopened = ~mails["opened"].to_numpy()
    rows = _Picker(rng, len(mails)).take(unopened, k["clicked_not_opened"])
    mails.loc[rows, "clicked"] = True
    t["marketing.email_clicks"] = mails
    out.append(
        Injected(
            "marketing.email_clicks",
            "clicked_not_opened",
            len(rows),
            _keys(mails, rows, ("email_id",)),
        )
    )

    ads = t["marketing.ads_spend"].copy()
    rows = _Picker(rng, len(ads)).take(np.ones(len(ads), dtype=bool), k["conversions_over_clicks"])
    ads.loc[rows, "conversions"] = ads["clicks"].to_numpy()[rows] + rng.integers(1, 20, len(rows))
    t["marketing.ads_spend"] = ads
    out.append(
        Injected(
            "marketing.ads_spend",
            "conversions_over_clicks",
            len(rows),
            _keys(ads, rows, ("spend_id",)),
        )
    )
    return out
