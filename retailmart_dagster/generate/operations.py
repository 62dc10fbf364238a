"""Store operations: store and finance expenses, monthly revenue summary, attendance, salary history.

Expense amounts are sized from each store's own average monthly sales, so ``net_profit`` in
``finance.revenue_summary`` is mostly positive (~10-15 % margin) but dips in slow months.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from . import reference as ref
from .context import Context, round_to, weighted_choice
from .dates import day_range, month_starts

# Share of a store's average monthly sales spent per month on each store expense type.
STORE_EXPENSE_SHARE = {
    "Rent": 0.07,
    "Utilities": 0.03,
    "Security": 0.012,
    "Maintenance": 0.012,
    "Marketing": 0.015,
    "Misc": 0.006,
}
MONTHLY_TYPES = ("Rent", "Utilities", "Security")
OCCASIONAL_TYPES = ("Maintenance", "Marketing", "Misc")
OCCASIONAL_WEIGHTS = (0.4, 0.35, 0.25)
FINANCE_FREQUENCY = (30, 10, 15, 6, 3, 5, 8, 10, 3, 10)  # relative row counts per finance category
ATTENDANCE_STATUS = ("P", "A", "WFH", "PL")
ATTENDANCE_P = (0.885, 0.035, 0.03, 0.05)


def month_index(dates: np.ndarray) -> np.ndarray:
    """Months since 1970-01 for each datetime64 date."""
    return np.asarray(dates, dtype="datetime64[M]").astype(np.int64)


def store_month_cell(ctx: Context, store_id: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Flat index ``(store_id - 1) * months + month`` of each (store, date) in the window's month grid."""
    first = month_index(month_starts(ctx.start, ctx.end_date)[:1])[0]
    months = len(month_starts(ctx.start, ctx.end_date))
    return (np.asarray(store_id) - 1) * months + (month_index(dates) - first)


def store_month_grid(
    ctx: Context, store_id: np.ndarray, dates: np.ndarray, amount: np.ndarray
) -> np.ndarray:
    """Sum ``amount`` (paise) per store (rows, store_id 1..n) and window month (columns)."""
    n_stores = len(ctx.tables["stores.stores"])
    months = len(month_starts(ctx.start, ctx.end_date))
    cell = store_month_cell(ctx, store_id, dates)
    total = np.bincount(cell, weights=amount, minlength=n_stores * months)
    return total.round().astype(np.int64).reshape(n_stores, months)


def store_sales_grid(ctx: Context) -> np.ndarray:
    """Non-cancelled sales per store and window month, in paise."""
    orders = ctx.tables["sales.orders"]
    live = orders["order_status"].to_numpy() != "Cancelled"
    return store_month_grid(
        ctx,
        orders["store_id"].to_numpy()[live],
        orders["order_date"].to_numpy()[live],
        orders["total_amount"].to_numpy()[live],
    )


def store_monthly_sales(ctx: Context) -> np.ndarray:
    """Average non-cancelled sales per store per window month, in paise (floored for tiny stores)."""
    avg = store_sales_grid(ctx).mean(axis=1)
    return np.maximum(avg, 0.3 * avg.mean())


def _in_window(ctx: Context, dates: np.ndarray) -> np.ndarray:
    return (dates >= ctx.start64) & (dates <= ctx.end64)


