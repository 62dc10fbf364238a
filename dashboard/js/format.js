// Formatting for the dashboard: Indian currency (₹, lakh, crore), en-IN digit grouping, and
// calendar dates that no browser timezone can shift.
//
// Calendar dates in the data ("2025-10-01") are parsed into {year, month, day} and formatted as UTC,
// so "1 Oct 2025" reads the same in Kolkata and Los Angeles. Only true instants (the manifest's
// generatedAt, an ISO timestamp with an offset) are shown in the reader's local time.

const LAKH = 1e5;
const CRORE = 1e7;
const DASH = "—";

const groupedInteger = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 });
const groupedMoney = new Intl.NumberFormat("en-IN", {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const compactUnits = new Intl.NumberFormat("en-IN", {
  minimumFractionDigits: 0,
  maximumFractionDigits: 2,
});

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function sign(value) {
  return value < 0 ? "−" : "";
}

/** Compact rupees: ₹1.25 Cr, ₹3.4 L, ₹45,678 (whole rupees below a lakh), ₹812.50 below ₹1,000, ₹0. */
export function formatINR(value) {
  if (!isNumber(value)) return DASH;
  const abs = Math.abs(value);
  if (abs >= CRORE) return `${sign(value)}₹${compactUnits.format(abs / CRORE)} Cr`;
  if (abs >= LAKH) return `${sign(value)}₹${compactUnits.format(abs / LAKH)} L`;
  if (abs >= 1000 || Number.isInteger(abs)) return `${sign(value)}₹${groupedInteger.format(abs)}`;
  return `${sign(value)}₹${groupedMoney.format(abs)}`;
}

/** Full rupees with en-IN grouping and paise: ₹1,23,45,678.50. */
export function formatINRFull(value) {
  if (!isNumber(value)) return DASH;
  return `${sign(value)}₹${groupedMoney.format(Math.abs(value))}`;
}

/** A count with en-IN grouping: 1,23,456. */
export function formatCount(value) {
  if (!isNumber(value)) return DASH;
  return `${sign(value)}${groupedInteger.format(Math.abs(value))}`;
}

/** A plain number with en-IN grouping and at most `digits` decimals. */
export function formatNumber(value, digits = 2) {
  if (!isNumber(value)) return DASH;
  const fmt = new Intl.NumberFormat("en-IN", { maximumFractionDigits: digits });
  return `${sign(value)}${fmt.format(Math.abs(value))}`;
}

/** A percentage that is already in percent units (41.17 → "41.17%"). */
export function formatPct(value, digits = 1) {
  if (!isNumber(value)) return DASH;
  return `${sign(value)}${Math.abs(value).toFixed(digits)}%`;
}

/** A growth percentage with its direction: "+12.3%", "−4.0%". */
export function formatGrowth(value, digits = 1) {
  if (!isNumber(value)) return DASH;
  return `${value > 0 ? "+" : ""}${formatPct(value, digits)}`;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "2025-10-01" → {year: 2025, month: 10, day: 1}; null for anything else. No Date, no timezone. */
export function parseCalendarDate(text) {
  if (typeof text !== "string") return null;
  const match = ISO_DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return null;
  return { year, month, day };
}

function utcDate(parts) {
  return new Date(Date.UTC(parts.year, parts.month - 1, parts.day));
}

const dateFormat = new Intl.DateTimeFormat("en-IN", {
  day: "numeric",
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});
const shortDateFormat = new Intl.DateTimeFormat("en-IN", {
  day: "numeric",
  month: "short",
  timeZone: "UTC",
});
const monthFormat = new Intl.DateTimeFormat("en-IN", {
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});

/** "2025-10-01" → "1 Oct 2025" (the same in every timezone). */
export function formatDate(text) {
  const parts = parseCalendarDate(text);
  return parts ? dateFormat.format(utcDate(parts)) : DASH;
}

/** "2025-10-01" → "1 Oct" (chart axes). */
export function formatShortDate(text) {
  const parts = parseCalendarDate(text);
  return parts ? shortDateFormat.format(utcDate(parts)) : DASH;
}

/** "2025-10-01" → "Oct 2025". */
export function formatMonth(text) {
  const parts = parseCalendarDate(text);
  return parts ? monthFormat.format(utcDate(parts)) : DASH;
}

/** A period {from, to} of calendar dates → "1 Jan 2024 – 1 Oct 2025" (or one date). */
export function formatPeriod(period) {
  if (!period || typeof period !== "object") return "";
  const from = parseCalendarDate(period.from);
  const to = parseCalendarDate(period.to);
  if (from && to) {
    return period.from === period.to
      ? formatDate(period.from)
      : `${formatDate(period.from)} – ${formatDate(period.to)}`;
  }
  if (to) return `up to ${formatDate(period.to)}`;
  if (from) return `from ${formatDate(period.from)}`;
  return "";
}

/** An instant (ISO timestamp with offset) in the reader's local time, with its zone. */
export function formatTimestamp(text) {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}T/.test(text)) return DASH;
  const when = new Date(text);
  if (Number.isNaN(when.getTime())) return DASH;
  return new Intl.DateTimeFormat("en-IN", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(when);
}

/** camelCase field name → "Camel case" column heading (generic tables). */
export function humanize(key) {
  const words = String(key)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/_/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** How a field of an export without a layout is shown, guessed from its name. */
export function guessKind(key) {
  const k = String(key).toLowerCase();
  if (/(pct|percent|rate|share|margin)$/.test(k)) return "pct";
  if (/(date|month|start|end|seen|from|to|at)$/.test(k)) return "date";
  if (/(count|orders|units|score|rank|days|quantity|customers|items)$/.test(k)) return "auto";
  if (/(revenue|amount|value|spend|budget|cost|profit|payroll|price|aov|clv|expenses|refunds?|sales|paid|monetary)/.test(k)) {
    return "inr";
  }
  return "auto";
}

export function guessFormatter(key) {
  switch (guessKind(key)) {
    case "pct":
      return (v) => formatPct(v, 2);
    case "inr":
      return formatINR;
    case "date":
      return (v) => (parseCalendarDate(v) ? formatDate(v) : v == null ? DASH : String(v));
    default:
      return (v) => {
        if (isNumber(v)) return Number.isInteger(v) ? formatCount(v) : formatNumber(v);
        if (typeof v === "boolean") return v ? "Yes" : "No";
        if (v == null) return DASH;
        return String(v);
      };
  }
}
