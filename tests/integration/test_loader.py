"""The CSV loader on a real PostgreSQL: dump -> load round trip, and one-line errors on bad input
with nothing loaded."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retailmart_dagster.generate import generate
from retailmart_dagster.generate.contract import contract_tables, schema_sql
from retailmart_dagster.loader import LoadError, dump_dir, fingerprints, load_dir

pytestmark = pytest.mark.integration

END = dt.date(2025, 10, 1)
PARENTS = ("core", "stores", "products")  # preloaded in the target; the files add customers, sales


def _url_for(admin_url: str, dbname: str) -> str:
    return admin_url.rpartition("/")[0] + "/" + dbname


@pytest.fixture(scope="module")
def make_db(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh databases named gen_load_<random>, dropped at the end of the module."""
    names: list[str] = []

    def make() -> str:
        name = f"gen_load_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        names.append(name)
        return _url_for(pg_admin_url, name)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def source(make_db, tmp_path_factory) -> tuple[dict[str, str], dict[str, int], Path]:  # noqa: ANN001
    """Generated data (scale 0.01): its fingerprints, row counts and a dump folder."""
    out = tmp_path_factory.mktemp("dump")
    with psycopg.connect(make_db(), autocommit=True) as conn:
        result = generate(conn, scale=0.01, seed=3, end_date=END)
        counts = dump_dir(conn, out)
        prints = fingerprints(conn)
    assert counts == result.row_counts
    return prints, counts, out


@pytest.fixture(scope="module")
def target(make_db, source) -> Iterator[psycopg.Connection]:  # noqa: ANN001
    """Schema plus the parent tables (core, stores, products) loaded; customers and sales empty."""
    _, _, dump = source
    conn = psycopg.connect(make_db(), autocommit=True)
    conn.execute(schema_sql())
    parents = Path(dump).parent / f"parents_{uuid.uuid4().hex[:6]}"
    for schema in PARENTS:
        shutil.copytree(dump / schema, parents / schema)
    load_dir(conn, parents)
    yield conn
    conn.close()


def counts_of(conn: psycopg.Connection) -> dict[str, int]:
    return {
        t.qualified: conn.execute(f"SELECT count(*) FROM {t.qualified}").fetchone()[0]
        for t in contract_tables()
    }


def test_dump_then_load_into_an_empty_database_is_identical(make_db, source) -> None:  # noqa: ANN001
    prints, counts, dump = source
    with psycopg.connect(make_db()) as conn:  # empty database: load_dir creates the schema
        loaded = load_dir(conn, dump)
        assert loaded == counts
        assert fingerprints(conn) == prints
        # Appending the same files again fails on the first duplicate key and changes nothing.
        with pytest.raises(LoadError, match=r"dim_date\.csv:2: column date_key: duplicate key"):
            load_dir(conn, dump)
        assert fingerprints(conn) == prints


def test_a_subset_of_tables_loads_and_the_rest_stays(target, source, tmp_path) -> None:  # noqa: ANN001
    _, counts, dump = source
    shutil.copytree(dump / "customers", tmp_path / "customers")
    (tmp_path / "customers" / "reviews.csv").unlink()
    before = counts_of(target)
    with target.transaction(force_rollback=True):
        loaded = load_dir(target, tmp_path)
        assert loaded == {
            "customers.customers": counts["customers.customers"],
            "customers.addresses": counts["customers.addresses"],
            "customers.loyalty_points": counts["customers.loyalty_points"],
        }
        assert counts_of(target)["customers.reviews"] == 0
    assert counts_of(target) == before


