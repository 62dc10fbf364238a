"""Browser tests of the dashboard (tests/e2e): headless Debian chromium driven by Playwright for
Python, on the JSON that a real Dagster run wrote (the session fixtures ``kpi_run`` and
``kpi_dashboard_dir`` of tests/conftest.py).

Each test gets its own copy of the data folder served with dashboard/ on 127.0.0.1 (a local
http.server thread on a free port, with the same request handler as ``retailmart dashboard``) and a
fresh browser context; it may change or delete files in its copy. The browser is Debian's
/usr/bin/chromium (``RETAILMART_CHROMIUM`` to use another), never a Playwright download; the machine
needs no internet. Tests skip, saying what to install, when chromium, Playwright or Chart.js (npm ci)
is missing: ``bash scripts/install_browser.sh`` installs them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import ALERTS_FIXTURE, ARTIFACTS, DASHBOARD, Site, serve

CHROMIUM = os.environ.get("RETAILMART_CHROMIUM", "/usr/bin/chromium")
# No sandbox (root in CI), no GPU, and nothing that would reach the network on its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the dashboard in headless chromium")
    config.addinivalue_line(
        "markers", "console_errors_expected: the test checks the console errors itself"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def exported_data(kpi_run, kpi_dashboard_dir: Path) -> Path:  # noqa: ANN001
    """The data folder written by the real Dagster run (materialized once per session)."""
    assert (kpi_dashboard_dir / "manifest.json").exists(), "the run wrote no manifest.json"
    return kpi_dashboard_dir


@pytest.fixture(scope="package")
def browser(exported_data: Path):  # noqa: ANN201
    """Headless Debian chromium (a fresh, empty profile: Playwright's launch() gives each browser
    its own new user-data-dir). Started after the Dagster run (exported_data), so that run never
    sees Playwright's event loop; closed with Playwright after the last browser test (package
    scope), so that no Dagster run of the tests after these does either (with Playwright's loop
    running in the main thread, every in-process run's cleanup failed to shut its own event loop
    down and warned "coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited")."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is missing: bash scripts/bootstrap.sh"
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"{CHROMIUM} not found: run `bash scripts/install_browser.sh` as root "
            "(apt-get install chromium) or set RETAILMART_CHROMIUM"
        )
    if not (DASHBOARD / "node_modules" / "chart.js" / "dist" / "chart.umd.js").exists():
        pytest.skip(
            "Chart.js is not installed: bash scripts/install_browser.sh (npm ci in dashboard/)"
        )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def site(exported_data: Path) -> Iterator[Site]:
    """dashboard/ served on 127.0.0.1 with a private copy of the exported data; adds the alerts
    fixture when the pipeline wrote no alerts.json."""
    with tempfile.TemporaryDirectory(prefix="rm-e2e-") as workdir:
        served = serve(exported_data, Path(workdir))
        if "alerts.json" not in served.manifest()["files"]:
            fixture = dict(ALERTS_FIXTURE, referenceDate=served.manifest()["referenceDate"])
            served.write("alerts.json", fixture)
        try:
            yield served
        finally:
            served.close()


@pytest.fixture
def console_errors() -> list[str]:
    return []


def _new_page(browser, console_errors: list[str], **options):  # noqa: ANN001, ANN003, ANN202
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on(
        "console",
        lambda msg: (
            console_errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type in ("error", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda exc: console_errors.append(f"page error: {exc}"))
    return context, page


def _site_first(request: pytest.FixtureRequest) -> None:
    """Set up the test's site (when it uses one) before its pages, so that pytest closes the pages
    before it stops the site's server: the other way round, a request the page still had in flight
    when the test ended (a chart's data, a tab's next file) was refused, logged as a console error
    (ERR_CONNECTION_REFUSED) and failed the test at teardown, now and then on a busy machine."""
    if "site" in request.fixturenames:
        request.getfixturevalue("site")


@pytest.fixture
def page(browser, console_errors: list[str], request: pytest.FixtureRequest):  # noqa: ANN001, ANN201
    """A desktop-sized page in a fresh context; fails the test on any console error unless the test
    is marked console_errors_expected."""
    _site_first(request)
    context, pg = _new_page(browser, console_errors, viewport=DESKTOP)
    yield pg
    context.close()
    if not request.node.get_closest_marker("console_errors_expected"):
        assert console_errors == [], f"the browser console reported errors: {console_errors}"


@pytest.fixture
def new_page(browser, console_errors: list[str], request: pytest.FixtureRequest):  # noqa: ANN001, ANN201
    """Factory for pages with other context options (viewport, timezone)."""
    _site_first(request)
    contexts = []

    def make(**options):  # noqa: ANN003, ANN202
        context, pg = _new_page(browser, console_errors, **options)
        contexts.append(context)
        return pg

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
