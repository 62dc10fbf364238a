"""Benchmark: generation, full build through Dagster, the same SQL run directly, slowest assets.

    .venv/bin/python benchmarks/bench_build.py --scale 1 [--scale 0.1 ...] [--instance postgres]

Uses the embedded server of ``$RETAILMART_HOME`` (default ``.retailmart-bench``) and a fresh database
per scale (dropped afterwards unless --keep). Prints one table per scale; measures, never asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retailmart_dagster.assets.builder import SqlBuilder, topological_order  # noqa: E402
from retailmart_dagster.assets.exports import (  # noqa: E402
    export_relative_path,
    export_target,
    serialize,
)
from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects  # noqa: E402
from retailmart_dagster.resources.embedded import EmbeddedPostgres  # noqa: E402


def _fresh_db(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rpartition("/")[0] + "/" + name


def _drop_analytics(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS analytics CASCADE")


def _minimum_pass(url: str) -> float:
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        conn.execute(
            "SELECT count(*), sum(oi.quantity * oi.unit_price), count(DISTINCT o.cust_id)"
            " FROM sales.order_items oi JOIN sales.orders o ON o.order_id = oi.order_id"
        ).fetchone()
        return time.perf_counter() - started


def _direct_build(url: str, out_dir: Path) -> tuple[float, dict[str, float]]:
    objects = load_sql_objects()
    builder = SqlBuilder(objects, post_hooks={"config": _config_hook})
    per: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for obj in topological_order(objects):
            t0 = time.perf_counter()
            builder.build(conn, obj, run_id="bench-direct")
            per[obj.name] = time.perf_counter() - t0
        for obj in objects:
            target = export_target(obj)
            if target is None:
                continue
            t0 = time.perf_counter()
            payload = conn.execute(
                sql.SQL("SELECT analytics.{}()").format(sql.Identifier(obj.name))
            ).fetchone()[0]
            path = out_dir / export_relative_path(*target)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(serialize(payload))
            per[f"export {export_relative_path(*target)}"] = time.perf_counter() - t0
    return time.perf_counter() - started, per


def _dagster_build(url: str, out_dir: Path, instance_kind: str, server: EmbeddedPostgres):
    from dagster import DagsterInstance

    from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
    from retailmart_dagster.runtime import write_dagster_home

    defs = build_definitions(database_url=url, dashboard_dir=str(out_dir))
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    if instance_kind == "postgres":
        home = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
        storage = _fresh_db(server.url("postgres"), "bench_dagster_storage")
        write_dagster_home(home, storage)
        os.environ["DAGSTER_HOME"] = str(home)
        instance = DagsterInstance.get()
    else:
        instance = DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    total = time.perf_counter() - started
    if not result.success:
        raise SystemExit("Dagster build failed")
    per: dict[str, float] = {}
    starts: dict[str, float] = {}
    for event in instance.all_logs(result.run_id):
        dagster_event = event.dagster_event
        if dagster_event is None or not event.step_key:
            continue
        if dagster_event.event_type_value == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif dagster_event.event_type_value == "STEP_SUCCESS":
            per[event.step_key] = event.timestamp - starts.get(event.step_key, event.timestamp)
    return total, per


def _server_rss_mb(server: EmbeddedPostgres) -> float:
    pid = server.status().get("pid")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/status"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if str(pid) in (stat.parent.name, fields.get("PPid", "").strip()):
            rss = fields.get("VmRSS", "0 kB").strip().split()[0]
            total += int(rss)
    return total / 1024


def bench(scale: float, seed: int, keep: bool, instance_kind: str) -> None:
    from retailmart_dagster.generate import generate

    server = EmbeddedPostgres(os.environ.get("RETAILMART_HOME") or REPO / ".retailmart-bench")
    server.start()
    name = f"bench_{str(scale).replace('.', '_')}"
    url = _fresh_db(server.url("postgres"), name)
    rows: list[tuple[str, str]] = [("cores", str(os.cpu_count()))]
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        result = generate(conn, scale=scale, seed=seed, end_date=dt.date(2025, 10, 1))
    rows.append(("generation", f"{time.perf_counter() - t0:8.2f} s"))
    orders = result.row_counts.get("sales.orders", 0)
    lines = result.row_counts.get("sales.order_items", 0)
    rows.append(("orders / lines", f"{orders:,} / {lines:,}"))
    minimum = _minimum_pass(url)
    minimum = min(minimum, _minimum_pass(url))
    rows.append(("minimum pass (lines ⋈ orders)", f"{minimum:8.2f} s"))

    with tempfile.TemporaryDirectory() as tmp:
        direct_total, direct_per = _direct_build(url, Path(tmp) / "direct")
        rows.append(("direct SQL, first build", f"{direct_total:8.2f} s"))
        direct_refresh, _ = _direct_build(url, Path(tmp) / "direct2")
        rows.append(("direct SQL, refresh", f"{direct_refresh:8.2f} s"))
        _drop_analytics(url)
        dagster_total, dagster_per = _dagster_build(
            url, Path(tmp) / "dagster", instance_kind, server
        )
        rows.append((f"Dagster, first build ({instance_kind} instance)", f"{dagster_total:8.2f} s"))
        dagster_refresh, refresh_per = _dagster_build(
            url, Path(tmp) / "dagster2", instance_kind, server
        )
        rows.append((f"Dagster, refresh ({instance_kind} instance)", f"{dagster_refresh:8.2f} s"))
        steps = len(refresh_per)
        overhead = (dagster_refresh - direct_refresh) / max(steps, 1) * 1000
        rows.append(("Dagster overhead per step (refresh)", f"{overhead:8.1f} ms ({steps} steps)"))
        rows.append(("full build / minimum pass", f"{dagster_total / max(minimum, 1e-9):8.1f} x"))
        size = sum(p.stat().st_size for p in (Path(tmp) / "dagster").rglob("*.json"))
        rows.append(("export size", f"{size / 1024:8.1f} KiB"))
    rows.append(("server RSS now", f"{_server_rss_mb(server):8.1f} MiB"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("python peak RSS", f"{peak:8.1f} MiB"))

    width = max(len(k) for k, _ in rows)
    print(f"\n== scale {scale} (seed {seed})")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    total = sum(dagster_per.values()) or 1.0
    print("ten slowest assets (Dagster first build):")
    for step, secs in sorted(dagster_per.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {step:<55} {secs:7.3f} s  {secs / total:6.1%}")
    if not keep:
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, action="append")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--instance", choices=["ephemeral", "postgres"], default="postgres")
    args = parser.parse_args()
    for scale in args.scale or [1.0]:
        bench(scale, args.seed, args.keep, args.instance)


if __name__ == "__main__":
    main()
