"""The dashboard in a real browser: every tab renders its charts and tables from the JSON a real
Dagster run wrote; alerts, data quality and freshness; per-widget error states; the five-minute cache
and the auto-refresh; a 375 px phone; Indian number formatting; dates unshifted by the timezone.
Screenshots of each tab go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.e2e.support import (
    ALERTS_FIXTURE,
    CARD_VALUE,
    CHARTS_OF,
    DASHBOARD,
    MINUS,
    PANEL_SETTLED,
    TABLE_OF,
    TABLES_OF,
    TABS,
    WIDGETS_OF,
    Site,
    calendar_date,
    count,
    inr,
    inr_full,
)

# Widgets whose file is exported but have nothing to draw by design (their export says why).
UNAVAILABLE_OK = {"sales/hourly_pattern.json"}


def open_tab(page, site: Site, tab: str, query: str = "") -> None:  # noqa: ANN001
    page.goto(f"{site.url}{query}#{tab}")
    page.wait_for_function(PANEL_SETTLED, arg=tab)


def domain_files(site: Site, tab: str) -> list[str]:
    return [f for f in site.files() if f.startswith(f"{tab}/")]


# ------------------------------------------------------------------------------- every tab
@pytest.mark.parametrize("tab", TABS)
def test_tab_renders_charts_and_tables_with_data(page, site: Site, screenshots: Path, tab: str):  # noqa: ANN001
    open_tab(page, site, tab)
    manifest = site.manifest()
    panel_state = page.get_attribute(f"[data-panel={tab}]", "data-state")
    if tab != "executive" and not domain_files(site, tab):
        # The domain has no export yet: one clear "no data yet" state, nothing broken.
        assert panel_state == "nodata"
        assert "No" in page.inner_text(f"[data-panel={tab}] [data-tab-empty]")
        page.screenshot(path=str(screenshots / f"{tab}.png"), full_page=True)
        return
    assert panel_state == "ready"
    widgets = page.evaluate(WIDGETS_OF, tab)
    assert widgets, f"{tab}: no widgets"
    shown_files = {w["file"] for w in widgets}
    # Every file of the domain in the manifest is shown by some widget.
    assert set(domain_files(site, tab)) <= shown_files
    charts_with_data = 0
    for w in widgets:
        listed = manifest["files"].get(w["file"])
        if w["state"] == "nodata":
            assert listed is None and w["file"] != "manifest.json", w
            continue
        if w["state"] == "unavailable":
            assert w["file"] in UNAVAILABLE_OK, w
            continue
        if w["state"] == "empty":
            assert listed is not None and listed["rows"] == 0, w
            continue
        assert w["state"] == "ready", w
        for chart in page.evaluate(CHARTS_OF, w["id"]):
            assert chart["hasChart"], (w["id"], chart)
            assert chart["labels"] > 0 and max(chart["points"]) > 0, (w["id"], chart)
            assert chart["nonZero"], (w["id"], chart)
            assert chart["width"] > 100 and chart["height"] > 100, (w["id"], chart)
            assert chart["painted"] > 500, (w["id"], chart)  # pixels drawn, not a blank canvas
            charts_with_data += 1
    assert charts_with_data >= (3 if tab == "sales" else 1), f"{tab}: too few charts"
    page.screenshot(path=str(screenshots / f"{tab}.png"), full_page=True)


@pytest.mark.parametrize("tab", TABS)
def test_phone_width_has_no_horizontal_scroll(
    new_page, console_errors, site: Site, screenshots: Path, tab: str
):  # noqa: ANN001
    page = new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    open_tab(page, site, tab)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], (
        f"{tab}: page is {widths[0]} px wide in a {widths[1]} px viewport"
    )
    # No widget sticks out of the viewport either (tables scroll inside their own box).
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.widget, .card, .chart')]
             .filter((n) => n.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
             .map((n) => n.dataset.widget || n.className)"""
    )
    assert overflow == []
    page.screenshot(path=str(screenshots / f"{tab}-phone.png"), full_page=True)
    assert console_errors == []


