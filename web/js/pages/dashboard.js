// Oversight dashboard for auditors: participation over time per channel, concerns per month by category,
// how cases were resolved, time targets met, external oversight items, and the ledger check.
// Endpoints (oversight): GET /statistics?period=YYYY-MM (one report per month shown), /items,
// /ledger/count, /ledger/verify.
import { api, hasRole, items } from "../api.js";
import { bars, lines, stackedBars } from "../charts.js";
import { h, replace } from "../dom.js";
import { formatDateTime, formatMonth, formatNumber, formatPercent, label, t } from "../i18n.js";
import { CATEGORIES, CHANNELS, METHODS, section, table } from "../widgets.js";

const MONTHS_SHOWN = 6;

export function lastMonths(count, now = new Date()) {
  const out = [];
  for (let i = count - 1; i >= 0; i -= 1) {
    const d = new Date(now.getFullYear(), now.getMonth() - i, 1);
    out.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

function charts(reports, slots) {
  const months = reports.map((r) => r.month);
  const labels = months.map(formatMonth);
  replace(slots.participation, lines(t("dashboard.participation"), labels, CHANNELS.map((kind) => ({
    name: label("channel", kind),
    values: reports.map((r) => r.report.participation?.[kind]?.ratio ?? null),
  })), { format: formatPercent, max: 1 }));
  const used = CATEGORIES.filter((c) => reports.some((r) => r.report.concerns?.by_category?.[c]));
  const hidden = reports.some((r) => (r.report.suppressed || []).some((cell) => cell.startsWith("concerns.by_category")));
  replace(slots.concerns, stackedBars(t("dashboard.concerns"), labels, used.map((c) => ({
    name: label("category", c),
    values: reports.map((r) => r.report.concerns?.by_category?.[c] ?? 0),
  }))), hidden ? h("p", { class: "hint suppressed" }, t("dashboard.suppressed")) : null);
  const resolved = Object.fromEntries(METHODS.map((m) => [m, reports.reduce((a, r) => a + (r.report.cases?.resolved?.[m] ?? 0), 0)]));
  replace(slots.resolutions, bars(t("dashboard.resolutions"), METHODS.map((m) => ({ name: label("method", m), value: resolved[m] }))));
  const target = (name, field) => reports.reduce((a, r) => a + (r.report.targets?.[name]?.[field] ?? 0), 0);
  const met = target("first_response", "met") + target("resolution", "met");
  const missed = target("first_response", "missed") + target("resolution", "missed");
  replace(slots.sla, h("div", {},
    bars(t("dashboard.sla"), [{ name: t("dashboard.slaMet"), value: met }, { name: t("dashboard.slaMissed"), value: missed }]),
    met + missed ? h("p", { class: "big-number" }, formatPercent(met / (met + missed))) : null));
}

export async function render(view, ctx) {
  const slot = () => h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const slots = { participation: slot(), concerns: slot(), resolutions: slot(), sla: slot(), items: slot() };
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
  replace(view, h("h1", {}, t("dashboard.title")),
    auditing ? null : h("p", { class: "hint" }, t("dashboard.restricted")),
    h("div", { class: "grid" },
      section(t("dashboard.participation"), "participation", slots.participation),
      section(t("dashboard.concerns"), "concerns", slots.concerns),
      section(t("dashboard.resolutions"), "resolutions", slots.resolutions),
      section(t("dashboard.sla"), "sla", slots.sla)),
    auditing ? section(t("dashboard.ledger"), "ledger", ledgerCount, check, ledgerResult) : null,
    auditing ? section(t("dashboard.items"), "items", slots.items) : null);

  const loadCharts = Promise.all(lastMonths(MONTHS_SHOWN).map(async (month) => ({
    month, report: await api("oversight", "/statistics", { query: { period: month } }),
  }))).then((reports) => charts(reports, slots), (error) => {
    Object.values(slots).slice(0, 4).forEach((s) => replace(s, h("p", { class: "empty" }, t("common.empty"))));
    ctx.showError(error);
  });
  if (!auditing) {
    await loadCharts;
    return;
  }
  const loadItems = api("oversight", "/items").then((answer) => replace(slots.items, table([
    { title: t("dashboard.items"), cell: (i) => h("code", {}, i.id) },
    { title: t("queue.channel"), cell: (i) => label("channel", i.channel_kind) },
    { title: t("queue.category"), cell: (i) => label("category", i.category) },
    { title: t("case.state"), cell: (i) => label("itemStatus", i.status) },
    { title: t("queue.received"), cell: (i) => formatDateTime(i.opened_at) },
    { title: t("case.resolve"), cell: (i) => h("span", { class: "msg-text" }, i.public_summary ?? t("common.none")) },
  ], items(answer))), (error) => { replace(slots.items, h("p", { class: "empty" }, t("common.empty"))); ctx.showError(error); });
  const loadCount = api("oversight", "/ledger/count").then(
    (answer) => { ledgerCount.textContent = t("dashboard.ledgerEntries", { count: formatNumber(answer.entries) }); },
    ctx.showError,
  );
  await Promise.all([loadCharts, loadItems, loadCount]);
}
