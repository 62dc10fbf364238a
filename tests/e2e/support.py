"""Helpers for the browser tests: an independent Indian-number formatter (to compare what the page
prints with the JSON), a local HTTP server for the dashboard, and page probes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from retailmart_dagster.cli import dashboard_handler

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
TABS = ["executive", "sales", "customers", "products", "stores", "operations", "marketing"]
MINUS = "\u2212"


# A small alerts.json in the shape the dashboard expects (dashboard/README.md), used when the
# pipeline does not write one yet.
ALERTS_FIXTURE = {
    "generatedAt": "2025-10-01T06:00:00+00:00",
    "referenceDate": None,  # filled from the manifest
    "counts": {"critical": 2, "warning": 3, "info": 1},
    "rows": [
        {
            "alertType": "critical_inventory",
            "severity": "critical",
            "title": "Critical stock: Dell Laptop Neo 419 at RetailMart Mumbai",
            "detail": "4 units left (critical level 10)",
            "firstSeen": "2025-09-29",
            "lastSeen": "2025-10-01",
        },
        {
            "alertType": "high_value_churn",
            "severity": "critical",
            "title": "Platinum customer inactive for 163 days",
            "detail": "Arjun Mehta: last order 21 Apr 2025 (limit 60 days)",
            "firstSeen": "2025-09-01",
            "lastSeen": "2025-10-01",
        },
        {
            "alertType": "shipment_delay",
            "severity": "warning",
            "title": "12 orders not shipped within 3 days",
            "detail": "Oldest: order #6871, 9 days",
            "firstSeen": "2025-09-30",
            "lastSeen": "2025-10-01",
        },
        {
            "alertType": "elevated_return_rate",
            "severity": "warning",
            "title": "Returns at 18.2% in Women's Clothing",
            "detail": "Threshold 15%",
            "firstSeen": "2025-09-15",
            "lastSeen": "2025-10-01",
        },
        {
            "alertType": "revenue_anomaly",
            "severity": "warning",
            "title": "Revenue on 28 Sep 2025 at 61% of the 7-day average",
            "detail": "<b>not bold</b> <img src=x onerror=alert(1)>",
            "firstSeen": "2025-09-28",
            "lastSeen": "2025-10-01",
        },
        {
            "alertType": "payment_concentration",
            "severity": "info",
            "title": "UPI carries 41% of recent payments",
            "detail": "Threshold 70%",
            "firstSeen": "2025-10-01",
            "lastSeen": "2025-10-01",
        },
    ],
}


# --------------------------------------------------------------------------- Indian formatting
def group_indian(digits: str) -> str:
    """'12345678' → '1,23,45,678' (last three digits, then pairs)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail]) if head else ",".join([*pairs, tail])


def _round(value: float, places: int) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    return Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP)


def inr_full(value: float) -> str:
    """₹12,34,567.50 (two decimals, Indian grouping)."""
    amount = _round(abs(value), 2)
    whole, _, frac = f"{amount:.2f}".partition(".")
    return f"{MINUS if value < 0 else ''}₹{group_indian(whole)}.{frac}"


def inr(value: float) -> str:
    """₹1.25 Cr, ₹3.4 L, ₹45,678, ₹812.50, ₹0 — what the page prints for compact amounts."""
    sign = MINUS if value < 0 else ""
    a = abs(value)
    if a >= 1e5:
        unit, div = (" Cr", Decimal(10**7)) if a >= 1e7 else (" L", Decimal(10**5))
        scaled = (Decimal(repr(a)) / div).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        text = f"{scaled:.2f}".rstrip("0").rstrip(".")
        return f"{sign}₹{text}{unit}"
    if a >= 1000 or a == int(a):
        return f"{sign}₹{group_indian(str(int(_round(a, 0))))}"
    return f"{sign}₹{_round(a, 2):.2f}"


def count(value: int) -> str:
    return f"{MINUS if value < 0 else ''}{group_indian(str(abs(int(value))))}"


def calendar_date(text: str) -> str:
    """'2025-10-01' → '1 Oct 2025' (en-IN; September is 'Sept' in en-IN)."""
    d = dt.date.fromisoformat(text)
    month = "Sept" if d.month == 9 else d.strftime("%b")
    return f"{d.day} {month} {d.year}"


