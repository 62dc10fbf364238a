"""The benchmark's floor under the fact layer (benchmarks/bare_facts.sql, bench_build.bare_fact_pass):
each bare statement stands for one fact of sql/facts/ and aggregates at that fact's grain what the
fact aggregates, so the floor is the same work without the bookkeeping, not less work; the pass
times every statement and leaves nothing behind."""

from __future__ import annotations

import psycopg
import pytest

from benchmarks.bench_build import bare_fact_pass, bare_fact_statements, bare_floor_on
from retailmart_dagster.assets.sql_assets import load_sql_objects

pytestmark = pytest.mark.integration

# The fact's columns the bare statement computes the same way, by the fact's grain: (bare table,
# fact, grain columns, measured columns). The line-level facts (the floor's largest part) and the
# payment and shipment days take every order, whatever its status, as the bare statements do.
SAME_WORK = [
    (
        "bare_orders",
        "fact_orders",
        ["order_id"],
        ["order_date", "line_count", "units", "list_value", "return_count", "refund_amount"],
    ),
    (
        "bare_product_days",
        "fact_product_days",
        ["order_date", "prod_id", "order_status"],
        ["lines", "units", "list_value", "orders"],
    ),
    (
        "bare_product_group_days",
        "fact_product_group_days",
        ["order_date", "order_status", "level", "group_name"],
        ["orders"],
    ),
    (
        "bare_payment_days",
        "fact_payment_days",
        ["order_date", "order_status", "payment_day", "payment_mode"],
        ["payments", "amount"],
    ),
]


def test_each_bare_statement_stands_for_a_fact_and_computes_its_grain(kpi_db_url: str) -> None:
    statements = bare_fact_statements()
    facts = {o.name for o in load_sql_objects() if o.kind == "fact_table"}
    assert set(statements) <= facts and len(statements) >= 8
    for statement in statements.values():
        code = [line for line in statement.splitlines() if not line.startswith("--")]
        assert code[0].startswith("CREATE TEMP TABLE bare_") and statement.count(";") == 1

    with psycopg.connect(kpi_db_url) as conn:
        for statement in statements.values():
            conn.execute(statement)
        for bare, fact, grain, measures in SAME_WORK:
            cols = ", ".join(grain + measures)
            rows = {
                label: conn.execute(
                    f"SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL"
                    f" SELECT {cols} FROM {b}) AS d"
                ).fetchone()[0]
                for label, a, b in (
                    ("bare only", bare, f"analytics.{fact}"),
                    ("fact only", f"analytics.{fact}", bare),
                )
            }
            total = conn.execute(f"SELECT count(*) FROM analytics.{fact}").fetchone()[0]
            assert total > 0, fact
            assert rows == {"bare only": 0, "fact only": 0}, (fact, rows)
        conn.rollback()


def test_the_pass_times_every_statement_and_leaves_nothing(kpi_db_url: str) -> None:
    with psycopg.connect(kpi_db_url, autocommit=True) as conn:
        times = bare_fact_pass(conn)
        again = bare_fact_pass(conn)  # nothing left over that a second pass would trip on
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'bare\\_%'"
            " AND relnamespace = pg_my_temp_schema()"
        ).fetchone()[0]

    assert list(times) == list(again) == list(bare_fact_statements())
    assert all(t > 0 for t in [*times.values(), *again.values()])
    assert left == 0


def test_the_floor_on_several_slots_is_the_even_share_or_the_longest_statement() -> None:
    assert bare_floor_on({"a": 3.0, "b": 1.0, "c": 2.0}, 2) == 3.0
    assert bare_floor_on({"a": 6.0, "b": 1.0}, 2) == 6.0
    assert bare_floor_on({"a": 2.0, "b": 2.0, "c": 2.0, "d": 2.0}, 2) == 4.0
    assert bare_floor_on({"a": 2.0}, 1) == 2.0
    assert bare_floor_on({}, 2) == 0.0
