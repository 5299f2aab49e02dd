// Committee board: open escalations with their written material (printable), record a decision with a
// deadline, overdue marked. Endpoints (counselling): GET /escalations, POST /escalations/{id}/decision.
import { api, items } from "../api.js";
import { field, formValues, h, replace } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { onSubmit, section } from "../widgets.js";

function isOverdue(escalation, now = Date.now()) {
  if (escalation.overdue !== undefined) return Boolean(escalation.overdue);
  const due = escalation.due_by || escalation.decision?.due_by;
  return Boolean(due) && !escalation.done && new Date(due).getTime() < now;
}

function material(m = {}) {
  const part = (key, text) => [h("h4", {}, t(key)), h("p", { class: "material-text" }, text ?? "")];
  return h("div", { class: "material" },
    part("case.escSubject", m.subject), part("case.escBackground", m.background),
    part("case.escActions", m.actions_taken), part("case.escRequest", m.decision_requested));
}

function card(escalation, ctx, reload) {
  const id = escalation.id || escalation.escalation_id;
  const overdue = isOverdue(escalation);
  const decided = escalation.decision || escalation.decision_code;
  const form = decided ? null : onSubmit(h("form", { class: "stack" },
    field(t("committee.decisionCode"), h("input", { name: "decision_code", required: true, maxlength: 64 })),
    field(t("committee.decisionText"), h("textarea", { name: "decided", required: true, rows: 3 })),
    field(t("committee.dueBy"), h("input", { name: "due_by", type: "date" })),
    h("button", { type: "submit" }, t("committee.record"))), async (f) => {
    const values = formValues(f);
    if (values.due_by) values.due_by = new Date(`${values.due_by}T23:59:59`).toISOString();
    await api("counselling", `/escalations/${encodeURIComponent(id)}/decision`, { method: "POST", json: values });
    return t("committee.recorded");
  }, { ...ctx, done: reload });
  return h("article", { class: `card escalation${overdue ? " overdue" : ""}`, dataset: { escalation: id } },
    h("header", { class: "page-head" },
      h("h3", {}, escalation.material?.subject || id),
      overdue ? h("span", { class: "badge overdue-badge" }, t("committee.overdue")) : null),
    h("p", { class: "hint" }, `${t("committee.case")}: ${escalation.case_id || ""} · ${t("committee.escalatedAt")}: ${formatDateTime(escalation.escalated_at || escalation.created_at)}`),
    h("details", { open: true }, h("summary", {}, t("committee.material")), material(escalation.material)),
    h("p", {}, h("a", { href: `/api/counselling/escalations/${encodeURIComponent(id)}/material`, class: "print-link", target: "_blank", rel: "noopener" }, t("committee.printable")),
      " ", h("button", { type: "button", class: "secondary", onclick: () => window.print() }, t("common.print"))),
    decided ? h("p", { class: "decision" }, `${t("committee.decisionText")}: ${escalation.decision?.decided || escalation.decision_code}`) : form);
}

export async function render(view, ctx) {
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  view.append(h("h1", {}, t("committee.title")), h("p", {}, t("committee.intro")), body);
  async function load() {
    const list = items(await api("counselling", "/escalations", { query: { state: "open" } }));
    replace(body, list.length ? list.map((e) => card(e, ctx, load)) : h("p", { class: "empty" }, t("common.empty")));
  }
  try {
    await load();
  } catch (error) {
    replace(body, section(t("committee.title"), "committee-empty", h("p", { class: "empty" }, t("common.empty"))));
    ctx.showError(error);
  }
}
