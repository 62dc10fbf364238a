"""In-process execution with up to N steps at a time: the executor of every job of the platform.

Almost every step of the graph sends SQL to PostgreSQL and waits for it. Dagster's
``in_process_executor`` runs one step at a time, so the server works on one statement while the
machine's other cores idle. Dagster's ``multiprocess_executor`` runs steps side by side, but starts
a process per step: measured here (stop 13) it took 139 s to reach the data-quality gate, for work
the in-process executor does in a few seconds. This executor keeps the in-process model (one
process, the run's resources initialised once, the same events, retries and skips) and runs up to
``max_concurrent`` steps at once in threads. Each thread spends its time waiting for the server, so
the GIL is not the limit; the server's cores are. Measured at scale 10 on 2 cores (benchmark,
two runs): a full build 68.1-71.6 s two at a time against 106.9-112.3 s one at a time; a refresh on
the same data 21.1-23.0 s against 34.5-36.8 s.

The scheduling is Dagster's own (``ActiveExecution``: dependencies, retries, skips after a
failure, interrupts), in one order of its own: of the ready steps, those with the longest path of
steps after them start first (:func:`longest_path_first`). What runs in a thread is Dagster's own
step execution (``dagster_event_sequence_for_step``). Events are yielded, and handed to ``ActiveExecution``, by
the run's thread only, in the order they arrive.

A step tagged ``retailmart/run_alone`` (the setup scripts: they grant and revoke on every object of
the schema, which collides with another step's DDL) starts only when no other step runs, and no
other step starts while it runs.

``max_concurrent`` = 1 is exactly Dagster's in-process execution. ``run_job`` executes a job in the
current process with this executor (``JobDefinition.execute_in_process`` always swaps in the serial
one); the command line, the benchmark and the tests use it.

This module uses Dagster's execution internals (``dagster._core``): the executor API gives no
public way to run steps of one process concurrently. They are the ones its own in-process and
multiprocess executors use, pinned with Dagster in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dagster import Field, Int, executor
from dagster._core.definitions.executor_definition import ExecutorDefinition
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.job_definition import JobDefinition
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import (
    PlanExecutionContext,
    PlanOrchestrationContext,
    StepExecutionContext,
)
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.execute_in_process import (
    core_execute_in_process,
    merge_run_tags,
    type_check_and_normalize_args,
)
from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.execute_plan import (
    _handle_compute_log_setup_error,
    _handle_compute_log_teardown_error,
    _trigger_hook,
    dagster_event_sequence_for_step,
)
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.plan.step import ExecutionStep
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import inprocess_execution_iterator
from dagster._core.instance import DagsterInstance
from dagster._core.storage.tags import PRIORITY_TAG

from retailmart_dagster.config import config_value

# Op tag of the steps that must run alone (see the module docstring).
RUN_ALONE_TAG = "retailmart/run_alone"
# How long the run's thread waits for an event before it checks for interrupts again (seconds).
POLL_S = 0.05


def default_max_concurrent() -> int:
    """runtime.max_concurrent_steps of the configuration file (at least 1)."""
    return max(1, int(config_value("runtime.max_concurrent_steps")))


@dataclass
class _Running:
    """A step running in a thread of the run's pool, and the events it produced so far (for the
    hooks)."""

    context: StepExecutionContext
    done: Future
    alone: bool
    events: list[DagsterEvent] = field(default_factory=list)
    error: BaseException | None = None


_DONE = object()


def _runs_alone(step: ExecutionStep) -> bool:
    return str(step.tags.get(RUN_ALONE_TAG, "")).lower() == "true"


def longest_path_first(execution_plan: ExecutionPlan) -> Callable[[ExecutionStep], float]:
    """Sort key for ``ActiveExecution``: of the steps ready to run, those with more steps after them
    (the longest path of dependent steps to the end of the plan, this step included) go first;
    Dagster's priority tag (``dagster/priority``) still comes before that, and the steps that run
    alone (the setup scripts) before the others of the same priority, as in plan order: otherwise
    a step with a long path after it (the data-quality evaluation) started before the setup step
    that creates the source tables' indexes, which then waited for it to end.

    Dagster's default order (priority tag, then plan order) let a short branch take a slot while
    a step of the longest chain waited: in the scale-10 daily refresh the customer chain (lifetime
    value, RFM, churn, the alerts) spent 4.9 s waiting for a free slot (benchmark, stop 19). In
    this order it waits 0-0.4 s; five interleaved pairs of daily refreshes at scale 10 took
    17.7-23.2 s (median 18.7) against 19.7-23.3 s (median 20.2), never slower."""
    steps = execution_plan.get_steps_to_execute_in_topo_order()
    keys = {step.key for step in steps}
    after: dict[str, int] = {}
    children: dict[str, list[str]] = {key: [] for key in keys}
    for step in steps:
        for parent in step.get_execution_dependency_keys():
            if parent in children:
                children[parent].append(step.key)
    for step in reversed(steps):
        after[step.key] = 1 + max((after[c] for c in children[step.key]), default=0)
    longest = max(after.values(), default=0) + 1

    def key(step: ExecutionStep) -> float:
        priority = int(step.tags.get(PRIORITY_TAG, 0))
        alone = longest if _runs_alone(step) else 0
        return -(priority * 2 * longest + alone + after.get(step.key, 0))

    return key


def _step_worker(context: StepExecutionContext, out: queue.Queue) -> None:
    """Dagster's execution of one step, in a thread of the run's pool (named after the step while
    it runs): its events go to the run's thread."""
    key = context.step.key
    threading.current_thread().name = f"step {key}"
    try:
        for event in dagster_event_sequence_for_step(context):
            out.put((key, event))
    except BaseException as exc:  # noqa: BLE001 - re-raised by the run's thread
        out.put((key, exc))
    finally:
        out.put((key, _DONE))


