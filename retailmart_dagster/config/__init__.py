"""Versioned analytics configuration: ``analytics.toml`` -> ``analytics.config``.

The TOML file is the one place where thresholds, tiers and windows are set. Each entry is
``name = { value = ..., description = "..." }`` inside a ``[section]``; the key in the database is
``section.name``. Types are inferred from the value and checked: a value of the wrong type for a key
that already exists with another type is an error that names the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

CONFIG_PATH = Path(__file__).with_name("analytics.toml")
CONFIG_ENV = "RETAILMART_CONFIG"


# Section and setting names: lowercase identifiers. A key is ``section.name`` and SQL reads it by that
# text, so a dot, a quote or a space inside a name would make keys ambiguous or odd to quote; values
# are data (bound as parameters, stored as jsonb) and may hold any text.
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")


class ConfigError(ValueError):
    """The configuration file has a value that cannot be used."""


def _check_name(path: Path, what: str, name: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{path}: {what} {name!r} is not a valid name (expected lowercase letters, digits and "
            "underscores, starting with a letter, at most 63 characters)"
        )


@dataclass(frozen=True)
class ConfigEntry:
    key: str
    section: str
    value: Any
    value_type: str
    description: str


def config_path() -> Path:
    """The configuration file in force: $RETAILMART_CONFIG, or the versioned default."""
    return Path(os.environ.get(CONFIG_ENV) or CONFIG_PATH)


def _value_type(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"config key {key!r}: value {value!r} is not a finite number")
        return "numeric"
    if isinstance(value, str):
        if "\x00" in value:
            raise ConfigError(f"config key {key!r}: text values cannot contain NUL characters")
        return "text"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if any("\x00" in v for v in value):
            raise ConfigError(f"config key {key!r}: text values cannot contain NUL characters")
        return "text_array"
    raise ConfigError(
        f"config key {key!r}: value {value!r} is not an int, number, string, boolean or list of strings"
    )


def read_config(path: Path | None = None) -> list[ConfigEntry]:
    """Parse and validate the configuration file; errors name the file and the key.

    The file is read on every call; its parsed entries are kept per (path, text), so a run's many
    reads of the same file parse it once (4 ms each, about 16 per daily refresh) and an edit is
    seen by the next call, whenever it happened."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    key = (str(path), text)
    cached = _PARSED.get(key)
    if cached is None:
        cached = _parse_config(path, text)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = cached
    # A fresh list per call for list values (text arrays): a caller changing one changes no other's.
    return [
        dataclasses.replace(e, value=list(e.value)) if isinstance(e.value, list) else e
        for e in cached
    ]


# Parsed configuration files by (path, text); a few entries (the versioned file, a test's copies).
_PARSED: dict[tuple[str, str], tuple[ConfigEntry, ...]] = {}
_PARSED_MAX = 16


def _parse_config(path: Path, text: str) -> tuple[ConfigEntry, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    entries: list[ConfigEntry] = []
    for section, items in data.items():
        if not isinstance(items, dict):
            raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
        _check_name(path, "section", section)
        for name, spec in items.items():
            _check_name(path, f"setting of [{section}]", name)
            key = f"{section}.{name}"
            if not isinstance(spec, dict) or "value" not in spec:
                raise ConfigError(
                    f'{path}: {key} must be written as {{ value = ..., description = "..." }}'
                )
            unknown = set(spec) - {"value", "description"}
            if unknown:
                raise ConfigError(f"{path}: {key} has unknown field(s) {sorted(unknown)}")
            value = spec["value"]
            entries.append(
                ConfigEntry(
                    key=key,
                    section=section,
                    value=value,
                    value_type=_value_type(key, value),
                    description=str(spec.get("description", "")),
                )
            )
    return tuple(entries)


def config_values(path: Path | None = None) -> dict[str, Any]:
    """Plain ``{key: value}`` view of the configuration file."""
    return {e.key: e.value for e in read_config(path)}


def write_config(conn: psycopg.Connection, entries: list[ConfigEntry]) -> int:
    """Upsert entries into analytics.config; keys no longer in the file are kept, marked stale."""
    with conn.cursor() as cur:
        cur.execute("SELECT key, value_type FROM analytics.config")
        existing = dict(cur.fetchall())
        for e in entries:
            old = existing.get(e.key)
            if old is not None and old != e.value_type:
                raise ConfigError(
                    f"config key {e.key!r}: value {e.value!r} is of type {e.value_type}, "
                    f"but the key is of type {old}"
                )
        cur.executemany(
            """
            INSERT INTO analytics.config AS c (key, section, value, value_type, description, is_stale)
            VALUES (%s, %s, %s::jsonb, %s, %s, false)
            ON CONFLICT (key) DO UPDATE
               SET value = EXCLUDED.value, value_type = EXCLUDED.value_type,
                   description = EXCLUDED.description, is_stale = false,
                   updated_at = CASE WHEN c.value IS DISTINCT FROM EXCLUDED.value
                                     THEN now() ELSE c.updated_at END
            """,
            [(e.key, e.section, json.dumps(e.value), e.value_type, e.description) for e in entries],
        )
        cur.execute(
            "UPDATE analytics.config SET is_stale = true WHERE NOT (key = ANY(%s))",
            ([e.key for e in entries],),
        )
    return len(entries)


def config_value(key: str, path: Path | None = None) -> Any:
    """One configured value, for the few settings Python itself uses (SQL reads analytics.config)."""
    values = config_values(path)
    if key not in values:
        raise ConfigError(f"{path or config_path()}: no key {key!r}")
    return values[key]
