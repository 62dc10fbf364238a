"""``generate()``: build the RetailMart sample data set in memory and load it with COPY."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import psycopg

from . import activity, dimensions, operations, sales
from .context import Context
from .contract import SOURCE_SCHEMAS, contract_tables
from .db import (
    add_keys,
    analyze,
    copy_frame,
    drop_keys,
    key_constraints,
    record_run,
    recreate_schemas,
)
from .defects import Injected, inject_defects

BUILDERS = (
    dimensions.build_core,
    dimensions.build_suppliers,
    dimensions.build_products,
    dimensions.build_stores,
    dimensions.build_departments,
    dimensions.build_employees,
    dimensions.build_customers,
    dimensions.build_addresses,
    sales.build_sales,
    activity.build_reviews,
    activity.build_loyalty,
    activity.build_inventory,
    activity.build_promotions,
    activity.build_campaigns,
    activity.build_emails,
    operations.build_store_expenses,
    operations.build_finance_expenses,
    operations.build_salary_history,
    operations.build_attendance,
)


@dataclass
class GenerateResult:
    """What ``generate()`` wrote.

    ``row_counts`` is keyed ``"schema.table"``; ``injected`` lists ``(table, defect, count)`` (empty
    unless ``defects=True``); ``seconds`` splits the run into ``build`` (in memory) and ``load`` (COPY,
    ANALYZE, commit).
    """

    seed: int
    scale: float
    end_date: dt.date
    defects: bool
    row_counts: dict[str, int]
    injected: list[tuple[str, str, int]]
    seconds: dict[str, float] = field(default_factory=dict)


def build(
    seed: int, scale: float, end_date: dt.date, defects: bool = False
) -> tuple[Context, list[Injected]]:
    """Build every contract table as a DataFrame (no database access)."""
    ctx = Context.create(seed, scale, end_date)
    for builder in BUILDERS:
        builder(ctx)
    injected = inject_defects(ctx) if defects else []
    operations.build_revenue_summary(ctx)  # after defects: always agrees with the final orders
    return ctx, injected


def generate(
    conn: psycopg.Connection,
    scale: float = 1.0,
    seed: int = 42,
    end_date: dt.date | None = None,
    defects: bool = False,
) -> GenerateResult:
    """(Re)create the eight RetailMart source schemas on ``conn`` and fill them with sample data.

    Drops ``core, customers, stores, products, sales, finance, hr, marketing`` (and ``generator``) with
    CASCADE, runs ``source/schema.sql``, COPYs every table, records the run in ``generator.runs`` (and
    defects in ``generator.injected_defects``), ANALYZEs, all in one transaction, then commits.
    Same ``seed``, ``scale`` and ``end_date`` give byte-identical data. ``end_date`` (default: today) is
    the last order date; nothing in the data is dated after it.
    """
    end_date = end_date or dt.date.today()
    t0 = time.perf_counter()
    ctx, injected = build(seed, scale, end_date, defects)
    t1 = time.perf_counter()
    tables = contract_tables()
    counts: dict[str, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        recreate_schemas(cur)
        keys = key_constraints(cur, SOURCE_SCHEMAS)
        drop_keys(cur, keys)
        for table in tables:
            counts[table.qualified] = copy_frame(cur, table, ctx.tables[table.qualified])
        add_keys(cur, keys)
        record_run(
            cur,
            seed,
            scale,
            end_date,
            defects,
            [(d.table, d.defect, d.count, d.sample_keys) for d in injected],
        )
        analyze(cur, tables)
    if not conn.autocommit:
        conn.commit()
    t2 = time.perf_counter()
    return GenerateResult(
        seed=seed,
        scale=scale,
        end_date=end_date,
        defects=defects,
        row_counts=counts,
        injected=[(d.table, d.defect, d.count) for d in injected],
        seconds={"build": round(t1 - t0, 3), "load": round(t2 - t1, 3)},
    )
