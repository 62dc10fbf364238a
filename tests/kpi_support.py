"""Helpers shared by the KPI integration tests (``tests/integration/test_*_kpis.py``).

Reading views and exports into pandas / JSON, comparing frames and JSON values with the KPI
tolerances (money and percentages within 0.01, counts exactly), the JSON export conventions
(camelCase keys, two decimals, no numbers as strings) and the SQL-file conventions (header,
``Question`` / ``Owner`` / ``Refresh`` lines, no wall clock, config read in a ``params`` CTE).

Only helpers that are the same in every module using them live here; where modules differ, the
difference is a keyword parameter so each caller keeps its own behaviour.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import pglast
import psycopg

REPO = Path(__file__).resolve().parents[1]
SQL_DIR = REPO / "retailmart_dagster" / "sql"
CONFIG_FILE = REPO / "retailmart_dagster" / "config" / "analytics.toml"
MONEY_TOL = 0.01

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------------------------------


def query_df(conn: psycopg.Connection, sql: str, params: Any = None) -> pd.DataFrame:
    """Run a query and return a DataFrame (Decimal -> float, date -> Timestamp)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d.name for d in cur.description]
        df = pd.DataFrame.from_records(cur.fetchall(), columns=cols)
    for c in df.columns:
        sample = df[c].dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, dt.date) and not isinstance(first, dt.datetime):
            df[c] = pd.to_datetime(df[c])
        elif type(first).__name__ == "Decimal":
            df[c] = pd.to_numeric(df[c].astype(object), errors="raise").astype(float)
    return df


def view(conn: psycopg.Connection, name: str) -> pd.DataFrame:
    """All rows of ``analytics.<name>`` as a DataFrame (see :func:`query_df`)."""
    return query_df(conn, f"SELECT * FROM analytics.{name}")


def export(conn: psycopg.Connection, fn: str) -> dict[str, Any]:
    """Call the export function ``analytics.<fn>()`` and parse its text as JSON (valid JSON text)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT analytics.{fn}()::text")
        text = cur.fetchone()[0]
    return json.loads(text)


def read_config(conn: psycopg.Connection) -> dict[str, Any]:
    """``analytics.config`` as a dict key -> value (the JSON values decoded by psycopg)."""
    with conn.cursor() as cur:
        cur.execute("SELECT key, value FROM analytics.config")
        return {k: v for k, v in cur.fetchall()}


def read_once(
    cache: dict[str, T], conn: psycopg.Connection, read: Callable[[psycopg.Connection], T]
) -> T:
    """``read(conn)``, computed once per database (the connection may be function-scoped; the data
    is not) and kept in ``cache``."""
    key = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    if key not in cache:
        cache[key] = read(conn)
    return cache[key]


@contextmanager
def rolled_back(conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:
    """A transaction that is always rolled back (source rows and config changes stay private)."""
    with conn.transaction(force_rollback=True):
        with conn.cursor() as cur:
            yield cur


def set_config(cur: psycopg.Cursor, key: str, value: Any) -> None:
    """Set one ``analytics.config`` value (JSON-encoded); the key must exist."""
    cur.execute(
        "UPDATE analytics.config SET value = %s::jsonb WHERE key = %s", (json.dumps(value), key)
    )
    assert cur.rowcount == 1, key


class OrdersSource(Protocol):
    """What :func:`sales_orders` needs of a module's ``Source``."""

    orders: pd.DataFrame
    ref_date: pd.Timestamp

    def cfg(self, key: str) -> Any: ...


def sales_orders(s: OrdersSource) -> pd.DataFrame:
    """Orders up to the reference date whose status is not excluded from sales."""
    o = s.orders
    excluded = set(s.cfg("sales.excluded_order_statuses"))
    return o[(o["order_date"] <= s.ref_date) & ~o["order_status"].isin(excluded)]


# --------------------------------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------------------------------