# ------------------------------------------------------------------------------- tables = JSON
def test_sales_tables_match_the_json(page, site: Site):  # noqa: ANN001
    open_tab(page, site, "sales")
    modes = site.payload("sales/payment_modes.json")["rows"]
    table = page.evaluate(TABLE_OF, "sales-payments")
    assert [r[0] for r in table["rows"]] == [m["paymentMode"] for m in modes]
    assert [r[2] for r in table["rows"]] == [inr(m["amountPaid"]) for m in modes]
    assert [r[1] for r in table["rows"]] == [count(m["payments"]) for m in modes]

    dow = site.payload("sales/day_of_week.json")["rows"]
    table = page.evaluate(TABLE_OF, "sales-dow")
    assert [r[0] for r in table["rows"]] == [d["dayName"] for d in dow]
    assert [r[1] for r in table["rows"]] == [count(d["orders"]) for d in dow]

    # Returns: totals per reason, recomputed here from the month × reason rows.
    totals: dict[str, float] = defaultdict(float)
    for r in site.payload("sales/returns.json")["rows"]:
        totals[r["reason"]] += r["refundAmount"]
    expected = sorted(totals.items(), key=lambda kv: (-round(kv[1], 2), kv[0]))
    table = page.evaluate(TABLE_OF, "sales-returns")
    assert [(r[0], r[3]) for r in table["rows"]] == [(k, inr_full(v)) for k, v in expected]

    monthly = site.payload("sales/monthly.json")["rows"]
    table = page.evaluate(TABLE_OF, "sales-monthly")
    last12 = list(reversed(monthly[-12:]))
    assert len(table["rows"]) == len(last12)
    assert [r[2] for r in table["rows"]] == [inr(m["revenue"]) for m in last12]


# (tab, widget, file, key in the file, column in the table, field, how many rows are shown)
ROW_TABLES = [
    ("customers", "customers-rfm", "customers/rfm_segments.json", "rows", 0, "rfmSegment", None),
    ("customers", "customers-top", "customers/top_customers.json", "rows", 1, "fullName", 25),
    ("customers", "customers-geography", "customers/geography.json", "rows", 1, "city", None),
    ("products", "products-top", "products/top_products.json", "rows", 1, "prodName", None),
    ("products", "products-categories", "products/categories.json", "rows", 1, "category", None),
    ("products", "products-brands", "products/brands.json", "rows", 1, "brand", None),
    ("stores", "stores-rankings", "stores/rankings.json", "rows", 1, "storeName", None),
    ("stores", "stores-regional", "stores/regional.json", "rows", 1, "region", None),
    (
        "operations",
        "operations-couriers",
        "operations/couriers.json",
        "rows",
        1,
        "courierName",
        None,
    ),
    ("marketing", "marketing-channels", "marketing/channels.json", "rows", 0, "channel", None),
    (
        "marketing",
        "marketing-campaigns",
        "marketing/campaigns.json",
        "rows",
        1,
        "campaignName",
        None,
    ),
]


@pytest.mark.parametrize(("tab", "widget", "file", "key", "column", "field", "limit"), ROW_TABLES)
def test_domain_tables_match_the_json(
    page, site: Site, tab, widget, file, key, column, field, limit
):  # noqa: ANN001, PLR0913
    if file not in site.files():
        pytest.skip(f"{file} is not exported (yet)")
    open_tab(page, site, tab)
    rows = site.payload(file)[key]
    expected = rows[:limit] if limit else rows
    tables = page.evaluate(TABLES_OF, widget)
    table = next(t for t in tables if len(t["rows"]) == len(expected))
    assert [r[column] for r in table["rows"]] == [str(r[field]) for r in expected]


def test_money_cells_use_indian_units(page, site: Site):  # noqa: ANN001
    if "products/top_products.json" not in site.files():
        pytest.skip("products/top_products.json is not exported (yet)")
    open_tab(page, site, "products")
    rows = site.payload("products/top_products.json")["rows"]
    table = page.evaluate(TABLE_OF, "products-top")
    column = table["head"].index("Net revenue")
    assert [r[column] for r in table["rows"]] == [inr(r["netRevenue"]) for r in rows]
    assert all(re.fullmatch(r"₹[\d,.]+( L| Cr)?", r[column]) for r in table["rows"])


