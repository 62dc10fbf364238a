"""The incremental data-quality evaluation (retailmart_dagster/checks/segments.py) on a real server.

- Every check split by order id gives, on its older and recent orders added up, exactly what it gives
  on all rows: with its targeted break (test_quality_rules.MUTATIONS) applied, at boundaries that
  put the broken rows on both sides.
- An evaluation reuses exactly the parts whose rows, configuration and reference date did not change,
  and its outcomes always equal a full evaluation: after nothing changed, after an edit of an old
  order, after a new order, after a configuration change, when the boundary moves, and when the
  stored parts are lost.
- The split and the fingerprints run in the evaluation's snapshot on shared connections: the same
  results as on one connection, and the fingerprints equal source_fingerprint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence

import psycopg
import pytest

from benchmarks.bench_checks import build_setup
from retailmart_dagster.checks.assets import source_fingerprint
from retailmart_dagster.checks.evaluate import (
    CLOCK_SETTING,
    CheckOutcome,
    clock_value,
    evaluate_checks,
    run_check,
)
from retailmart_dagster.checks.registry import load_checks
from retailmart_dagster.checks.segments import (
    ALL,
    OLDER,
    RANGE,
    RECENT,
    IncrementalEvaluation,
    combine,
    evaluate_incremental,
    fingerprint_text,
    restrict_sql,
    split_config,
    table_print,
)
from retailmart_dagster.checks.store import record_outcomes
from tests.conftest import KPI_END_DATE
from tests.integration.test_quality_rules import MUTATIONS, _result

pytestmark = pytest.mark.integration

CHECKS = load_checks()
BY_NAME = {c.name: c for c in CHECKS}
SPLIT = split_config()
CLOCK = dt.datetime.combine(KPI_END_DATE, dt.time(), tzinfo=dt.UTC)


_same = _result  # everything an outcome says


@pytest.fixture
def scratch(kpi_db_url: str) -> Iterator[psycopg.Connection]:
    """A transaction on the KPI database that is always rolled back (declared FKs switched off)."""
    with psycopg.connect(kpi_db_url) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(CLOCK)))
        try:
            yield conn
        finally:
            conn.rollback()


@pytest.mark.parametrize("name", sorted(c.name for c in CHECKS if c.split))
def test_split_parts_add_up_to_the_whole_check(scratch: psycopg.Connection, name: str) -> None:
    check = BY_NAME[name]
    assert name in MUTATIONS, "every split check has a targeted break to test it with"
    for statement in MUTATIONS[name][0]:
        scratch.execute(statement)
    whole = run_check(scratch, check)
    assert whole.affected_count > 0  # the break is really there
    limit = scratch.execute("SELECT analytics.fn_config_int('quality.sample_key_limit')")
    sample_limit = int(limit.fetchone()[0])
    # The breaks hit the first orders (lowest ids) and their rows: boundaries after the first and
    # the second order put them on both sides; the median order splits the table in halves.
    count = scratch.execute("SELECT count(*) FROM sales.orders").fetchone()[0]
    both_sides = 0  # boundaries with failing rows in both parts
    for offset in (1, 2, count // 2):
        boundary = scratch.execute(
            "SELECT order_id FROM sales.orders ORDER BY order_id OFFSET %s LIMIT 1", (offset,)
        ).fetchone()[0]
        parts = [
            run_check(
                scratch,
                dataclasses.replace(
                    check,
                    sql=restrict_sql(check.sql, SPLIT.tables, SPLIT.column, boundary, segment),
                ),
            )
            for segment in (OLDER, RECENT)
        ]
        assert _same(combine(check, parts, sample_limit)) == _same(whole), boundary
        both_sides += all(p.affected_count > 0 for p in parts)
    SPLIT_SEEN[name] = both_sides
    # Three parts, as when the boundary advances: below the first boundary, the range up to the
    # second one (the rows an advance runs), and above it.
    low, high = (
        scratch.execute(
            "SELECT order_id FROM sales.orders ORDER BY order_id OFFSET %s LIMIT 1", (offset,)
        ).fetchone()[0]
        for offset in (1, count // 2)
    )
    texts = [
        restrict_sql(check.sql, SPLIT.tables, SPLIT.column, low, OLDER),
        restrict_sql(check.sql, SPLIT.tables, SPLIT.column, low, RANGE, upper=high),
        restrict_sql(check.sql, SPLIT.tables, SPLIT.column, high, RECENT),
    ]
    thirds = [run_check(scratch, dataclasses.replace(check, sql=t)) for t in texts]
    older = combine(check, thirds[:2], sample_limit)
    high_older = run_check(
        scratch,
        dataclasses.replace(
            check, sql=restrict_sql(check.sql, SPLIT.tables, SPLIT.column, high, OLDER)
        ),
    )
    assert _same(older) == _same(high_older)
    assert _same(combine(check, [older, thirds[2]], sample_limit)) == _same(whole)


# check -> boundaries at which its failing rows were on both sides (filled by the test above)
SPLIT_SEEN: dict[str, int] = {}


def test_most_breaks_were_split_across_both_parts() -> None:
    """(Run after the parametrized test, in file order.) Most breaks hit both parts at some boundary,
    so the sample keys of two parts were merged; the rest hit rows of one order, or orphans whose
    order id has no order (always recent)."""
    if len(SPLIT_SEEN) < sum(1 for c in CHECKS if c.split):
        pytest.skip("needs every case of test_split_parts_add_up_to_the_whole_check")
    assert sum(1 for seen in SPLIT_SEEN.values() if seen) >= 15


# ---------------------------------------------------------------------------- whole evaluations
_setup = build_setup  # the setup objects (config, reference date, result tables)


def _evaluate(
    url: str,
    split=None,
    checks: Sequence = CHECKS,
    connections: int | None = None,  # noqa: ANN001
    known: Sequence[str] | None = None,
) -> tuple[IncrementalEvaluation, list[CheckOutcome]]:
    """An incremental evaluation (its parts stored) and a full one of the same data."""
    with psycopg.connect(url, autocommit=True) as conn:
        result = evaluate_incremental(
            conn, checks, CLOCK, "code", split=split, connections=connections
        )
        record_outcomes(conn, result.outcomes, "test", result.parts, known, result.tables)
        full = evaluate_checks(conn, checks, CLOCK)
    assert [_same(o) for o in result.outcomes] == [_same(o) for o in full]
    return result, full


def _run(result: IncrementalEvaluation) -> set[str]:
    return {f"{p.check_name}:{p.segment}" for p in result.fresh_parts}


def _reads(table: str) -> set[str]:
    """The parts of the checks reading table that a change of one older row of it invalidates."""
    schema, name = table.split(".")
    out = set()
    for c in CHECKS:
        if (schema, name) in c.reads:
            out.add(f"{c.name}:{OLDER if c.split else ALL}")
    return out


# The parts that run every time: checks reading the clock or now().
ALWAYS = {"timeliness_latest_order_lag:all"}


def test_the_evaluation_reuses_unchanged_parts_and_equals_a_full_one(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("quality_incremental")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=3, end_date=KPI_END_DATE)
    _setup(url)
    split_count = sum(1 for c in CHECKS if c.split)

    first, _ = _evaluate(url)
    assert first.new_boundary and first.boundary is not None
    assert len(first.fresh_parts) == len(CHECKS) + split_count  # nothing stored yet: all run
    with psycopg.connect(url) as conn:
        orders, above = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE order_id >= %s) FROM sales.orders",
            (first.boundary,),
        ).fetchone()
    assert 0 < above <= max(1, round(orders * SPLIT.recent_share))

    # Nothing changed: only what reads the clock runs again; fingerprints as source_fingerprint.
    again, _ = _evaluate(url, connections=1)
    assert _run(again) == ALWAYS and again.boundary == first.boundary
    with psycopg.connect(url) as conn:
        for ref in SPLIT.tables:
            assert source_fingerprint(conn, ref) == (
                again.prints[ref][ALL][0],
                fingerprint_text(again.prints[ref][ALL]),
            )
            older, recent = again.prints[ref][OLDER], again.prints[ref][RECENT]
            assert (older[0] + recent[0], older[1] + recent[1]) == again.prints[ref][ALL]

    # An old order's total no longer matches its lines: the older parts of the checks reading the
    # orders run again (and find it); nothing recent does.
    with psycopg.connect(url) as conn:
        old_order = conn.execute("SELECT min(order_id) FROM sales.orders").fetchone()[0]
        conn.execute(
            "UPDATE sales.orders SET total_amount = total_amount + 5 WHERE order_id = %s",
            (old_order,),
        )
    edited, full = _evaluate(url)
    assert _run(edited) == _reads("sales.orders") | ALWAYS
    mismatch = next(o for o in full if o.check.name == "consistency_order_total_mismatch")
    assert f"order_id={old_order}" in mismatch.sample_keys

    # A new order (a new id) with a broken line: only recent parts, and the 'all' parts of the
    # checks reading the changed tables, run; the outcome has the keys of both parts.
    with psycopg.connect(url) as conn:
        new_order = conn.execute(
            """
            INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,
                                      total_amount)
            SELECT max(order_id) + 1, min(cust_id), min(store_id), max(order_date), 'Pending', 10
              FROM sales.orders
            RETURNING order_id
            """
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity, unit_price,"
            " discount) SELECT max(order_item_id) + 1, %s, min(prod_id), 1, 11, 0"
            " FROM sales.order_items",
            (new_order,),
        )
    appended, full = _evaluate(url)
    recent_only = {p.split(":")[1] for p in _run(appended) - ALWAYS}
    assert recent_only <= {RECENT, ALL}
    assert "consistency_order_total_mismatch:recent" in _run(appended)
    assert not any(p.endswith(f":{OLDER}") for p in _run(appended))
    mismatch = next(
        o for o in appended.outcomes if o.check.name == "consistency_order_total_mismatch"
    )
    assert {f"order_id={old_order}", f"order_id={new_order}"} <= set(mismatch.sample_keys)
    assert mismatch.affected_count >= 2

    # A change in a section only Python reads (the run's connections, schedules, notifications):
    # no check can depend on it, every stored part is reused.
    with psycopg.connect(url) as conn:
        for key in (
            "runtime.statement_timeout_ms",
            "runtime.parallel_workers_per_step",
            "automation.new_data_interval_seconds",
            "notifications.max_attempts",
        ):
            changed = conn.execute(
                "UPDATE analytics.config SET value = to_jsonb(value::text::int + 1) WHERE key = %s",
                (key,),
            ).rowcount
            assert changed == 1, key
    assert _run(_evaluate(url)[0]) == ALWAYS

    # A key no check reads (a KPI threshold): nothing runs again. A check's own severity: only
    # that check's parts.
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE analytics.config SET value = to_jsonb(value::text::numeric + 1)"
            " WHERE key = 'customers.tier_gold_min_revenue'"
        )
    assert _run(_evaluate(url)[0]) == ALWAYS
    name = "consistency_order_total_mismatch"
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE analytics.config SET value = to_jsonb('WARN'::text) WHERE key = %s",
            (f"quality_checks.{name}",),
        )
    severity, _ = _evaluate(url)
    assert _run(severity) == ALWAYS | {f"{name}:{OLDER}", f"{name}:{RECENT}"}

    # A [quality] key (read by every check): every part runs again.
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE analytics.config SET value = to_jsonb(6) WHERE key = 'quality.amount_tolerance'"
        )
    reconfigured, full = _evaluate(url)
    assert len(reconfigured.fresh_parts) == len(reconfigured.parts)
    mismatch = next(o for o in full if o.check.name == "consistency_order_total_mismatch")
    assert mismatch.affected_count == 0  # both differences (5 and 1) within the new tolerance

    # The recent part grew past recent_max_share: the boundary moves up. Every split check's
    # older part is new, but only those of the checks reading the orders (an old order was edited
    # meanwhile) ran on every older row: the others kept theirs and ran on the rows in between.
    # Outcomes equal a full evaluation (_evaluate), the prints a whole pass at the new boundary.
    small = dataclasses.replace(SPLIT, recent_share=0.001, recent_max_share=0.002)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE sales.orders SET total_amount = total_amount - 5 WHERE order_id = %s",
            (old_order,),
        )
    moved, _ = _evaluate(url, split=small)
    assert moved.new_boundary and moved.moved_from == reconfigured.boundary < moved.boundary
    assert {p for p in _run(moved) if not p.endswith(":all")} == {
        f"{c.name}:{s}" for c in CHECKS if c.split for s in (OLDER, RECENT)
    }
    untouched = {c.name for c in CHECKS if c.split and ("sales", "orders") not in c.reads}
    assert untouched and set(moved.advanced) == untouched
    with psycopg.connect(url) as conn:
        for ref in SPLIT.tables:
            assert table_print(conn, ref, SPLIT.column, moved.boundary) == moved.prints[ref]
    assert _run(_evaluate(url, split=small)[0]) == ALWAYS  # and is kept

    # The stored parts lost: everything runs, nothing breaks.
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE analytics.data_quality_segments")
    lost, _ = _evaluate(url)
    assert len(lost.fresh_parts) == len(lost.parts)

    # A subset evaluation (data_quality_job runs one per dimension) reuses the stored parts of its
    # checks and keeps those of the others; the parts of a check that no longer exists go when the
    # names of every registered check are given (the evaluation asset, the dimension checks).
    subset = [
        BY_NAME["consistency_order_total_mismatch"],
        BY_NAME["uniqueness_duplicate_customers"],
    ]
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE sales.orders SET total_amount = total_amount + 1 WHERE order_id = %s",
            (old_order,),
        )
    partial, _ = _evaluate(url, checks=subset)
    assert _run(partial) == {"consistency_order_total_mismatch:older"}
    with psycopg.connect(url) as conn:
        kept = conn.execute(
            "SELECT count(DISTINCT check_name) FROM analytics.data_quality_segments"
        ).fetchone()[0]
        assert kept == len(CHECKS)
        conn.execute(
            "INSERT INTO analytics.data_quality_segments (check_name, segment, input_key, severity,"
            " affected_count, total_rows, threshold, sample_keys, details)"
            " VALUES ('retired_check', 'all', 'k', 'WARN', 0, 0, 0, '[]', '{}')"
        )
    everything, _ = _evaluate(url, known=[c.name for c in CHECKS])
    assert _run(everything) == (_reads("sales.orders") | ALWAYS) - {
        "consistency_order_total_mismatch:older"
    }
    with psycopg.connect(url) as conn:
        names = {
            r[0] for r in conn.execute("SELECT check_name FROM analytics.data_quality_segments")
        }
    assert names == set(BY_NAME)

    # The content fingerprints it keeps (analytics.data_quality_fingerprints): one row per table it
    # read, the split tables' for their older rows below its boundary, as the source has them.
    with psycopg.connect(url) as conn:
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT table_name, segment, boundary, content_rows, content_sum"
                " FROM analytics.data_quality_fingerprints"
            ).fetchall()
        }
        for ref in SPLIT.tables:
            segment, boundary, count, total = rows[f"{ref[0]}.{ref[1]}"]
            assert (segment, boundary) == (OLDER, everything.boundary)
            assert (count, int(total)) == everything.prints[ref][OLDER]
        assert {r[0] for r in rows.values()} == {ALL, OLDER}
        # Without the table (setup not run since an upgrade), an evaluation still records.
        conn.execute("DROP TABLE analytics.data_quality_fingerprints")
    without, _ = _evaluate(url)
    assert _run(without) == ALWAYS
    with psycopg.connect(url) as conn:
        for ref in SPLIT.tables:
            assert source_fingerprint(conn, ref) == (
                without.prints[ref][ALL][0],
                fingerprint_text(without.prints[ref][ALL]),
            )


def _append_copies(url: str, count: int, break_one: bool) -> list[int]:
    """Append count new orders (new ids), each a copy of an old one with its lines and payments; with
    break_one, the first new order's total no longer matches its lines. Returns the new ids."""
    with psycopg.connect(url) as conn:
        top = conn.execute("SELECT max(order_id) FROM sales.orders").fetchone()[0]
        line_top = conn.execute("SELECT max(order_item_id) FROM sales.order_items").fetchone()[0]
        sources = [
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM sales.orders ORDER BY order_id LIMIT %s", (count,)
            ).fetchall()
        ]
        new_ids = []
        for n, source in enumerate(sources, start=1):
            new_id = top + n
            conn.execute(
                "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status,"
                " total_amount) SELECT %s, cust_id, store_id, order_date, order_status,"
                " total_amount + %s FROM sales.orders WHERE order_id = %s",
                (new_id, 7 if break_one and n == 1 else 0, source),
            )
            lines = conn.execute(
                "SELECT prod_id, quantity, unit_price, discount FROM sales.order_items"
                " WHERE order_id = %s ORDER BY order_item_id",
                (source,),
            ).fetchall()
            for line in lines:
                line_top += 1
                conn.execute(
                    "INSERT INTO sales.order_items (order_item_id, order_id, prod_id, quantity,"
                    " unit_price, discount) VALUES (%s, %s, %s, %s, %s, %s)",
                    (line_top, new_id, *line),
                )
            new_ids.append(new_id)
    return new_ids


