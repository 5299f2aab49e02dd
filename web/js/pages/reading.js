// Messages to read: every non-chatter message of the officers' and families' groups, crises first, with
// the text, who read it and when. Staff mark what they read and can raise any message to crisis.
// Endpoints: GET /api/intake/reading (ReadingPage), POST /api/intake/reading/{id}/reads,
// POST /api/triage/decisions/{id}/overrides (severity critical, with a reason).
import { api, items } from "../api.js";
import { field, h, replace, select } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { onSubmit, severityBadge, table } from "../widgets.js";

const STATUSES = ["unread", "overdue", "read", "all"];

function readers(entry) {
  if (!entry.reads.length) return h("span", { class: "muted" }, t("reading.notRead"));
  return h("ul", { class: "reads" }, entry.reads.map((read) =>
    h("li", {}, t("reading.readEntry", { name: read.name || read.staff_id, at: formatDateTime(read.at) }))));
}

function due(entry) {
  const when = h("span", {}, formatDateTime(entry.due_at));
  if (entry.overdue) return h("span", { class: "overdue" }, when, " ", h("span", { class: "badge late" }, t("reading.lateBadge")));
  if (entry.within_target === false) return h("span", {}, when, " ", h("span", { class: "badge late" }, t("reading.late")));
  if (entry.within_target === true) return h("span", {}, when, " ", h("span", { class: "badge ok" }, t("reading.onTime")));
  return when;
}

function message(entry) {
  return h("div", { class: "message" },
    entry.crisis ? h("span", { class: "badge crisis" }, t("queue.crisisBadge")) : null,
    h("p", { class: "message-text" }, entry.text ?? t("reading.textGone")),
    h("p", { class: "muted" }, label("channel", entry.channel_kind), " · ", label("category", entry.category),
      " · ", label("target", entry.target), " · ", formatDateTime(entry.sent_at || entry.received_at)));
}

function raiseForm(entry, ctx, reload) {
  const form = h("form", { class: "raise", "aria-label": t("reading.raise") },
    field(t("reading.raiseReason"), h("textarea", { name: "reason", required: true, maxlength: 1000, rows: 2 })),
    h("button", { type: "submit", class: "danger" }, t("reading.raise")));
  return onSubmit(form, async () => {
    const reason = form.querySelector("textarea").value;
    await api("triage", `/decisions/${encodeURIComponent(entry.concern_id)}/overrides`, {
      method: "POST", json: { severity: "critical", reason },
    });
    return t("reading.raised");
  }, { ...ctx, done: reload });
}

export async function render(view, ctx) {
  const chosen = STATUSES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "unread";
  const status = select("status", STATUSES.map((s) => [s, t(s === "all" ? "common.all" : `reading.${s}`)]), { value: chosen });
  status.value = chosen;
  const counts = h("p", { class: "counts", id: "reading-counts" });
  const body = h("div", { class: "reading-body" }, h("p", { class: "loading" }, t("common.loading")));
  const refresh = h("button", { type: "button", class: "secondary" }, t("common.refresh"));
  replace(view,
    h("div", { class: "page-head" }, h("h1", {}, t("reading.title")), refresh),
    h("p", {}, t("reading.intro")),
    h("div", { class: "filters" }, field(t("reading.status"), status)),
    counts, body);

  async function load() {
    const page = await api("intake", "/reading", { query: { status: status.value, limit: 200 } });
    counts.textContent = t("reading.counts", page.counts);
    replace(body, table([
      { title: t("reading.message"), cell: message },
      { title: t("queue.severity"), cell: (e) => severityBadge(e.severity) },
      { title: t("reading.due"), cell: due },
      { title: t("reading.readBy"), cell: readers },
      {
        title: t("queue.actions"),
        cell: (e) => h("div", { class: "actions" },
          h("button", {
            type: "button", class: "mark-read", dataset: { concern: e.concern_id },
            onclick: async (event) => {
              event.target.disabled = true;
              try {
                await api("intake", `/reading/${encodeURIComponent(e.concern_id)}/reads`, { method: "POST" });
                ctx.showNotice(t("reading.marked"));
                await load();
              } catch (error) {
                ctx.showError(error);
                event.target.disabled = false;
              }
            },
          }, t("reading.markRead")),
          e.crisis ? null : h("details", {}, h("summary", {}, t("reading.raise")), raiseForm(e, ctx, load))),
      },
    ], items(page), {
      rowAttrs: (e) => ({ dataset: { concern: e.concern_id, status: e.status, overdue: String(e.overdue),
        crisis: String(e.crisis) } }),
    }));
  }

  status.addEventListener("change", () => ctx.navigate(`#/reading?status=${status.value}`));
  refresh.addEventListener("click", () => load().catch(ctx.showError));
  try {
    await load();
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
