"""The versioned configuration file: typed values, clear errors."""

from pathlib import Path

import pytest

from retailmart_dagster.config import ConfigError, config_values, read_config


def test_default_config_is_valid_and_described() -> None:
    entries = read_config()
    assert entries
    for e in entries:
        assert e.description, f"{e.key} needs a description"
    values = config_values()
    assert values["sales.excluded_order_statuses"] == ["Cancelled"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sales]\nx = 3\n", "must be written as"),
        ("[sales]\nx = { value = {a = 1} }\n", "is not an int"),
        ("[sales]\nx = { value = 1, typo = 2 }\n", "unknown field"),
        ("x = 1\n", "must be a \\[section\\]"),
        ("[sales\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_config(path)


def test_a_changed_file_is_read_again_and_values_are_not_shared(tmp_path: Path) -> None:
    """The parsed file is kept per (path, text): an edit, even of the same length and at once, is
    seen by the next read; a list value changed by one caller is not changed for the next."""
    path = tmp_path / "analytics.toml"
    path.write_text('[a]\nn = { value = 1, description = "x" }\nl = { value = ["p"] }\n')
    assert config_values(path) == {"a.n": 1, "a.l": ["p"]}
    config_values(path)["a.l"].append("q")
    assert config_values(path)["a.l"] == ["p"]
    path.write_text('[a]\nn = { value = 2, description = "x" }\nl = { value = ["p"] }\n')
    assert config_values(path)["a.n"] == 2
    path.write_text("[a\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config(path)
