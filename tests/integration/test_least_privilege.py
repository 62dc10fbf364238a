"""Least privilege (sql/setup/roles.sql, PostgresResource): after one setup with a superuser, a login
that is only a member of the pipeline role runs the whole pipeline; a login that is a member of the
reader role reads the analytics objects and can change nothing; nothing in analytics is granted to
PUBLIC; every analytics object is owned by the pipeline role. On a database of its own."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors, sql

from retailmart_dagster.config import CONFIG_PATH, config_value
from tests.conftest import create_database, drop_database, materialize_all

pytestmark = pytest.mark.integration

PIPE_LOGIN = "rm_pipe_login"
READ_LOGIN = "rm_read_login"
PIPELINE_ROLE = str(config_value("security.pipeline_role"))
READER_ROLE = str(config_value("security.reader_role"))


def _failures(result) -> list[str]:  # noqa: ANN001
    return [
        f"{e.step_key}: {e.event_specific_data.error.message.strip()[:400]}"
        for e in result.all_events
        if e.is_step_failure
    ]


def _as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}").geturl()


def _login(admin: psycopg.Connection, name: str, member_of: str | None, password: str) -> None:
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    admin.execute(
        sql.SQL(
            verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB INHERIT PASSWORD {}"
        ).format(sql.Identifier(name), sql.Literal(password))
    )
    if member_of:
        admin.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def secured(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Setup by a superuser, then a full run by a login that is only a member of the pipeline role."""
    from retailmart_dagster.generate import generate

    url = create_database(pg_admin_url, "leastpriv")
    tmp = tmp_path_factory.mktemp("least_privilege")
    try:
        with psycopg.connect(url) as conn:
            generate(conn, scale=0.01, seed=5, end_date=dt.date(2025, 10, 1))
        first = materialize_all(url, tmp / "superuser")
        assert first.success, _failures(first)
        password = secrets.token_urlsafe(16)
        with psycopg.connect(url, autocommit=True) as admin:
            _login(admin, PIPE_LOGIN, PIPELINE_ROLE, password)
            _login(admin, READ_LOGIN, READER_ROLE, password)
        pipe_url = _as(url, PIPE_LOGIN, password)
        second = materialize_all(pipe_url, tmp / "pipeline_login")
        yield {
            "url": url,
            "pipe_url": pipe_url,
            "read_url": _as(url, READ_LOGIN, password),
            "result": second,
            "dashboard": tmp / "pipeline_login",
        }
    finally:
        drop_database(pg_admin_url, url)


def test_a_pipeline_login_without_superuser_runs_the_whole_pipeline(secured: dict) -> None:
    result = secured["result"]
    assert result.success, _failures(result)
    with psycopg.connect(secured["pipe_url"]) as conn:
        rights = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = session_user"
        ).fetchone()
        assert rights == (False, False, False)
        # Every build of that run is logged as a success.
        statuses = conn.execute(
            "SELECT status, count(*) FROM analytics.execution_log WHERE run_id = %s GROUP BY 1",
            (result.run_id,),
        ).fetchall()
    assert dict(statuses).get("failed") is None and dict(statuses)["success"] >= 80, statuses
    manifest = json.loads((secured["dashboard"] / "manifest.json").read_text())
    assert len(manifest["files"]) >= 35
    assert all((secured["dashboard"] / name).exists() for name in manifest["files"])