def _start(
    job_context: PlanExecutionContext,
    active: ActiveExecution,
    step: ExecutionStep,
    out: queue.Queue,
    pool: ThreadPoolExecutor,
) -> _Running:
    """Start step in a thread of the run's pool: its max_concurrent threads are started once per
    run, as steps need them, and then reused. A new thread per step made the run's thread wait for
    each thread to start (Thread.start waits for it to run; with the GIL held by the running
    step, about 1.2 ms, 0.22 s for the 181 steps of a daily refresh)."""
    context = job_context.for_step(step, active.get_known_state())
    return _Running(
        context=context, done=pool.submit(_step_worker, context, out), alone=_runs_alone(step)
    )


def _cancel_running(running: Iterable[_Running]) -> int:
    """Ask every resource of the running steps that can (``cancel_running()``, e.g.
    PostgresResource) to cancel what it runs now; how many statements were cancelled. Dagster's
    serial executor interrupts the step in the run's thread; a step in another thread is not
    interrupted by a signal, so its statement is cancelled instead."""
    seen: set[int] = set()
    cancelled = 0
    for step in running:
        for resource in step.context.resources.original_resource_dict.values():
            cancel = getattr(resource, "cancel_running", None)
            if callable(cancel) and id(resource) not in seen:
                seen.add(id(resource))
                cancelled += int(cancel() or 0)
    return cancelled


def _run_steps(
    job_context: PlanExecutionContext, active: ActiveExecution, max_concurrent: int
) -> Iterator[DagsterEvent]:
    """Start ready steps (up to max_concurrent, run-alone steps alone), relay their events."""
    out: queue.Queue = queue.Queue()
    running: dict[str, _Running] = {}
    held: ExecutionStep | None = None  # a run-alone step waiting for the running ones to end
    stopping = False
    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="step")
    try:
        while True:
            if not stopping and active.check_for_interrupts():
                stopping = True
                active.mark_interrupted()
                cancelled = _cancel_running(running.values())
                yield DagsterEvent.engine_event(
                    job_context,
                    "Interrupted: no new step starts; the running ones "
                    f"({', '.join(running) or 'none'}) end after {cancelled} cancelled statements",
                    EngineEventData.interrupted(list(running)),
                )
            if not stopping:
                while (
                    held is None
                    and len(running) < max_concurrent
                    and not any(r.alone for r in running.values())
                    and not active.is_complete
                ):
                    steps = active.get_steps_to_execute(limit=1)
                    yield from active.concurrency_event_iterator(job_context)
                    if not steps:
                        break
                    if _runs_alone(steps[0]) and running:
                        held = steps[0]
                        break
                    running[steps[0].key] = _start(job_context, active, steps[0], out, pool)
                if held is not None and not running:
                    running[held.key] = _start(job_context, active, held, out, pool)
                    held = None
            if not running:
                if stopping or active.is_complete:
                    return
                active.sleep_til_ready()
                continue
            try:
                key, item = out.get(timeout=POLL_S)
            except queue.Empty:
                continue
            step = running[key]
            if isinstance(item, BaseException):
                step.error = item
            elif item is _DONE:
                step.done.result()
                del running[key]
                if step.error is not None:
                    raise step.error
                active.verify_complete(job_context, key)
                for event in active.plan_events_iterator(job_context):
                    step.events.append(event)
                    yield event
                yield from _trigger_hook(step.context, step.events)
            else:
                step.events.append(item)
                yield item
                active.handle_event(item)
    finally:
        # Never leave a step's thread behind (an error, or the consumer went away): let the
        # running statements end; their events are no longer relayed.
        pool.shutdown(wait=True)


