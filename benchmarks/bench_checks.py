"""Benchmark: the data-quality evaluation, check by check.

    .venv/bin/python benchmarks/bench_checks.py --scale 1 [--scale 10 ...] [--repeat 3]
    .venv/bin/python benchmarks/bench_checks.py --url postgresql://.../db_with_source_data

With ``--url``: a database that already holds the source data (the setup objects — schema, config,
reference date, result tables — are built there when missing or changed). Otherwise, per ``--scale``:
the embedded server of ``$RETAILMART_HOME`` (default ``.retailmart-bench``), a fresh database with the
sample data (seed 42, last order day 2025-10-01), dropped afterwards unless ``--keep``.

Measured, best of ``--repeat`` rounds:

- every check's SQL alone (``run_check``), all in one REPEATABLE READ snapshot as in a run: wall
  time (best) and the server process's CPU time (mean; read from /proc when the server runs on this
  machine — steadier than wall time when other jobs share the cores);
- the whole evaluation as the pipeline runs it (``evaluate_checks``), on one connection and on the
  default number of connections sharing one snapshot (``--connections`` to choose it);
- recording the results (``record_outcomes``, rolled back) and the source-change fingerprints the
  evaluation asset also computes (``source_fingerprint`` of the freshness-tracked tables);
- the minimum-work pass of ``bench_build.py`` (one aggregate over all order lines joined to their
  orders), as the yardstick;
- the incremental evaluation of the evaluation asset (``evaluate_incremental``, parts stored as the
  asset stores them): with nothing stored, again with nothing changed, and (generated databases
  only, never with ``--url``) after one new day of orders (``append_day.py``), with how many parts
  ran. It rewrites the stored parts of ``analytics.data_quality_segments`` (a cache; the next run of
  the pipeline recomputes what it needs).

Prints each check's time, slowest first, and the totals; measures, never asserts. To compare with
another version of the checks: ``--sql-dir OLD/checks/sql --connections 1``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_build import END_DATE, _drop_database, _fresh_db, _minimum_pass  # noqa: E402

from retailmart_dagster.assets.builder import SqlBuilder, topological_order  # noqa: E402
from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects  # noqa: E402
from retailmart_dagster.checks.assets import freshness_tables, source_fingerprint  # noqa: E402
from retailmart_dagster.checks.evaluate import (  # noqa: E402
    CLOCK_SETTING,
    CheckOutcome,
    clock_value,
    configured_connections,
    evaluate_checks,
    run_check,
)
from retailmart_dagster.checks.registry import QualityCheck, load_checks  # noqa: E402
from retailmart_dagster.checks.segments import evaluate_incremental  # noqa: E402
from retailmart_dagster.checks.store import record_outcomes, store_parts  # noqa: E402

T = TypeVar("T")


def build_setup(url: str) -> None:
    """The setup objects the checks read (config readers, reference date, result tables)."""
    objects = load_sql_objects()
    builder = SqlBuilder(objects, post_hooks={"config": _config_hook})
    with psycopg.connect(url) as conn:
        for obj in topological_order(objects):
            if obj.group == "setup":
                builder.build(conn, obj, run_id="bench-checks")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def server_cpu(conn: psycopg.Connection) -> float | None:
    """CPU seconds used so far by conn's server process (only when the server runs on this machine
    and its /proc entry is readable): steadier than wall time on a busy machine."""
    try:
        fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_check_round(
    conn: psycopg.Connection, checks: list[QualityCheck], clock: dt.datetime
) -> dict[str, tuple[float, float | None]]:
    """Each check alone (wall time, server CPU time), all in one read-only REPEATABLE READ
    snapshot (as evaluate_checks)."""
    times: dict[str, tuple[float, float | None]] = {}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(clock)))
        for check in checks:
            before = server_cpu(conn)
            secs, _ = timed(lambda c=check: run_check(conn, c))
            after = server_cpu(conn)
            cpu = after - before if before is not None and after is not None else None
            times[check.name] = (secs, cpu)
    return times


def _result(o: CheckOutcome) -> tuple[object, ...]:
    return (o.check.name, o.affected_count, o.total_rows, o.sample_keys, dict(o.details))


class _Rollback(Exception):
    pass


def measure(
    url: str, repeat: int, top: int | None, connections: int | None, sql_dir: Path | None
) -> None:
    checks = load_checks(sql_dir) if sql_dir else load_checks()
    clock = dt.datetime.combine(END_DATE, dt.time(), tzinfo=dt.UTC)
    best: dict[str, float] = {}
    cpu: dict[str, list[float]] = {}
    evaluation: list[float] = []
    sequential: list[float] = []
    recording: list[float] = []
    fingerprints: list[float] = []
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM sales.orders), (SELECT count(*) FROM sales.order_items)"
        ).fetchone()
        conn.commit()
        for _ in range(repeat):
            for name, (secs, used) in per_check_round(conn, checks, clock).items():
                best[name] = min(secs, best.get(name, secs))
                if used is not None:
                    cpu.setdefault(name, []).append(used)
            secs, alone = timed(lambda: evaluate_checks(conn, checks, clock, connections=1))
            sequential.append(secs)
            secs, outcomes = timed(lambda: evaluate_checks(conn, checks, clock, connections))
            evaluation.append(secs)
            if [_result(o) for o in outcomes] != [_result(o) for o in alone]:
                print("warning: the shared-snapshot evaluation differs from one connection's")
            try:
                with conn.transaction():
                    secs, _ = timed(lambda o=outcomes: record_outcomes(conn, o, "bench-checks"))
                    recording.append(secs)
                    raise _Rollback
            except _Rollback:
                pass

            def prints() -> None:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    for ref in freshness_tables():
                        source_fingerprint(conn, ref)

            fingerprints.append(timed(prints)[0])
    minimum = min(_minimum_pass(url), _minimum_pass(url))

    shared = connections if connections is not None else configured_connections()
    plural = f"{shared} connection{'' if shared == 1 else 's'}"
    failed = sorted(o.check.name for o in outcomes if not o.passed)
    total = sum(best.values()) or 1e-9
    shown = sorted(best.items(), key=lambda kv: -kv[1])[: top or None]
    width = max(len(n) for n in best)
    print(f"orders / lines: {counts[0]:,} / {counts[1]:,}; {len(checks)} checks, best of {repeat}")
    print(f"failing checks: {', '.join(failed) if failed else 'none'}")
    print(f"{'check':<{width}}  {'time':>9}  share  {'server CPU (mean)':>17}")
    for name, secs in shown:
        used = f"{sum(cpu[name]) / len(cpu[name]) * 1000:15.0f}ms" if name in cpu else ""
        print(f"{name:<{width}}  {secs * 1000:7.1f}ms  {secs / total:5.1%}  {used}")
    rows = [
        ("sum of the checks alone (best each)", total),
        *(
            [("server CPU of the checks alone (mean)", sum(sum(v) / len(v) for v in cpu.values()))]
            if cpu
            else []
        ),
        ("evaluate_checks, 1 connection, best", min(sequential)),
        (f"evaluate_checks, {plural}, best", min(evaluation)),
        (
            f"evaluate_checks, {plural}, median",
            sorted(evaluation)[len(evaluation) // 2],
        ),
        ("record_outcomes (rolled back), best", min(recording)),
        ("source fingerprints (freshness tables), best", min(fingerprints)),
        ("minimum pass (lines ⋈ orders), best of 2", minimum),
    ]
    label = max(len(k) for k, _ in rows)
    for key, secs in rows:
        print(f"{key:<{label}}  {secs:8.3f} s")
    print(
        f"evaluate_checks / minimum pass: {min(evaluation) / max(minimum, 1e-9):.1f} x", flush=True
    )


def measure_incremental(url: str, append: bool) -> None:
    """The incremental evaluation: nothing stored, nothing changed, and after one appended day."""
    from append_day import append_day

    checks = load_checks()
    clock = dt.datetime.combine(END_DATE, dt.time(), tzinfo=dt.UTC)
    rows: list[tuple[str, float, int, int]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM analytics.data_quality_segments")
        steps = ["nothing stored", "nothing changed"] + (["one day appended"] if append else [])
        for step in steps:
            if step == "one day appended":
                with psycopg.connect(url) as writer:
                    day = append_day(writer, seed=42).day
                clock = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            secs, result = timed(
                lambda c=clock: evaluate_incremental(conn, checks, c, "bench", freshness_tables())
            )
            with conn.transaction(), conn.cursor() as cur:
                store_parts(cur, result.parts, "bench-checks")
            rows.append((step, secs, len(result.fresh_parts), len(result.parts)))
    print("incremental evaluation (evaluate_incremental, fingerprints included):")
    for step, secs, ran, parts in rows:
        print(f"  {step:<20} {secs:8.3f} s  ({ran} of {parts} parts run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database with source data (default: generate per scale)")
    parser.add_argument("--scale", type=float, action="append", help="generate at this scale")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--defects", action="store_true", help="generate with injected defects")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best time counts")
    parser.add_argument("--top", type=int, default=0, help="print only the N slowest checks")
    parser.add_argument(
        "--connections", type=int, help="connections of the evaluation (default: the pipeline's)"
    )
    parser.add_argument(
        "--sql-dir",
        type=Path,
        help="check SQL from this folder (<dimension>/<check>.sql), e.g. "
        "an older version to compare with; default: the project's",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args()
    if args.url:
        if args.scale:
            parser.error("--url and --scale exclude each other")
        build_setup(args.url)
        print(f"== {args.url.rpartition('@')[2]}")
        measure(args.url, args.repeat, args.top, args.connections, args.sql_dir)
        measure_incremental(args.url, append=False)
        return

    from retailmart_dagster.generate import generate
    from retailmart_dagster.resources.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(os.environ.get("RETAILMART_HOME") or REPO / ".retailmart-bench")
    server.start()
    admin = server.url("postgres")
    for scale in args.scale or [1.0]:
        name = f"bench_checks_{str(scale).replace('.', '_')}"
        url = _fresh_db(admin, name)
        secs, _ = timed(lambda u=url, s=scale: _generate(generate, u, s, args.seed, args.defects))
        build_setup(url)
        print(
            f"== scale {scale} (seed {args.seed}{', defects' if args.defects else ''}); "
            f"generated in {secs:.1f} s"
        )
        measure(url, args.repeat, args.top, args.connections, args.sql_dir)
        measure_incremental(url, append=True)
        if not args.keep:
            _drop_database(admin, name)


def _generate(generate: Callable[..., object], url: str, scale: float, seed: int, defects: bool):  # noqa: ANN202
    with psycopg.connect(url) as conn:
        return generate(conn, scale=scale, seed=seed, end_date=END_DATE, defects=defects)


if __name__ == "__main__":
    main()