def test_the_reader_reads_analytics_and_can_change_nothing(secured: dict) -> None:
    with psycopg.connect(secured["read_url"], autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM analytics.mv_monthly_sales_dashboard").fetchone()
        # (a view reads the source tables with its owner's rights; functions that read them are
        # SECURITY DEFINER: see the next test, which reads every view and runs every export)
        rows = conn.execute("SELECT count(*) FROM analytics.vw_customer_demographics").fetchone()
        assert rows and rows[0] > 0
        assert conn.execute("SELECT analytics.fn_config_text('security.reader_role')").fetchone()
        conn.execute("SELECT count(*) FROM analytics.kpi_metadata").fetchone()
        denied = [
            "SELECT count(*) FROM sales.orders",
            "INSERT INTO analytics.execution_log (object_name, action, status, started_at,"
            " finished_at, duration_ms) VALUES ('x', 'x', 'success', now(), now(), 0)",
            "DELETE FROM analytics.config",
            "TRUNCATE analytics.refresh_history",
            "CREATE TABLE analytics.x (a int)",
            "REFRESH MATERIALIZED VIEW analytics.mv_monthly_sales_dashboard",
        ]
        for statement in denied:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_reader_reads_every_view_and_runs_every_export(secured: dict) -> None:
    """Functions run with the caller's rights unless SECURITY DEFINER: fn_reference_date() and the
    exports that read source tables run as their owner (the pipeline role), so the reader can use
    every view (many call fn_reference_date) and every export without any right on the sources."""
    failing = []
    with psycopg.connect(secured["read_url"], autocommit=True) as conn:
        queries = [
            sql.SQL(template).format(sql.Identifier(name))
            for template, name in conn.execute(
                """
                SELECT 'SELECT count(*) FROM analytics.{}', c.relname
                  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'analytics' AND c.relkind IN ('v', 'm')
                UNION ALL
                SELECT 'SELECT analytics.{}()', p.proname
                  FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'analytics' AND p.pronargs = 0
                   AND (p.proname LIKE 'fn\\_export\\_%' OR p.proname = 'fn_reference_date')
                 ORDER BY 2
                """
            )
        ]
        for query in queries:
            try:
                conn.execute(query)
            except errors.InsufficientPrivilege as exc:
                failing.append(f"{query.as_string(conn)}: {str(exc).splitlines()[0]}")
    assert len(queries) >= 80
    assert failing == []


def test_nothing_in_analytics_is_granted_to_public(secured: dict) -> None:
    # A NULL ACL means the defaults: for functions that is EXECUTE for PUBLIC (acldefault shows it).
    with psycopg.connect(secured["url"]) as conn:
        public = conn.execute(
            """
            SELECT 'schema', n.nspname, a.privilege_type
              FROM pg_namespace AS n,
                   aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
             WHERE n.nspname = 'analytics' AND a.grantee = 0
            UNION ALL
            SELECT 'relation', c.relname, a.privilege_type
              FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace,
                   aclexplode(coalesce(c.relacl, acldefault(
                       CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) AS a
             WHERE n.nspname = 'analytics' AND a.grantee = 0
            UNION ALL
            SELECT 'function', p.proname, a.privilege_type
              FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace,
                   aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
             WHERE n.nspname = 'analytics' AND a.grantee = 0
            """
        ).fetchall()
        functions = conn.execute(
            "SELECT count(*) FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'analytics'"
        ).fetchone()
        # The reader's EXECUTE is safe: a function runs with its caller's rights, or (SECURITY
        # DEFINER) with the pipeline role's and a fixed search_path (no object can be planted).
        unsafe_definer = conn.execute(
            "SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'analytics' AND p.prosecdef AND NOT EXISTS ("
            "   SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\\_path=%%')"
        ).fetchall()
    assert functions and functions[0] >= 30
    assert public == []
    assert unsafe_definer == []


def test_every_analytics_object_is_owned_by_the_pipeline_role(secured: dict) -> None:
    with psycopg.connect(secured["url"]) as conn:
        owners = conn.execute(
            """
            SELECT 'schema ' || n.nspname, n.nspowner::regrole::text FROM pg_namespace AS n
             WHERE n.nspname = 'analytics'
            UNION ALL
            SELECT c.relkind::text || ' ' || c.relname, c.relowner::regrole::text
              FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = 'analytics'
            UNION ALL
            SELECT 'function ' || p.proname, p.proowner::regrole::text
              FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
             WHERE n.nspname = 'analytics'
            """
        ).fetchall()
        # The pipeline role reads the source schemas and owns none of their tables.
        source_owned = conn.execute(
            "SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'sales' AND c.relowner = %s::regrole",
            (PIPELINE_ROLE,),
        ).fetchone()
    assert len(owners) >= 100
    others = [(name, owner) for name, owner in owners if owner != PIPELINE_ROLE]
    assert others == []
    assert source_owned == (0,)


def test_a_superuser_run_after_the_pipeline_login_still_works(
    secured: dict, tmp_path: Path
) -> None:
    """Idempotent both ways: the superuser's session switches to the pipeline role too."""
    result = materialize_all(secured["url"], tmp_path / "again")
    assert result.success, _failures(result)
    with psycopg.connect(secured["url"]) as conn:
        owners = conn.execute(
            "SELECT DISTINCT c.relowner::regrole::text FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = 'analytics'"
        ).fetchall()
    assert owners == [(PIPELINE_ROLE,)]


def test_without_the_right_to_create_roles_setup_skips_them_and_still_builds(
    pg_admin_url: str, new_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """A login that may not create roles (NOCREATEROLE, owner of its own database) and roles that do
    not exist: roles.sql says so in a NOTICE and skips the rest; the setup builds as that login
    (which owns the source tables here, as a single-user installation would)."""
    from retailmart_dagster.assets.builder import SqlBuilder, topological_order
    from retailmart_dagster.assets.sql_assets import _config_hook, load_sql_objects
    from retailmart_dagster.assets.sql_parse import SOURCE_SCHEMA_FILE

    missing = f"rm_missing_{secrets.token_hex(4)}"
    config = tmp_path / "analytics.toml"
    toml = CONFIG_PATH.read_text(encoding="utf-8")
    config.write_text(
        toml.replace(f'"{PIPELINE_ROLE}"', f'"{missing}_pipeline"').replace(
            f'"{READER_ROLE}"', f'"{missing}_reader"'
        )
    )
    monkeypatch.setenv("RETAILMART_CONFIG", str(config))
    password = secrets.token_urlsafe(16)
    plain = "rm_plain_login"
    url = new_database("noroles")
    dbname = url.rpartition("/")[2]
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        _login(admin, plain, None, password)
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(dbname), sql.Identifier(plain)
            )
        )
    setup = [o for o in load_sql_objects() if o.group == "setup"]
    builder = SqlBuilder(setup, post_hooks={"config": _config_hook})
    notices: list[str] = []
    with psycopg.connect(_as(url, plain, password)) as conn:
        conn.execute(SOURCE_SCHEMA_FILE.read_text(encoding="utf-8"))  # empty source tables
        conn.commit()
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        for obj in topological_order(setup):
            builder.build(conn, obj)
        owner = conn.execute(
            "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'analytics'"
        ).fetchone()
        exists = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (f"{missing}%",)
        ).fetchone()
    assert owner == (plain,)
    assert exists == (0,)
    assert any("least privilege not set up" in n for n in notices), notices


