"""Dimension tables: calendar, regions, catalogue, stores, staff and customers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import reference as ref
from .context import Context, allocate, round_to, weighted_choice
from .dates import daily_weights, day_range, dim_date

SERIES = (
    "Classic",
    "Pro",
    "Plus",
    "Lite",
    "Max",
    "Prime",
    "Neo",
    "Ultra",
    "Eco",
    "Smart",
    "Air",
    "Go",
)


def build_core(ctx: Context) -> None:
    """``core.dim_date``, ``core.dim_region``, ``core.dim_category`` and ``core.dim_brand``."""
    ctx.tables["core.dim_date"] = dim_date(ctx.start, ctx.end_date)
    states = list(ref.STATE_REGION)
    ctx.tables["core.dim_region"] = pd.DataFrame(
        {
            "region_id": np.arange(1, len(states) + 1),
            "region_name": [ref.STATE_REGION[s] for s in states],
            "country": ref.COUNTRY,
            "state": states,
        }
    )
    ctx.tables["core.dim_category"] = pd.DataFrame(
        {
            "category_id": np.arange(1, len(ref.CATEGORIES) + 1),
            "category_name": [c.name for c in ref.CATEGORIES],
        }
    )
    brands = [(b, c.name) for c in ref.CATEGORIES for b in c.brands]
    ctx.tables["core.dim_brand"] = pd.DataFrame(
        {
            "brand_id": np.arange(1, len(brands) + 1),
            "brand_name": [b for b, _ in brands],
            "category_name": [c for _, c in brands],
        }
    )


def build_suppliers(ctx: Context) -> None:
    """``products.suppliers``: distinct "<prefix> <suffix>" trading names."""
    rng = ctx.rng("suppliers")
    combos = [f"{p} {s}" for p in ref.SUPPLIER_PREFIXES for s in ref.SUPPLIER_SUFFIXES]
    pick = rng.permutation(len(combos))[: ctx.sizes.suppliers]
    ctx.tables["products.suppliers"] = pd.DataFrame(
        {
            "supplier_id": np.arange(1, len(pick) + 1),
            "supplier_name": np.asarray(combos, dtype=object)[pick],
        }
    )


def price_point(raw: np.ndarray) -> np.ndarray:
    """Whole-rupee retail price points (…9, …99, …499/…999) from raw lognormal prices."""
    raw = np.maximum(np.asarray(raw, dtype=float), 10.0)
    step = np.select([raw < 100, raw < 1000, raw < 10000], [5, 10, 100], default=500)
    return (np.ceil(raw / step) * step - 1).astype(np.int64)


def build_products(ctx: Context) -> None:
    """``products.products`` plus side data: category index, popularity weight, apparel flag."""
    rng = ctx.rng("products")
    cats = ref.CATEGORIES
    n = ctx.sizes.products
    per_cat = allocate(n, np.array([1.0 + c.demand for c in cats]), minimum=min(3, n // len(cats)))
    cat_idx = np.repeat(np.arange(len(cats)), per_cat)
    cat_idx = cat_idx[rng.permutation(len(cat_idx))]
    brand_table = ctx.tables["core.dim_brand"]
    supplier_ids = ctx.tables["products.suppliers"]["supplier_id"].to_numpy()
    brand_supplier = rng.choice(supplier_ids, size=len(brand_table))
    brand_offset = np.cumsum([0] + [len(c.brands) for c in cats])

    names = np.empty(n, dtype=object)
    brands = np.empty(n, dtype=object)
    prices = np.zeros(n, dtype=np.int64)
    suppliers = np.zeros(n, dtype=np.int64)
    for k, cat in enumerate(cats):  # one pass per category (20), vectorised inside
        rows = np.flatnonzero(cat_idx == k)
        m = len(rows)
        b_local = weighted_choice(rng, 1.0 / np.arange(1, len(cat.brands) + 1) ** 0.7, m)
        types = rng.integers(0, len(cat.item_types), m)
        series = rng.integers(0, len(SERIES), m)
        model = rng.integers(100, 1000, m)
        names[rows] = [
            f"{cat.brands[b]} {cat.item_types[t]} {SERIES[s]} {mo}"
            for b, t, s, mo in zip(b_local, types, series, model, strict=True)
        ]
        brands[rows] = np.asarray(cat.brands, dtype=object)[b_local]
        prices[rows] = price_point(rng.lognormal(np.log(cat.median_price), cat.sigma, m))
        own = rng.random(m) < 0.85
        suppliers[rows] = np.where(
            own, brand_supplier[brand_offset[k] + b_local], rng.choice(supplier_ids, m)
        )
    frame = pd.DataFrame(
        {
            "prod_id": np.arange(1, n + 1),
            "prod_name": names,
            "category": np.asarray([c.name for c in cats], dtype=object)[cat_idx],
            "brand": brands,
            "supplier_id": suppliers,
            "price": prices * 100,
        }
    )
    dup = frame["prod_name"].duplicated().to_numpy()
    frame.loc[dup, "prod_name"] = [
        f"{name} ({pid})"
        for name, pid in zip(names[dup], frame["prod_id"].to_numpy()[dup], strict=True)
    ]
    ctx.tables["products.products"] = frame

    median = np.array([c.median_price for c in cats])[cat_idx]
    demand = np.array([c.demand for c in cats])[cat_idx]
    rank = rng.permutation(n) + 1
    popularity = rank**-0.85 * demand * (median / (frame["price"].to_numpy() / 100)) ** 0.3
    ctx.side["products"] = pd.DataFrame(
        {
            "prod_id": frame["prod_id"].to_numpy(),
            "cat_idx": cat_idx,
            "popularity": popularity / popularity.sum(),
            "max_qty": np.array([c.max_qty for c in cats])[cat_idx],
            "apparel": np.array([c.apparel for c in cats])[cat_idx],
            "price": frame["price"].to_numpy(),
        }
    )


def _city_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    names = np.asarray([c.name for c in ref.CITIES], dtype=object)
    states = np.asarray([c.state for c in ref.CITIES], dtype=object)
    regions = np.asarray([c.region for c in ref.CITIES], dtype=object)
    weights = np.asarray([c.weight for c in ref.CITIES])
    return names, states, regions, weights


def build_stores(ctx: Context) -> None:
    """``stores.stores`` (every region has a store) and side data: store size factor."""
    rng = ctx.rng("stores")
    names, states, regions, weights = _city_arrays()
    n = ctx.sizes.stores
    anchors = [
        int(np.flatnonzero(regions == r)[np.argmax(weights[regions == r])]) for r in ref.REGIONS
    ]
    city = np.concatenate([anchors, weighted_choice(rng, weights, n - len(anchors))])
    city = np.sort(city, kind="stable")
    store_names = []
    for c in np.unique(city):
        k = int((city == c).sum())
        locs = np.asarray(ref.LOCALITIES, dtype=object)[rng.permutation(len(ref.LOCALITIES))]
        for i in range(k):
            suffix = "" if i < len(locs) else f" {i // len(locs) + 1}"
            store_names.append(f"RetailMart {names[c]} - {locs[i % len(locs)]}{suffix}")
    ctx.tables["stores.stores"] = pd.DataFrame(
        {
            "store_id": np.arange(1, n + 1),
            "store_name": store_names,
            "city": names[city],
            "state": states[city],
            "region": regions[city],
        }
    )
    ctx.side["stores"] = pd.DataFrame(
        {"store_id": np.arange(1, n + 1), "city_idx": city, "size": rng.lognormal(0.0, 0.45, n)}
    )


def build_departments(ctx: Context) -> None:
    """``stores.departments`` (fixed list)."""
    ctx.tables["stores.departments"] = pd.DataFrame(
        {"dept_id": np.arange(1, len(ref.DEPARTMENTS) + 1), "dept_name": list(ref.DEPARTMENTS)}
    )


def random_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (gender, "First Last") pairs; gender is 'M' or 'F'."""
    male = rng.random(n) < 0.52
    first_m = np.asarray(ref.MALE_FIRST, dtype=object)[rng.integers(0, len(ref.MALE_FIRST), n)]
    first_f = np.asarray(ref.FEMALE_FIRST, dtype=object)[rng.integers(0, len(ref.FEMALE_FIRST), n)]
    last = np.asarray(ref.SURNAMES, dtype=object)[rng.integers(0, len(ref.SURNAMES), n)]
    first = np.where(male, first_m, first_f)
    return np.where(male, "M", "F").astype(object), first + " " + last


