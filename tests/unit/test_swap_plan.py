"""A materialized view's swap statements (its file's CREATE under the swap name, and its indexes)
are parsed once per process and handed out as fresh lists each time."""

from __future__ import annotations

from retailmart_dagster.assets.builder import SWAP_SUFFIX, SqlBuilder, _swap_plan
from retailmart_dagster.assets.sql_assets import load_sql_objects


def test_every_materialized_view_has_a_swap_plan_parsed_once() -> None:
    builder = SqlBuilder.__new__(SqlBuilder)  # _swap_statements reads nothing of the instance
    views = [o for o in load_sql_objects() if o.kind == "materialized_view"]
    assert views
    _swap_plan.cache_clear()
    for view in views:
        planned = builder._swap_statements(view)
        assert planned is not None, view.name
        statements, indexes = planned
        assert statements[0].startswith("CREATE MATERIALIZED VIEW analytics.")
        assert f"analytics.{view.name}{SWAP_SUFFIX}" in statements[0]
        assert statements[0].endswith("\nWITH NO DATA")  # filled by a REFRESH
        assert len(statements) == len(indexes) + 1
        assert all(SWAP_SUFFIX in s for s in statements[1:])
        # a caller changing its lists changes nothing the next caller gets
        statements.clear()
        indexes.clear()
        again = builder._swap_statements(view)
        assert again is not None and again[0] and len(again[0]) == len(again[1]) + 1
    info = _swap_plan.cache_info()
    assert info.misses == len(views)
    assert info.hits == len(views)


def test_a_file_with_more_than_the_view_and_its_indexes_has_no_plan() -> None:
    text = (
        "CREATE MATERIALIZED VIEW analytics.mv_x AS SELECT 1 AS a;\n"
        "CREATE UNIQUE INDEX ux_mv_x ON analytics.mv_x (a);\n"
        "COMMENT ON MATERIALIZED VIEW analytics.mv_x IS 'x';\n"
    )
    assert _swap_plan("mv_x", text) is None
    ok = _swap_plan("mv_x", text.rsplit("COMMENT", 1)[0])
    assert ok is not None
    assert ok[1] == ("ux_mv_x",)


def test_the_swap_creates_the_next_version_empty() -> None:
    """The next version is created WITH NO DATA (the swap fills it by a REFRESH), whatever the file
    says about its data or ends with; a file that creates the view empty has no plan."""
    for body, expected in (
        ("SELECT 1 AS a", "SELECT 1 AS a\nWITH NO DATA"),
        ("SELECT 1 AS a WITH DATA", "SELECT 1 AS a\nWITH NO DATA"),
        ("SELECT 1 AS a with  data", "SELECT 1 AS a\nWITH NO DATA"),
        ("SELECT 1 AS a -- the a\n", "SELECT 1 AS a -- the a\nWITH NO DATA"),
    ):
        plan = _swap_plan("mv_x", f"CREATE MATERIALIZED VIEW analytics.mv_x AS {body};\n")
        assert plan is not None
        assert plan[0][0] == f"CREATE MATERIALIZED VIEW analytics.mv_x{SWAP_SUFFIX} AS {expected}"
    empty = "CREATE MATERIALIZED VIEW analytics.mv_x AS SELECT 1 AS a WITH NO DATA;\n"
    assert _swap_plan("mv_x", empty) is None
