// The cases a worker may open (filter by concern when coming from the queue; "mine" for one's own).
// Endpoint: GET /api/counselling/cases (CasePage of CaseSummary, newest first).
import { api, items } from "../api.js";
import { field, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { severityBadge, table } from "../widgets.js";

const STATES = ["", "open", "in_dialogue", "talk_scheduled", "talk_held", "escalated", "decided", "reopened", "resolved"];

export async function render(view, ctx) {
  const concern = ctx.query.get("concern");
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const state = select("state", STATES.map((s) => [s, s ? label("state", s) : t("common.all")]));
  state.value = ctx.query.get("state") || "";
  state.addEventListener("change", () => ctx.navigate(state.value ? `#/cases?state=${state.value}` : "#/cases"));
  replace(view, h("h1", {}, t("case.list")), h("div", { class: "filters" }, field(t("case.state"), state)), body);
  try {
    const all = items(await api("counselling", "/cases", { query: { limit: 200, state: state.value || undefined } }));
    const cases = concern ? all.filter((c) => (c.concern_ids || []).includes(concern)) : all;
    if (concern && cases.length === 1) {
      ctx.navigate(`#/case/${encodeURIComponent(cases[0].case_id)}`);
      return;
    }
    if (concern && !cases.length) ctx.showError(t("case.noCaseYet"));
    replace(body, table([
      { title: t("case.id"), cell: (c) => h("a", { href: `#/case/${encodeURIComponent(c.case_id)}` }, c.case_id) },
      { title: t("case.state"), cell: (c) => label("state", c.state) },
      { title: t("case.category"), cell: (c) => label("category", c.category) },
      { title: t("case.severity"), cell: (c) => severityBadge(c.severity) },
      { title: t("case.opened"), cell: (c) => formatDateTime(c.opened_at) },
      { title: t("case.due"), cell: (c) => h("span", { class: c.overdue ? "overdue-text" : "" }, formatDateTime(c.resolution_due)) },
    ], cases, { rowAttrs: (c) => ({ dataset: { case: c.case_id, state: c.state } }) }));
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
