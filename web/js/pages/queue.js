// Triage queue: crises first whatever their age, then by risk; the rules and the model behind each decision,
// a short preview of the text for roles that may read it, where its case stands; override with a reason.
// Endpoints: GET /api/triage/queue (DecisionPage, crises first), GET /api/intake/messages/previews,
// POST /api/triage/decisions/{concern_id}/overrides (OverrideCreate: only what changes, a reason, the version).
import { api, hasRole, items } from "../api.js";
import { field, formValues, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { CATEGORIES, SEVERITIES, flagList, onSubmit, severityBadge, table } from "../widgets.js";

const RANK = { critical: 0, high: 1, medium: 2, low: 3 };

/** Crises first whatever their age, then severity, any risk flag, the oldest. The service orders the same. */
export function riskOrder(a, b) {
  return (b.crisis ? 1 : 0) - (a.crisis ? 1 : 0)
    || (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9)
    || (b.flags?.length ? 1 : 0) - (a.flags?.length ? 1 : 0)
    || String(a.raised_at || a.triaged_at || "").localeCompare(String(b.raised_at || b.triaged_at || ""));
}

function caseState(entry) {
  const parts = [entry.case_state ? label("state", entry.case_state) : t("queue.noCase")];
  if (entry.oversight_status) parts.push(t("itemStatus.short", { status: label("itemStatus", entry.oversight_status) }));
  return h("span", { class: "case-state" }, parts.join(" · "));
}

function model(entry) {
  const evidence = entry.model_evidence;
  if (!evidence) return null;
  const p = (value) => value.toFixed(2);
  return h("li", { class: "model-note" },
    t("queue.model", { category: label("category", evidence.category), p: p(evidence.category_probability) }),
    evidence.category_ngrams?.length ? ` “${evidence.category_ngrams.join("”“")}”` : "",
    entry.crisis ? ` · ${t("queue.modelCrisis", { p: p(evidence.crisis_probability) })}` : "");
}

function reasons(entry) {
  const list = entry.reasons?.length ? entry.reasons : entry.rule_ids || [];
  const overrides = entry.overrides || [];
  if (!list.length && !overrides.length) return t("common.none");
  return h("ul", { class: "reasons" },
    list.map((reason) => h("li", {}, String(reason))),
    model(entry),
    overrides.map((o) => h("li", { class: "override-note" }, t("queue.overriddenBy", {
      who: o.by_name || o.by, at: formatDateTime(o.at), reason: o.reason,
    }))));
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
    const values = formValues(form);
    // Send only what changes: an override that changes nothing is refused.
    const body = { reason: values.reason, version: entry.version };
    if (values.category !== entry.category) body.category = values.category;
    if (values.severity !== entry.severity) body.severity = values.severity;
    if (!body.category && !body.severity) throw new Error(t("queue.overrideNothing"));
    await api("triage", `/decisions/${encodeURIComponent(entry.concern_id)}/overrides`, { method: "POST", json: body });
    return t("queue.overrideDone");
  }, { ...ctx, done: reload });
}

export async function render(view, ctx) {
  const body = h("div", { class: "queue-body" }, h("p", { class: "loading" }, t("common.loading")));
  const refresh = h("button", { type: "button", class: "secondary" }, t("common.refresh"));
  replace(view, h("div", { class: "page-head" }, h("h1", {}, t("queue.title")), refresh), h("p", {}, t("queue.intro")), body);

  const mayOverride = hasRole("political_worker", "psychologist", "centre_coordinator");
  const mayOpen = hasRole("political_worker", "psychologist", "centre_coordinator");
  const mayRead = hasRole("political_worker", "psychologist", "centre_coordinator");
  async function previews(entries) {
    if (!mayRead || !entries.length) return {};
    const page = await api("intake", "/messages/previews", { query: { ids: entries.map((e) => e.concern_id).join(",") } });
    return Object.fromEntries(items(page).map((p) => [p.id, p.preview === null ? null : p.preview + (p.truncated ? "…" : "")]));
  }

  async function load() {
    const entries = items(await api("triage", "/queue", { query: { limit: 200 } })).sort(riskOrder);
    const texts = await previews(entries);
    replace(body, table([
      {
        title: t("queue.concern"),
        cell: (e) => h("div", {}, e.crisis ? h("span", { class: "badge crisis" }, t("queue.crisisBadge")) : null,
          " ", h("code", {}, e.concern_id)),
      },
      ...(mayRead ? [{ title: t("queue.preview"), cell: (e) => h("span", { class: "preview" }, texts[e.concern_id] ?? t("common.none")) }] : []),
      { title: t("queue.channel"), cell: (e) => label("channel", e.channel_kind || e.channel_id) },
      { title: t("queue.category"), cell: (e) => label("category", e.category) },
      { title: t("queue.severity"), cell: (e) => severityBadge(e.severity) },
      { title: t("queue.flags"), cell: (e) => flagList(e.flags) },
      { title: t("queue.reasons"), cell: reasons },
      { title: t("queue.caseState"), cell: caseState },
      { title: t("queue.received"), cell: (e) => formatDateTime(e.raised_at || e.triaged_at) },
      {
        title: t("queue.actions"),
        cell: (e) => h("div", { class: "actions" },
          mayOpen ? h("a", { href: `#/cases?concern=${encodeURIComponent(e.concern_id)}`, class: "button" }, t("queue.openCase")) : null,
          mayOverride ? h("details", {}, h("summary", {}, t("queue.override")), overrideForm(e, ctx, load)) : null),
      },
    ], entries, { rowAttrs: (e) => ({ dataset: { concern: e.concern_id, severity: e.severity || "", crisis: String(!!e.crisis) } }) }));
  }

  refresh.addEventListener("click", () => load().catch(ctx.showError));
  try {
    await load();
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