def test_partial_schema_is_an_error(make_db, source) -> None:  # noqa: ANN001
    _, _, dump = source
    with psycopg.connect(make_db(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA core")
        with pytest.raises(LoadError, match=r"dim_date\.csv: table core\.dim_date does not exist"):
            load_dir(conn, dump)


# ---------------------------------------------------------------- bad input


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _set_field(line: str, index: int, value: str) -> str:
    fields = line.rstrip("\n").split(",")
    fields[index] = value
    return ",".join(fields) + "\n"


def _case(dump: Path, folder: Path, edit: Callable[[Path], Path]) -> Path:
    """A folder with good customers and orders files, then ``edit`` breaks one; returns that file."""
    for rel in ("customers/customers.csv", "sales/orders.csv"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(dump / rel, folder / rel)
    return edit(folder)


def _orders_line(n: int, index: int, value: str) -> Callable[[Path], Path]:
    def edit(folder: Path) -> Path:
        path = folder / "sales" / "orders.csv"
        lines = _lines(path)
        lines[n - 1] = _set_field(lines[n - 1], index, value)
        path.write_text("".join(lines), encoding="utf-8")
        return path

    return edit


def _empty(folder: Path) -> Path:
    path = folder / "sales" / "orders.csv"
    path.write_bytes(b"")
    return path


def _header(old: str, new: str) -> Callable[[Path], Path]:
    def edit(folder: Path) -> Path:
        path = folder / "sales" / "orders.csv"
        lines = _lines(path)
        lines[0] = lines[0].replace(old, new)
        path.write_text("".join(lines), encoding="utf-8")
        return path

    return edit


def _duplicate(folder: Path) -> Path:
    path = folder / "sales" / "orders.csv"
    lines = _lines(path)
    lines[3] = lines[1]  # line 4 repeats line 2
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _latin1(folder: Path) -> Path:
    path = folder / "customers" / "customers.csv"
    lines = path.read_bytes().split(b"\n")
    fields = lines[5].split(b",")
    fields[1] = b"Ren\xe9 Kumar"
    lines[5] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    return path


def _unknown_table(folder: Path) -> Path:
    path = folder / "sales" / "order_lines.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    return path


def _extra_field(folder: Path) -> Path:
    path = folder / "sales" / "orders.csv"
    lines = _lines(path)
    lines[6] = lines[6].rstrip("\n") + ",42\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _bad_rating(folder: Path) -> Path:
    path = folder / "customers" / "reviews.csv"
    path.write_text(
        "review_id,cust_id,prod_id,rating,review_date,review_text\n1,1,1,5,2025-01-01,ok\n"
        "2,1,1,9,2025-01-02,too good\n",
        encoding="utf-8",
    )
    return path


# orders columns: order_id, cust_id, store_id, order_date, order_status, total_amount
BAD_INPUTS = {
    "empty file": (_empty, r"orders\.csv:1: empty file"),
    "unknown column": (
        _header("order_date", "order_dt"),
        r"orders\.csv:1: column order_dt: not a column",
    ),
    "missing column": (
        _header(",total_amount", ""),
        r"orders\.csv:1: column total_amount: missing",
    ),
    "wrong type": (
        _orders_line(3, 3, "abc"),
        r'orders\.csv:3: column order_date: expected date, got "abc"',
    ),
    "bad number": (
        _orders_line(4, 5, "12.5x"),
        r"orders\.csv:4: column total_amount: expected numeric",
    ),
    "duplicate key": (_duplicate, r"orders\.csv:4: column order_id: duplicate key"),
    "missing parent": (
        _orders_line(5, 1, "999999"),
        r"orders\.csv:5: column cust_id: 999999 does not exist in customers\.customers",
    ),
    "non-utf8": (_latin1, r"customers\.csv:6: column full_name: invalid UTF-8 byte 0xe9"),
    "unknown table": (_unknown_table, r"order_lines\.csv: unknown table \"sales\.order_lines\""),
    "extra field": (_extra_field, r"orders\.csv:7: extra data after last expected column"),
    "check constraint": (_bad_rating, r"reviews\.csv:3: column rating: .*check constraint"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_file_line_column_and_loads_nothing(
    case: str,
    target: psycopg.Connection,
    source,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    _, _, dump = source
    edit, pattern = BAD_INPUTS[case]
    bad_file = _case(dump, tmp_path, edit)
    before = counts_of(target)
    with pytest.raises(LoadError, match=pattern) as info:
        load_dir(target, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(bad_file)), message
    assert counts_of(target) == before
    assert before["customers.customers"] == 0 and before["stores.stores"] > 0
