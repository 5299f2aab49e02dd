// The cases a worker may open (filter by concern when coming from the queue).
// Endpoint: GET /api/counselling/cases (filtered here by concern when coming from the queue).
import { api, items } from "../api.js";
import { h, replace } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { severityBadge, table } from "../widgets.js";

export async function render(view, ctx) {
  const concern = ctx.query.get("concern");
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  view.append(h("h1", {}, t("case.list")), body);
  try {
    const all = items(await api("counselling", "/cases", { query: { limit: 200 } }));
    const cases = concern ? all.filter((c) => (c.concern_ids || []).includes(concern)) : all;
    if (concern && cases.length === 1) {
      ctx.navigate(`#/case/${encodeURIComponent(cases[0].id || cases[0].case_id)}`);
      return;
    }
    replace(body, table([
      { title: t("case.title", { id: "" }).trim(), cell: (c) => h("a", { href: `#/case/${encodeURIComponent(c.id || c.case_id)}` }, c.id || c.case_id) },
      { title: t("case.state"), cell: (c) => label("state", c.state) },
      { title: t("case.category"), cell: (c) => label("category", c.category) },
      { title: t("case.severity"), cell: (c) => severityBadge(c.severity) },
      { title: t("case.opened"), cell: (c) => formatDateTime(c.opened_at) },
      { title: t("case.due"), cell: (c) => formatDateTime(c.resolution_due) },
    ]));
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
