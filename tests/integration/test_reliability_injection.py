"""No injection, on a real server (property-based, hypothesis): values crafted as SQL in a CSV file or
in the configuration are stored as plain data, exactly as written, and nothing else changes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects
from retailmart_dagster.config import ConfigEntry, write_config
from retailmart_dagster.generate.contract import schema_sql
from retailmart_dagster.loader import LoadError, load_dir
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.integration

SQL_BITS = [
    "'); DROP TABLE customers.customers; --",
    '"; DROP SCHEMA analytics CASCADE; --',
    "x' OR '1'='1",
    "$$; SELECT pg_sleep(10); $$",
    "\\.",  # COPY's end-of-data marker in text format
    "\\N",
    "NULL",
    "a,b\nc",
    '"quoted"',
]
SETUP = ["schema_analytics", "config", "fn_config_text", "fn_config_text_array"]
# Text PostgreSQL can store (no NUL), up to the width of the narrowest column we write (varchar(50)).
text = st.one_of(
    st.sampled_from(SQL_BITS),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        min_size=1,
        max_size=50,
    ),
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def db(pg_admin_url: str) -> Iterator[psycopg.Connection]:
    """Source schema plus the analytics config table and its readers."""
    url = create_database(pg_admin_url, "inject")
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(schema_sql())
    objects = [o for o in discover_sql_objects(SQL_DIR) if o.name in SETUP]
    builder = SqlBuilder(objects)
    for name in SETUP:
        builder.build(conn, next(o for o in objects if o.name == name))
    yield conn
    conn.close()
    drop_database(pg_admin_url, url)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _schemas(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
    ).fetchall()


@SETTINGS
@given(rows=st.lists(st.tuples(text, text), min_size=1, max_size=5))
def test_csv_values_are_loaded_as_plain_data(
    db: psycopg.Connection, tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]]
) -> None:
    folder = tmp_path_factory.mktemp("csv")
    (folder / "customers").mkdir()
    with (folder / "customers" / "customers.csv").open("w", newline="", encoding="utf-8") as f:
        # Every text quoted (so it is data, never COPY's NULL); state left empty and unquoted = NULL.
        f.write("cust_id,full_name,gender,age,city,state,join_date,region_name\n")
        for i, (name, city) in enumerate(rows, start=1):
            f.write(f"{i},{_quote(name)},F,30,{_quote(city)},,2024-01-31,North\n")
    tables = _schemas(db)
    with db.transaction(force_rollback=True):
        try:
            counts = load_dir(db, folder)
        except LoadError as exc:  # only a value too long for its column may be refused
            assert "too long" in str(exc), str(exc)
            assert "\n" not in str(exc)
            return
        assert counts == {"customers.customers": len(rows)}
        got = db.execute(
            "SELECT full_name, city, state FROM customers.customers ORDER BY cust_id"
        ).fetchall()
        assert got == [(name, city, None) for name, city in rows]
    assert _schemas(db) == tables
    assert db.execute("SELECT count(*) FROM customers.customers").fetchone() == (0,)


@SETTINGS
@given(value=text, items=st.lists(text, max_size=4), description=text)
def test_config_values_are_stored_and_read_back_as_plain_data(
    db: psycopg.Connection, value: str, items: list[str], description: str
) -> None:
    entries = [
        ConfigEntry("injection.text", "injection", value, "text", description),
        ConfigEntry("injection.list", "injection", items, "text_array", description),
    ]
    tables = _schemas(db)
    with db.transaction(force_rollback=True):
        write_config(db, entries)
        got = db.execute(
            "SELECT analytics.fn_config_text('injection.text'),"
            " analytics.fn_config_text_array('injection.list'),"
            " (SELECT description FROM analytics.config WHERE key = 'injection.text')"
        ).fetchone()
        assert got == (value, items, description)
    assert _schemas(db) == tables
