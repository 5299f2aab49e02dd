// Committee board: escalations with their written material (printable), record a decision with who acts
// and by when, mark a decision carried out; overdue marked.
// Endpoints (counselling): GET /escalations?status= (EscalationPage of EscalationItem),
// GET /escalations/{id} (EscalationRead: material, decision), GET /escalations/{id}/material.html (bearer
// token, so fetched and opened as a Blob URL, never a token in a URL), POST /escalations/{id}/decision
// (DecisionCreate, its decision_code from the committee_decision list of GET /codes), POST /escalations/{id}/done.
// Mutations carry the case version (case_version).
import { api, hasRole, items } from "../api.js";
import { codeLabel, codeSelect, loadCodes } from "../codes.js";
import { field, h, replace, select } from "../dom.js";
import { formatDate, formatDateTime, label, locale, t } from "../i18n.js";
import { facts, onSubmit, severityBadge } from "../widgets.js";

const STATUSES = ["open", "decided", "done", "all"];

function material(m = {}) {
  const part = (key, text) => [h("h4", {}, t(key)), h("p", { class: "material-text" }, text ?? "")];
  return h("div", { class: "material" },
    part("case.escSubject", m.subject), part("case.escBackground", m.background),
    part("case.escActions", m.actions_taken), part("case.escRequest", m.decision_requested));
}

/** The printable material needs the bearer token: fetch it, then open it from a Blob URL. */
async function openPrintable(id, ctx) {
  // Open the window first, in the click, so popup blockers allow it; fill it once the material arrives.
  const win = window.open("", "_blank");
  try {
    const html = await api("counselling", `/escalations/${encodeURIComponent(id)}/material.html`, {
      query: { lang: locale() === "en" ? "en" : "zh" }, accept: "text/html",
    });
    const url = URL.createObjectURL(new Blob([html], { type: "text/html;charset=utf-8" }));
    if (win) win.location.href = url;
    else window.open(url, "_blank");
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    if (win) win.close();
    ctx.showError(error);
  }
}

function decisionForm(item, ctx, reload) {
  const actorKind = select("actor_kind", [["body", t("committee.actorBody")], ["staff", t("committee.actorStaff")]]);
  const form = h("form", { class: "stack decision-form" },
    field(t("committee.decisionCode"), codeSelect("committee_decision", "decision_code")),
    field(t("committee.decisionText"), h("textarea", { name: "decided", required: true, rows: 3, maxlength: 2000 })),
    field(t("committee.actorKind"), actorKind),
    field(t("committee.actorId"), h("input", {
      name: "actor_id", required: true, maxlength: 128, value: "political_department", autocomplete: "off",
    }), t("committee.actorIdHint")),
    field(t("committee.dueBy"), h("input", { name: "due_by", type: "date" })),
    h("button", { type: "submit" }, t("committee.record")));
  return onSubmit(form, async (f) => {
    const body = {
      decision_code: f.elements.decision_code.value, decided: f.elements.decided.value,
      actor_kind: actorKind.value, actor_id: f.elements.actor_id.value.trim(), version: item.case_version,
    };
    if (f.elements.due_by.value) body.due_by = new Date(`${f.elements.due_by.value}T23:59:59`).toISOString();
    await api("counselling", `/escalations/${encodeURIComponent(item.escalation_id)}/decision`, { method: "POST", json: body });
    return t("committee.recorded");
  }, { ...ctx, done: reload });
}

function doneForm(item, ctx, reload) {
  return onSubmit(h("form", { class: "inline" }, h("button", { type: "submit", class: "secondary" }, t("committee.markDone"))),
    async () => {
      await api("counselling", `/escalations/${encodeURIComponent(item.escalation_id)}/done`, {
        method: "POST", json: { version: item.case_version },
      });
      return t("committee.doneRecorded");
    }, { ...ctx, done: reload });
}

function card(item, full, ctx, reload) {
  const id = item.escalation_id;
  const overdue = item.decision_overdue;
  const printable = h("button", { type: "button", class: "secondary print-link" }, t("committee.printable"));
  printable.addEventListener("click", () => openPrintable(id, ctx));
  const decision = full?.decision;
  return h("article", { class: `card escalation${overdue ? " overdue" : ""}`, dataset: { escalation: id, status: item.status } },
    h("header", { class: "page-head" },
      h("h3", {}, item.subject),
      h("span", { class: `badge status-${item.status}` }, label("escStatus", item.status)),
      overdue ? h("span", { class: "badge overdue-badge" }, t("committee.overdue")) : null),
    facts([
      [t("committee.case"), h("code", {}, item.case_id)],
      [t("case.category"), label("category", item.category)],
      [t("case.severity"), severityBadge(item.severity)],
      [t("committee.escalatedAt"), formatDateTime(item.prepared_at)],
      item.decision_code ? [t("committee.decisionCode"),
        h("span", { class: "decision-code", dataset: { code: item.decision_code } },
          codeLabel("committee_decision", item.decision_code))] : null,
      item.due_by ? [t("committee.dueBy"), formatDate(item.due_by)] : null,
      item.done_at ? [t("committee.doneAt"), formatDateTime(item.done_at)] : null,
    ]),
    h("details", { open: item.status === "open" }, h("summary", {}, t("committee.material")),
      full ? material(full.material) : h("p", { class: "empty" }, t("common.empty"))),
    decision ? h("p", { class: "decision" }, t("common.labelled", { label: t("committee.decisionText") }), h("span", { class: "msg-text" }, decision.decided ?? "")) : null,
    h("p", { class: "actions" }, printable,
      item.status === "decided" ? doneForm(item, ctx, reload) : null),
    item.status === "open" && hasRole("committee_member") ? decisionForm(item, ctx, reload) : null);
}

export async function render(view, ctx) {
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const status = select("status", STATUSES.map((s) => [s, label("escStatus", s)]));
  status.value = STATUSES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "open";
  status.addEventListener("change", () => ctx.navigate(`#/committee?status=${status.value}`));
  replace(view, h("h1", {}, t("committee.title")), h("p", {}, t("committee.intro")),
    h("div", { class: "filters" }, field(t("committee.show"), status)), body);
  async function load() {
    await loadCodes();
    const list = items(await api("counselling", "/escalations", { query: { status: status.value, limit: 200 } }));
    // Overdue first, then oldest first (the board's own order).
    list.sort((a, b) => Number(b.decision_overdue) - Number(a.decision_overdue));
    const full = await Promise.all(list.map((e) => api("counselling", `/escalations/${encodeURIComponent(e.escalation_id)}`)
      .catch(() => null)));
    replace(body, list.length ? list.map((e, i) => card(e, full[i], ctx, load)) : h("p", { class: "empty" }, t("common.empty")));
  }
  try {
    await load();
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
