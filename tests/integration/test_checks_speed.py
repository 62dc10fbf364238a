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
- The fingerprint kept from the last evaluation (with the row versions' fingerprint) is reused only
  while no row version and no column changed; split, only the recent rows are hashed again.
"""

import dataclasses
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
from retailmart_dagster.checks.segments import (
    ALL,
    OLDER,
    RECENT,
    evaluate_incremental,
    fingerprint_text,
    table_state,
)
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


def _state_of(conn: psycopg.Connection, ref: tuple[str, str], known=None, boundary=None):  # noqa: ANN001
    return table_state(conn, ref, "order_id" if boundary else None, boundary, known)


def test_kept_fingerprint_is_reused_only_while_no_row_version_changed(
    rolled_back: psycopg.Connection,
) -> None:
    """table_state: with the state kept by the last evaluation, a table whose row versions and
    columns are unchanged gets the kept content print without hashing its values (shown by a kept
    content that is not the real one); any insert, update, delete, a value edited and edited back,
    or a column added without rewriting a row, hashes the content again (as source_fingerprint)."""
    conn = rolled_back
    ref = ("sales", "order_items")
    prints, state = _state_of(conn, ref)
    assert state is not None and state.segment == ALL and state.boundary is None
    assert (prints[ALL][0], fingerprint_text(prints[ALL])) == source_fingerprint(conn, ref)
    assert state.content == prints[ALL] and state.versions[0] == prints[ALL][0]
    planted = dataclasses.replace(state, content=(state.content[0], state.content[1] + 7))
    assert _state_of(conn, ref, planted)[0][ALL] == planted.content  # reused, not hashed

    def hashed_again() -> None:
        again, new_state = _state_of(conn, ref, planted)
        assert again[ALL] != planted.content
        assert (again[ALL][0], fingerprint_text(again[ALL])) == source_fingerprint(conn, ref)
        assert new_state is not None
        assert (new_state.versions, new_state.columns_key) != (
            planted.versions,
            planted.columns_key,
        )

    key, discount = conn.execute(
        "SELECT order_item_id, discount FROM sales.order_items ORDER BY order_item_id LIMIT 1"
    ).fetchone()
    conn.execute("SAVEPOINT edit")
    conn.execute(
        "UPDATE sales.order_items SET discount = discount + 0.01 WHERE order_item_id = %s", (key,)
    )
    conn.execute(
        "UPDATE sales.order_items SET discount = %s WHERE order_item_id = %s", (discount, key)
    )
    hashed_again()  # the same values, new row versions: hashed again, the same content
    assert _state_of(conn, ref, planted)[0][ALL] == prints[ALL]
    conn.execute("ROLLBACK TO SAVEPOINT edit")
    assert _state_of(conn, ref, planted)[0][ALL] == planted.content  # the edit rolled back
    for change in (
        "DELETE FROM sales.order_items WHERE order_item_id = %(key)s",
        "INSERT INTO sales.order_items SELECT order_item_id + 10000000, order_id, prod_id,"
        " quantity, unit_price, discount FROM sales.order_items WHERE order_item_id = %(key)s",
        "ALTER TABLE sales.order_items ADD COLUMN note text DEFAULT 'x'",
    ):
        conn.execute("SAVEPOINT change")
        conn.execute(change, {"key": key})
        hashed_again()
        conn.execute("ROLLBACK TO SAVEPOINT change")
    # A view has no row versions: always hashed, nothing kept.
    conn.execute("CREATE TEMP VIEW recent_items AS SELECT * FROM sales.order_items")
    schema = conn.execute("SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()")
    view = (str(schema.fetchone()[0]), "recent_items")
    view_prints, view_state = _state_of(conn, view)
    assert view_state is None and view_prints[ALL] == prints[ALL]


def test_kept_fingerprint_of_a_split_table_hashes_only_its_recent_rows(
    rolled_back: psycopg.Connection,
) -> None:
    """Split by order id: the kept state is the older rows' (below the boundary). New recent rows
    leave it reused and only the recent rows are hashed; the parts add up to the content of the
    whole table. An edit of an older row, or another boundary, hashes everything again."""
    conn = rolled_back
    ref = ("sales", "orders")
    boundary = conn.execute(
        "SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY order_id) FROM sales.orders"
    ).fetchone()[0]
    prints, state = _state_of(conn, ref, boundary=boundary)
    assert state is not None and (state.segment, state.boundary) == (OLDER, boundary)
    assert state.content == prints[OLDER]
    planted = dataclasses.replace(state, content=(state.content[0], state.content[1] + 7))
    conn.execute(
        "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,"
        " total_amount) SELECT max(order_id) + 1, min(cust_id), min(store_id), max(order_date),"
        " 'Pending', 10 FROM sales.orders"
    )
    grown, kept = _state_of(conn, ref, planted, boundary)
    assert grown[OLDER] == planted.content and kept == planted
    assert grown[RECENT][0] == prints[RECENT][0] + 1
    assert grown[ALL] == (grown[OLDER][0] + grown[RECENT][0], grown[OLDER][1] + grown[RECENT][1])
    real, _ = _state_of(conn, ref, None, boundary)
    assert real[RECENT] == grown[RECENT]
    assert (real[ALL][0], fingerprint_text(real[ALL])) == source_fingerprint(conn, ref)
    conn.execute(
        "UPDATE sales.orders SET total_amount = total_amount + 1"
        " WHERE order_id = (SELECT min(order_id) FROM sales.orders)"
    )
    edited, _ = _state_of(conn, ref, planted, boundary)
    assert edited[OLDER] != planted.content
    assert (edited[ALL][0], fingerprint_text(edited[ALL])) == source_fingerprint(conn, ref)
    moved, moved_state = _state_of(conn, ref, state, boundary - 1)
    assert moved_state is not None and moved_state.boundary == boundary - 1
    assert moved[ALL] == edited[ALL]
