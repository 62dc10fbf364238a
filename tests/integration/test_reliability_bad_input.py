"""Bad input, the gaps left by test_loader.py: huge fields, and the same cases through the command
line (``python -m retailmart_dagster.cli load DIR``): one line on stderr, exit code non-zero,
nothing loaded; unknown options answered in one line with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retailmart_dagster.loader import LoadError, load_dir
from tests.integration.test_loader import (  # noqa: F401 - fixtures used by name
    BAD_INPUTS,
    _case,
    _lines,
    _set_field,
    counts_of,
    make_db,
    source,
    target,
)

pytestmark = pytest.mark.integration

HUGE = 5_000_000  # characters: far beyond csv's default field limit (131,072) and any column


def _huge_in(rel: str, line: int, index: int, value: str) -> Callable[[Path], Path]:
    def edit(folder: Path) -> Path:
        path = folder / rel
        lines = _lines(path)
        lines[line - 1] = _set_field(lines[line - 1], index, value)
        path.write_text("".join(lines), encoding="utf-8")
        return path

    return edit


def _huge_then_bad_byte(folder: Path) -> Path:
    """A huge (valid) field followed, on the same line, by a byte that is not UTF-8."""
    path = folder / "customers" / "customers.csv"
    rows = path.read_bytes().split(b"\n")
    fields = rows[4].split(b",")
    fields[1] = b"x" * HUGE  # full_name
    fields[4] = b"Pun\xe9"  # city
    rows[4] = b",".join(fields)
    path.write_bytes(b"\n".join(rows))
    return path


def _huge_then_missing_parent(folder: Path) -> Path:
    """Orders whose customer does not exist, after a customers file with a huge field."""
    path = folder / "sales" / "orders.csv"
    lines = _lines(path)
    lines[5] = _set_field(lines[5], 1, "999999")
    path.write_text("".join(lines), encoding="utf-8")
    return path


# customers columns: cust_id, full_name, gender, age, city, ...; orders: order_id, cust_id, ...
HUGE_INPUTS = {
    "huge text field": (
        _huge_in("customers/customers.csv", 3, 1, "x" * HUGE),
        r"customers\.csv:3: column full_name: .*too long",
    ),
    "huge number": (
        _huge_in("sales/orders.csv", 4, 5, "9" * HUGE),
        r"orders\.csv:4: column total_amount: expected numeric",
    ),
    "huge field then non-utf8": (
        _huge_then_bad_byte,
        r"customers\.csv:5: column city: invalid UTF-8 byte 0xe9",
    ),
    "missing parent": (
        _huge_then_missing_parent,
        r"orders\.csv:6: column cust_id: 999999 does not exist",
    ),
}


@pytest.mark.parametrize("case", list(HUGE_INPUTS))
def test_huge_fields_give_one_short_line_and_load_nothing(
    case: str,
    target: psycopg.Connection,  # noqa: F811
    source,  # noqa: ANN001, F811
    tmp_path: Path,
) -> None:
    _, _, dump = source
    edit, pattern = HUGE_INPUTS[case]
    bad_file = _case(dump, tmp_path, edit)
    before = counts_of(target)
    with pytest.raises(LoadError, match=pattern) as info:
        load_dir(target, tmp_path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message[:1000]
    assert message.startswith(str(bad_file)), message[:300]
    assert counts_of(target) == before


# ----------------------------------------------------------------- the command line


def _cli(args: list[str], url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "RETAILMART_DATABASE_URL": url,
        "RETAILMART_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "retailmart_dagster.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_db(make_db, source) -> str:  # noqa: ANN001, F811
    """A database with the parent tables loaded (as ``target``), for the command line, plus the
    ``<db>_dagster`` database the command creates next to it (dropped with it)."""
    _, _, dump = source
    url = make_db()
    parents = dump.parent / f"cli_parents_{url.rpartition('/')[2]}"
    for schema in ("core", "stores", "products"):
        (parents / schema).mkdir(parents=True)
        for f in (dump / schema).iterdir():
            (parents / schema / f.name).write_bytes(f.read_bytes())
    with psycopg.connect(url) as conn:
        load_dir(conn, parents)
    yield url
    admin = url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(url.rpartition("/")[2] + "_dagster")
            )
        )


CLI_CASES = [
    "empty file",
    "unknown column",
    "wrong type",
    "duplicate key",
    "missing parent",
    "non-utf8",
]


@pytest.mark.parametrize("case", CLI_CASES + ["huge"])
def test_cli_load_bad_input_is_one_line_and_exit_1(
    case: str,
    cli_db: str,
    source,  # noqa: ANN001, F811
    tmp_path: Path,
) -> None:
    _, _, dump = source
    if case == "huge":
        edit, pattern = HUGE_INPUTS["huge text field"]
    else:
        edit, pattern = BAD_INPUTS[case]
    folder = tmp_path / "in"
    bad_file = _case(dump, folder, edit)
    with psycopg.connect(cli_db) as conn:
        before = counts_of(conn)
    done = _cli(["load", str(folder)], cli_db, tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"retailmart: error: {bad_file}"), lines[0][:300]
    import re

    assert re.search(pattern, lines[0]), lines[0][:300]
    assert len(lines[0]) < 700
    assert "Traceback" not in done.stderr
    password = cli_db.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr
    with psycopg.connect(cli_db) as conn:
        assert counts_of(conn) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["load", "DIR", "--bogus"], "unrecognized arguments: --bogus"),
        (["load"], "the following arguments are required: directory"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["generate", "--scale", "abc"], "argument --scale: not a number: 'abc'"),
        (["dashboard", "--port", "70000"], "port must be 0..65535"),
        (["run", "--end-date", "2025-13-01"], "not a date (YYYY-MM-DD): '2025-13-01'"),
    ],
)
def test_cli_unknown_or_bad_option_is_one_line_and_exit_2(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    done = _cli(args, "postgresql://nobody:secret@127.0.0.1:1/none", tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("retailmart") and expected in lines[0], lines[0]
    assert "--help" in lines[0]


def test_cli_load_of_a_missing_folder_and_an_unreachable_database(
    tmp_path: Path,
    source,  # noqa: ANN001, F811
) -> None:
    done = _cli(["load", str(tmp_path / "nope")], "postgresql://u:pw@127.0.0.1:1/x", tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"retailmart: error: {tmp_path / 'nope'}: not a folder (expected DIR/<schema>/<table>.csv)"
    ]
    _, _, dump = source
    done = _cli(["load", str(dump)], "postgresql://u:s3cr3t@127.0.0.1:1/x", tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "unreachable" in lines[0] and "s3cr3t" not in done.stderr, lines


@pytest.mark.parametrize(
    "args", [["run"], ["generate", "--scale", "0.01"], ["docs"], ["load", "."]]
)
def test_cli_with_the_database_down_is_one_line_and_exit_1(args: list[str], tmp_path: Path) -> None:
    done = _cli(args, "postgresql://retailmart:s3cr3t-pw@127.0.0.1:1/retailmart", tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("retailmart: error: Database postgresql://retailmart:***@"), lines
    assert "unreachable after 3 attempts" in lines[0]
    assert "s3cr3t-pw" not in done.stdout + done.stderr
