"""Which source-table indexes do the KPI queries use? Builds everything twice on generated data and
prints pg_stat_user_indexes.idx_scan per index for the second build plus the exports.

    .venv/bin/python benchmarks/index_usage.py --scale 1

An index of ours (ix_rm_* on the source, ix_fact_* on the fact tables) with 0 scans is not
justified by any query of the build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retailmart_dagster.assets.builder import SqlBuilder, topological_order  # noqa: E402
from retailmart_dagster.assets.exports import export_target  # noqa: E402
from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects  # noqa: E402
from retailmart_dagster.checks.evaluate import evaluate_checks  # noqa: E402
from retailmart_dagster.checks.registry import load_checks  # noqa: E402
from retailmart_dagster.generate import generate  # noqa: E402
from retailmart_dagster.resources.embedded import EmbeddedPostgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    server = EmbeddedPostgres(os.environ.get("RETAILMART_HOME") or REPO / ".retailmart-bench")
    server.start()
    name = "bench_index_usage"
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = server.url(name)
    with psycopg.connect(url) as conn:
        generate(conn, scale=args.scale, seed=42, end_date=dt.date(2025, 10, 1))
    objects = load_sql_objects()
    builder = SqlBuilder(objects, post_hooks={"config": _config_hook})
    with psycopg.connect(url) as conn:
        for obj in topological_order(objects):
            builder.build(conn, obj)
        conn.execute("RESET ROLE")  # setup switched to the pipeline role; resetting needs the owner
        conn.execute("SELECT pg_stat_reset()")
        conn.commit()
        evaluate_checks(conn, load_checks(), dt.datetime(2025, 10, 1))
        for obj in topological_order(objects):
            builder.build(conn, obj)
        for obj in objects:
            if export_target(obj) is not None:
                conn.execute(sql.SQL("SELECT analytics.{}()").format(sql.Identifier(obj.name)))
        conn.commit()
        time.sleep(1)  # statistics are flushed asynchronously
        rows = conn.execute(
            "SELECT schemaname || '.' || relname, indexrelname, idx_scan"
            " FROM pg_stat_user_indexes"
            " WHERE schemaname <> 'analytics' OR relname LIKE 'fact\\_%'"
            " ORDER BY idx_scan DESC, indexrelname"
        ).fetchall()
    print(f"index scans during the quality checks, one refresh and the exports, scale {args.scale}")
    for table, index, scans in rows:
        print(f"  {table:<28} {index:<32} {scans:>10,}")
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


if __name__ == "__main__":
    main()
