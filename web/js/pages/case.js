// Case workspace: the concern and the online dialogue, reply, schedule and record a talk, sealed notes
// (only for the roles that may read them), escalate with written material, resolve with its method.
// Endpoints (counselling): GET /cases/{id} (CaseRead: concerns, dialogue, talks, pending_talk_id, version),
// POST /cases/{id}/replies (ReplyCreated {case}), POST /cases/{id}/talks, POST /cases/{id}/talks/{talk_id}/held,
// POST /cases/{id}/talks/{talk_id}/cancel, GET|POST /cases/{id}/notes, GET /cases/{id}/notes/{note_id},
// POST /cases/{id}/escalations, POST /cases/{id}/resolve, POST /cases/{id}/reopen. Every mutation carries the case
// version read. Outcome and reason codes are chosen from counselling's closed lists (GET /codes, codes.js).
import { api, hasRole } from "../api.js";
import { codeLabel, codeSelect, loadCodes } from "../codes.js";
import { field, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { CASE_ROLES } from "../routes.js";
import {
  METHODS, facts, onSubmit, section, severityBadge, table,
} from "../widgets.js";

// What counselling allows from each state (services/counselling/.../domain/case.py); the service decides.
const SCHEDULE_FROM = new Set(["open", "in_dialogue", "talk_held", "decided", "reopened"]);
const ESCALATE_FROM = new Set(["open", "in_dialogue", "talk_scheduled", "talk_held", "reopened"]);
const RESOLVE_FROM = new Set(["in_dialogue", "talk_held", "decided", "reopened"]);

function caseFacts(doc) {
  return facts([
    [t("case.state"), h("span", { class: "state", dataset: { state: doc.state || "" } }, label("state", doc.state))],
    [t("case.category"), label("category", doc.category)],
    [t("case.severity"), severityBadge(doc.severity)],
    [t("case.channel"), label("channel", doc.channel_kind)],
    [t("case.opened"), formatDateTime(doc.opened_at)],
    [t("case.assignee"), doc.assignee_id || t("common.none")],
    [t("case.firstDue"), formatDateTime(doc.first_response_due)],
    [t("case.due"), h("span", { class: doc.overdue ? "overdue-text" : "" }, formatDateTime(doc.resolution_due),
      doc.overdue ? ` · ${t("committee.overdue")}` : "")],
    doc.resolution_method ? [t("case.resolveMethod"), label("method", doc.resolution_method)] : null,
    doc.outcome_code ? [t("case.resolveOutcome"), codeLabel("resolution_outcome", doc.outcome_code)] : null,
    doc.decision_code ? [t("committee.decisionCode"), codeLabel("committee_decision", doc.decision_code)] : null,
    doc.reopen_count && doc.reopen_reason_code
      ? [t("case.reopenReason"), codeLabel("reopen_reason", doc.reopen_reason_code)] : null,
  ]);
}

function concernList(concerns) {
  if (!concerns.length) return h("p", { class: "empty" }, t("common.empty"));
  return h("ol", { class: "dialogue" }, concerns.map((c) => h("li", { class: "msg in" },
    h("div", { class: "msg-meta" }, [label("channel", c.channel_kind),
      c.anonymous ? t("case.anonymous") : c.author_member_id, formatDateTime(c.sent_at)].filter(Boolean).join(" · ")),
    // Text people wrote: always a text node, never markup.
    h("p", { class: "msg-text" }, c.text ?? t("case.textGone")))));
}

function dialogueList(replies) {
  if (!replies.length) return h("p", { class: "empty" }, t("case.noDialogue"));
  return h("ol", { class: "dialogue" }, replies.map((r) => h("li", { class: "msg out" },
    h("div", { class: "msg-meta" }, [r.staff_name || r.staff_id, formatDateTime(r.at)].filter(Boolean).join(" · ")),
    h("p", { class: "msg-text" }, r.text ?? ""))));
}

function talkTable(talks) {
  return table([
    { title: t("case.talkWhen"), cell: (k) => formatDateTime(k.scheduled_for) },
    { title: t("case.talkPlace"), cell: (k) => h("span", {}, k.place) },
    { title: t("case.talkParticipants"), cell: (k) => (k.participants || []).join(t("common.listSep")) || t("common.none") },
    { title: t("case.state"), cell: (k) => label("talkStatus", k.status) },
    {
      title: t("case.talkOutcome"),
      cell: (k) => (k.outcome_code ? codeLabel("talk_outcome", k.outcome_code) : t("common.none")),
    },
  ], talks, { rowAttrs: (k) => ({ dataset: { talk: k.talk_id, status: k.status } }) });
}

/** Convert a datetime-local value (the browser's local time) to an ISO instant with its offset. */
function instant(localValue) {
  const when = new Date(localValue);
  if (Number.isNaN(when.getTime())) throw new Error(t("case.badTime"));
  return when;
}

export async function render(view, ctx) {
  const caseId = ctx.params[0];
  const base = `/cases/${encodeURIComponent(caseId)}`;
  let doc = await api("counselling", base);
  await loadCodes();
  const mayNote = hasRole(...CASE_ROLES);

  function opts() {
    return { ...ctx, done: () => draw() };
  }

  function mutate(path, json) {
    return api("counselling", `${base}${path}`, { method: "POST", json: { ...json, version: doc.version } });
  }

  function replyForm() {
    return onSubmit(h("form", { class: "stack", id: "reply" },
      field(t("case.reply"), h("textarea", { name: "text", required: true, rows: 3, maxlength: 5000 })),
      h("button", { type: "submit" }, t("case.replySend"))), async (form) => {
      const answer = await mutate("/replies", { text: form.elements.text.value });
      doc = answer.case;
      return t("case.replySent");
    }, opts());
  }

  function scheduleForm() {
    return onSubmit(h("form", { class: "stack", id: "talk-schedule" },
      field(t("case.talkWhen"), h("input", { type: "datetime-local", name: "scheduled_for", required: true })),
      field(t("case.talkPlace"), h("input", { name: "place", required: true, maxlength: 200 })),
      field(t("case.talkParticipants"), h("input", { name: "participants", maxlength: 500 }), t("case.talkParticipantsHint")),
      h("button", { type: "submit" }, t("case.talkSchedule"))), async (form) => {
      const when = instant(form.elements.scheduled_for.value);
      const participants = form.elements.participants.value.split(/[,，、;；]/).map((p) => p.trim()).filter(Boolean);
      doc = await mutate("/talks", { scheduled_for: when.toISOString(), place: form.elements.place.value.trim(), participants });
      return t("case.talkScheduled", { when: formatDateTime(when) });
    }, opts());
  }

  function heldForm(talkId) {
    const outcome = codeSelect("talk_outcome", "outcome_code");
    const cancelReason = codeSelect("talk_cancel_reason", "reason_code", { blank: t("case.talkCancelNoReason") });
    const cancel = h("button", { type: "button", class: "secondary" }, t("case.talkCancel"));
    const form = onSubmit(h("form", { class: "stack", id: "talk-held" },
      h("p", { class: "hint" }, t("case.talkPending", { when: formatDateTime(doc.pending_talk_for) })),
      field(t("case.talkOutcome"), outcome),
      field(t("case.talkSummary"), h("textarea", { name: "summary", rows: 3, maxlength: 5000 }), t("case.talkSummaryHint")),
      field(t("case.talkCancelReason"), cancelReason),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("case.talkRecord")), cancel)), async (f) => {
      const summary = f.elements.summary.value.trim();
      doc = await mutate(`/talks/${encodeURIComponent(talkId)}/held`, { outcome_code: outcome.value });
      // The talk's written account is sensitive: it is kept as a sealed note (the held record takes a code only).
      if (summary) {
        await api("counselling", `${base}/notes`, { method: "POST", json: { text: `${t("case.talkNotePrefix")}${summary}` } });
      }
      return t("case.talkHeld");
    }, opts());
    cancel.addEventListener("click", async () => {
      ctx.clearError();
      try {
        doc = await mutate(`/talks/${encodeURIComponent(talkId)}/cancel`,
          cancelReason.value ? { reason_code: cancelReason.value } : {});
        ctx.showNotice(t("case.talkCancelled"));
        await draw();
      } catch (error) {
        ctx.showError(error);
      }
    });
    return form;
  }

  function notesBlock() {
    const list = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
    const form = onSubmit(h("form", { class: "stack", id: "note-form" },
      field(t("case.noteText"), h("textarea", { name: "text", required: true, rows: 3, maxlength: 5000 })),
      h("button", { type: "submit" }, t("case.noteAdd"))), async (f) => {
      await api("counselling", `${base}/notes`, { method: "POST", json: { text: f.elements.text.value } });
      f.reset();
      return t("common.saved");
    }, { ...ctx, done: () => loadNotes(list) });
    loadNotes(list);
    return [list, form];
  }

  async function loadNotes(list) {
    try {
      const notes = await api("counselling", `${base}/notes`);
      if (!notes.length) {
        replace(list, h("p", { class: "empty" }, t("case.noNotes")));
        return;
      }
      replace(list, h("ul", { class: "notes" }, notes.map((note) => {
        const body = h("p", { class: "msg-text" });
        const open = h("button", { type: "button", class: "secondary" }, t("case.noteOpen"));
        open.addEventListener("click", async () => {
          try {
            const full = await api("counselling", `${base}/notes/${encodeURIComponent(note.note_id)}`);
            body.textContent = full.text;
            open.remove();
          } catch (error) {
            ctx.showError(error);
          }
        });
        return h("li", { class: "note", dataset: { note: note.note_id } },
          h("div", { class: "msg-meta" }, `${label("role", note.author_group)} · ${formatDateTime(note.created_at)}`),
          note.readable ? [open, body] : h("p", { class: "hint" }, t("case.noteSealed")));
      })));
    } catch (error) {
      replace(list, h("p", { class: "empty" }, t("case.noNotes")));
      ctx.showError(error);
    }
  }

  function escalateForm() {
    return onSubmit(h("form", { class: "stack", id: "escalate-form" },
      field(t("case.escSubject"), h("input", { name: "subject", required: true, maxlength: 200 })),
      field(t("case.escBackground"), h("textarea", { name: "background", required: true, rows: 3 })),
      field(t("case.escActions"), h("textarea", { name: "actions_taken", required: true, rows: 3 })),
      field(t("case.escRequest"), h("textarea", { name: "decision_requested", required: true, rows: 2 })),
      h("button", { type: "submit" }, t("case.escSubmit"))), async (f) => {
      const values = Object.fromEntries(["subject", "background", "actions_taken", "decision_requested"]
        .map((k) => [k, f.elements[k].value]));
      await mutate("/escalations", values);
      doc = await api("counselling", base);
      return t("case.escalated");
    }, opts());
  }

  function resolveForm() {
    const method = select("method", METHODS.map((m) => [m, label("method", m)]));
    if (doc.state === "talk_held") method.value = "resolved_offline";
    else if (doc.state === "decided") method.value = "by_committee";
    else method.value = "answered_online";
    const outcome = codeSelect("resolution_outcome", "outcome_code");
    return onSubmit(h("form", { class: "stack", id: "resolve-form" },
      field(t("case.resolveMethod"), method),
      field(t("case.resolveOutcome"), outcome),
      h("button", { type: "submit" }, t("case.resolveSubmit"))), async () => {
      doc = await mutate("/resolve", { method: method.value, outcome_code: outcome.value });
      return t("case.resolved", { method: label("method", method.value) });
    }, opts());
  }

  function reopenForm() {
    const reason = codeSelect("reopen_reason", "reason_code");
    return onSubmit(h("form", { class: "stack", id: "reopen-form" },
      field(t("case.reopenReason"), reason),
      h("button", { type: "submit", class: "secondary" }, t("case.reopen"))), async () => {
      doc = await mutate("/reopen", { reason_code: reason.value });
      return t("case.reopened");
    }, opts());
  }

  async function draw() {
    const live = doc.state !== "resolved";
    const pending = doc.pending_talk_id;
    const talkForm = pending ? heldForm(pending) : (SCHEDULE_FROM.has(doc.state) ? scheduleForm() : null);
    const talks = doc.talks || [];
    replace(view, 
      h("div", { class: "page-head" }, h("h1", {}, t("case.title", { id: caseId })),
        h("span", { class: "badge version" }, t("case.version", { version: doc.version }))),
      caseFacts(doc),
      section(t("case.concerns"), "concerns", concernList(doc.concerns || [])),
      section(t("case.dialogue"), "dialogue", dialogueList(doc.dialogue || []), live ? replyForm() : null),
      live || talks.length ? section(t("case.talk"), "talk", talks.length ? talkTable(talks) : null, talkForm) : null,
      mayNote ? section(t("case.notes"), "notes", h("p", { class: "hint" }, t("case.notesIntro")), notesBlock()) : null,
      ESCALATE_FROM.has(doc.state) ? section(t("case.escalate"), "escalate", escalateForm()) : null,
      RESOLVE_FROM.has(doc.state) && !pending ? section(t("case.resolve"), "resolve", resolveForm()) : null,
      doc.state === "resolved" ? section(t("case.reopenTitle"), "reopen", reopenForm()) : null,
    );
  }

  await draw();
}
