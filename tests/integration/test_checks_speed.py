"""What the data-quality evaluation's speed-ups must not change.

- The check files steer the planner towards merge joins along indexes (sorted CTEs, counts per key
  along an index, correlated look-ups): their results must not depend on the plan. Each check's
  targeted break of tests/integration/test_quality_rules.py is applied (in a transaction that is
  rolled back), then the check runs with the planner's choice and again with merge joins and index
  scans switched off (hash joins and sequential scans instead): same count, population and sample
  keys.
- The source fingerprints and the checks' parts run in the evaluation's snapshot and queue (shared
  among its connections, the largest tables first): the same results as alone.
- The source fingerprint (hash_record of every row) changes when one value changes or two rows swap a
  value, comes back when the value does, and falls back to the rows' text for a column type without
  a hash function.
"""

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest

from retailmart_dagster.checks.assets import freshness_tables, source_fingerprint
from retailmart_dagster.checks.evaluate import (
    CLOCK_SETTING,
    _cost_order,
    clock_value,
    evaluate_checks,
    run_check,
)
from retailmart_dagster.checks.registry import QualityCheck, load_checks
from retailmart_dagster.checks.segments import ALL, evaluate_incremental, fingerprint_text
from tests.conftest import KPI_END_DATE
from tests.integration.test_quality_rules import MUTATIONS

pytestmark = pytest.mark.integration

CHECKS = {c.name: c for c in load_checks()}
OTHER_PLANS = (
    "enable_mergejoin",
    "enable_indexscan",
    "enable_indexonlyscan",
    "enable_bitmapscan",
    "enable_memoize",
)


@pytest.fixture
def scratch(kpi_db_url: str) -> Iterator[psycopg.Connection]:
    """A transaction on the KPI database that is always rolled back (declared FKs switched off)."""
    with psycopg.connect(kpi_db_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        clock = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)
        conn.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(clock)))
        try:
            yield conn
        finally:
            conn.rollback()


def _result(conn: psycopg.Connection, check: QualityCheck) -> tuple:
    o = run_check(conn, check)
    return (o.affected_count, o.total_rows, o.sample_keys, dict(o.details))


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_check_results_do_not_depend_on_the_plan(scratch: psycopg.Connection, name: str) -> None:
    """The check's targeted break (test_quality_rules.MUTATIONS), then the check with the planner's
    choice and with merge joins and index scans switched off: the same result."""
    for statement in MUTATIONS[name][0]:
        scratch.execute(statement)
    planned = _result(scratch, CHECKS[name])
    assert planned[0] > 0  # the break is really there
    for setting in OTHER_PLANS:
        scratch.execute("SELECT set_config(%s, 'off', true)", (setting,))
    assert _result(scratch, CHECKS[name]) == planned


@pytest.fixture
def rolled_back(kpi_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(kpi_db_url) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def test_fingerprint_sees_a_change_of_one_value(rolled_back: psycopg.Connection) -> None:
    conn = rolled_back
    table = ("sales", "order_items")
    count, before = source_fingerprint(conn, table)
    assert before.startswith(f"{count}:")
    assert source_fingerprint(conn, table) == (count, before)  # deterministic
    key, discount = conn.execute(
        "SELECT order_item_id, discount FROM sales.order_items ORDER BY order_item_id LIMIT 1"
    ).fetchone()
    conn.execute(
        "UPDATE sales.order_items SET discount = discount + 0.01 WHERE order_item_id = %s", (key,)
    )
    changed = source_fingerprint(conn, table)
    assert changed[0] == count and changed[1] != before
    conn.execute(
        "UPDATE sales.order_items SET discount = %s WHERE order_item_id = %s", (discount, key)
    )
    assert source_fingerprint(conn, table) == (count, before)  # content, not row versions
    # Two rows swapping a value: every column keeps the same values, only their rows change.
    (a, pa), (b, pb) = conn.execute(
        "SELECT order_item_id, prod_id FROM sales.order_items WHERE prod_id IS NOT NULL"
        " ORDER BY order_item_id LIMIT 2"
    ).fetchall()
    assert pa != pb
    swap = "UPDATE sales.order_items SET prod_id = %s WHERE order_item_id = %s"
    conn.execute(swap, (pb, a))
    conn.execute(swap, (pa, b))
    assert source_fingerprint(conn, table)[1] != before  # values swapped between two rows
    conn.execute(swap, (pa, a))
    conn.execute(swap, (pb, b))
    assert source_fingerprint(conn, table) == (count, before)
    conn.execute("UPDATE sales.order_items SET prod_id = NULL WHERE order_item_id = %s", (key,))
    assert source_fingerprint(conn, table)[1] != before  # a value set to NULL
    conn.execute("DELETE FROM sales.order_items WHERE order_item_id = %s", (key,))
    assert source_fingerprint(conn, table)[0] == count - 1


def test_fingerprint_of_a_type_without_hash_function(rolled_back: psycopg.Connection) -> None:
    conn = rolled_back
    conn.execute("CREATE TEMP TABLE shapes (id int, at point) ON COMMIT DROP")
    conn.execute("INSERT INTO shapes VALUES (1, point(1, 2)), (2, point(3, 4))")
    schema = conn.execute("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")
    ref = (str(schema.fetchone()[0]), "shapes")
    count, before = source_fingerprint(conn, ref)
    assert count == 2
    conn.execute("UPDATE shapes SET at = point(1, 5) WHERE id = 1")
    assert source_fingerprint(conn, ref) != (count, before)


def test_fingerprints_and_parts_share_the_snapshot_and_the_connections(kpi_db_url: str) -> None:
    clock = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)
    checks = list(CHECKS.values())
    tables = freshness_tables()
    with psycopg.connect(kpi_db_url, autocommit=True) as conn:
        # A code version of its own: no stored part is reused, every part runs (nothing stored).
        shared = evaluate_incremental(conn, checks, clock, "speed", tables, connections=2)
        alone = evaluate_incremental(conn, checks, clock, "speed", tables, connections=1)
        plain = evaluate_checks(conn, checks, clock)
        with conn.transaction():
            prints = {ref: source_fingerprint(conn, ref) for ref in tables}
        order = _cost_order(
            conn, [(frozenset({ref}), None) for ref in tables] + [(frozenset(), None)]
        )
    assert len(shared.fresh_parts) == len(shared.parts) > len(checks)
    assert [o.affected_count for o in shared.outcomes] == [o.affected_count for o in alone.outcomes]
    assert [o.sample_keys for o in shared.outcomes] == [o.sample_keys for o in plain]
    for result in (shared, alone):
        assert {
            ref: (result.prints[ref][ALL][0], fingerprint_text(result.prints[ref][ALL]))
            for ref in tables
        } == prints
    # Longest first: the lines (most rows) before the returns, a job reading no table last.
    assert order.index(tables.index(("sales", "order_items"))) < order.index(
        tables.index(("sales", "returns"))
    )
    assert order[-1] == len(tables)
