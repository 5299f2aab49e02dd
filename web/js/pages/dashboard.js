// Oversight dashboard for auditors: a year of the bureau (or of one unit) month by month — participation,
// concerns by category, how cases were resolved, time targets — the figures of one month or of the year,
// the external oversight items and the ledger check.
// Months are the bureau's: the page asks oversight which time zone and which month it is
// (GET /statistics/calendar) and never uses the browser's clock or zone, so on the last evening of a month
// it shows the bureau's months. Endpoints (oversight): /statistics/calendar, /statistics/units,
// /statistics?period=YYYY|YYYY-MM&unit=, /items, /ledger/count, /ledger/verify.
import { api, hasRole, items } from "../api.js";
import { bars, lines, stackedBars } from "../charts.js";
import { field, h, replace, select } from "../dom.js";
import { formatDateTime, formatMonth, formatNumber, formatPercent, label, t } from "../i18n.js";
import { CATEGORIES, CHANNELS, METHODS, section, table } from "../widgets.js";

/** The months of a year the bureau has reached: all twelve of a past year, up to this month of this one. */
export function monthsOf(year, calendar) {
  const last = year === Number(calendar.year) ? Number(calendar.month.slice(5, 7)) : 12;
  return Array.from({ length: last }, (_, i) => `${year}-${String(i + 1).padStart(2, "0")}`);
}

/** The year to show first: the one asked for, else the one with the latest figures, else this year. */
export function defaultYear(query, calendar) {
  const asked = Number(query.get("year") || (query.get("month") || "").slice(0, 4));
  if (asked >= 1970 && asked <= Number(calendar.year)) return asked;
  return Number((calendar.last_month_with_data || calendar.month).slice(0, 4));
}

const count = (value) => (value === null || value === undefined ? t("dashboard.hidden") : formatNumber(value));

const monthLabel = (month) => new Intl.DateTimeFormat(document.documentElement.lang || undefined, { month: "short" })
  .format(new Date(Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1, 1));

// Month by month the charts show figures that stay large enough to be published (totals); breakdowns by
// category and method, and the time targets, come from the chosen period's own report (the whole year or a
// month), whose cells are larger. A hidden count is drawn as nothing, never as a zero that was not there.
function charts(reports, selected, slots) {
  const labels = reports.map((r) => monthLabel(r.month));
  replace(slots.participation, lines(t("dashboard.participation"), labels, CHANNELS.map((kind) => ({
    name: label("channel", kind),
    values: reports.map((r) => r.report.participation?.[kind]?.ratio ?? null),
  })), { format: formatPercent, max: 1 }));
  const hidden = reports.some((r) => (r.report.suppressed || []).length) || (selected.suppressed || []).length;
  replace(slots.months, stackedBars(t("dashboard.months"), labels, [
    { name: t("dashboard.fig.concerns"), values: reports.map((r) => r.report.concerns?.total ?? 0) },
    { name: t("dashboard.fig.chatter"), values: reports.map((r) => r.report.chatter?.dismissed ?? 0) },
  ]), lines(t("dashboard.resolvedMonthly"), labels, [
    { name: t("dashboard.fig.opened"), values: reports.map((r) => r.report.cases?.opened ?? null) },
    { name: t("dashboard.fig.resolved"), values: reports.map((r) => r.report.cases?.resolved?.total ?? null) },
  ]), hidden ? h("p", { class: "hint suppressed" }, t("dashboard.suppressed")) : null);
  const categories = CATEGORIES.filter((c) => selected.concerns?.by_category?.[c]);
  replace(slots.concerns, bars(t("dashboard.concerns"), categories.map((c) => ({
    name: label("category", c), value: selected.concerns.by_category[c],
  }))));
  replace(slots.resolutions, bars(t("dashboard.resolutions"), METHODS.filter((m) => selected.cases?.resolved?.[m])
    .map((m) => ({ name: label("method", m), value: selected.cases.resolved[m] }))));
  // A hidden met or missed count is unknown, not zero: no rate is computed from it.
  const counts = (field) => ["first_response", "resolution"].map((name) => selected.targets?.[name]?.[field]);
  if ([...counts("met"), ...counts("missed")].some((value) => value === null)) {
    replace(slots.sla, h("p", { class: "hint suppressed" }, t("dashboard.slaHidden")));
    return;
  }
  const target = (field) => counts(field).reduce((a, value) => a + (value ?? 0), 0);
  const met = target("met");
  const missed = target("missed");
  replace(slots.sla, h("div", {},
    bars(t("dashboard.sla"), [{ name: t("dashboard.slaMet"), value: met }, { name: t("dashboard.slaMissed"), value: missed }]),
    met + missed ? h("p", { class: "big-number" }, formatPercent(met / (met + missed))) : null));
}

