// Helpers shared by the tab layouts.

import {
  formatCount,
  formatDate,
  formatGrowth,
  formatINR,
  formatINRFull,
  formatMonth,
  formatNumber,
  formatPct,
  formatPeriod,
  formatShortDate,
  guessFormatter,
  humanize,
} from "../format.js";
import { chartConfig } from "../widgets.js";

export {
  formatCount,
  formatDate,
  formatGrowth,
  formatINR,
  formatINRFull,
  formatMonth,
  formatNumber,
  formatPct,
  formatPeriod,
  formatShortDate,
  guessFormatter,
  humanize,
};

/** A Chart.js config: chart("bar", labels, [{label, data, type?, color?}], {y: "inr", stacked}). */
export function chart(type, labels, datasets, options = {}) {
  return chartConfig({ type, labels, datasets, ...options });
}

/** "1 Sep – 1 Oct 2025"-style label of a row's own start/end dates. */
export function rowPeriod(row, fromKey, toKey) {
  return formatPeriod({ from: row[fromKey], to: row[toKey] });
}

export function sum(rows, key) {
  return rows.reduce((acc, row) => acc + (typeof row[key] === "number" ? row[key] : 0), 0);
}

/** Growth delta for a KPI card ("+21.2% vs previous 30 days"); good = direction is favourable. */
export function delta(value, against, higherIsBetter = true) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return {
    text: `${formatGrowth(value)} ${against}`,
    good: value === 0 ? null : value > 0 === higherIsBetter,
  };
}

/** The first row whose `key` equals `value`, or throws (so a changed export shows an error state). */
export function findRow(rows, key, value) {
  const row = rows.find((r) => r[key] === value);
  if (!row) throw new Error(`no row with ${key} = ${value}`);
  return row;
}

/** Groups rows by a key, keeping first-seen order. */
export function groupBy(rows, key) {
  const groups = new Map();
  for (const row of rows) {
    const k = row[key];
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(row);
  }
  return groups;
}

/** Distinct values of a key in first-seen order. */
export function distinct(rows, key) {
  return [...new Set(rows.map((r) => r[key]))];
}

/** Table columns from a compact list: [key, label, formatter, num, "wrap"] ("wrap": long text). */
export function cols(list) {
  return list.map(([key, label, format, num, wrap]) => ({
    key,
    label,
    format,
    num: num ?? (format && format !== String),
    wrap: wrap === "wrap",
  }));
}

/** Text for an identifier-ish value (segment names, tiers). */
export function text(value) {
  return value == null ? "—" : String(value);
}

export const inr = formatINR;
export const inrFull = formatINRFull;
export const count = formatCount;
export const pct = (v) => formatPct(v, 1);
export const num = (v) => formatNumber(v, 2);
export const date = formatDate;
export const days = (v) => (typeof v === "number" ? `${formatNumber(v, 2)} d` : "—");
export const month = formatMonth;
