"""benchmarks/bench_build.py sums a run's step times by layer: every step of the main job lands in
exactly one layer, and the layers are the ones a reader looks for."""

from __future__ import annotations

from benchmarks.bench_build import LAYERS, _step_of, by_layer, longest_chain, throughput_bound
from retailmart_dagster.assets.sql_assets import SETUP_STEP, load_sql_objects
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions


def _steps() -> list[str]:
    """The step keys of the main job (one per op: the setup objects share one)."""
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/db")
    return list(defs.resolve_job_def(FULL_REFRESH_JOB).graph.node_dict)


def test_every_step_of_the_main_job_has_one_layer() -> None:
    steps = _steps()
    rows = by_layer(dict.fromkeys(steps, 1.0), total=len(steps) + 2.5)
    counts = {layer: n for layer, n, _ in rows}
    seconds = {layer: s for layer, _, s in rows}
    assert [layer for layer, _, _ in rows][: len(LAYERS)] == list(LAYERS)
    assert sum(counts.values()) == len(steps)
    assert seconds["run minus sum of steps (outside steps; < 0: steps overlapped)"] == 2.5

    objects = load_sql_objects()
    # every setup object is built by the one setup step
    assert counts["setup"] == 1 and SETUP_STEP in steps
    # the fact tables and analytics/fact_vacuum
    assert counts["facts"] == sum(1 for o in objects if o.kind == "fact_table") + 1 > 1
    # the evaluation, the gate and the report view
    assert counts["data quality"] == 3
    # the alert views and the alert history sync
    assert counts["alerts"] == sum(1 for o in objects if o.group == "alerts") + 1
    # each export function shares its JSON file's step; then the manifest
    exports = [s for s in steps if s.startswith("dashboard__")]
    functions = sum(1 for o in objects if o.group == "exports")
    assert not [s for s in steps if s.startswith("analytics__fn_export_")]
    assert counts[LAYERS[5]] == len(exports) == functions + 1
    kpi_groups = {"sales", "customers", "products", "stores", "operations", "marketing"}
    assert counts[LAYERS[3]] == sum(1 for o in objects if o.group in kpi_groups)


def test_direct_sql_times_are_keyed_by_the_dagster_step() -> None:
    # the overhead per step compares the two by step key: every object but the setup ones (one
    # step for all) is timed under the step that builds it, an export function under its file's
    steps = set(_steps())
    objects = [o for o in load_sql_objects() if o.group != "setup"]
    assert {_step_of(o) for o in objects} <= steps
    assert _step_of(next(o for o in objects if o.name == "fn_export_alerts")) == "dashboard__alerts"


def test_longest_chain_follows_the_dependency_that_finished_last() -> None:
    # a -> c, b -> c, c -> d; e alone finishes before d. b finished after a, so c waited for b.
    spans = {
        "a": (0.0, 1.0),
        "b": (0.0, 2.0),
        "c": (2.5, 4.0),
        "e": (1.0, 3.0),
        "d": (4.0, 6.0),
    }
    deps = {"a": set(), "b": set(), "c": {"a", "b"}, "d": {"c"}, "e": set()}
    assert longest_chain(spans, deps) == [("b", 0.0, 2.0), ("c", 0.5, 1.5), ("d", 0.0, 2.0)]
    assert longest_chain({}, deps) == []


def test_throughput_bound_is_the_sum_of_step_times_over_the_slots() -> None:
    assert throughput_bound({"a": 1.5, "b": 2.5, "c": 4.0}, 2) == "    8.00 s (/ 2 at once: 4.00 s)"
    assert throughput_bound({"a": 3.0}, 1) == "    3.00 s (/ 1 at once: 3.00 s)"
