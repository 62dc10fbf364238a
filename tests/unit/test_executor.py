"""The platform's executor (retailmart_dagster/executor.py): steps at once, in one process.

Behaviour only (no timings): independent steps overlap, dependencies and run-alone steps do not,
failures skip their downstream steps and nothing else, retries work, and 1 at a time is Dagster's
serial in-process execution. The SQL graph itself runs on it in every integration test
(tests/conftest.py materialize_all, the command line, the benchmark).
"""

import threading
import time
from collections.abc import Callable

import pytest
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DagsterInstance,
    Definitions,
    RetryRequested,
    asset,
    define_asset_job,
)

from retailmart_dagster.assets.sql_assets import SETUP_STEP
from retailmart_dagster.definitions import build_definitions
from retailmart_dagster.executor import RUN_ALONE_TAG, retailmart_executor, run_job

# Long enough for a thread that can start to start; a barrier that never fills fails the test.
BARRIER_TIMEOUT_S = 10.0


class Recorder:
    """Start and end of every step (monotonic clock), thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: dict[str, tuple[float, float]] = {}
        self.calls: dict[str, int] = {}

    def run(self, name: str, body: Callable[[], None] = lambda: None) -> None:
        start = time.monotonic()
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        try:
            body()
        finally:
            with self.lock:
                self.spans[name] = (start, time.monotonic())

    def overlap(self, a: str, b: str) -> bool:
        (s1, e1), (s2, e2) = self.spans[a], self.spans[b]
        return s1 < e2 and s2 < e1


def _job(assets: list[AssetsDefinition]):  # noqa: ANN202
    defs = Definitions(
        assets=assets,
        jobs=[define_asset_job("all", selection=AssetSelection.all())],
        executor=retailmart_executor,
    )
    return defs.resolve_job_def("all")


def _asset(
    name: str,
    rec: Recorder,
    deps: list[str] | None = None,
    body: Callable[[], None] = lambda: None,
    alone: bool = False,
) -> AssetsDefinition:
    @asset(
        name=name,
        deps=[AssetKey(d) for d in deps or []],
        op_tags={RUN_ALONE_TAG: "true"} if alone else None,
    )
    def _a() -> None:
        rec.run(name, body)

    return _a


def test_independent_steps_run_at_the_same_time() -> None:
    rec = Recorder()
    both = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)  # breaks unless both wait at once
    job = _job(
        [
            _asset("left", rec, body=both.wait),
            _asset("right", rec, body=both.wait),
            _asset("after", rec, deps=["left", "right"]),
        ]
    )
    result = run_job(job, max_concurrent=2)
    assert result.success
    assert rec.overlap("left", "right")
    for upstream in ("left", "right"):
        assert rec.spans[upstream][1] <= rec.spans["after"][0]  # a dependency never overlaps


def test_one_at_a_time_is_serial() -> None:
    rec = Recorder()
    pause = lambda: time.sleep(0.05)  # noqa: E731
    job = _job([_asset(n, rec, body=pause) for n in ("a", "b", "c")])
    # As a user sets it in a run's config (the Launchpad, dagster asset materialize --config).
    result = run_job(
        job,
        executor_def=retailmart_executor,
        run_config={"execution": {"config": {"max_concurrent": 1}}},
    )
    assert result.success
    assert not any(rec.overlap(x, y) for x, y in (("a", "b"), ("a", "c"), ("b", "c")))


def test_run_alone_steps_never_overlap_another_step() -> None:
    rec = Recorder()
    pause = lambda: time.sleep(0.05)  # noqa: E731
    names = [f"s{i}" for i in range(6)]
    job = _job(
        [
            *(_asset(n, rec, body=pause) for n in names),
            _asset("alone", rec, body=pause, alone=True),
            _asset("alone_too", rec, body=pause, alone=True),
        ]
    )
    result = run_job(job, max_concurrent=3)
    assert result.success
    for other in [*names, "alone_too"]:
        assert not rec.overlap("alone", other), other
    for other in names:
        assert not rec.overlap("alone_too", other), other
    # The others still overlapped each other (3 at a time).
    assert any(rec.overlap(x, y) for x in names for y in names if x < y)


def test_the_longest_chain_of_ready_steps_starts_first() -> None:
    """Of the ready steps, the one with the longest path of steps after it takes a slot first,
    whatever the plan order (the short ones come first by name)."""
    rec = Recorder()
    pause = lambda: time.sleep(0.05)  # noqa: E731
    shorts = ["a_short1", "a_short2", "a_short3"]
    chain = ["z_chain1", "z_chain2", "z_chain3"]
    job = _job(
        [
            *(_asset(n, rec, body=pause) for n in shorts),
            *(
                _asset(n, rec, deps=[chain[i - 1]] if i else None, body=pause)
                for i, n in enumerate(chain)
            ),
        ]
    )
    result = run_job(job, max_concurrent=2)
    assert result.success
    first = rec.spans["z_chain1"][0]
    assert sum(rec.spans[s][0] > first for s in shorts) >= 2  # one short step beside it at most


def test_a_ready_run_alone_step_starts_before_a_longer_chain() -> None:
    """Setup steps (run alone) go first among the ready steps, as in plan order, whatever the
    path after the others: the evaluation must not start before the source tables' indexes."""
    rec = Recorder()
    chain = ["a_chain1", "a_chain2", "a_chain3"]
    job = _job(
        [
            _asset("z_setup", rec, alone=True),
            *(_asset(n, rec, deps=[chain[i - 1]] if i else None) for i, n in enumerate(chain)),
        ]
    )
    result = run_job(job, max_concurrent=2)
    assert result.success
    assert rec.spans["z_setup"][1] <= rec.spans["a_chain1"][0]