function figures(report, period) {
  const r = report;
  const rows = [
    [t("dashboard.fig.concerns"), r.concerns?.total],
    [t("dashboard.fig.overridden"), r.concerns?.overridden],
    [t("dashboard.fig.crisis"), r.concerns?.crisis],
    [t("dashboard.fig.chatter"), r.chatter?.dismissed],
    [t("dashboard.fig.chatterOverridden"), r.chatter?.overridden],
    [t("dashboard.fig.opened"), r.cases?.opened],
    [t("dashboard.fig.resolved"), r.cases?.resolved?.total],
    ...METHODS.map((m) => [label("method", m), r.cases?.resolved?.[m]]),
    [t("dashboard.fig.talks"), r.talks?.held],
    [t("dashboard.fig.escalated"), r.escalations?.raised],
    [t("dashboard.fig.decided"), r.escalations?.decided],
    [t("dashboard.fig.found"), r.oversight?.found],
    [t("dashboard.fig.itemsResolved"), r.oversight?.resolved],
    [t("dashboard.fig.notSubstantiated"), r.oversight?.not_substantiated],
    [t("dashboard.fig.read"), r.reading?.read_total],
    [t("dashboard.fig.readOnTime"), r.reading?.read_within_target_total],
    [t("dashboard.fig.readOverdue"), r.reading?.overdue_total],
  ];
  return h("div", {},
    h("p", { class: "hint", id: "figures-period" }, t("dashboard.figuresOf", { period })),
    table([
      { title: t("dashboard.figure"), cell: (row) => row[0] },
      { title: t("dashboard.count"), cell: (row) => h("span", { class: row[1] === null ? "suppressed" : "" }, count(row[1])) },
    ], rows));
}