def test_source_recreated_after_setup_gets_its_grants_back_before_it_is_read(
    new_database, tmp_path: Path
) -> None:  # noqa: ANN001
    """New sample data re-creates the source schemas, which drops the pipeline role's grants on
    them; the next run re-grants (roles step) before any step reads the source, so it succeeds."""
    from retailmart_dagster.generate import generate

    url = new_database("regrant")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=6, end_date=dt.date(2025, 10, 1))
    first = materialize_all(url, tmp_path / "first")
    assert first.success, _failures(first)
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=7, end_date=dt.date(2025, 10, 1))
        can_read = conn.execute(
            "SELECT has_schema_privilege(%s, 'sales', 'USAGE')", (PIPELINE_ROLE,)
        ).fetchone()[0]
    assert can_read is False  # the grants went with the old schemas
    with psycopg.connect(url) as conn:
        # As after an upgrade that changed it: the reference date function is re-created (its body
        # is checked against the source at creation) early in the run.
        conn.execute(
            "DELETE FROM analytics.object_registry WHERE object_name = 'fn_reference_date'"
        )
    second = materialize_all(url, tmp_path / "second")
    assert second.success, _failures(second)
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "SELECT has_table_privilege(%s, 'sales.orders', 'SELECT')", (PIPELINE_ROLE,)
        ).fetchone()[0]