# ------------------------------------------------------------------------------- alerts
@pytest.mark.parametrize("source", ["pipeline", "documented-shape"])
def test_alert_bell_counts_match_alerts_json(page, site: Site, source: str):  # noqa: ANN001
    if source == "documented-shape":
        # The shape dashboard/README.md documents, whatever the pipeline writes today.
        site.write(
            "alerts.json", dict(ALERTS_FIXTURE, referenceDate=site.manifest()["referenceDate"])
        )
    alerts = site.payload("alerts.json")
    counts = alerts.get("counts") or {}
    open_tab(page, site, "executive")
    page.wait_for_selector("#alert-bell[data-state=ready]")
    total = sum(counts.get(s, 0) for s in ("critical", "warning", "info"))
    assert page.inner_text("[data-bell-total]") == count(total)
    for severity in ("critical", "warning", "info"):
        pill = page.inner_text(f"#alert-bell [data-count={severity}]")
        assert pill == count(counts.get(severity, 0))
    page.click("#alert-bell")
    page.wait_for_selector("#alerts-dialog[open]")
    items = page.locator("#alerts-dialog [data-alert]")
    assert items.count() == len(alerts["rows"])
    titles = [items.nth(i).locator(".alert-title").inner_text() for i in range(items.count())]
    assert titles == [r["title"] for r in alerts["rows"]]
    severities = [items.nth(i).get_attribute("data-severity") for i in range(items.count())]
    assert severities == [r["severity"] for r in alerts["rows"]]
    # Data is text, never markup: the fixture's "<img onerror>" detail stays a string.
    assert page.locator("#alerts-dialog img").count() == 0
    page.click("#alerts-dialog [data-close]")
    assert page.locator("#alerts-dialog[open]").count() == 0


def test_alert_bell_without_alerts_json_says_so(page, site: Site):  # noqa: ANN001
    site.unlist("alerts.json")
    open_tab(page, site, "executive")
    page.wait_for_selector("#alert-bell[data-state=nodata]")
    assert page.inner_text("[data-bell-total]") == "–"
    assert page.get_attribute("[data-widget=exec-alerts]", "data-state") == "nodata"
    page.click("#alert-bell")
    assert "not been exported yet" in page.inner_text("#alerts-dialog")


# ------------------------------------------------------------------------------- quality, freshness
def test_freshness_and_quality_panel(page, site: Site):  # noqa: ANN001
    manifest = site.manifest()
    open_tab(page, site, "executive")
    as_of = calendar_date(manifest["referenceDate"])
    assert page.inner_text("#as-of") == as_of
    assert page.inner_text("#last-refresh") not in ("", "—", "…")
    page.click("#quality-chip")
    page.wait_for_selector("#quality-dialog[open]")
    dialog = page.inner_text("#quality-dialog")
    assert f"Data as of {as_of}" in dialog
    summary = page.inner_text("#quality-summary")
    if "quality.json" in manifest["files"]:
        quality = site.payload("quality.json")
        checks = (
            quality.get("checks") if isinstance(quality.get("checks"), list) else quality["rows"]
        )
        failing = [c for c in checks if c.get("passed") is False]
        if failing:
            assert summary == f"{count(len(failing))} of {count(len(checks))} checks failing"
            table = page.evaluate(TABLE_OF, "exec-quality")
            assert len(table["rows"]) == len(failing)
            names = [c.get("check") or c.get("checkName") for c in failing]
            assert [r[0].lower() for r in table["rows"]] == [n.replace("_", " ") for n in names]
        else:
            assert summary == f"all {count(len(checks))} checks pass"
    else:
        assert summary == "checks not exported yet"
        assert "not been exported yet" in dialog


# ------------------------------------------------------------------------------- error states
@pytest.mark.console_errors_expected
def test_missing_file_breaks_only_its_widget(page, site: Site, console_errors):  # noqa: ANN001
    (site.data_dir / "sales" / "payment_modes.json").unlink()  # still listed in the manifest
    open_tab(page, site, "sales")
    widget = "[data-widget=sales-payments]"
    assert page.get_attribute(widget, "data-state") == "error"
    message = page.inner_text(widget)
    assert "sales/payment_modes.json" in message and "404" in message
    states = {w["id"]: w["state"] for w in page.evaluate(WIDGETS_OF, "sales")}
    broken = {k for k, v in states.items() if v == "error"}
    assert broken == {"sales-payments"}
    assert page.evaluate(CHARTS_OF, "sales-monthly")[0]["painted"] > 500
    # The only console message is the browser's own note about the 404.
    assert console_errors and all("404" in e for e in console_errors), console_errors


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"referenceDate": "2025-10-01"}', 'expected a "rows" list'),
    ],
)
def test_malformed_file_breaks_only_its_widget(page, site: Site, content: str, reason: str):  # noqa: ANN001
    site.write("sales/quarterly.json", content)
    open_tab(page, site, "sales")
    assert page.get_attribute("[data-widget=sales-quarterly]", "data-state") == "error"
    assert reason in page.inner_text("[data-widget=sales-quarterly]")
    states = [w["state"] for w in page.evaluate(WIDGETS_OF, "sales")]
    assert states.count("error") == 1
    # The Executive tab does not read that file and is untouched.
    open_tab(page, site, "executive")
    assert "error" not in [w["state"] for w in page.evaluate(WIDGETS_OF, "executive")]