export async function render(view, ctx) {
  const calendar = await api("oversight", "/statistics/calendar");
  const year = defaultYear(ctx.query, calendar);
  const month = /^\d{4}-\d{2}$/.test(ctx.query.get("month") || "") && ctx.query.get("month").startsWith(`${year}-`)
    ? ctx.query.get("month") : "";
  const unit = ctx.query.get("unit") || "";
  const units = (await api("oversight", "/statistics/units")).units || [];

  const slot = () => h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const slots = {
    participation: slot(), months: slot(), concerns: slot(), resolutions: slot(), sla: slot(), figures: slot(),
    items: slot(),
  };
  const first = Number((calendar.first_month_with_data || calendar.month).slice(0, 4));
  const years = [];
  for (let y = Number(calendar.year); y >= Math.min(first, Number(calendar.year)); y -= 1) years.push([String(y), String(y)]);
  const yearSelect = select("year", years, { id: "dashboard-year" });
  yearSelect.value = String(year);
  const monthSelect = select("month", [["", t("dashboard.wholeYear")],
    ...monthsOf(year, calendar).map((m) => [m, formatMonth(m)])], { id: "dashboard-month" });
  monthSelect.value = month;
  const unitSelect = select("unit", [["", t("dashboard.allUnits")], ...units.map((u) => [u, u])], { id: "dashboard-unit" });
  unitSelect.value = unit;
  const go = (changes) => {
    const next = new URLSearchParams({ year: yearSelect.value, month: monthSelect.value, unit: unitSelect.value, ...changes });
    for (const [key, value] of [...next.entries()]) if (!value) next.delete(key);
    ctx.navigate(`#/dashboard?${next}`);
  };
  yearSelect.addEventListener("change", () => go({ month: "" }));
  monthSelect.addEventListener("change", () => go({}));
  unitSelect.addEventListener("change", () => go({}));

  const ledgerResult = h("p", { class: "ledger-result", role: "status" });
  const ledgerCount = h("p", { class: "hint" });
  const check = h("button", { type: "button", id: "ledger-check" }, t("dashboard.ledgerCheck"));
  check.addEventListener("click", async () => {
    check.disabled = true;
    try {
      const answer = await api("oversight", "/ledger/verify");
      ledgerResult.dataset.ok = String(Boolean(answer.ok));
      ledgerResult.textContent = answer.ok
        ? `${t("dashboard.ledgerOk")} (${formatNumber(answer.verified)})`
        : t("dashboard.ledgerBroken", { detail: `#${answer.first_broken_seq} ${answer.reason || ""}` });
    } catch (error) {
      ctx.showError(error);
    } finally {
      check.disabled = false;
    }
  });
  // Oversight answers the ledger and the items to auditors and admins; committee members see the figures only.
  const auditing = hasRole("auditor", "admin");
  const period = month || String(year);
  replace(view, h("h1", {}, t("dashboard.title")),
    h("p", { class: "hint", id: "time-zone", "data-zone": calendar.time_zone },
      t("dashboard.timeZone", { zone: calendar.time_zone, offset: calendar.utc_offset, today: calendar.today })),
    h("form", { class: "filters", id: "dashboard-filters" },
      field(t("dashboard.year"), yearSelect), field(t("dashboard.month"), monthSelect), field(t("dashboard.unit"), unitSelect)),
    auditing ? null : h("p", { class: "hint" }, t("dashboard.restricted")),
    h("div", { class: "grid" },
      section(t("dashboard.figures"), "figures", slots.figures),
      section(t("dashboard.participation"), "participation", slots.participation),
      section(t("dashboard.monthly"), "monthly", slots.months),
      section(t("dashboard.concerns"), "concerns", slots.concerns),
      section(t("dashboard.resolutions"), "resolutions", slots.resolutions),
      section(t("dashboard.sla"), "sla", slots.sla)),
    auditing ? section(t("dashboard.ledger"), "ledger", ledgerCount, check, ledgerResult) : null,
    auditing ? section(t("dashboard.items"), "items", slots.items) : null);

  const query = (p) => ({ period: p, unit: unit || undefined });
  const empty = (error) => {
    Object.entries(slots).filter(([name]) => name !== "items")
      .forEach(([, s]) => replace(s, h("p", { class: "empty" }, t("common.empty"))));
    ctx.showError(error);
  };
  const loadCharts = Promise.all([
    api("oversight", "/statistics", { query: query(period) }),
    ...monthsOf(year, calendar).map(async (m) => ({ month: m, report: await api("oversight", "/statistics", { query: query(m) }) })),
  ]).then(([selected, ...reports]) => {
    replace(slots.figures, figures(selected, month ? formatMonth(month) : String(year)));
    charts(reports, selected, slots);
  }, empty);
  if (!auditing) {
    await loadCharts;
    return;
  }
  const loadItems = api("oversight", "/items", { query: { period } }).then((answer) => replace(slots.items, table([
    { title: t("dashboard.items"), cell: (i) => h("code", {}, i.id) },
    { title: t("dashboard.unit"), cell: (i) => i.unit ?? t("common.none") },
    { title: t("queue.channel"), cell: (i) => label("channel", i.channel_kind) },
    { title: t("queue.category"), cell: (i) => label("category", i.category) },
    { title: t("case.state"), cell: (i) => label("itemStatus", i.status) },
    { title: t("queue.received"), cell: (i) => formatDateTime(i.opened_at, { timeZone: calendar.time_zone }) },
    { title: t("case.resolve"), cell: (i) => h("span", { class: "msg-text" }, i.public_summary ?? t("common.none")) },
  ], items(answer).filter((i) => !unit || i.unit === unit))), (error) => {
    replace(slots.items, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  });
  const loadCount = api("oversight", "/ledger/count").then(
    (answer) => { ledgerCount.textContent = t("dashboard.ledgerEntries", { count: formatNumber(answer.entries) }); },
    ctx.showError,
  );
  await Promise.all([loadCharts, loadItems, loadCount]);
}
