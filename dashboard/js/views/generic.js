// A layout for exports that have no hand-made one yet: summary cards, a bar chart of the first label
// and amount fields, and a table of the rows. New exports show up on their tab without code changes.

import { guessKind } from "../format.js";
import { chart, guessFormatter, humanize } from "./common.js";

const LABEL_HINTS = /(name|segment|tier|category|status|level|channel|mode|reason|region|state|city|type|brand|courier|group|label|title|month|date)$/i;
const VALUE_HINTS = /(revenue|amount|value|spend|profit|sales|clv|customers|orders|units|count|returns)$/i;
const ID_HINTS = /(^id$|Id$|rank|year|^month$|quarter|score$)/;
const MAX_TABLE_ROWS = 25;
const MAX_BARS = 15;

function scalarKeys(rows) {
  const keys = [];
  for (const row of rows.slice(0, 5)) {
    for (const [key, value] of Object.entries(row)) {
      if (!keys.includes(key) && (value === null || typeof value !== "object")) keys.push(key);
    }
  }
  return keys;
}

export function pickFields(rows) {
  const keys = scalarKeys(rows);
  const typeOf = (key) => {
    const sample = rows.find((r) => r[key] != null);
    return sample ? typeof sample[key] : "undefined";
  };
  const strings = keys.filter((k) => typeOf(k) === "string");
  const numbers = keys.filter((k) => typeOf(k) === "number" && !ID_HINTS.test(k));
  const labelKey = strings.find((k) => LABEL_HINTS.test(k)) || strings[0] || null;
  const valueKey = numbers.find((k) => VALUE_HINTS.test(k)) || numbers[0] || null;
  return { keys, labelKey, valueKey };
}

export function genericRender(ctx, data) {
  const rows = data.rows;
  const parts = [];
  if (data.summary && typeof data.summary === "object" && !Array.isArray(data.summary)) {
    const items = Object.entries(data.summary)
      .filter(([, v]) => v === null || typeof v !== "object")
      .slice(0, 8)
      .map(([k, v]) => ({ id: k, label: humanize(k), value: guessFormatter(k)(v) }));
    if (items.length) parts.push(ctx.cards(items));
  }
  const { keys, labelKey, valueKey } = pickFields(rows);
  if (labelKey && valueKey) {
    const shown = rows.slice(0, MAX_BARS);
    const fmtLabel = guessFormatter(labelKey);
    const money = guessKind(valueKey) === "inr";
    parts.push(
      ctx.chart(
        chart(
          "bar",
          shown.map((r) => fmtLabel(r[labelKey])),
          [{ label: humanize(valueKey), data: shown.map((r) => r[valueKey]) }],
          { y: money ? "inr" : "number", legend: false, horizontal: shown.length > 6 },
        ),
        { label: `${humanize(valueKey)} by ${humanize(labelKey).toLowerCase()}`, height: shown.length > 6 ? 40 + 22 * shown.length : undefined },
      ),
    );
  }
  parts.push(
    ctx.table({
      rows,
      limit: MAX_TABLE_ROWS,
      columns: keys.slice(0, 8).map((k) => ({
        key: k,
        label: humanize(k),
        format: guessFormatter(k),
        num: rows.some((r) => typeof r[k] === "number"),
      })),
    }),
  );
  return parts;
}

export function genericWidget(file) {
  const base = file.replace(/^.*\//, "").replace(/\.json$/, "");
  return {
    id: `auto-${file.replace(/\.json$/, "").replace(/[^a-z0-9]+/gi, "-")}`,
    title: humanize(base),
    file,
    size: "wide",
    generic: true,
    render: genericRender,
  };
}
