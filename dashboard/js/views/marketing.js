// Marketing tab: ROI summary, campaign ROI, channels, e-mail engagement, promotion effectiveness.

import { chart, cols, count, date, findRow, inr, month, pct, rowPeriod, text } from "./common.js";

function roiSummary(ctx, data) {
  const all = findRow(data.rows, "period", "all_time");
  const period = rowPeriod(all, "periodStart", "periodEnd");
  const parts = [
    ctx.cards([
      { id: "budget", label: "Budget", value: inr(all.budget), sub: `${count(all.campaigns)} campaigns`, period },
      { id: "spend", label: "Spend", value: inr(all.spend), sub: `${pct(all.budgetUtilizationPct)} of budget`, period },
      { id: "conversions", label: "Conversions", value: count(all.conversions), sub: `${pct(all.conversionRatePct)} of ${count(all.clicks)} clicks`, period },
      { id: "cpa", label: "Cost per conversion", value: inr(all.cpa), sub: `CPC ${inr(all.cpc)}`, period },
      { id: "attributed", label: "Attributed revenue", value: inr(all.attributedRevenue), sub: `${count(all.attributedOrders)} orders`, period },
      { id: "roi", label: "ROI", value: pct(all.roiPct), delta: { text: all.roiPct >= 0 ? "returns more than spend" : "below spend", good: all.roiPct >= 0 }, period },
    ]),
  ];
  const years = data.rows.filter((r) => r.period !== "all_time");
  if (years.length) {
    parts.push(
      ctx.table({
        rows: years,
        rowKey: (r) => r.period,
        columns: cols([
          ["period", "Period", (v, r) => rowPeriod(r, "periodStart", "periodEnd"), false],
          ["budget", "Budget", inr],
          ["spend", "Spend", inr],
          ["conversions", "Conversions", count],
          ["attributedRevenue", "Attributed revenue", inr],
          ["roiPct", "ROI", pct],
        ]),
      }),
    );
  }
  if (data.attributionWindowDays != null) {
    parts.push(ctx.note(`Revenue attributed to the campaign of the customer's last e-mail click within ${data.attributionWindowDays} days before the order.`));
  }
  return parts;
}

function campaigns(ctx, data) {
  const rows = data.rows;
  const top = rows.slice(0, 10);
  const parts = [
    ctx.chart(
      chart(
        "bar",
        top.map((r) => r.campaignName),
        [
          { label: "Spend", data: top.map((r) => r.spend) },
          { label: "Attributed revenue", data: top.map((r) => r.attributedRevenue), color: "#16a34a" },
        ],
        { y: "inr", horizontal: true },
      ),
      { label: "Spend and attributed revenue of the largest campaigns", height: 80 + 34 * top.length },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.campaignId,
      columns: cols([
        ["rank", "#", count],
        ["campaignName", "Campaign", text, false, "wrap"],
        ["startDate", "Start", date, false],
        ["spend", "Spend", inr],
        ["conversions", "Conversions", count],
        ["cpa", "CPA", inr],
        ["attributedRevenue", "Attributed", inr],
        ["roiPct", "ROI", pct],
      ]),
    }),
  ];
  if (data.attribution && data.attribution.method) parts.push(ctx.note(`Attribution: ${data.attribution.method}.`));
  return parts;
}

function channels(ctx, data) {
  const rows = data.rows;
  const parts = [
    ctx.chart(
      chart(
        "bar",
        rows.map((r) => r.channel),
        [
          { label: "Spend", data: rows.map((r) => r.spend) },
          { label: "Conversion rate %", data: rows.map((r) => r.conversionRatePct), type: "line", yAxisID: "y2", color: "#f59e0b", pointRadius: 3 },
        ],
        { y: "inr", y2: "pct" },
      ),
      { label: "Spend and conversion rate by channel" },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.channel,
      columns: cols([
        ["channel", "Channel", text, false],
        ["spend", "Spend", inr],
        ["clicks", "Clicks", count],
        ["conversions", "Conversions", count],
        ["cpc", "CPC", inr],
        ["cpa", "CPA", inr],
      ]),
    }),
  ];
  if (data.clickThroughRateNote) parts.push(ctx.note(data.clickThroughRateNote));
  return parts;
}

function email(ctx, data) {
  const rows = data.rows;
  const byCampaign = Array.isArray(data.campaigns) ? data.campaigns : [];
  return [
    ctx.chart(
      chart(
        "line",
        rows.map((r) => month(r.sentMonth)),
        [
          { label: "Open rate %", data: rows.map((r) => r.openRatePct), pointRadius: 2 },
          { label: "Click rate %", data: rows.map((r) => r.clickRatePct), pointRadius: 2 },
          { label: "Click-to-open rate %", data: rows.map((r) => r.clickToOpenRatePct), pointRadius: 2 },
        ],
        { y: "pct" },
      ),
      { label: "E-mail engagement by month" },
    ),
    byCampaign.length
      ? ctx.table({
          caption: "By campaign (most e-mails sent first)",
          rows: byCampaign,
          limit: 10,
          rowKey: (r) => r.campaignId,
          columns: cols([
            ["campaignName", "Campaign", text, false, "wrap"],
            ["sent", "Sent", count],
            ["openRatePct", "Open", pct],
            ["clickRatePct", "Click", pct],
            ["clickToOpenRatePct", "CTOR", pct],
          ]),
        })
      : null,
  ];
}

function promotions(ctx, data) {
  const rows = data.rows;
  const s = data.summary || {};
  const top = rows.slice(0, 10);
  return [
    ctx.cards([
      { id: "promotions", label: "Promotions", value: count(s.promotions) },
      { id: "positive", label: "With revenue uplift", value: count(s.positiveUplift) },
    ]),
    ctx.chart(
      chart("bar", top.map((r) => r.promoName), [{ label: "Revenue uplift %", data: top.map((r) => r.revenueUpliftPct) }], {
        y: "pct",
        horizontal: true,
        legend: false,
      }),
      { label: "Revenue uplift of the leading promotions", height: 60 + 26 * top.length },
    ),
    ctx.table({
      rows,
      rowKey: (r) => r.promoId,
      columns: cols([
        ["rank", "#", count],
        ["promoName", "Promotion", text, false, "wrap"],
        ["startDate", "From", date, false],
        ["discountPercent", "Discount", pct],
        ["promoAvgDailyRevenue", "Revenue/day", inr],
        ["baselineAvgDailyRevenue", "Baseline/day", inr],
        ["revenueUpliftPct", "Uplift", pct],
      ]),
    }),
    data.baselineWindowDays != null
      ? ctx.note(`Baseline: average daily revenue of comparable days within ${data.baselineWindowDays} days before the promotion.`)
      : null,
  ];
}

export const MARKETING_WIDGETS = [
  { id: "marketing-roi", title: "Marketing ROI", file: "marketing/roi_summary.json", size: "full", render: roiSummary },
  { id: "marketing-campaigns", title: "Campaign ROI", file: "marketing/campaigns.json", size: "wide", render: campaigns },
  { id: "marketing-channels", title: "Channels", file: "marketing/channels.json", render: channels },
  { id: "marketing-email", title: "E-mail engagement", file: "marketing/email_engagement.json", render: email },
  { id: "marketing-promotions", title: "Promotion effectiveness", file: "marketing/promotions.json", size: "wide", render: promotions },
];