def test_tab_without_exports_shows_no_data_yet(page, site: Site):  # noqa: ANN001
    for file in domain_files(site, "marketing"):
        site.unlist(file)
    open_tab(page, site, "marketing")
    assert page.get_attribute("[data-panel=marketing]", "data-state") == "nodata"
    assert "No Marketing data yet" in page.inner_text("[data-panel=marketing]")
    open_tab(page, site, "sales")
    assert page.get_attribute("[data-panel=sales]", "data-state") == "ready"


@pytest.mark.console_errors_expected
def test_without_manifest_the_page_explains(page, site: Site, console_errors):  # noqa: ANN001
    (site.data_dir / "manifest.json").unlink()
    open_tab(page, site, "sales")
    assert page.is_visible("#global-error")
    assert "manifest.json" in page.inner_text("#global-error")
    assert all("404" in e for e in console_errors), console_errors


# ------------------------------------------------------------------------------- cache, refresh
def data_requests(page) -> list[str]:  # noqa: ANN001
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url) if "/data/" in req.url else None)
    return seen


def test_five_minute_cache_serves_unchanged_files_without_refetching(page, site: Site):  # noqa: ANN001
    seen = data_requests(page)
    open_tab(page, site, "sales")
    first = [u for u in seen if "manifest.json" not in u]
    assert any("payment_modes.json" in u for u in first)
    keys = page.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.startsWith('retailmart:v1:'))"
    )
    sha = site.manifest()["files"]["sales/payment_modes.json"]["sha256"]
    assert f"retailmart:v1:sales/payment_modes.json:{sha}" in keys

    seen.clear()
    page.reload()
    page.wait_for_function(PANEL_SETTLED, arg="sales")
    assert [u for u in seen if "manifest.json" not in u] == []  # all from the cache
    assert sum("manifest.json" in u for u in seen) == 1  # the manifest is always re-read

    # Six minutes later the entries have expired: the files are fetched again.
    page.evaluate(
        """() => { for (const k of Object.keys(localStorage)) if (k.startsWith('retailmart:v1:')) {
             const e = JSON.parse(localStorage.getItem(k)); e.storedAt -= 6 * 60 * 1000;
             localStorage.setItem(k, JSON.stringify(e)); } }"""
    )
    seen.clear()
    page.reload()
    page.wait_for_function(PANEL_SETTLED, arg="sales")
    assert any("payment_modes.json" in u for u in seen)


def test_auto_refresh_reloads_only_the_changed_file(page, site: Site):  # noqa: ANN001
    open_tab(page, site, "sales", query="?refresh=1")
    page.check("#auto-refresh")
    assert page.evaluate("() => localStorage.getItem('retailmart:autoRefresh')") == "1"
    seen = data_requests(page)
    payload = site.payload("sales/payment_modes.json")
    payload["rows"][0]["paymentMode"] = "UPI (updated)"
    refreshes = int(page.evaluate("() => document.documentElement.dataset.refreshes || '0'"))
    site.write("sales/payment_modes.json", payload)
    page.wait_for_function(
        "(n) => Number(document.documentElement.dataset.refreshes || 0) > n", arg=refreshes
    )
    page.wait_for_function(
        "() => document.querySelector('[data-widget=sales-payments] tbody td').textContent === 'UPI (updated)'"
    )
    files = {re.sub(r"^.*/data/|\?.*$", "", u) for u in seen}
    assert files - {"manifest.json"} == {"sales/payment_modes.json"}
    assert "Updated 1 file" in page.inner_text("#refresh-status")
    # Off again: no more manifest reads.
    page.uncheck("#auto-refresh")
    page.wait_for_timeout(300)  # a check already under way may finish
    seen.clear()
    time.sleep(1.5)
    assert seen == []


def test_refresh_button_when_nothing_changed(page, site: Site):  # noqa: ANN001
    open_tab(page, site, "sales")
    seen = data_requests(page)
    page.click("#refresh-now")
    page.wait_for_function("() => document.documentElement.dataset.refreshes === '1'")
    assert [re.sub(r"^.*/data/|\?.*$", "", u) for u in seen] == ["manifest.json"]
    assert "Up to date" in page.inner_text("#refresh-status")


