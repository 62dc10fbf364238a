"""No partial state: a failed export keeps the previous JSON; two builds of the same object started at
once do not corrupt it (the second waits on the builder's advisory lock, both are logged)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from dagster import materialize

from retailmart_dagster.assets import exports
from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.exports import export_key
from retailmart_dagster.assets.sql_assets import build_export_step
from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects, parse_sql_file
from retailmart_dagster.resources.dashboard import DashboardResource
from retailmart_dagster.resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

SETUP = ["schema_analytics", "config", "object_registry", "kpi_metadata", "execution_log"]
GATE_KEY = 74_210_077
BASE = "-- t\nCREATE TABLE IF NOT EXISTS analytics.rel_rows (k int PRIMARY KEY, v numeric);\n"
GATED_MV = f"""-- Sum per key; its query waits at a gate (test only).
CREATE MATERIALIZED VIEW analytics.mv_rel_gated AS
SELECT b.k, sum(b.v) AS total
  FROM analytics.rel_rows AS b
 CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock_shared({GATE_KEY})) AS gate
 GROUP BY b.k;
CREATE UNIQUE INDEX ux_mv_rel_gated ON analytics.mv_rel_gated (k);
"""
EXPORT = """-- Export of mv_rel_gated.
CREATE OR REPLACE FUNCTION analytics.fn_export_reltest_rows()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('rows', coalesce(jsonb_agg(
               jsonb_build_object('k', m.k, 'total', m.total) ORDER BY m.k), '[]'::jsonb))
      FROM analytics.mv_rel_gated AS m
