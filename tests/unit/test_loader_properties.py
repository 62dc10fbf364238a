"""Property-based tests of the CSV loader's header check (no database): a header is accepted only if it
names exactly the contract's columns; anything else (SQL included) is one LoadError line naming the
file, line 1 and the offending column. Accepted names are contract names, so what reaches COPY's
column list (quoted with psycopg.sql.Identifier anyway) is never text from the file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailmart_dagster.generate.contract import table_map
from retailmart_dagster.loader import LoadError, read_header

TABLE = table_map()["customers.customers"]
COLUMNS = list(TABLE.column_names)
SQL_BITS = [
    'cust_id"; DROP TABLE customers.customers; --',
    "cust_id) FROM STDIN; DROP SCHEMA sales CASCADE; --",
    "full_name'--",
    "CUST_ID",
    "cust_id ",
    "",
]
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
names = st.one_of(
    st.sampled_from(COLUMNS),
    st.sampled_from(SQL_BITS),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00\ufeff"),
        max_size=30,
    ),
)


def _header_file(tmp_path: Path, header: list[str]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(header)
    path = tmp_path / "customers.csv"
    path.write_text(buf.getvalue() + "1,a,M,30,x,y,2024-01-01,z\n", encoding="utf-8")
    return path


@SETTINGS
@given(
    header=st.one_of(st.permutations(COLUMNS).map(list), st.lists(names, min_size=1, max_size=10))
)
def test_header_accepted_only_if_it_is_the_contract(tmp_path: Path, header: list[str]) -> None:
    path = _header_file(tmp_path, header)
    stripped = [h.strip() for h in header]
    try:
        got = read_header(path, TABLE)
    except LoadError as exc:
        message = str(exc)
        assert message.startswith(f"{path}:1: "), message
        assert exc.line == 1
        assert sorted(stripped) != sorted(COLUMNS)
        return
    assert got == stripped
    assert sorted(got) == sorted(COLUMNS)


@SETTINGS
@given(extra=st.sampled_from(SQL_BITS[:3]), position=st.integers(0, len(COLUMNS)))
def test_a_crafted_column_is_named_in_the_error(tmp_path: Path, extra: str, position: int) -> None:
    header = [*COLUMNS]
    header.insert(position, extra)
    with pytest.raises(LoadError) as info:
        read_header(_header_file(tmp_path, header), TABLE)
    assert info.value.column == extra.strip()
    assert "not a column of customers.customers" in str(info.value)
