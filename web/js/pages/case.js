// Case workspace: the concern and the online dialogue, reply, schedule and record a talk, sealed notes
// (only for the roles that may read them), escalate with written material, resolve with its method.
// Endpoints (counselling): GET /cases/{id} (concerns, dialogue, talks), POST /cases/{id}/replies,
// POST /cases/{id}/talks, POST /cases/{id}/talks/{talk_id}/held, GET|POST /cases/{id}/notes,
// POST /cases/{id}/escalations, POST /cases/{id}/resolve.
import { api, hasRole, items } from "../api.js";
import { field, formValues, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { NOTE_ROLES } from "../routes.js";
import { METHODS, onSubmit, section, severityBadge } from "../widgets.js";

function facts(doc) {
  const row = (key, value) => [h("dt", {}, t(key)), h("dd", {}, value)];
  return h("dl", { class: "facts" },
    row("case.state", h("span", { class: "state", dataset: { state: doc.state || "" } }, label("state", doc.state))),
    row("case.category", label("category", doc.category)),
    row("case.severity", severityBadge(doc.severity)),
    row("case.channel", label("channel", doc.channel_kind)),
    row("case.opened", formatDateTime(doc.opened_at)),
    row("case.assignee", doc.assignee_name || doc.assignee_id || t("common.none")),
    row("case.due", formatDateTime(doc.resolution_due)));
}

function messageList(entries, emptyKey) {
  if (!entries.length) return h("p", { class: "empty" }, t(emptyKey));
  return h("ol", { class: "dialogue" }, entries.map((entry) => h(
    "li", { class: `msg ${entry.direction === "out" || entry.author_role ? "out" : "in"}` },
    h("div", { class: "msg-meta" },
      [entry.author_name || entry.author || label("channel", entry.channel_kind), formatDateTime(entry.at || entry.sent_at || entry.created_at)]
        .filter(Boolean).join(" · ")),
    // Text people wrote: always a text node, never markup.
    h("p", { class: "msg-text" }, entry.text ?? ""),
  )));
}

export async function render(view, ctx) {
  const caseId = ctx.params[0];
  const base = `/cases/${encodeURIComponent(caseId)}`;
  const doc = await api("counselling", base);
  const reload = () => ctx.navigate(`#/case/${encodeURIComponent(caseId)}?t=${Date.now()}`);
  const opts = { ...ctx, done: reload };

  const concerns = (doc.concerns || []).map((c) => ({ ...c, text: c.text }));
  const dialogue = h("div", {}, h("p", { class: "loading" }, t("common.loading")));

  const reply = onSubmit(h("form", { class: "stack" },
    field(t("case.reply"), h("textarea", { name: "text", required: true, rows: 3, maxlength: 4000 })),
    h("button", { type: "submit" }, t("case.replySend"))), async (form) => {
    await api("counselling", `${base}/replies`, { method: "POST", json: { ...formValues(form), version: doc.version } });
    return t("case.replySent");
  }, opts);

  const pendingTalk = doc.pending_talk_id;
  const schedule = onSubmit(h("form", { class: "stack" },
    field(t("case.talkWhen"), h("input", { type: "datetime-local", name: "scheduled_for", required: true })),
    field(t("case.talkPlace"), h("input", { name: "place", required: true, maxlength: 200 })),
    field(t("case.talkParticipants"), h("input", { name: "participants", maxlength: 500 })),
    h("button", { type: "submit" }, t("case.talkSchedule"))), async (form) => {
    const values = formValues(form);
    const when = new Date(values.scheduled_for);
    await api("counselling", `${base}/talks`, {
      method: "POST",
      json: { ...values, version: doc.version, scheduled_for: when.toISOString(), participants: (values.participants || "").split(/[,，、]/).map((p) => p.trim()).filter(Boolean) },
    });
    return t("case.talkScheduled", { when: formatDateTime(when) });
  }, opts);

  const held = pendingTalk ? onSubmit(h("form", { class: "stack", id: "talk-held" },
    field(t("case.talkOutcome"), h("input", { name: "outcome_code", required: true, maxlength: 64, value: "resolved" })),
    field(t("case.talkSummary"), h("textarea", { name: "summary", rows: 3, maxlength: 4000 })),
    h("button", { type: "submit" }, t("case.talkRecord"))), async (form) => {
    await api("counselling", `${base}/talks/${encodeURIComponent(pendingTalk)}/held`, { method: "POST", json: { ...formValues(form), version: doc.version } });
    return t("case.talkHeld");
  }, opts) : null;

  const mayNote = hasRole(...NOTE_ROLES);
  const notes = mayNote ? h("div", {}, h("p", { class: "loading" }, t("common.loading"))) : null;
  const noteForm = mayNote ? onSubmit(h("form", { class: "stack" },
    field(t("case.noteText"), h("textarea", { name: "text", required: true, rows: 3, maxlength: 8000 })),
    h("button", { type: "submit" }, t("case.noteAdd"))), async (form) => {
    await api("counselling", `${base}/notes`, { method: "POST", json: { ...formValues(form), version: doc.version } });
    return t("common.saved");
  }, opts) : null;

  const escalate = onSubmit(h("form", { class: "stack" },
    field(t("case.escSubject"), h("input", { name: "subject", required: true, maxlength: 200 })),
    field(t("case.escBackground"), h("textarea", { name: "background", required: true, rows: 3 })),
    field(t("case.escActions"), h("textarea", { name: "actions_taken", required: true, rows: 3 })),
    field(t("case.escRequest"), h("textarea", { name: "decision_requested", required: true, rows: 2 })),
    h("button", { type: "submit" }, t("case.escSubmit"))), async (form) => {
    await api("counselling", `${base}/escalations`, { method: "POST", json: { ...formValues(form), version: doc.version } });
    return t("case.escalated");
  }, opts);

  const methodSelect = select("method", METHODS.map((m) => [m, label("method", m)]));
  const resolve = onSubmit(h("form", { class: "stack" },
    field(t("case.resolveMethod"), methodSelect),
    field(t("case.resolveOutcome"), h("input", { name: "outcome_code", required: true, maxlength: 64, value: "resolved" })),
    h("button", { type: "submit" }, t("case.resolveSubmit"))), async (form) => {
    const values = formValues(form);
    await api("counselling", `${base}/resolve`, { method: "POST", json: { ...values, version: doc.version } });
    return t("case.resolved", { method: label("method", values.method) });
  }, opts);
  if (doc.held_talk_ids?.length) methodSelect.value = "resolved_offline";

  const closed = doc.state === "resolved";
  view.append(
    h("h1", {}, t("case.title", { id: caseId })),
    facts(doc),
    section(t("case.concerns"), "concerns", messageList(concerns, "common.empty")),
    section(t("case.dialogue"), "dialogue", dialogue, closed ? null : reply),
    closed ? null : section(t("case.talk"), "talk", pendingTalk ? held : schedule),
    mayNote ? section(t("case.notes"), "notes", h("p", { class: "hint" }, t("case.notesIntro")), notes, noteForm) : null,
    closed ? null : section(t("case.escalate"), "escalate", escalate),
    closed ? null : section(t("case.resolve"), "resolve", resolve),
  );

  replace(dialogue, messageList(doc.dialogue || [], "case.noDialogue"));
  const loadNotes = mayNote ? api("counselling", `${base}/notes`).then(
    (answer) => replace(notes, messageList(items(answer), "case.noNotes")),
    (error) => { replace(notes, h("p", { class: "empty" }, t("case.noNotes"))); ctx.showError(error); },
  ) : null;
  await loadNotes;
}
