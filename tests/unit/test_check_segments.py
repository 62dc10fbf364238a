"""The incremental data-quality evaluation without a database: the ``-- Split:`` header, the SQL
restricted to older or recent orders, the input keys of the parts and how parts add up."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from pglast import ast, parse_sql
from pglast.visitors import Visitor

from retailmart_dagster.assets.sql_parse import SqlFileError
from retailmart_dagster.checks.evaluate import CheckOutcome
from retailmart_dagster.checks.registry import load_checks, parse_check_file
from retailmart_dagster.checks.segments import (
    ALL,
    OLDER,
    PYTHON_ONLY_SECTIONS,
    RANGE,
    RECENT,
    _Context,
    _volatile,
    combine,
    input_key,
    natural_key,
    restrict_sql,
    split_config,
)
from retailmart_dagster.config import ConfigError, config_values

CHECKS = {c.name: c for c in load_checks()}
SPLIT = split_config()
# Checks that read a split table but run on all rows: the sum over order ranges is not their
# result (finance per store and month against the orders), or a date that moves every day (the
# reference date, the clock) is part of every row's verdict.
NOT_SPLIT = {
    "consistency_revenue_summary_sales",
    "timeliness_latest_order_lag",
    "timeliness_stuck_open_orders",
    "accuracy_order_date_after_reference",
}


def test_every_check_on_the_order_tables_is_split_or_says_why_not() -> None:
    split_tables = set(SPLIT.tables)
    for check in CHECKS.values():
        if check.split is not None:
            assert check.split == SPLIT.column, check.name
            assert check.reads & split_tables, check.name
            assert check.dimension != "timeliness", check.name  # details cannot be added up
        elif check.reads & split_tables:
            assert check.name in NOT_SPLIT, check.name
    assert NOT_SPLIT <= set(CHECKS)
    assert sum(1 for c in CHECKS.values() if c.split) >= 30


def test_the_split_header_is_parsed_and_a_bad_one_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "accuracy"
    folder.mkdir()
    body = (
        "SELECT analytics.fn_config_text('quality_checks.accuracy_x') AS severity FROM sales.orders"
    )
    path = folder / "accuracy_x.sql"
    path.write_text(f"-- About orders.\n-- Table: sales.orders\n-- Split: order_id\n{body}")
    check = parse_check_file(path)
    assert check.split == "order_id"
    assert check.description == "About orders."
    path.write_text(f"-- About orders.\n-- Table: sales.orders\n{body}")
    assert parse_check_file(path).split is None
    for header in ("-- Split: order id", "-- Split: order_id\n-- Split: order_id"):
        path.write_text(f"-- About orders.\n-- Table: sales.orders\n{header}\n{body}")
        with pytest.raises(SqlFileError, match="Split") as err:
            parse_check_file(path)
        assert str(path) in str(err.value)


def _subselects(text: str) -> list[tuple[str, str, str]]:
    """(alias, table, filter SQL) of every subquery in FROM of text."""
    found: list[tuple[str, str, str]] = []

    class _Find(Visitor):  # type: ignore[misc]
        def visit_RangeSubselect(self, _ancestors, node):  # noqa: ANN001, ANN202, N802
            inner = node.subquery.fromClause[0]
            if isinstance(inner, ast.RangeVar):
                found.append(
                    (
                        node.alias.aliasname,
                        f"{inner.schemaname}.{inner.relname}",
                        str(node.subquery),
                    )
                )

    _Find()(parse_sql(text))
    return found


def test_restricted_sql_reads_only_the_part_of_the_split_tables() -> None:
    check = CHECKS["consistency_orphan_order_items"]  # lines, orders and products
    older = restrict_sql(check.sql, SPLIT.tables, SPLIT.column, 1000, OLDER)
    recent = restrict_sql(check.sql, SPLIT.tables, SPLIT.column, 1000, RECENT)
    for text in (older, recent):
        tables = {(alias, table) for alias, table, _ in _subselects(text)}
        assert tables == {("i", "sales.order_items"), ("o", "sales.orders")}
        assert "products.products" in text  # not split: read whole
    assert "t.order_id < 1000" in older and "IS NULL" not in older
    assert "t.order_id >= 1000 OR t.order_id IS NULL" in recent
    # The rows between two boundaries (an advancing boundary runs only those): no NULL keys.
    between = restrict_sql(check.sql, SPLIT.tables, SPLIT.column, 1000, RANGE, upper=1500)
    assert {(a, t) for a, t, _ in _subselects(between)} == {
        ("i", "sales.order_items"),
        ("o", "sales.orders"),
    }
    assert "t.order_id >= 1000 AND t.order_id < 1500" in between and "IS NULL" not in between
    # A table read without an alias keeps its name as the alias.
    bare = "SELECT count(*) FROM sales.orders WHERE orders.order_id > 0"
    assert _subselects(restrict_sql(bare, SPLIT.tables, "order_id", 5, OLDER))[0][:2] == (
        "orders",
        "sales.orders",
    )
    with pytest.raises(ValueError, match="segment"):
        restrict_sql(bare, SPLIT.tables, "order_id", 5, ALL)
    with pytest.raises(ValueError, match="segment"):
        restrict_sql(bare, SPLIT.tables, "order_id", 5, RANGE)  # a range needs its upper end


def test_split_settings_are_validated() -> None:
    values = config_values()
    assert SPLIT.boundary_table == ("sales", "orders")
    for key, value, message in (
        ("quality.split_tables", ["sales orders"], "schema.table"),
        ("quality.split_column", "order id", "column name"),
        ("quality.recent_share", 0.5, "recent_share"),
        ("quality.recent_max_share", 0.0, "recent_share"),
    ):
        with pytest.raises(ConfigError, match=message):
            split_config({**values, key: value})


def _outcome(name: str, affected: int, total: int, keys: tuple[str, ...]) -> CheckOutcome:
    return CheckOutcome(CHECKS[name], "ERROR", affected, total, 0.0, keys)


def test_natural_key_orders_ids_as_numbers() -> None:
    keys = ["order_id=10", "order_id=9", "order_id=100"]
    assert sorted(keys, key=natural_key) == ["order_id=9", "order_id=10", "order_id=100"]
    pairs = ["store_id=3,prod_id=40", "store_id=3,prod_id=5", "store_id=20,prod_id=1"]
    assert sorted(pairs, key=natural_key) == [
        "store_id=3,prod_id=5",
        "store_id=3,prod_id=40",
        "store_id=20,prod_id=1",
    ]


def test_parts_add_up_and_keep_the_first_sample_keys() -> None:
    name = "consistency_orphan_payments"
    older = _outcome(name, 12, 1000, tuple(f"payment_id={i}" for i in range(1, 11)))
    recent = _outcome(name, 2, 50, ("payment_id=5000", "payment_id=7"))
    whole = combine(CHECKS[name], [older, recent], 10)
    assert (whole.affected_count, whole.total_rows) == (14, 1050)
    assert whole.sample_keys[:7] == tuple(f"payment_id={i}" for i in range(1, 8))
    assert whole.sample_keys[7] == "payment_id=7"  # from the recent part, in key order
    assert len(whole.sample_keys) == 10 and not whole.passed
    assert combine(CHECKS[name], [older, recent], 3).sample_keys == (
        "payment_id=1",
        "payment_id=2",
        "payment_id=3",
    )
    assert combine(CHECKS[name], [older], 10) is older
    with pytest.raises(SqlFileError, match="details"):
        combine(CHECKS[name], [older, dataclasses.replace(recent, details={"x": 1})], 10)


CONFIG = {key: json.dumps(value) for key, value in config_values().items()}


def _key(name: str, segment: str, prints, context=None, clock=None) -> str:  # noqa: ANN001
    context = context or _Context(CONFIG, "2025-10-01", 10, {}, 1000)
    clock = clock or dt.datetime(2025, 10, 2, tzinfo=dt.UTC)
    return input_key(CHECKS[name], segment, 1000, prints, SPLIT, context, "code", clock)


def test_an_input_key_changes_with_what_the_part_reads_and_nothing_else() -> None:
    prints = {ref: {ALL: (10, 1), OLDER: (8, 2), RECENT: (2, -1)} for ref in SPLIT.tables} | {
        ("products", "products"): {ALL: (5, 5)},
        ("customers", "customers"): {ALL: (7, 7)},
    }
    name = "consistency_orphan_order_items"  # reads lines, orders, products
    older, recent = _key(name, OLDER, prints), _key(name, RECENT, prints)
    assert older != recent and older == _key(name, OLDER, prints)
    new_day = {**prints, ("sales", "order_items"): {ALL: (11, 3), OLDER: (8, 2), RECENT: (3, 1)}}
    assert _key(name, OLDER, new_day) == older  # the older lines did not change
    assert _key(name, RECENT, new_day) != recent
    other = {**prints, ("customers", "customers"): {ALL: (8, 1)}}
    assert _key(name, OLDER, other) == older  # a table it does not read
    products = {**prints, ("products", "products"): {ALL: (5, 6)}}
    assert _key(name, OLDER, products) != older  # read whole by both parts
    assert _key(name, RECENT, products) != recent
    # The configuration: a key it reads, or of [quality], changes the key; any other does not.
    for key, differs in (
        (f"quality_checks.{name}", True),
        ("quality.max_failing_rate", True),
        ("quality.sample_key_limit", True),
        ("quality_checks.consistency_orphan_orders", False),
        ("customers.tier_gold_min_revenue", False),
    ):
        changed = _Context({**CONFIG, key: '"changed"'}, "2025-10-01", 10, {}, 1000)
        assert (_key(name, OLDER, prints, context=changed) != older) is differs, key
    added = _Context({**CONFIG, "quality.new_key": "1"}, "2025-10-01", 10, {}, 1000)
    assert _key(name, OLDER, prints, context=added) != older  # a new [quality] key
    later = _Context(CONFIG, "2025-10-02", 10, {}, 1000)
    assert _key(name, OLDER, prints, context=later) == older  # does not use the reference date
    stuck = "timeliness_stuck_open_orders"  # uses the reference date
    assert _key(stuck, ALL, prints, context=later) != _key(stuck, ALL, prints)
    # The run's clock, or now() when it is unset: never reused.
    lag = "timeliness_latest_order_lag"
    assert _key(lag, ALL, prints) != _key(lag, ALL, prints)


def test_only_sql_that_calls_a_clock_function_is_never_reused() -> None:
    assert _volatile("SELECT now()") and _volatile("SELECT current_date - 1")
    assert not _volatile("-- what is failing right now\nSELECT 1 AS known_now_column")
    lag = CHECKS["timeliness_latest_order_lag"].sql  # falls back to now() without a clock
    assert _volatile(lag)
    assert [c.name for c in CHECKS.values() if _volatile(c.sql)] == ["timeliness_latest_order_lag"]


def test_no_sql_reads_the_python_only_config_sections() -> None:
    """The sections left out of the quality parts' configuration digest (PYTHON_ONLY_SECTIONS) are
    read by Python only: no SQL file of the project (objects, checks, automation queries) names one
    of their keys, so changing them cannot change a check's result."""
    root = Path(__file__).resolve().parents[2] / "retailmart_dagster"
    keys = [key for key in config_values() if key.split(".", 1)[0] in PYTHON_ONLY_SECTIONS]
    assert {k.split(".", 1)[0] for k in keys} == set(PYTHON_ONLY_SECTIONS)
    files = sorted(root.rglob("*.sql"))
    assert len(files) > 150
    for path in files:
        text = path.read_text()
        named = [key for key in keys if key in text]
        assert not named, f"{path} reads {named}"
        for section in PYTHON_ONLY_SECTIONS:
            assert f"'{section}." not in text, f"{path} reads a key of [{section}]"


