"""Property-based tests of the configuration reader: names crafted as SQL (or anything that is not a
lowercase identifier) are rejected with a ConfigError naming them; values are kept as plain data,
exactly as written, whatever SQL they contain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retailmart_dagster.config import ConfigError, read_config

pytestmark = pytest.mark.filterwarnings("ignore")

NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
SQL_BITS = [
    "'; DROP TABLE analytics.config; --",
    '"; DROP SCHEMA analytics CASCADE; --',
    "x') OR ('1'='1",
    "$$; SELECT pg_sleep(10); $$",
    "\\'; COPY analytics.config TO PROGRAM 'id'; --",
    "sales.recent_trend_days",
    "a.b",
    "Robert'); DROP TABLE students;--",
]
names = st.one_of(
    st.sampled_from(SQL_BITS), st.text(min_size=1, max_size=40), st.from_regex(NAME, fullmatch=True)
)
texts = st.one_of(st.sampled_from(SQL_BITS), st.text(max_size=200))
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _quoted(text: str) -> str:
    """A TOML basic string (also a quoted key) holding exactly ``text``."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@SETTINGS
@given(section=names, name=names)
def test_names_are_identifiers_or_rejected(tmp_path: Path, section: str, name: str) -> None:
    path = _write(
        tmp_path, f'[{_quoted(section)}]\n{_quoted(name)} = {{ value = 1, description = "d" }}\n'
    )
    valid = bool(NAME.fullmatch(section) and NAME.fullmatch(name))
    if valid:
        [entry] = read_config(path)
        assert entry.key == f"{section}.{name}" and entry.value == 1
    else:
        with pytest.raises(ConfigError, match="is not a valid name") as info:
            read_config(path)
        assert "\n" not in str(info.value).replace(repr(section), "").replace(repr(name), "")


@SETTINGS
@given(value=texts, items=st.lists(texts, max_size=5))
def test_values_are_plain_data(tmp_path: Path, value: str, items: list[str]) -> None:
    array = "[" + ", ".join(_quoted(v) for v in items) + "]"
    path = _write(
        tmp_path,
        "[sec]\n"
        f"a = {{ value = {_quoted(value)}, description = {_quoted(value)} }}\n"
        f'b = {{ value = {array}, description = "list" }}\n',
    )
    if "\x00" in value or any("\x00" in v for v in items):
        with pytest.raises(ConfigError, match="NUL"):
            read_config(path)
        return
    a, b = read_config(path)
    assert (a.key, a.value, a.value_type, a.description) == ("sec.a", value, "text", value)
    assert (b.key, b.value, b.value_type) == ("sec.b", items, "text_array")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_rejected(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path, f'[sec]\nx = {{ value = {bad}, description = "d" }}\n')
    with pytest.raises(ConfigError, match="not a finite number"):
        read_config(path)
