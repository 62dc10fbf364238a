// The dashboard: tabs, header (freshness, data quality, alert bell), auto-refresh.

import { ALERTS_FILE, renderAlertsDialog, renderBell } from "./alerts.js";
import { clear, el } from "./dom.js";
import { formatDate, formatTimestamp } from "./format.js";
import { QUALITY_FILE, freshnessLines, manifestPayload, qualitySummary } from "./quality.js";
import { DataStore } from "./store.js";
import { genericWidget } from "./views/generic.js";
import { EXECUTIVE_WIDGETS } from "./views/executive.js";
import { TABS } from "./views/index.js";
import { Widget } from "./widgets.js";

const MANIFEST = "manifest.json";
const AUTO_REFRESH_KEY = "retailmart:autoRefresh";
const params = new URLSearchParams(window.location.search);
// Auto-refresh period in seconds: 60 by default, ?refresh=N to change it (1 to 3600).
const REFRESH_SECONDS = Math.min(3600, Math.max(1, Number(params.get("refresh")) || 60));

const store = new DataStore();
const tabs = new Map(); // id → {tab, button, panel, grid, widgets, rendered, generation, files, stale}
let activeId = null;
let refreshTimer = null;
let refreshing = null;
let refreshCount = 0;
let alertsPayload = { state: "loading" };
let qualityPayload = { state: "loading" };

const $ = (id) => document.getElementById(id);

function domainFiles(domain) {
  return store.files().filter((f) => f.startsWith(`${domain}/`)).sort();
}

function specsFor(tab) {
  if (!tab.domain) return tab.widgets;
  const claimed = new Set(tab.widgets.map((w) => w.file));
  return [...tab.widgets, ...domainFiles(tab.domain).filter((f) => !claimed.has(f)).map(genericWidget)];
}

async function loadWidget(widget) {
  try {
    const payload = widget.spec.file === MANIFEST ? manifestPayload(store.manifest) : await store.get(widget.spec.file);
    widget.render(payload);
  } catch (err) {
    widget.fail(err);
  }
}

async function renderTab(id) {
  const st = tabs.get(id);
  const generation = ++st.generation;
  st.rendered = true;
  st.stale.clear();
  for (const w of st.widgets) w.destroyCharts();
  clear(st.grid);
  st.panel.dataset.state = "loading";
  st.panel.setAttribute("aria-busy", "true");
  if (!store.manifest) {
    st.widgets = [];
    st.grid.append(
      el("div", { class: "state state--error tab-state", attrs: { role: "alert" } }, el("strong", { text: "No data" }), el("span", { text: $("global-error").textContent || "manifest.json could not be read." })),
    );
    st.panel.dataset.state = "error";
    st.panel.setAttribute("aria-busy", "false");
    return;
  }
  st.files = st.tab.domain ? domainFiles(st.tab.domain).join("|") : "";
  if (st.tab.domain && !st.files) {
    st.widgets = [];
    st.grid.append(
      el(
        "div",
        { class: "state state--nodata tab-state", dataset: { tabEmpty: st.tab.domain } },
        el("strong", { text: `No ${st.tab.label} data yet` }),
        el("span", {
          text: `The pipeline has not exported any ${st.tab.domain}/*.json file yet. This tab fills in after the next refresh that writes them.`,
        }),
      ),
    );
    st.panel.dataset.state = "nodata";
    st.panel.setAttribute("aria-busy", "false");
    return;
  }
  st.widgets = specsFor(st.tab).map((spec) => new Widget(spec));
  st.grid.append(...st.widgets.map((w) => w.node));
  await Promise.all(st.widgets.map(loadWidget));
  if (generation === st.generation) {
    st.panel.dataset.state = "ready";
    st.panel.setAttribute("aria-busy", "false");
  }
}