def test_an_advancing_boundary_equals_a_full_evaluation_round_after_round(new_database) -> None:  # noqa: ANN001
    """Orders appended round after round push the recent part past its share: the boundary moves up
    each time, the older parts are carried forward (only the rows in between run), and every
    outcome equals a full evaluation (_evaluate), with broken orders on both sides of each move, an
    edit below the old boundary and one in the rows being moved."""
    from retailmart_dagster.generate import generate

    url = new_database("quality_advance")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=5, end_date=KPI_END_DATE)
    _setup(url)
    split = dataclasses.replace(SPLIT, recent_share=0.05, recent_max_share=0.08)
    first, _ = _evaluate(url, split=split)
    with psycopg.connect(url) as conn:
        orders = conn.execute("SELECT count(*) FROM sales.orders").fetchone()[0]
    step = max(int(orders * 0.05), 2)  # a round adds more than the gap between the two shares
    split_checks = {c.name for c in CHECKS if c.split}
    boundary, broken = first.boundary, []
    for round_ in range(4):
        broken += _append_copies(url, step, break_one=True)[:1]
        with psycopg.connect(url) as conn:
            if round_ == 1:  # an old order below the boundary: the orders' older parts run whole
                conn.execute(
                    "UPDATE sales.orders SET total_amount = total_amount + 3 WHERE order_id ="
                    " (SELECT min(order_id) FROM sales.orders)"
                )
            if round_ == 2:  # an order just above the boundary, in the rows the move carries
                conn.execute(
                    "UPDATE sales.orders SET total_amount = total_amount + 3 WHERE order_id ="
                    " (SELECT min(order_id) FROM sales.orders WHERE order_id >= %s)",
                    (boundary,),
                )
        result, full = _evaluate(url, split=split)  # outcomes equal a full evaluation
        assert result.moved_from == boundary < result.boundary, round_
        readers = {c for c in split_checks if ("sales", "orders") in BY_NAME[c].reads}
        expected = split_checks - readers if round_ == 1 else split_checks
        assert set(result.advanced) == expected, round_
        mismatch = next(o for o in full if o.check.name == "consistency_order_total_mismatch")
        assert mismatch.affected_count >= len(broken)  # each round's broken order is found
        boundary = result.boundary
    # Nothing changed since: only what reads the clock runs, at the same boundary.
    again, _ = _evaluate(url, split=split)
    assert _run(again) == ALWAYS and again.boundary == boundary and again.moved_from is None