# --------------------------------------------------------------------------- the served site
@dataclass
class Site:
    """The dashboard served on 127.0.0.1 with its own copy of the data folder."""

    url: str
    data_dir: Path
    server: ThreadingHTTPServer
    thread: threading.Thread
    log: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "manifest.json").read_text())

    def payload(self, relative: str) -> Any:
        return json.loads((self.data_dir / relative).read_text())

    def files(self) -> list[str]:
        return sorted(self.manifest()["files"])

    def write(self, relative: str, data: bytes | str | dict[str, Any] | list[Any]) -> None:
        """Writes a data file and lists it in the manifest (new hash, new generatedAt), as the
        pipeline does."""
        if isinstance(data, dict | list):
            data = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
        raw = data.encode() if isinstance(data, str) else data
        path = self.data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        manifest = self.manifest()
        try:
            rows = len(json.loads(raw).get("rows", []))
        except (ValueError, AttributeError):
            rows = 0
        manifest["files"][relative] = {
            "rows": rows,
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        manifest["files"] = dict(sorted(manifest["files"].items()))
        manifest["generatedAt"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        (self.data_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    def unlist(self, relative: str) -> None:
        """Removes a file and its manifest entry (the export does not exist)."""
        (self.data_dir / relative).unlink(missing_ok=True)
        manifest = self.manifest()
        manifest["files"].pop(relative, None)
        (self.data_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(data_source: Path, workdir: Path) -> Site:
    """Copies the data folder into workdir/data and serves dashboard/ + that copy on a free port."""
    data_dir = workdir / "data"
    shutil.copytree(data_source, data_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), dashboard_handler(DASHBOARD, data_dir))
    server.quiet = True  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="dashboard-http",
        daemon=True,
    )
    thread.start()
    return Site(f"http://127.0.0.1:{server.server_address[1]}/", data_dir, server, thread)


# --------------------------------------------------------------------------- page probes
PANEL_SETTLED = """(tab) => {
  const panel = document.querySelector(`[data-panel="${tab}"]`);
  return panel && ["ready", "nodata", "error"].includes(panel.dataset.state)
    && document.documentElement.dataset.booted === "true";
}"""

# Every chart of a widget: its Chart.js data and how many pixels of its canvas are painted.
CHARTS_OF = """(widgetId) => {
  const out = [];
  const widget = document.querySelector(`[data-widget="${widgetId}"]`);
  for (const canvas of widget.querySelectorAll("canvas")) {
    const chart = window.Chart && window.Chart.getChart(canvas);
    const points = chart ? chart.data.datasets.map((d) => d.data.filter((v) => typeof v === "number" && Number.isFinite(v)).length) : [];
    const nonZero = chart ? chart.data.datasets.some((d) => d.data.some((v) => typeof v === "number" && v !== 0)) : false;
    let painted = 0;
    if (canvas.width && canvas.height) {
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < pixels.length; i += 16) if (pixels[i] > 0) painted += 1;
    }
    out.push({ hasChart: Boolean(chart), labels: chart ? chart.data.labels.length : 0, points, nonZero, painted, width: canvas.width, height: canvas.height });
  }
  return out;
}"""

WIDGETS_OF = """(tab) => [...document.querySelectorAll(`[data-panel="${tab}"] [data-widget]`)].map((w) => ({
  id: w.dataset.widget, file: w.dataset.file, state: w.dataset.state, text: w.innerText.slice(0, 300),
}))"""

TABLE_OF = """(widgetId) => {
  const table = document.querySelector(`[data-widget="${widgetId}"] table`);
  if (!table) return null;
  return {
    head: [...table.querySelectorAll("thead th")].map((th) => th.textContent),
    rows: [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent)),
  };
}"""

TABLES_OF = """(widgetId) => [...document.querySelectorAll(`[data-widget="${widgetId}"] table`)].map((table) => ({
  caption: table.caption ? table.caption.textContent : "",
  head: [...table.querySelectorAll("thead th")].map((th) => th.textContent),
  rows: [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent)),
}))"""

CARD_VALUE = """([widgetId, card]) => {
  const node = document.querySelector(`[data-widget="${widgetId}"] [data-card="${card}"] .card-value`);
  return node ? node.textContent : null;
}"""
