"""Pure helpers of the sample-data generator: calendar, sizes, money, allocation, contract parsing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from retailmart_dagster.generate import reference as ref
from retailmart_dagster.generate.context import allocate, weighted_choice
from retailmart_dagster.generate.contract import contract_tables, parse_tables, schema_sql
from retailmart_dagster.generate.dates import (
    daily_weights,
    day_range,
    dim_date,
    diwali,
    month_starts,
    months_before,
    window_start,
)
from retailmart_dagster.generate.db import csv_chunks, csv_ready
from retailmart_dagster.generate.dimensions import price_point
from retailmart_dagster.generate.sales import line_net_paise
from retailmart_dagster.generate.sizes import compute_sizes


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2025, 10, 1), 21, dt.date(2024, 1, 1)),
        (dt.date(2025, 3, 31), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 12, 15), 12, dt.date(2023, 12, 15)),
        (dt.date(2026, 5, 31), 3, dt.date(2026, 2, 28)),
        (dt.date(2028, 5, 30), 3, dt.date(2028, 2, 29)),
    ],
)
def test_months_before(day: dt.date, months: int, expected: dt.date) -> None:
    assert months_before(day, months) == expected


def test_window_matches_the_contract() -> None:
    assert window_start(dt.date(2025, 10, 1)) == dt.date(2024, 1, 1)


def test_dim_date_spans_whole_years_with_short_names() -> None:
    frame = dim_date(dt.date(2024, 1, 1), dt.date(2025, 10, 1))
    assert frame["date_key"].min() == np.datetime64("2023-01-01")
    assert frame["date_key"].max() == np.datetime64("2025-12-31")
    assert len(frame) == 365 + 366 + 365
    first = frame.iloc[0]
    assert (first["day_name"], first["month_name"], first["quarter"]) == ("Sun", "Jan", 1)
    assert set(frame["day_name"]) == {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
    assert list(frame["month_name"].unique()) == [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]  # fmt: skip


def test_month_starts() -> None:
    months = month_starts(dt.date(2024, 1, 15), dt.date(2024, 3, 1))
    assert [str(m) for m in months] == ["2024-01-01", "2024-02-01", "2024-03-01"]


def test_daily_weights_have_festive_and_weekend_peaks() -> None:
    days = day_range(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    w = daily_weights(days, np.random.default_rng(0))
    assert w.sum() == pytest.approx(1.0)
    peak = days[int(np.argmax(w))]
    assert abs(int((peak - np.datetime64(diwali(2024), "D")).astype(int))) <= 10
    dow = (days.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    assert w[dow >= 5].mean() > 1.2 * w[dow < 5].mean()


def test_sizes_scale_one_is_the_contract() -> None:
    s = compute_sizes(1)
    assert (s.customers, s.products, s.stores, s.employees, s.orders) == (
        50_000,
        1216,
        200,
        3000,
        150_000,
    )
    assert (s.reviews, s.emails, s.store_expenses, s.finance_expenses, s.attendance) == (
        30_000, 30_000, 20_000, 40_000, 135_000,
    )  # fmt: skip
    assert (s.suppliers, s.promotions, s.campaigns) == (91, 800, 250)


def test_sizes_have_floors_and_grow_dimensions_sublinearly() -> None:
    tiny = compute_sizes(0.01)
    assert tiny.stores >= 20 and tiny.products >= 100
    assert tiny.customers >= 500 and tiny.orders >= 1500
    big = compute_sizes(10)
    assert big.orders == 1_500_000 and big.customers == 500_000
    assert 600 <= big.stores <= 700 and 3500 <= big.products <= 4000
    with pytest.raises(ValueError, match="scale"):
        compute_sizes(0)


def test_price_points_are_whole_rupees_ending_in_nine() -> None:
    prices = price_point(np.array([3.2, 47.0, 149.2, 1234.0, 23456.0]))
    assert list(prices) == [9, 49, 149, 1299, 23499]


def test_line_amounts_are_exact_paise() -> None:
    rng = np.random.default_rng(1)
    price = price_point(rng.lognormal(6, 2, 10_000)) * 100
    qty = rng.integers(1, 6, 10_000)
    disc = rng.choice([0, 5, 10, 15, 20], 10_000)
    scaled = qty * price * (100 - disc)
    assert (scaled % 100 == 0).all()  # no rounding happens at all
    assert (line_net_paise(qty, price, disc) * 100 == scaled).all()
    assert line_net_paise(np.array([-2]), np.array([1000]), np.array([0]))[0] == -2000
    assert line_net_paise(np.array([1]), np.array([1000]), np.array([150]))[0] == -500


def test_allocate_is_exact_and_respects_minimum() -> None:
    parts = allocate(100, np.array([1.0, 2.0, 7.0]), minimum=5)
    assert parts.sum() == 100 and (parts >= 5).all()
    assert list(allocate(10, np.array([1.0, 1.0, 1.0]))) == [4, 3, 3]


def test_weighted_choice_follows_weights() -> None:
    picks = weighted_choice(np.random.default_rng(2), np.array([0.0, 1.0, 3.0]), 40_000)
    counts = np.bincount(picks, minlength=3)
    assert counts[0] == 0 and 2.8 < counts[2] / counts[1] < 3.2


def test_reference_data_is_consistent() -> None:
    assert len(ref.CATEGORIES) == 20
    brands = [b for c in ref.CATEGORIES for b in c.brands]
    assert len(brands) == len(set(brands)) and 140 <= len(brands) <= 160
    assert all(len(b) <= 50 for b in brands)
    assert {c.region for c in ref.CITIES} == set(ref.REGIONS)
    assert len(ref.SUPPLIER_PREFIXES) * len(ref.SUPPLIER_SUFFIXES) >= 91
    assert sum(s for _, s in ref.PAYMENT_MODES) == pytest.approx(1.0)


def test_contract_parse_gives_all_tables_in_fk_order() -> None:
    tables = contract_tables()
    assert len(tables) == 28
    position = {t.qualified: i for i, t in enumerate(tables)}
    for t in tables:
        for parent in t.parents:
            assert position[parent] < position[t.qualified], (parent, t.qualified)
    by = {t.qualified: t for t in tables}
    assert by["products.inventory"].primary_key == ("store_id", "prod_id")
    assert by["customers.loyalty_points"].column("cust_id").references == "customers.customers"
    assert by["customers.reviews"].column("prod_id").references is None  # no FK in the contract
    assert by["sales.orders"].column("total_amount").type == "numeric(12,2)"
    assert by["finance.revenue_summary"].primary_key == ()
    assert len(parse_tables(schema_sql())) == 28


def test_csv_text_for_copy() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "order_id": [1, 2],
            "cust_id": [5, 6],
            "store_id": [1, 1],
            "order_date": np.array(["2025-01-02", "NaT"], dtype="datetime64[D]"),
            "order_status": ["Delivered", 'Odd, "quoted"'],
            "total_amount": [123450, 7],
        }
    )
    cols = [
        c.name for c in next(t for t in contract_tables() if t.qualified == "sales.orders").columns
    ]
    text = "".join(csv_chunks(csv_ready("sales.orders", frame, cols)))
    assert text == '1,5,1,2025-01-02,Delivered,1234.5\n2,6,1,,"Odd, ""quoted""",0.07\n'