# ------------------------------------------------------------------------------- formatting, dates
def test_indian_currency_formatting(page, site: Site):  # noqa: ANN001
    open_tab(page, site, "executive")
    got = page.evaluate(
        """async () => {
          const f = await import('./js/format.js');
          return [f.formatINR(12500000), f.formatINR(340000), f.formatINR(45678.4), f.formatINR(812.5),
                  f.formatINR(0), f.formatINR(-2359805.29), f.formatINRFull(1234567.5), f.formatCount(12345678),
                  f.formatINR(null)];
        }"""
    )
    assert got == [
        "₹1.25 Cr",
        "₹3.4 L",
        "₹45,678",
        "₹812.50",
        "₹0",
        f"{MINUS}₹23.6 L",
        "₹12,34,567.50",
        "1,23,45,678",
        "—",
    ]
    summary = site.payload("sales/executive_summary.json")
    all_time = next(r for r in summary["rows"] if r["period"] == "all_time")
    assert page.evaluate(CARD_VALUE, ["exec-kpis", "revenue-all"]) == inr(all_time["revenue"])
    assert page.evaluate(CARD_VALUE, ["exec-kpis", "orders-all"]) == count(all_time["orders"])


@pytest.mark.parametrize("timezone", ["America/Los_Angeles", "Pacific/Kiritimati"])
def test_dates_are_not_shifted_by_the_timezone(new_page, console_errors, site: Site, timezone: str):  # noqa: ANN001
    page = new_page(viewport={"width": 1280, "height": 900}, timezone_id=timezone)
    open_tab(page, site, "executive")
    ref = site.manifest()["referenceDate"]
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == timezone
    assert page.inner_text("#as-of") == calendar_date(ref)
    assert page.evaluate(CARD_VALUE, ["exec-kpis", "as-of"]) == calendar_date(ref)
    summary = site.payload("sales/executive_summary.json")
    all_time = next(r for r in summary["rows"] if r["period"] == "all_time")
    period = f"{calendar_date(all_time['periodStart'])} – {calendar_date(all_time['periodEnd'])}"
    assert page.inner_text("[data-widget=exec-kpis] .widget-period") == period
    open_tab(page, site, "sales")
    first_month = site.payload("sales/monthly.json")["rows"][-1]["monthStart"]
    assert page.evaluate(TABLE_OF, "sales-monthly")["rows"][0][0].startswith(
        calendar_date(first_month).split(" ", 1)[1]
    )
    assert console_errors == []


def test_every_widget_says_which_period_it_covers(page, site: Site):  # noqa: ANN001
    for tab in TABS:
        open_tab(page, site, tab)
        for w in page.evaluate(WIDGETS_OF, tab):
            if w["state"] != "ready":
                continue
            period = page.inner_text(f"[data-widget='{w['id']}'] .widget-period")
            assert re.search(r"\d{4}", period), (tab, w["id"], period)


# ------------------------------------------------------------------------------- safety, navigation
def test_data_is_never_inserted_as_html(page, site: Site):  # noqa: ANN001
    for path in (DASHBOARD / "js").rglob("*.js"):
        source = path.read_text()
        for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert api not in source, f"{path.name} uses {api}"
    payload = site.payload("sales/payment_modes.json")
    payload["rows"][0]["paymentMode"] = '<img src=x onerror="window.pwned=1">UPI'
    site.write("sales/payment_modes.json", payload)
    open_tab(page, site, "sales")
    cell = page.inner_text("[data-widget=sales-payments] tbody td")
    assert cell == payload["rows"][0]["paymentMode"]
    assert page.locator("[data-widget=sales-payments] img").count() == 0
    assert page.evaluate("() => window.pwned") is None


def test_only_local_requests_and_no_cdn(page, site: Site):  # noqa: ANN001
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url))
    for tab in TABS:
        open_tab(page, site, tab)
    assert urls and all(u.startswith(site.url) for u in urls), [
        u for u in urls if not u.startswith(site.url)
    ]
    html = (DASHBOARD / "index.html").read_text()
    assert "node_modules/chart.js/dist/chart.umd.js" in html
    assert not re.search(r"(src|href)=\"https?:", html)
    lock = json.loads((DASHBOARD / "package-lock.json").read_text())
    assert "node_modules/chart.js" in lock["packages"]


def test_keyboard_moves_between_tabs(page, site: Site):  # noqa: ANN001
    open_tab(page, site, "executive")
    page.focus("#tab-executive")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(PANEL_SETTLED, arg="sales")
    assert page.get_attribute("#tab-sales", "aria-selected") == "true"
    assert page.url.endswith("#sales")
    page.keyboard.press("End")
    page.wait_for_function(PANEL_SETTLED, arg="marketing")
    assert page.get_attribute("#tab-marketing", "aria-selected") == "true"
