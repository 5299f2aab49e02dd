// Triage queue: highest risk first, the rules that fired shown as reasons, override with a written reason.
// Endpoints: GET /api/triage/queue (highest severity first), POST /api/triage/decisions/{concern_id}/overrides.
import { api, items } from "../api.js";
import { field, formValues, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { CATEGORIES, SEVERITIES, flagList, onSubmit, severityBadge, table } from "../widgets.js";

const RANK = { critical: 0, high: 1, medium: 2, low: 3 };

/** Risk first: severity, then any risk flag, then the oldest. The service orders too; this keeps it so. */
export function riskOrder(a, b) {
  return (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9)
    || (b.flags?.length ? 1 : 0) - (a.flags?.length ? 1 : 0)
    || String(a.raised_at || a.triaged_at || "").localeCompare(String(b.raised_at || b.triaged_at || ""));
}

function reasons(entry) {
  const list = entry.reasons || entry.rules || entry.rule_ids || [];
  if (!list.length) return t("common.none");
  return h("ul", { class: "reasons" }, list.map((reason) => {
    if (typeof reason === "string") return h("li", {}, reason);
    const text = [reason.rule_id || reason.id, reason.explanation || reason.description || reason.matched]
      .filter(Boolean).join("：");
    return h("li", {}, text);
  }));
}

function overrideForm(entry, ctx, reload) {
  const form = h(
    "form", { class: "override", "aria-label": t("queue.overrideTitle", { id: entry.concern_id }) },
    field(t("queue.category"), select("category", CATEGORIES.map((c) => [c, label("category", c)]), { value: entry.category })),
    field(t("queue.severity"), select("severity", SEVERITIES.map((c) => [c, label("severity", c)]), { value: entry.severity })),
    field(t("queue.overrideReason"), h("textarea", { name: "reason", required: true, maxlength: 1000, rows: 2 })),
    h("button", { type: "submit" }, t("queue.override")),
  );
  form.querySelector("select[name=category]").value = entry.category || "other";
  form.querySelector("select[name=severity]").value = entry.severity || "low";
  return onSubmit(form, async () => {
    const values = { ...formValues(form), version: entry.version };
    await api("triage", `/decisions/${encodeURIComponent(entry.concern_id)}/overrides`, { method: "POST", json: values });
    return t("queue.overrideDone");
  }, { ...ctx, done: reload });
}

export async function render(view, ctx) {
  const body = h("div", { class: "queue-body" }, h("p", { class: "loading" }, t("common.loading")));
  const refresh = h("button", { type: "button", class: "secondary" }, t("common.refresh"));
  view.append(h("div", { class: "page-head" }, h("h1", {}, t("queue.title")), refresh), h("p", {}, t("queue.intro")), body);

  async function load() {
    const entries = items(await api("triage", "/queue")).sort(riskOrder);
    replace(body, table([
      { title: t("queue.concern"), cell: (e) => h("code", {}, e.concern_id) },
      { title: t("queue.channel"), cell: (e) => label("channel", e.channel_kind || e.channel_id) },
      { title: t("queue.category"), cell: (e) => label("category", e.category) },
      { title: t("queue.severity"), cell: (e) => severityBadge(e.severity) },
      { title: t("queue.flags"), cell: (e) => flagList(e.flags) },
      { title: t("queue.reasons"), cell: reasons },
      { title: t("queue.received"), cell: (e) => formatDateTime(e.raised_at || e.triaged_at) },
      {
        title: t("queue.actions"),
        cell: (e) => h("div", { class: "actions" },
          h("a", { href: `#/cases?concern=${encodeURIComponent(e.concern_id)}`, class: "button" }, t("queue.openCase")),
          h("details", {}, h("summary", {}, t("queue.override")), overrideForm(e, ctx, load))),
      },
    ], { rowAttrs: (e) => ({ dataset: { concern: e.concern_id, severity: e.severity || "" } }) }));
  }

  refresh.addEventListener("click", () => load().catch(ctx.showError));
  try {
    await load();
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