def test_a_failure_skips_its_downstream_only() -> None:
    rec = Recorder()

    def boom() -> None:
        raise ValueError("broken object")

    job = _job(
        [
            _asset("bad", rec, body=boom),
            _asset("below_bad", rec, deps=["bad"]),
            _asset("good", rec),
            _asset("below_good", rec, deps=["good"]),
        ]
    )
    result = run_job(job, raise_on_error=False, max_concurrent=2)
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    skipped = {e.step_key for e in result.all_events if e.is_step_skipped}
    succeeded = {e.step_key for e in result.all_events if e.is_step_success}
    assert failed == {"bad"}
    assert "below_bad" not in rec.calls and "below_bad" not in succeeded
    assert skipped <= {"below_bad"}
    assert succeeded == {"good", "below_good"}


def test_retry_requested_runs_the_step_again() -> None:
    rec = Recorder()
    attempts: list[int] = []

    @asset(name="flaky")
    def flaky(context: AssetExecutionContext) -> None:
        attempts.append(context.retry_number)
        if context.retry_number == 0:
            raise RetryRequested(max_retries=1, seconds_to_wait=0.1)

    job = _job([flaky, _asset("other", rec), _asset("after", rec, deps=["flaky"])])
    with DagsterInstance.ephemeral() as instance:
        result = run_job(job, instance=instance, max_concurrent=2)
    assert result.success
    assert attempts == [0, 1]
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "flaky"]
    assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_SUCCESS") == 1
    assert rec.calls["after"] == 1 and rec.calls["other"] == 1


def test_raise_on_error_raises_the_step_error() -> None:
    rec = Recorder()

    def boom() -> None:
        raise ValueError("broken object")

    job = _job([_asset("bad", rec, body=boom), _asset("good", rec)])
    with pytest.raises(Exception, match="broken object"):
        run_job(job, raise_on_error=True, max_concurrent=2)


def test_platform_definitions_use_it_and_setup_runs_alone() -> None:
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    job = defs.resolve_job_def("full_refresh_job")
    assert job.executor_def.name == retailmart_executor.name
    tags = {node.name: node.definition.tags for node in job.graph.node_dict.values()}
    # the setup objects (roles grants on every object) share one step, run alone
    assert tags[SETUP_STEP].get(RUN_ALONE_TAG) == "true"
    assert "analytics__roles" not in tags and "analytics__schema_analytics" not in tags
    assert RUN_ALONE_TAG not in tags["analytics__mv_customer_rfm"]