def safe_div(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den`` as floats, NaN where ``den`` is 0."""
    den = den.astype(float)
    return (num.astype(float) / den).where(den != 0)


def pct(num: pd.Series, den: pd.Series) -> pd.Series:
    """``100 * num / den`` as floats, NaN where ``den`` is 0."""
    den = den.astype(float)
    return (num.astype(float) / den * 100).where(den != 0)


def rank_by(df: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.Series:
    """1..n in the given order (the last column is the unique tie-breaker)."""
    order = df.sort_values(by, ascending=ascending, kind="mergesort", na_position="last").index
    return pd.Series(np.arange(1, len(df) + 1), index=order).reindex(df.index)


# --------------------------------------------------------------------------------------------------
# Comparing frames
# --------------------------------------------------------------------------------------------------


def assert_matches(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    key: list[str],
    exact: Sequence[str] = (),
    money: Sequence[str] = (),
    other: Sequence[str] = (),
    label: str = "",
) -> None:
    """Same keys; `exact` columns equal; `money` columns within 0.01 (NULL == NULL); `other` equal."""
    a = actual.set_index(key).sort_index()
    e = expected.set_index(key).sort_index()
    missing = e.index.difference(a.index)
    extra = a.index.difference(e.index)
    assert missing.empty and extra.empty, (
        f"{label}: keys differ; missing in view {list(missing)[:5]}, unexpected {list(extra)[:5]}"
    )
    a = a.reindex(e.index)
    for c in exact:
        av = a[c].astype("int64")
        ev = e[c].fillna(0).astype("int64")
        bad = av != ev
        assert not bad.any(), (
            f"{label}.{c}: view {av[bad].head().to_dict()} != {ev[bad].head().to_dict()}"
        )
    for c in money:
        av = a[c].astype(float)
        ev = e[c].astype(float)
        both_null = av.isna() & ev.isna()
        close = (av - ev).abs() <= MONEY_TOL + 1e-9
        bad = ~(both_null | close.fillna(False))
        assert not bad.any(), (
            f"{label}.{c}: view {av[bad].head().to_dict()} != expected {ev[bad].head().to_dict()}"
        )
    for c in other:
        bad = a[c] != e[c]
        assert not bad.any(), (
            f"{label}.{c}: view {a[c][bad].head().to_dict()} != {e[c][bad].head().to_dict()}"
        )


def assert_close(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    key: list[str],
    exact: Sequence[str] = (),
    close: Sequence[str] = (),
    other: Sequence[str] = (),
    label: str = "",
) -> None:
    """Same keys; `exact` equal as integers; `close` within 0.01 (NULL == NULL, non-numbers as
    NULL); `other` equal (NULL == NULL)."""
    a = actual.set_index(key).sort_index()
    e = expected.set_index(key).sort_index()
    missing = e.index.difference(a.index)
    extra = a.index.difference(e.index)
    assert missing.empty and extra.empty, (
        f"{label}: keys differ; missing {list(missing)[:5]}, unexpected {list(extra)[:5]}"
    )
    a = a.reindex(e.index)
    for c in exact:
        av = a[c].astype("int64")
        ev = e[c].fillna(0).astype("int64")
        bad = av != ev
        assert not bad.any(), (
            f"{label}.{c}: {av[bad].head().to_dict()} != {ev[bad].head().to_dict()}"
        )
    for c in close:
        av = pd.to_numeric(a[c], errors="coerce").astype(float)
        ev = pd.to_numeric(e[c], errors="coerce").astype(float)
        ok = (av.isna() & ev.isna()) | ((av - ev).abs() <= MONEY_TOL + 1e-9).fillna(False)
        assert ok.all(), (
            f"{label}.{c}: view {av[~ok].head().to_dict()} != expected {ev[~ok].head().to_dict()}"
        )
    for c in other:
        av, ev = a[c], e[c]
        ok = (av.isna() & ev.isna()) | (av == ev)
        assert ok.all(), f"{label}.{c}: {av[~ok].head().to_dict()} != {ev[~ok].head().to_dict()}"


# --------------------------------------------------------------------------------------------------
# JSON exports
# --------------------------------------------------------------------------------------------------


def snake(name: str) -> str:
    """camelCase -> snake_case (``isoDayOfWeek`` -> ``iso_day_of_week``)."""
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def same_value(
    value: Any, expected: Any, *, nat_is_null: bool = True, timestamp_as_date: bool = True
) -> bool:
    """An exported JSON value equals a view value: NULL/NaN as ``null``, booleans exactly, numbers
    within 0.01, anything else equal. ``nat_is_null``: NaT as ``null`` too; ``timestamp_as_date``:
    a Timestamp as its ISO date string."""
    if expected is None or (isinstance(expected, float) and np.isnan(expected)):
        return value is None
    if nat_is_null and expected is pd.NaT:
        return value is None
    if timestamp_as_date and isinstance(expected, pd.Timestamp):
        return value == expected.strftime("%Y-%m-%d")
    if isinstance(expected, (bool, np.bool_)):
        return value is bool(expected)
    if isinstance(expected, (int, float, np.integer, np.floating)):
        return isinstance(value, (int, float)) and abs(value - float(expected)) <= MONEY_TOL
    return value == expected


def assert_export_envelope(fn: str, out: dict[str, Any], ref_date: pd.Timestamp) -> None:
    """``referenceDate`` (the reference date), ``period`` {from, to = referenceDate} and a non-empty
    ``rows`` list."""
    assert {"referenceDate", "period", "rows"} <= set(out)
    assert out["referenceDate"] == ref_date.strftime("%Y-%m-%d")
    assert set(out["period"]) == {"from", "to"}
    assert out["period"]["to"] == out["referenceDate"]
    assert ISO_DATE.match(out["period"]["from"]) and out["period"]["from"] <= out["period"]["to"]
    assert isinstance(out["rows"], list) and out["rows"], f"{fn}: no rows"


def check_export_rows(fn: str, rows: list[dict[str, Any]]) -> None:
    """Every row: camelCase field names, the same fields as the first row, no number serialized as
    a string, floats rounded to 2 decimals."""
    keys = None
    for row in rows:
        assert all(CAMEL.match(k) for k in row), f"{fn}: field names not camelCase: {list(row)}"
        keys = keys or set(row)
        assert set(row) == keys, f"{fn}: rows have different fields"
        for k, v in row.items():
            assert not isinstance(v, str) or not re.match(r"^-?\d+(\.\d+)?$", v), (
                f"{fn}.{k}: number serialized as a string"
            )
            if isinstance(v, float):
                assert round(v, 2) == v, f"{fn}.{k}: {v} not rounded to 2 decimals"


def check_row_values(fn: str, row: dict[str, Any], *, nested: bool = False) -> None:
    """One row: camelCase field names, no number serialized as a string, floats rounded to 2
    decimals; with ``nested``, the dicts inside list fields are checked the same way."""
    assert all(CAMEL.match(k) for k in row), f"{fn}: field names not camelCase: {list(row)}"
    for k, v in row.items():
        assert not isinstance(v, str) or not re.match(r"^-?\d+(\.\d+)?$", v), (
            f"{fn}.{k}: number serialized as a string"
        )
        if isinstance(v, float):
            assert round(v, 2) == v, f"{fn}.{k}: {v} not rounded to 2 decimals"
        if nested and isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    check_row_values(f"{fn}.{k}", item, nested=True)


def check_uniform_rows(fn: str, rows: list[dict[str, Any]], *, nested: bool = False) -> None:
    """Every row has the fields of the first one; then its values pass :func:`check_row_values`."""
    keys = None
    for row in rows:
        keys = keys or set(row)
        assert set(row) == keys, f"{fn}: rows have different fields"
        check_row_values(fn, row, nested=nested)


def check_values(fn: str, obj: Any) -> None:
    """The whole JSON document, recursively: camelCase keys, floats rounded to 2 decimals, no
    number serialized as a string."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert CAMEL.match(k), f"{fn}: key {k!r} is not camelCase"
            check_values(fn, v)
    elif isinstance(obj, list):
        for v in obj:
            check_values(fn, v)
    elif isinstance(obj, float):
        assert round(obj, 2) == obj, f"{fn}: {obj} not rounded to 2 decimals"
    elif isinstance(obj, str):
        assert not re.match(r"^-?\d+(\.\d+)?$", obj), f"{fn}: number serialized as string {obj!r}"


# --------------------------------------------------------------------------------------------------
# SQL files and configuration
# --------------------------------------------------------------------------------------------------


def read_sql_file(path: Path) -> tuple[str, list[str]]:
    """The file's text (which must parse as PostgreSQL) and its header: the leading ``--`` lines."""
    text = path.read_text(encoding="utf-8")
    pglast.parse_sql(text)
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    return text, header


def assert_creates_object(stem: str, text: str, *, populated_mv: bool = False) -> None:
    """The file creates ``analytics.<stem>``: a view (``vw_``), a materialized view with its unique
    index (``mv_``; with ``populated_mv`` also not ``WITH NO DATA``), else a stable SQL function."""
    if stem.startswith("vw_"):
        assert f"CREATE VIEW analytics.{stem} AS" in text
    elif stem.startswith("mv_"):
        assert f"CREATE MATERIALIZED VIEW analytics.{stem} AS" in text
        assert f"CREATE UNIQUE INDEX ux_{stem} ON analytics.{stem}" in text
        if populated_mv:
            assert "WITH NO DATA" not in text.upper()
    else:
        assert f"CREATE OR REPLACE FUNCTION analytics.{stem}()" in text
        assert "LANGUAGE sql" in text and "STABLE" in text


def check_sql_file(path: Path, *, populated_mv: bool = False) -> tuple[str, list[str]]:
    """The common conventions of a KPI SQL file, in this order: it parses; its header names the
    object and lists a ``-- KPI`` line; it creates the object (:func:`assert_creates_object`).
    Returns the text and the header for the module's own checks."""
    text, header = read_sql_file(path)
    assert header and header[0].startswith(f"-- analytics.{path.stem}"), (
        "header must name the object"
    )
    assert any(line.startswith("-- KPI ") for line in header), "header lists no KPI"
    assert_creates_object(path.stem, text, populated_mv=populated_mv)
    return text, header


def assert_header_fields(header: list[str]) -> None:
    """The header has ``-- Question:``, ``-- Owner:`` and ``-- Refresh:`` lines."""
    for field in ("Question", "Owner", "Refresh"):
        assert any(line.startswith(f"-- {field}: ") for line in header), f"no {field} line"


def check_sql_file_with_params(path: Path) -> None:
    """The conventions of a KPI SQL file that reads its config in a ``params`` CTE, in this order:
    it parses; the header names the object, has Question/Owner/Refresh lines and a ``-- KPI``
    line; no wall clock anywhere; it creates the object; ``params AS MATERIALIZED``."""
    text, header = read_sql_file(path)
    stem = path.stem
    assert header and header[0].startswith(f"-- analytics.{stem}"), "header must name the object"
    assert_header_fields(header)
    assert any(line.startswith("-- KPI ") for line in header), "header lists no KPI"
    assert "current_date" not in text.lower() and "now()" not in text.lower()
    assert_creates_object(stem, text)
    assert "params AS MATERIALIZED" in text


def analytics_config() -> dict[str, Any]:
    """``retailmart_dagster/config/analytics.toml``, parsed."""
    return tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))


def config_section_keys(section: str) -> set[str]:
    """The keys defined in ``[section]`` of the config file, as ``section.key``."""
    return {f"{section}.{k}" for k in analytics_config().get(section, {})}


def config_keys_read(prefix: str) -> set[str]:
    """The ``prefix.*`` keys read through ``analytics.fn_config_*('...')`` in any SQL file."""
    pattern = re.compile(r"analytics\.fn_config_\w+\('(" + re.escape(prefix) + r"\.[a-z0-9_]+)'\)")
    found: set[str] = set()
    for path in SQL_DIR.glob("*/*.sql"):
        found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return found