/** Re-draws only the widgets of a rendered tab whose file changed. */
async function refreshTab(id, changed) {
  const st = tabs.get(id);
  const files = st.tab.domain ? domainFiles(st.tab.domain).join("|") : "";
  if (files !== st.files || !st.widgets.length) return renderTab(id);
  const todo = st.widgets.filter((w) => changed.has(w.spec.file));
  if (!todo.length) return undefined;
  st.panel.dataset.state = "loading";
  await Promise.all(todo.map(loadWidget));
  st.panel.dataset.state = "ready";
  return undefined;
}

function activate(id, { focus = false, push = true } = {}) {
  if (!tabs.has(id)) id = TABS[0].id;
  activeId = id;
  for (const [tid, st] of tabs) {
    const on = tid === id;
    st.button.setAttribute("aria-selected", on ? "true" : "false");
    st.button.tabIndex = on ? 0 : -1;
    st.panel.hidden = !on;
  }
  const st = tabs.get(id);
  if (focus) st.button.focus();
  if (push && window.location.hash !== `#${id}`) history.replaceState(null, "", `#${id}`);
  document.title = `${st.tab.label} · RetailMart dashboard`;
  if (!st.rendered) renderTab(id);
  else if (st.stale.size) {
    const changed = new Set(st.stale);
    st.stale.clear();
    refreshTab(id, changed);
  }
}

function buildTabs() {
  const list = $("tablist");
  const panels = $("panels");
  for (const tab of TABS) {
    const button = el("button", {
      type: "button",
      class: "tab",
      id: `tab-${tab.id}`,
      dataset: { tab: tab.id },
      attrs: { role: "tab", "aria-controls": `panel-${tab.id}`, "aria-selected": "false" },
      text: tab.label,
      onclick: () => activate(tab.id),
    });
    const grid = el("div", { class: "grid" });
    const panel = el(
      "section",
      {
        class: "panel",
        id: `panel-${tab.id}`,
        dataset: { panel: tab.id, state: "idle" },
        attrs: { role: "tabpanel", "aria-labelledby": `tab-${tab.id}`, tabindex: "-1" },
        hidden: true,
      },
      el("h2", { class: "panel-title", text: tab.label }),
      grid,
    );
    list.append(button);
    panels.append(panel);
    tabs.set(tab.id, { tab, button, panel, grid, widgets: [], rendered: false, generation: 0, files: "", stale: new Set() });
  }
  list.addEventListener("keydown", (event) => {
    const ids = TABS.map((t) => t.id);
    const at = ids.indexOf(activeId);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: ids.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    activate(ids[(moves[event.key] + ids.length) % ids.length], { focus: true });
  });
  window.addEventListener("hashchange", () => activate(window.location.hash.slice(1), { push: false }));
}

// ------------------------------------------------------------------ header: alerts and quality
async function loadSpecial(file) {
  if (!store.has(file)) return { state: "nodata" };
  try {
    return { state: "ready", payload: await store.get(file) };
  } catch (err) {
    return { state: "error", message: err.message };
  }
}

async function loadAlerts() {
  alertsPayload = await loadSpecial(ALERTS_FILE);
  renderBell($("alert-bell"), alertsPayload.state, alertsPayload.payload, alertsPayload.message);
  if ($("alerts-dialog").open) renderAlertsDialog($("alerts-body"), alertsPayload.state, alertsPayload.payload, alertsPayload.message);
}

async function loadQuality() {
  qualityPayload = await loadSpecial(QUALITY_FILE);
  const chip = $("quality-summary");
  chip.textContent = qualitySummary(qualityPayload.state, qualityPayload.payload);
  $("quality-chip").dataset.quality = qualityPayload.state;
  if (qualityPayload.state === "ready") {
    chip.dataset.failing = String(chip.textContent.includes("failing"));
  }
  if ($("quality-dialog").open) fillQualityDialog();
}