def build_store_expenses(ctx: Context) -> None:
    """``stores.expenses``: Rent, Utilities, Security monthly per store plus occasional other types."""
    rng = ctx.rng("store_expenses")
    stores = ctx.side["stores"]
    avg = store_monthly_sales(ctx)
    n_stores = len(stores)
    months = month_starts(ctx.start, ctx.end_date)
    rent = round_to(STORE_EXPENSE_SHARE["Rent"] * avg * rng.uniform(0.85, 1.15, n_stores), 100_000)
    rent = np.maximum(rent, 500_000)
    security = np.maximum(round_to(STORE_EXPENSE_SHARE["Security"] * avg, 50_000), 100_000)

    parts = []
    s_grid = np.repeat(np.arange(n_stores), len(months))
    m_grid = np.tile(months, n_stores)
    summer = np.isin(pd.DatetimeIndex(m_grid).month, (4, 5, 6))
    g = len(s_grid)
    for kind, day_lo, day_hi in (("Rent", 1, 5), ("Utilities", 8, 14), ("Security", 1, 3)):
        when = m_grid + rng.integers(day_lo - 1, day_hi, g).astype("timedelta64[D]")
        if kind == "Rent":
            amount = rent[s_grid]
        elif kind == "Security":
            amount = security[s_grid]
        else:
            season = np.where(summer, 1.3, 1.0)
            amount = round_to(
                STORE_EXPENSE_SHARE[kind] * avg[s_grid] * season * rng.lognormal(0, 0.1, g), 100
            )
        parts.append(pd.DataFrame({"s": s_grid, "d": when, "t": kind, "a": amount}))

    fixed = sum(
        int(_in_window(ctx, p["d"].to_numpy().astype("datetime64[D]")).sum()) for p in parts
    )
    n_occ = max(ctx.sizes.store_expenses - fixed, n_stores)
    s_occ = weighted_choice(rng, stores["size"].to_numpy(), n_occ)
    t_occ = weighted_choice(rng, np.asarray(OCCASIONAL_WEIGHTS), n_occ)
    days = day_range(ctx.start, ctx.end_date)
    share = np.array([STORE_EXPENSE_SHARE[t] for t in OCCASIONAL_TYPES])[t_occ]
    size_share = stores["size"].to_numpy()[s_occ] / stores["size"].sum()
    expected_rows = n_occ * np.asarray(OCCASIONAL_WEIGHTS)[t_occ] * size_share
    amount = share * avg[s_occ] * len(months) / expected_rows * rng.lognormal(-0.12, 0.5, n_occ)
    parts.append(
        pd.DataFrame(
            {
                "s": s_occ,
                "d": days[rng.integers(0, len(days), n_occ)],
                "t": np.asarray(OCCASIONAL_TYPES, dtype=object)[t_occ],
                "a": np.maximum(round_to(amount, 100), 20_000),
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[_in_window(ctx, frame["d"].to_numpy().astype("datetime64[D]"))]
    frame = frame.sort_values(["d", "s", "t"], kind="stable").reset_index(drop=True)
    ctx.tables["stores.expenses"] = pd.DataFrame(
        {
            "expense_id": np.arange(1, len(frame) + 1),
            "store_id": stores["store_id"].to_numpy()[frame["s"].to_numpy()],
            "expense_date": frame["d"].to_numpy(),
            "expense_type": frame["t"].to_numpy(),
            "amount": frame["a"].to_numpy().astype(np.int64),
        }
    )


def build_finance_expenses(ctx: Context) -> None:
    """``finance.expenses``: purchases, salaries, logistics ... per store.

    Rows fall on random days; each store-month's rows together cost about the summed shares of
    ``FINANCE_EXPENSE_CATEGORIES`` (~69 %) of that store-month's sales (purchases follow sales),
    split between the rows by category weight.
    """
    rng = ctx.rng("finance_expenses")
    stores = ctx.side["stores"]
    n = ctx.sizes.finance_expenses
    cats = ref.FINANCE_EXPENSE_CATEGORIES
    freq = np.asarray(FINANCE_FREQUENCY, dtype=float)
    share = np.array([s for _, s in cats])
    c_idx = weighted_choice(rng, freq, n)
    s_idx = weighted_choice(rng, stores["size"].to_numpy(), n)
    days = day_range(ctx.start, ctx.end_date)
    when = days[rng.integers(0, len(days), n)]

    sales = store_sales_grid(ctx)
    floor = 0.3 * store_monthly_sales(ctx)[:, None]
    budget = np.maximum(sales, floor) * share.sum() * rng.lognormal(0.0, 0.08, sales.shape)
    weight = (share / freq)[c_idx] * rng.lognormal(0.0, 0.4, n)
    store_id = stores["store_id"].to_numpy()[s_idx]
    cell = store_month_cell(ctx, store_id, when)
    weight_sum = np.bincount(cell, weights=weight, minlength=budget.size)
    amount = weight / weight_sum[cell] * budget.ravel()[cell]
    frame = pd.DataFrame(
        {
            "store_id": store_id,
            "expense_date": when,
            "category": np.asarray([c for c, _ in cats], dtype=object)[c_idx],
            "amount": np.maximum(round_to(amount, 100), 10_000),
        }
    ).sort_values(["expense_date", "store_id", "category"], kind="stable")
    frame.insert(0, "expense_id", np.arange(1, n + 1))
    ctx.tables["finance.expenses"] = frame.reset_index(drop=True)


def build_revenue_summary(ctx: Context) -> None:
    """``finance.revenue_summary``: per store and month (dated the 1st): non-cancelled sales, expenses, net.

    Computed from the final ``sales.orders`` (after any injected defects), so it always agrees with them.
    """
    stores = ctx.tables["stores.stores"]["store_id"].to_numpy()
    months = month_starts(ctx.start, ctx.end_date)
    sales = store_sales_grid(ctx).ravel()
    expenses = np.zeros_like(sales)
    for name in ("stores.expenses", "finance.expenses"):
        e = ctx.tables[name]
        grid = store_month_grid(
            ctx, e["store_id"].to_numpy(), e["expense_date"].to_numpy(), e["amount"].to_numpy()
        )
        expenses += grid.ravel()
    ctx.tables["finance.revenue_summary"] = pd.DataFrame(
        {
            "summary_date": np.tile(months, len(stores)),
            "store_id": np.repeat(stores, len(months)),
            "total_sales": sales,
            "total_expenses": expenses,
            "net_profit": sales - expenses,
        }
    )


def build_salary_history(ctx: Context) -> None:
    """``hr.salary_history``: 1-3 yearly revisions (April 1) per employee ending at today's salary."""
    rng = ctx.rng("salary_history")
    emp = ctx.tables["stores.employees"]
    n = len(emp)
    last_april = dt.date(ctx.end_date.year - (ctx.end_date.month < 4), 4, 1)
    revisions = 1 + weighted_choice(rng, np.array([0.3, 0.4, 0.3]), n)
    emp_idx = np.repeat(np.arange(n), revisions)
    first_of_emp = np.concatenate([[0], np.cumsum(revisions)[:-1]])
    back = (first_of_emp + revisions - 1)[emp_idx] - np.arange(len(emp_idx))  # years before latest
    hikes = rng.uniform(0.04, 0.12, len(emp_idx))
    # salary k years back = current / prod of the k most recent hikes (hike of row j applies at row j+1)
    factor = np.ones(len(emp_idx))
    for k in range(1, 3):
        applies = back >= k
        factor[applies] *= 1 + hikes[np.flatnonzero(applies) + k - 1]
    salary = emp["salary"].to_numpy()[emp_idx] / factor
    years = last_april.year - back
    ctx.tables["hr.salary_history"] = pd.DataFrame(
        {
            "emp_id": emp["emp_id"].to_numpy()[emp_idx],
            "effective_date": pd.to_datetime(
                pd.DataFrame({"year": years, "month": 4, "day": 1})
            ).to_numpy(),
            "salary": np.where(
                back == 0, emp["salary"].to_numpy()[emp_idx], round_to(salary, 10_000)
            ),
        }
    )


def build_attendance(ctx: Context) -> None:
    """``hr.attendance``: the last D days for every employee except a weekly day off; mostly present."""
    rng = ctx.rng("attendance")
    emp = ctx.tables["stores.employees"]
    n = len(emp)
    per_emp = ctx.sizes.attendance / n
    span = max(7, math.ceil(per_emp * 7 / 6))
    days = day_range(ctx.end_date - dt.timedelta(days=span - 1), ctx.end_date)
    weekday = pd.DatetimeIndex(days).day_of_week.to_numpy()
    day_off = rng.integers(0, 7, n)
    e_grid = np.repeat(np.arange(n), len(days))
    d_grid = np.tile(np.arange(len(days)), n)
    keep = weekday[d_grid] != day_off[e_grid]
    e_grid, d_grid = e_grid[keep], d_grid[keep]
    m = len(e_grid)
    absent_bias = rng.lognormal(0.0, 0.5, n)[e_grid]
    p = np.asarray(ATTENDANCE_P)
    u = rng.random(m)
    not_present = u > 1 - (1 - p[0]) * np.minimum(absent_bias, 3.0)
    kind = 1 + weighted_choice(rng, p[1:], m)
    status = np.where(not_present, np.asarray(ATTENDANCE_STATUS, dtype=object)[kind], "P")
    ctx.tables["hr.attendance"] = pd.DataFrame(
        {"emp_id": emp["emp_id"].to_numpy()[e_grid], "date": days[d_grid], "status": status}
    )
