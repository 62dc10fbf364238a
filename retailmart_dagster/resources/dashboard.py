"""Where the dashboard's JSON files go, and how they are written (atomically)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

DASHBOARD_DIR_ENV = "RETAILMART_DASHBOARD_DIR"


def default_data_dir() -> str:
    return os.environ.get(DASHBOARD_DIR_ENV) or str(Path("dashboard") / "data")


def write_atomic(path: Path, data: bytes) -> None:
    """Write data to path so that a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class DashboardResource(ConfigurableResource):
    """The folder of the dashboard's data files (``dashboard/data`` by default)."""

    data_dir: str = Field(
        default_factory=default_data_dir,
        description="Folder the JSON exports are written to ($RETAILMART_DASHBOARD_DIR).",
    )

    def path(self, *parts: str) -> Path:
        return Path(self.data_dir).resolve().joinpath(*parts)