function fillQualityDialog() {
  const body = $("quality-body");
  clear(body);
  if (!store.manifest) {
    body.append(el("p", { class: "state state--error", text: $("global-error").textContent }));
    return;
  }
  body.append(...freshnessLines(store.manifest));
  const spec = EXECUTIVE_WIDGETS.find((w) => w.id === "exec-quality");
  const widget = new Widget({ ...spec, id: "dialog-quality", title: "Checks failing" });
  body.append(widget.node);
  if (qualityPayload.state === "ready") widget.render(qualityPayload.payload);
  else if (qualityPayload.state === "nodata") widget.fail({ kind: "unexported", file: QUALITY_FILE });
  else widget.fail({ message: qualityPayload.message || "loading" });
}

function updateHeader() {
  const m = store.manifest;
  $("as-of").textContent = m ? formatDate(m.referenceDate) : "—";
  $("last-refresh").textContent = m ? formatTimestamp(m.generatedAt) : "—";
  document.documentElement.dataset.referenceDate = m && m.referenceDate ? m.referenceDate : "";
}

function setStatus(text) {
  $("refresh-status").textContent = text;
}

function clock() {
  return new Intl.DateTimeFormat("en-IN", { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date());
}

// ------------------------------------------------------------------ refresh
/** Re-reads the manifest and reloads only the files whose content hash changed. */
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    let changed;
    try {
      changed = await store.loadManifest();
      $("global-error").hidden = true;
    } catch (err) {
      setStatus(`Could not check for new data: ${err.message}`);
      return;
    }
    updateHeader();
    if (changed.size) {
      changed.add(MANIFEST);
      for (const [id, st] of tabs) {
        if (!st.rendered) continue;
        if (id === activeId) await refreshTab(id, changed);
        else changed.forEach((f) => st.stale.add(f));
      }
      if (changed.has(ALERTS_FILE)) await loadAlerts();
      if (changed.has(QUALITY_FILE)) await loadQuality();
    }
    const n = changed.size ? changed.size - 1 : 0;
    setStatus(n ? `Updated ${n} file${n === 1 ? "" : "s"} at ${clock()}` : `Up to date · checked at ${clock()}`);
  })();
  try {
    await refreshing;
  } finally {
    refreshing = null;
    refreshCount += 1;
    document.documentElement.dataset.refreshes = String(refreshCount);
  }
  return undefined;
}

function setAutoRefresh(on) {
  const box = $("auto-refresh");
  box.checked = on;
  try {
    window.localStorage.setItem(AUTO_REFRESH_KEY, on ? "1" : "0");
  } catch {
    // storage disabled: the toggle still works for this page
  }
  if (refreshTimer) clearInterval(refreshTimer);
  refreshTimer = on ? setInterval(refresh, REFRESH_SECONDS * 1000) : null;
  document.documentElement.dataset.autoRefresh = on ? "on" : "off";
  $("auto-refresh-label").title = on ? `Checks for new data every ${REFRESH_SECONDS} s` : "Off";
}

function wireHeader() {
  $("refresh-now").addEventListener("click", () => refresh());
  let stored = "0";
  try {
    stored = window.localStorage.getItem(AUTO_REFRESH_KEY) || "0";
  } catch {
    stored = "0";
  }
  $("auto-refresh").addEventListener("change", (e) => setAutoRefresh(e.target.checked));
  setAutoRefresh(stored === "1");
  $("alert-bell").addEventListener("click", () => {
    renderAlertsDialog($("alerts-body"), alertsPayload.state, alertsPayload.payload, alertsPayload.message);
    $("alerts-dialog").showModal();
  });
  $("quality-chip").addEventListener("click", () => {
    fillQualityDialog();
    $("quality-dialog").showModal();
  });
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close(); // click on the backdrop
    });
  }
}

async function boot() {
  buildTabs();
  wireHeader();
  try {
    await store.loadManifest();
  } catch (err) {
    const banner = $("global-error");
    banner.textContent = `The dashboard data could not be read: ${err.message}`;
    banner.hidden = false;
  }
  updateHeader();
  activate(window.location.hash.slice(1) || TABS[0].id, { push: false });
  await Promise.all([loadAlerts(), loadQuality()]);
  document.documentElement.dataset.booted = "true";
}

boot();