def build_employees(ctx: Context) -> None:
    """``stores.employees``: one Store Manager per store, other roles by share, salary by role."""
    rng = ctx.rng("employees")
    stores = ctx.side["stores"]
    n_stores = len(stores)
    extra = allocate(ctx.sizes.employees - n_stores, stores["size"].to_numpy(), minimum=4)
    store_of = np.concatenate(
        [stores["store_id"].to_numpy(), np.repeat(stores["store_id"].to_numpy(), extra)]
    )
    roles = (ref.STORE_MANAGER, *ref.ROLES)
    shares = np.array([r.share for r in ref.ROLES])
    role_idx = np.concatenate(
        [np.zeros(n_stores, dtype=np.int64), 1 + weighted_choice(rng, shares, int(extra.sum()))]
    )
    order = np.lexsort((role_idx, store_of))
    store_of, role_idx = store_of[order], role_idx[order]
    n = len(store_of)
    low = np.array([r.salary_low for r in roles])[role_idx]
    high = np.array([r.salary_high for r in roles])[role_idx]
    salary = round_to(low + (high - low) * rng.beta(2.0, 2.5, n), 100)
    dept_ids = {d: i + 1 for i, d in enumerate(ref.DEPARTMENTS)}
    _, names = random_names(rng, n)
    ctx.tables["stores.employees"] = pd.DataFrame(
        {
            "emp_id": np.arange(1, n + 1),
            "emp_name": names,
            "role": np.asarray([r.name for r in roles], dtype=object)[role_idx],
            "salary": salary * 100,
            "dept_id": np.array([dept_ids[r.department] for r in roles])[role_idx],
            "store_id": store_of,
        }
    )


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Adult ages 18..80, most between 24 and 45."""
    return np.clip(np.round(18 + rng.gamma(3.2, 6.0, n)), 18, 80).astype(np.int64)


def _join_dates(ctx: Context, rng: np.random.Generator, n: int) -> np.ndarray:
    """Join dates: ~55% in the three years before the window, the rest during it (busier in festivals)."""
    before = rng.random(n) < 0.55
    before[0] = True  # somebody can place the very first order
    early_days = rng.integers(1, 3 * 365 + 1, n)
    early = ctx.start64 - early_days
    window = day_range(ctx.start, ctx.end_date - dt.timedelta(days=1))
    late = window[weighted_choice(rng, daily_weights(window, rng), n)]
    return np.where(before, early, late).astype("datetime64[D]")


def build_customers(ctx: Context) -> None:
    """``customers.customers`` (unique by full_name, city, join_date) and side data for ordering."""
    rng = ctx.rng("customers")
    n = ctx.sizes.customers
    names, states, regions, weights = _city_arrays()
    city = weighted_choice(rng, weights, n)
    join = _join_dates(ctx, rng, n)
    gender, full_name = random_names(rng, n)
    for _ in range(50):  # re-draw the rare natural-key collisions
        key = pd.DataFrame({"n": full_name, "c": city, "j": join})
        dup = key.duplicated().to_numpy()
        if not dup.any():
            break
        g, f = random_names(rng, int(dup.sum()))
        gender[dup], full_name[dup] = g, f
    ctx.tables["customers.customers"] = pd.DataFrame(
        {
            "cust_id": np.arange(1, n + 1),
            "full_name": full_name,
            "gender": gender,
            "age": _ages(rng, n),
            "city": names[city],
            "state": states[city],
            "join_date": join,
            "region_name": regions[city],
        }
    )
    lifetime = np.where(rng.random(n) < 0.45, 30 + rng.exponential(420.0, n), 1e6).astype(np.int64)
    ctx.side["customers"] = pd.DataFrame(
        {
            "cust_id": np.arange(1, n + 1),
            "city_idx": city,
            "join": join,
            "churn": np.maximum(join, ctx.start64)
            + np.minimum(lifetime, 100_000).astype("timedelta64[D]"),
            "value": rng.lognormal(0.0, 0.95, n),
            "home_store": _home_stores(ctx, rng, city),
        }
    )


def _home_stores(ctx: Context, rng: np.random.Generator, city: np.ndarray) -> np.ndarray:
    """A store per customer: in their city if any, else in their region, weighted by store size."""
    stores = ctx.side["stores"]
    _, _, regions, _ = _city_arrays()
    store_city = stores["city_idx"].to_numpy()
    store_region = regions[store_city]
    size = stores["size"].to_numpy()
    ids = stores["store_id"].to_numpy()
    home = np.zeros(len(city), dtype=np.int64)
    for c in np.unique(city):  # one pass per city (<= 40)
        rows = np.flatnonzero(city == c)
        pool = np.flatnonzero(store_city == c)
        if len(pool) == 0:
            pool = np.flatnonzero(store_region == regions[c])
        if len(pool) == 0:
            pool = np.arange(len(ids))
        home[rows] = ids[pool[weighted_choice(rng, size[pool], len(rows))]]
    return home


def build_addresses(ctx: Context) -> None:
    """``customers.addresses``: a Home address for everyone, some Work and Other addresses."""
    rng = ctx.rng("addresses")
    cust = ctx.tables["customers.customers"]
    side = ctx.side["customers"]
    n = len(cust)
    kinds = [np.zeros(n, dtype=np.int64)]
    owners = [np.arange(n)]
    for k, p in ((1, 0.22), (2, 0.06)):
        sel = np.flatnonzero(rng.random(n) < p)
        owners.append(sel)
        kinds.append(np.full(len(sel), k))
    owner = np.concatenate(owners)
    kind = np.concatenate(kinds)
    order = np.lexsort((kind, owner))
    owner, kind = owner[order], kind[order]
    m = len(owner)
    city_idx = side["city_idx"].to_numpy()[owner]
    # Work/Other addresses are occasionally in another city.
    moved = (kind > 0) & (rng.random(m) < 0.15)
    city_idx = np.where(moved, weighted_choice(rng, _city_arrays()[3], m), city_idx)
    names, states, _, _ = _city_arrays()
    pins = np.asarray([c.pin for c in ref.CITIES], dtype=object)[city_idx]
    house = rng.integers(1, 400, m).astype(str).astype(object)
    street = np.asarray(ref.STREET_NAMES, dtype=object)[rng.integers(0, len(ref.STREET_NAMES), m)]
    locality = np.asarray(ref.LOCALITIES, dtype=object)[rng.integers(0, len(ref.LOCALITIES), m)]
    ctx.tables["customers.addresses"] = pd.DataFrame(
        {
            "address_id": np.arange(1, m + 1),
            "cust_id": cust["cust_id"].to_numpy()[owner],
            "address_type": np.asarray(ref.ADDRESS_TYPES, dtype=object)[kind],
            "street": house + ", " + street + ", " + locality,
            "city": names[city_idx],
            "state": states[city_idx],
            "postal_code": pins
            + np.char.zfill(rng.integers(1, 100, m).astype(str), 3).astype(object),
        }
    )