def test_a_check_reads_the_config_keys_of_its_fn_config_calls() -> None:
    """QualityCheck.config_keys: the literal keys of its analytics.fn_config_* calls; unknown (None,
    the whole configuration counts) for a key given as an expression or a call of another
    analytics function that might read one."""
    from retailmart_dagster.checks.registry import config_keys

    check = CHECKS["consistency_revenue_summary_sales"]
    assert check.config_keys == {
        "quality_checks.consistency_revenue_summary_sales",
        "quality.max_failing_rate",
        "quality.sample_key_limit",
        "quality.amount_tolerance",
        "sales.excluded_order_statuses",
    }
    assert all(
        c.config_keys is not None and f"quality_checks.{c.name}" in c.config_keys
        for c in CHECKS.values()
    )
    reference = frozenset({("analytics", "fn_reference_date"), ("analytics", "fn_config_int")})
    assert config_keys("SELECT analytics.fn_config_int('a.b')", reference) == {"a.b"}
    assert config_keys("SELECT analytics.fn_config_int('a.' || 'b')", reference) is None
    other = reference | {("analytics", "fn_something_else")}
    assert config_keys("SELECT analytics.fn_config_int('a.b')", other) is None


def test_the_functions_known_to_read_no_configuration_read_none() -> None:
    """CONFIG_FREE_FUNCTIONS (analytics functions a check may call without its whole configuration
    counting) really read no configuration: their SQL calls no fn_config_* and reads no
    analytics.config."""
    from retailmart_dagster.checks.registry import CONFIG_FREE_FUNCTIONS

    sql_dir = Path(__file__).resolve().parents[2] / "retailmart_dagster" / "sql"
    for name in CONFIG_FREE_FUNCTIONS:
        (path,) = sql_dir.rglob(f"{name}.sql")
        body = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
        )
        assert "fn_config_" not in body and "analytics.config" not in body, path