def threaded_execution_iterator(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan, max_concurrent: int
) -> Iterator[DagsterEvent]:
    """Like Dagster's in-process iterator (same compute-log capture, concurrency context and
    ActiveExecution), with up to max_concurrent steps at once."""
    if max_concurrent <= 1:
        yield from inprocess_execution_iterator(job_context, execution_plan)
        return
    compute_log_manager = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    with InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency:
        with execution_plan.start(
            retry_mode=job_context.retry_mode,
            sort_key_fn=longest_path_first(execution_plan),
            instance_concurrency_context=concurrency,
            step_dependency_config=job_context.step_dependency_config,
        ) as active:
            with ExitStack() as capture_stack:
                file_key = create_compute_log_file_key()
                log_key = compute_log_manager.build_log_key_for_run(job_context.run_id, file_key)
                try:
                    log_context = capture_stack.enter_context(
                        compute_log_manager.capture_logs(log_key)
                    )
                    yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
                except Exception:  # noqa: BLE001 - reported as Dagster does
                    yield from _handle_compute_log_setup_error(job_context, sys.exc_info())
                yield from _run_steps(job_context, active, max_concurrent)
                try:
                    capture_stack.close()
                except Exception:  # noqa: BLE001 - reported as Dagster does
                    yield from _handle_compute_log_teardown_error(job_context, sys.exc_info())


class ThreadedInProcessExecutor(Executor):
    """Dagster's InProcessExecutor with up to max_concurrent steps at once (see the module)."""

    def __init__(self, retries: RetryMode, max_concurrent: int) -> None:
        self._retries = retries
        self.max_concurrent = max(1, int(max_concurrent))

    @property
    def retries(self) -> RetryMode:
        return self._retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return StepDependencyConfig.default()

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        step_keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {os.getpid()}), up to {self.max_concurrent} at a time",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
        )
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=partial(threaded_execution_iterator, max_concurrent=self.max_concurrent),
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys),
        )


@executor(
    name="retailmart_in_process",
    config_schema={
        "retries": get_retries_config(),
        "max_concurrent": Field(
            Int,
            is_required=False,
            description="Steps run at once (default: runtime.max_concurrent_steps of "
            "analytics.toml); 1 = one at a time, as Dagster's in_process_executor.",
        ),
    },
)
def retailmart_executor(init_context) -> ThreadedInProcessExecutor:  # noqa: ANN001
    """In-process executor running up to max_concurrent steps at once (threads)."""
    config = init_context.executor_config
    return ThreadedInProcessExecutor(
        retries=RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]
        max_concurrent=config.get("max_concurrent") or default_max_concurrent(),
    )


def run_job(
    job: JobDefinition,
    instance: DagsterInstance | None = None,
    raise_on_error: bool = True,
    run_config: Mapping[str, Any] | None = None,
    max_concurrent: int | None = None,
    executor_def: ExecutorDefinition | None = None,
) -> ExecuteInProcessResult:
    """``job.execute_in_process`` with this executor (up to max_concurrent steps at once, default
    runtime.max_concurrent_steps) instead of the serial one it always swaps in."""
    chosen = executor_def or retailmart_executor.configured(
        {"max_concurrent": max_concurrent or default_max_concurrent()}
    )
    # What JobDefinition.execute_in_process does, with the executor kept.
    config, _, selection, resource_defs, _, input_values = type_check_and_normalize_args(
        run_config=run_config
    )
    ephemeral = job.as_ephemeral_job(resource_defs=resource_defs, input_values=input_values)
    with ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(DagsterInstance.ephemeral())
        return core_execute_in_process(
            job=InMemoryJob(job_def=ephemeral.with_executor_def(chosen)),
            run_config=config,
            instance=instance,
            output_capturing_enabled=True,
            raise_on_error=raise_on_error,
            run_tags=merge_run_tags(
                job_def=job,
                partition_key=None,
                tags=None,
                asset_selection=selection,
                instance=instance,
                run_config=config,
            ),
            asset_selection=frozenset(selection),
        )
