"""No configuration key is defined and never read; none is read and never defined."""

import re
from pathlib import Path

from retailmart_dagster.config import config_values

PACKAGE = Path(__file__).resolve().parents[2] / "retailmart_dagster"
SQL_READ = re.compile(r"fn_config_(?:int|numeric|text|text_array|bool)\(\s*'([a-z0-9_.]+)'")
PY_READ = re.compile(r"config_value\(\s*[\"']([a-z0-9_.]+)[\"']")


def _reads() -> dict[str, set[str]]:
    reads: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*"):
        if path.suffix == ".sql":
            pattern = SQL_READ
        elif path.suffix == ".py":
            pattern = PY_READ
        else:
            continue
        for key in pattern.findall(path.read_text(encoding="utf-8")):
            reads.setdefault(key, set()).add(str(path.relative_to(PACKAGE)))
    return reads


def test_every_key_read_is_defined() -> None:
    defined = set(config_values())
    undefined = {k: sorted(v) for k, v in _reads().items() if k not in defined}
    assert not undefined, f"read but not defined in analytics.toml: {undefined}"


def test_every_key_defined_is_read() -> None:
    unread = sorted(set(config_values()) - set(_reads()))
    assert not unread, f"defined in analytics.toml but never read: {unread}"