$$;
"""
BROKEN_EXPORT = """
CREATE OR REPLACE FUNCTION analytics.fn_export_reltest_rows()
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'export exploded';
END $$;
"""


def _objects(tmp_path: Path):  # noqa: ANN202
    setup = {o.name: o for o in discover_sql_objects(SQL_DIR) if o.name in SETUP}
    extra = []
    for rel, text in {
        "t/rel_rows.sql": BASE,
        "t/mv_rel_gated.sql": GATED_MV,
        "exports/fn_export_reltest_rows.sql": EXPORT,
    }.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        extra.append(parse_sql_file(path, tmp_path))
    return [setup[n] for n in SETUP] + extra


@pytest.fixture
def built(tmp_path: Path, new_database):  # noqa: ANN001, ANN201
    url = new_database("relpartial")
    objects = _objects(tmp_path / "sql")
    builder = SqlBuilder(objects)
    with psycopg.connect(url) as conn:
        for obj in objects:
            builder.build(conn, obj, run_id="setup")
        conn.execute("INSERT INTO analytics.rel_rows VALUES (1, 10), (2, 20)")
        conn.commit()
        builder.build(conn, next(o for o in objects if o.name == "mv_rel_gated"), run_id="fill")
    return url, objects, builder


def _materialize_export(url: str, objects, folder: Path):  # noqa: ANN001, ANN202
    """The JSON file's asset alone (its function's step, the file selected)."""
    fn = next(o for o in objects if o.name == "fn_export_reltest_rows")
    asset_def = build_export_step(fn, set(), SqlBuilder(objects))
    return materialize(
        [asset_def],
        selection=[export_key("reltest", "rows")],
        resources={
            "postgres": PostgresResource(database_url=url),
            "dashboard": DashboardResource(data_dir=str(folder)),
        },
        raise_on_error=False,
    )


def test_failed_export_keeps_the_previous_json(
    built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    url, objects, _ = built
    folder = tmp_path / "data"
    assert _materialize_export(url, objects, folder).success
    target = folder / "reltest" / "rows.json"
    before = target.read_bytes()
    assert json.loads(before) == {"rows": [{"k": 1, "total": 10}, {"k": 2, "total": 20}]}

    # 1. The export function raises in the database.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO analytics.rel_rows VALUES (3, 30)")
        conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_rel_gated")
        conn.execute(BROKEN_EXPORT)
    result = _materialize_export(url, objects, folder)
    assert not result.success
    assert target.read_bytes() == before

    # 2. The function works but writing fails half-way (the disk fills up after a few bytes).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(EXPORT.split("\n", 1)[1])

    real_fdopen = exports.write_atomic.__globals__["os"].fdopen

    class HalfWriter:
        def __init__(self, fh) -> None:  # noqa: ANN001
            self.fh = fh

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            self.fh.write(data[:5])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        exports.write_atomic.__globals__["os"],
        "fdopen",
        lambda fd, mode="r", *a, **k: HalfWriter(real_fdopen(fd, mode, *a, **k)),
    )
    result = _materialize_export(url, objects, folder)
    monkeypatch.undo()
    assert not result.success
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["rows.json"]  # no temp file left

    # 3. Everything works again: the new data replaces the file in one piece.
    assert _materialize_export(url, objects, folder).success
    assert json.loads(target.read_bytes())["rows"][-1] == {"k": 3, "total": 30}


def test_two_builds_of_the_same_object_at_once_one_waits(built) -> None:  # noqa: ANN001
    url, objects, builder = built
    mv = next(o for o in objects if o.name == "mv_rel_gated")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("INSERT INTO analytics.rel_rows VALUES (3, 30)")
        admin.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))  # close the gate
        first, second = psycopg.connect(url), psycopg.connect(url)
        outcome: dict[str, object] = {}

        def run(name: str, conn: psycopg.Connection) -> None:
            try:
                outcome[name] = builder.build(conn, mv, run_id=f"run-{name}")
                outcome[f"{name}_done"] = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - reported by the assertions below
                outcome[f"{name}_error"] = exc

        threads = {
            n: threading.Thread(target=run, args=(n, c))
            for n, c in (("first", first), ("second", second))
        }
        try:
            threads["first"].start()
            _wait_for_lock(admin, first.info.backend_pid, GATE_KEY, "the first build at the gate")
            threads["second"].start()
            # The second build waits for the first one's lock on the object (builder.py:
            # pg_advisory_xact_lock(hashtext('retailmart:<object>'))), not at the gate.
            _wait_for_lock(admin, second.info.backend_pid, None, "the second build to wait")
            waiting = admin.execute(
                "SELECT objid::int = hashtext('retailmart:mv_rel_gated') FROM pg_locks"
                " WHERE pid = %s AND locktype = 'advisory' AND NOT granted",
                (second.info.backend_pid,),
            ).fetchone()
            assert waiting == (True,)
            assert threads["first"].is_alive() and threads["second"].is_alive()
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))  # open the gate
            for t in threads.values():
                t.join(timeout=120)
            first.close()
            second.close()
        assert "first_error" not in outcome and "second_error" not in outcome, outcome
        assert outcome["first_done"] <= outcome["second_done"]
        assert admin.execute(
            "SELECT k, total FROM analytics.mv_rel_gated ORDER BY k"
        ).fetchall() == [(1, 10), (2, 20), (3, 30)]
        log = admin.execute(
            "SELECT run_id, status, finished_at FROM analytics.execution_log"
            " WHERE object_name = 'mv_rel_gated' AND run_id LIKE 'run-%' ORDER BY finished_at"
        ).fetchall()
        assert [(r[0], r[1]) for r in log] == [("run-first", "success"), ("run-second", "success")]


def _wait_for_lock(conn: psycopg.Connection, pid: int, key: int | None, what: str) -> None:
    """Wait until backend ``pid`` waits for an advisory lock (``key``, or any)."""
    deadline = time.monotonic() + 60
    query = (
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'advisory'"
        " AND NOT granted" + (" AND objid = %s)" if key is not None else ")")
    )
    params = (pid, key) if key is not None else (pid,)
    while not conn.execute(query, params).fetchone()[0]:
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
