"""`retailmart dashboard` serves the page on 127.0.0.1 with the data folder of
$RETAILMART_DASHBOARD_DIR (or --data), prints the URL, and serves nothing outside those folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.support import DASHBOARD, REPO

pytestmark = pytest.mark.e2e


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (local test server)
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", ""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "sales").mkdir(parents=True)
    (data / "manifest.json").write_text(
        json.dumps(
            {"generatedAt": "2025-10-01T00:00:00+00:00", "referenceDate": "2025-10-01", "files": {}}
        )
    )
    (data / "sales" / "x.json").write_text('{"rows": []}')
    (tmp_path / "secret.txt").write_text("not to be served")
    return data


def start_dashboard(data_dir: Path, **popen: object) -> subprocess.Popen:
    """`retailmart dashboard --port 0 --quiet` serving data_dir, as a child process."""
    return subprocess.Popen(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "retailmart_dagster.cli", "dashboard", "--port", "0", "--quiet"],
        cwd=REPO,
        env={**os.environ, "RETAILMART_DASHBOARD_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_cli_serves_dashboard_and_data_on_localhost(data_dir: Path):
    proc = start_dashboard(data_dir)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Dashboard: http://127.0.0.1:"), line
        url = line.split(" ", 1)[1]
        status, body, ctype = fetch(url)
        assert status == 200 and b"RetailMart" in body and ctype.startswith("text/html")
        status, body, ctype = fetch(url + "data/manifest.json")
        assert status == 200 and json.loads(body)["referenceDate"] == "2025-10-01"
        assert ctype == "application/json"
        status, _, ctype = fetch(url + "js/app.js")
        assert status == 200 and ctype.startswith("text/javascript")
        if (DASHBOARD / "node_modules" / "chart.js").exists():
            assert fetch(url + "node_modules/chart.js/dist/chart.umd.js")[0] == 200
        assert fetch(url + "data/sales/x.json?v=abc")[0] == 200
        assert fetch(url + "data/../secret.txt")[0] == 404
        assert fetch(url + "data/%2e%2e/secret.txt")[0] == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_dashboard_port_in_use_is_a_one_line_error(data_dir: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "retailmart_dagster.cli",
                "dashboard",
                "--port",
                str(port),
                "--data",
                str(data_dir),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_dashboard_stops_on_sigterm_even_when_started_with_it_ignored(data_dir: Path):
    """SIGTERM (a service manager, `docker stop`) stops the server like Ctrl-C, exit status 0, also
    when the parent started it with SIGTERM ignored (exec keeps an ignored disposition: a CI run
    started in the background had it so, and the server then outlived its test)."""
    proc = start_dashboard(
        data_dir,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Dashboard: http://127.0.0.1:"), line
        assert fetch(line.split(" ", 1)[1])[0] == 200
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
