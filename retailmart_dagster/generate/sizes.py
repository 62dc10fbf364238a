"""Row-count targets per scale (scale 1 = the contract's course data set)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Contract sizes at scale 1.
BASE_CUSTOMERS = 50_000
BASE_PRODUCTS = 1_216
BASE_STORES = 200
EMPLOYEES_PER_STORE = 15
BASE_ORDERS = 150_000
BASE_REVIEWS = 30_000
BASE_EMAILS = 30_000
BASE_STORE_EXPENSES = 20_000
BASE_FINANCE_EXPENSES = 40_000
BASE_ATTENDANCE = 135_000
INVENTORY_SHARE = 0.387  # share of (store, product) pairs stocked: ~94k rows at scale 1
SUPPLIERS = 91
PROMOTIONS = 800
CAMPAIGNS = 250
SPEND_ROWS_PER_CAMPAIGN = 16


@dataclass(frozen=True)
class Sizes:
    """Target row counts for one generation run."""

    scale: float
    customers: int
    products: int
    stores: int
    employees: int
    orders: int
    reviews: int
    emails: int
    store_expenses: int
    finance_expenses: int
    attendance: int
    suppliers: int = SUPPLIERS
    promotions: int = PROMOTIONS
    campaigns: int = CAMPAIGNS


def dimension_factor(scale: float) -> float:
    """How catalogue-like dimensions (stores, products, staff) grow: linearly up to 1, then sqrt.

    A retailer ten times bigger has more customers and orders, but not ten times the stores and
    products; sqrt keeps inventory (stores x products) growing about linearly with ``scale``.
    """
    return scale if scale <= 1 else math.sqrt(scale)


def compute_sizes(scale: float) -> Sizes:
    """Row-count targets for ``scale`` with floors that keep tiny scales meaningful."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    dim = dimension_factor(scale)
    stores = max(20, round(BASE_STORES * dim))
    return Sizes(
        scale=scale,
        customers=max(500, round(BASE_CUSTOMERS * scale)),
        products=max(100, round(BASE_PRODUCTS * dim)),
        stores=stores,
        employees=stores * EMPLOYEES_PER_STORE,
        orders=max(1_500, round(BASE_ORDERS * scale)),
        reviews=max(150, round(BASE_REVIEWS * scale)),
        emails=max(300, round(BASE_EMAILS * scale)),
        store_expenses=max(100, round(BASE_STORE_EXPENSES * scale)),
        finance_expenses=max(300, round(BASE_FINANCE_EXPENSES * scale)),
        attendance=max(1_000, round(BASE_ATTENDANCE * scale)),
    )
