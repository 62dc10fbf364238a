"""The generator's in-memory build (no database): determinism, floors at tiny scale, consistency."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from retailmart_dagster.generate import build
from retailmart_dagster.generate.contract import contract_tables
from retailmart_dagster.generate.db import csv_chunks, csv_ready
from retailmart_dagster.generate.sales import line_net_paise

END = dt.date(2025, 10, 1)


def _csv(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {
        t.qualified: "".join(
            csv_chunks(csv_ready(t.qualified, tables[t.qualified], t.column_names))
        )
        for t in contract_tables()
    }


@pytest.fixture(scope="module")
def tiny() -> dict[str, pd.DataFrame]:
    ctx, _ = build(seed=5, scale=0.01, end_date=END)
    return ctx.tables


def test_every_contract_table_is_built_with_its_columns(tiny) -> None:  # noqa: ANN001
    for t in contract_tables():
        assert list(tiny[t.qualified].columns) == list(t.column_names), t.qualified
        assert len(tiny[t.qualified]) > 0, t.qualified


def test_same_inputs_give_byte_identical_csv() -> None:
    a, _ = build(seed=9, scale=0.01, end_date=END, defects=True)
    b, _ = build(seed=9, scale=0.01, end_date=END, defects=True)
    c, _ = build(seed=10, scale=0.01, end_date=END, defects=True)
    csv_a, csv_b, csv_c = _csv(a.tables), _csv(b.tables), _csv(c.tables)
    assert csv_a == csv_b
    assert csv_a["sales.orders"] != csv_c["sales.orders"]
    d, _ = build(seed=9, scale=0.01, end_date=dt.date(2025, 9, 30))
    assert _csv(d.tables)["sales.orders"] != csv_a["sales.orders"]


def test_tiny_scale_keeps_minimums_and_covers_the_window(tiny) -> None:  # noqa: ANN001
    assert len(tiny["stores.stores"]) >= 20
    assert len(tiny["products.products"]) >= 100
    assert len(tiny["customers.customers"]) >= 500
    orders = tiny["sales.orders"]
    assert len(orders) >= 1500
    months = orders["order_date"].dt.to_period("M").nunique()
    assert months == 22
    assert orders["order_date"].max() == pd.Timestamp(END)
    assert orders["order_date"].min() == pd.Timestamp("2024-01-01")


@pytest.mark.parametrize("end", [dt.date(2025, 10, 1), dt.date(2024, 2, 29), dt.date(2031, 1, 15)])
def test_end_date_is_the_last_order_day_and_nothing_is_later(end: dt.date) -> None:
    ctx, _ = build(seed=1, scale=0.01, end_date=end)
    last = np.datetime64(end, "D")
    assert ctx.tables["sales.orders"]["order_date"].max() == pd.Timestamp(end)
    for t in contract_tables():
        if t.qualified == "core.dim_date":
            continue
        frame = ctx.tables[t.qualified]
        for c in t.columns:
            if c.type == "date":
                values = frame[c.name].to_numpy().astype("datetime64[D]")
                assert not (values[~np.isnat(values)] > last).any(), f"{t.qualified}.{c.name}"


def test_totals_and_payments_in_memory(tiny) -> None:  # noqa: ANN001
    items, orders = tiny["sales.order_items"], tiny["sales.orders"]
    net = line_net_paise(items["quantity"], items["unit_price"], items["discount"])
    sums = pd.Series(net).groupby(items["order_id"].to_numpy()).sum()
    assert (
        sums.to_numpy() == orders.set_index("order_id").loc[sums.index, "total_amount"].to_numpy()
    ).all()
    pays = tiny["sales.payments"]
    assert (pays["order_id"].to_numpy() == orders["order_id"].to_numpy()).all()
    assert (pays["amount"].to_numpy() == orders["total_amount"].to_numpy()).all()
    assert not items.duplicated(["order_id", "prod_id"]).any()


def test_defect_mode_changes_only_a_few_rows() -> None:
    clean, none = build(seed=4, scale=0.01, end_date=END)
    dirty, injected = build(seed=4, scale=0.01, end_date=END, defects=True)
    assert none == []
    assert len(injected) == 17 and all(3 <= d.count <= 7 for d in injected)
    a, b = clean.tables["sales.order_items"], dirty.tables["sales.order_items"]
    assert len(a) == len(b) and (a != b).any(axis=1).sum() <= 14
    assert len(dirty.tables["customers.customers"]) - len(
        clean.tables["customers.customers"]
    ) == next(d.count for d in injected if d.defect == "duplicate_natural_key")


def test_output_does_not_depend_on_python_hash_seed() -> None:
    script = (
        "import datetime as dt, hashlib\n"
        "from retailmart_dagster.generate import build\n"
        "from retailmart_dagster.generate.contract import contract_tables\n"
        "from retailmart_dagster.generate.db import csv_chunks, csv_ready\n"
        "ctx, _ = build(42, 0.01, dt.date(2025, 10, 1), True)\n"
        "h = hashlib.md5()\n"
        "for t in contract_tables():\n"
        "    for c in csv_chunks(csv_ready(t.qualified, ctx.tables[t.qualified], t.column_names)):\n"
        "        h.update(c.encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1
