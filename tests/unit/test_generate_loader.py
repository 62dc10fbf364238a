"""Loader checks that need no database: discovery, headers, UTF-8, error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from retailmart_dagster.generate.contract import table_map
from retailmart_dagster.loader import LoadError, check_utf8, discover, read_header

ORDERS = table_map()["sales.orders"]
HEADER = "order_id,cust_id,store_id,order_date,order_status,total_amount\n"


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def test_load_error_is_one_line_with_file_line_column() -> None:
    err = LoadError("d/sales/orders.csv", "expected date,\n got x", line=3, column="order_date")
    assert str(err) == "d/sales/orders.csv:3: column order_date: expected date, got x"
    assert str(LoadError("f.csv", "unknown table")) == "f.csv: unknown table"
    assert (err.file, err.line, err.column) == ("d/sales/orders.csv", 3, "order_date")


def test_discover_maps_files_to_tables(tmp_path: Path) -> None:
    _write(tmp_path / "sales" / "orders.csv", HEADER)
    _write(tmp_path / "core" / "dim_date.csv", "x\n")
    _write(tmp_path / "README.md", "not a csv")
    assert discover(tmp_path) == {
        "sales.orders": tmp_path / "sales" / "orders.csv",
        "core.dim_date": tmp_path / "core" / "dim_date.csv",
    }


@pytest.mark.parametrize(
    ("rel", "pattern"),
    [
        ("sales/order_lines.csv", r'order_lines\.csv: unknown table "sales\.order_lines"'),
        (
            "billing/orders.csv",
            r'orders\.csv: unknown table "billing\.orders" \(RetailMart schemas',
        ),
        ("orders.csv", r"orders\.csv: CSV files must be in <dir>/<schema>/<table>\.csv"),
    ],
)
def test_discover_rejects_unknown_tables(tmp_path: Path, rel: str, pattern: str) -> None:
    _write(tmp_path / rel, HEADER)
    with pytest.raises(LoadError, match=pattern):
        discover(tmp_path)


def test_discover_needs_files(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no <schema>/<table>.csv files"):
        discover(tmp_path)
    with pytest.raises(LoadError, match="not a directory"):
        discover(tmp_path / "missing")


def test_header_any_order_with_bom_and_crlf(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        b"\xef\xbb\xbftotal_amount,order_id,cust_id,store_id,order_date,order_status\r\n",
    )
    assert read_header(path, ORDERS) == [
        "total_amount", "order_id", "cust_id", "store_id", "order_date", "order_status",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("", r"o\.csv:1: empty file: expected a header row with order_id, cust_id"),
        ("\n\n", r"o\.csv:1: empty file"),
        (
            HEADER.replace("cust_id", "customer"),
            r"o\.csv:1: column customer: not a column of sales\.orders",
        ),
        (
            HEADER.replace(",total_amount", ""),
            r"o\.csv:1: column total_amount: missing from the header",
        ),
        (HEADER.replace("cust_id", "order_id"), r"o\.csv:1: column order_id: appears twice"),
    ],
)
def test_bad_headers(tmp_path: Path, content: str, pattern: str) -> None:
    path = _write(tmp_path / "o.csv", content)
    with pytest.raises(LoadError, match=pattern):
        read_header(path, ORDERS)


def test_non_utf8_byte_is_located(tmp_path: Path) -> None:
    header = list(ORDERS.column_names)
    ok = "1,2,3,2025-01-01,Delivered,10.00\n"
    path = _write(
        tmp_path / "o.csv", (HEADER + ok + ok).encode() + b'4,5,6,2025-01-01,"Del\xe9vered",1\n'
    )
    with pytest.raises(LoadError, match=r"o\.csv:4: column order_status: invalid UTF-8 byte 0xe9"):
        check_utf8(path, header)
    check_utf8(_write(tmp_path / "good.csv", HEADER + "1,2,3,2025-01-01,Délivré ✓,1\n"), header)


def test_non_utf8_after_a_large_prefix(tmp_path: Path) -> None:
    header = list(ORDERS.column_names)
    row = "1,2,3,2025-01-01,Zürich ✓,10.00\n"
    body = (HEADER + row * 300_000).encode()  # > 4 MiB: the bad byte is in a later read chunk
    path = _write(tmp_path / "o.csv", body + b"9,9,9,\xff,x,1\n")
    with pytest.raises(
        LoadError, match=r"o\.csv:300002: column order_date: invalid UTF-8 byte 0xff"
    ):
        check_utf8(path, header)
