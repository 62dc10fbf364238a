"""Shared state of one generation run and small vectorised helpers used by every builder."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .dates import window_start
from .sizes import Sizes, compute_sizes


@dataclass
class Context:
    """Parameters of a run, the tables built so far and side data shared between builders.

    ``tables`` maps ``schema.table`` to a DataFrame whose columns are the contract's columns in order.
    Money is kept as int64 paise in columns listed by ``MONEY_COLUMNS`` (converted when written), dates
    as ``datetime64``. ``side`` holds helper frames that are not tables (e.g. each customer's home store).
    """

    seed: int
    scale: float
    end_date: dt.date
    sizes: Sizes
    start: dt.date
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    side: dict[str, pd.DataFrame] = field(default_factory=dict)

    @classmethod
    def create(cls, seed: int, scale: float, end_date: dt.date) -> Context:
        """A fresh context for ``seed``/``scale``/``end_date``."""
        return cls(seed, scale, end_date, compute_sizes(scale), window_start(end_date))

    def rng(self, stream: str) -> np.random.Generator:
        """An independent, reproducible random stream per builder (crc32 of its name, not hash())."""
        return np.random.default_rng([self.seed, zlib.crc32(stream.encode("utf-8"))])

    @property
    def end64(self) -> np.datetime64:
        """The end date as ``datetime64[D]``."""
        return np.datetime64(self.end_date, "D")

    @property
    def start64(self) -> np.datetime64:
        """The first order date as ``datetime64[D]``."""
        return np.datetime64(self.start, "D")


# Columns stored as int64 paise (hundredths of a rupee) while generating.
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "stores.employees": ("salary",),
    "stores.expenses": ("amount",),
    "products.products": ("price",),
    "sales.orders": ("total_amount",),
    "sales.order_items": ("unit_price",),
    "sales.payments": ("amount",),
    "sales.returns": ("refund_amount",),
    "finance.expenses": ("amount",),
    "finance.revenue_summary": ("total_sales", "total_expenses", "net_profit"),
    "hr.salary_history": ("salary",),
    "marketing.campaigns": ("budget",),
    "marketing.ads_spend": ("amount",),
}


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with replacement with probability proportional to ``weights``."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    u = rng.random(size) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder), each >= minimum."""
    weights = np.asarray(weights, dtype=float)
    n = len(weights)
    base = np.full(n, minimum, dtype=np.int64)
    rest = total - base.sum()
    if rest <= 0:
        return base
    exact = weights / weights.sum() * rest
    parts = np.floor(exact).astype(np.int64)
    short = int(rest - parts.sum())
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[:short]] += 1
    return base + parts


def days_between(a: np.ndarray, b: np.ndarray | np.datetime64) -> np.ndarray:
    """``b - a`` in whole days as int64 (both datetime64[D])."""
    return (np.asarray(b, dtype="datetime64[D]") - np.asarray(a, dtype="datetime64[D]")).astype(
        np.int64
    )


def round_to(values: np.ndarray, step: int) -> np.ndarray:
    """Round ``values`` to the nearest multiple of ``step`` (int64)."""
    return (np.round(np.asarray(values, dtype=float) / step) * step).astype(np.int64)
