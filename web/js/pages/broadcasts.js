// Broadcasts: compose an education task or notice, pick channels, see delivery.
// Endpoints: GET /api/intake/channels (the channels to pick from), POST /api/counselling/broadcasts
// (BroadcastCreate {title, text, channel_ids}), GET /api/counselling/broadcasts (BroadcastPage of
// BroadcastRead with delivery figures per channel).
import { api, items } from "../api.js";
import { field, h, replace } from "../dom.js";
import { formatDateTime, formatNumber, label, t } from "../i18n.js";
import { onSubmit, section, table } from "../widgets.js";

function figures(b, names) {
  const f = b.figures || { channels: 0, delivered: 0, failed: 0, pending: 0, per_channel: [] };
  return h("div", { class: "figures" },
    h("p", {}, t("broadcasts.figures", {
      delivered: formatNumber(f.delivered), failed: formatNumber(f.failed), pending: formatNumber(f.pending),
      channels: formatNumber(f.channels),
    })),
    h("ul", { class: "per-channel" }, (f.per_channel || []).map((c) => h("li", { dataset: { outcome: c.outcome } },
      t("common.labelled", { label: names.get(c.channel_id) || c.channel_id }), label("delivery", c.outcome),
      c.delivered_at ? ` · ${formatDateTime(c.delivered_at)}` : ""))));
}

export async function render(view, ctx) {
  const history = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const picker = h("div", { class: "channel-picker" }, h("p", { class: "loading" }, t("common.loading")));
  const names = new Map();
  const form = h("form", { class: "stack", id: "broadcast-form" },
    field(t("broadcasts.titleField"), h("input", { name: "title", required: true, maxlength: 200 })),
    field(t("broadcasts.text"), h("textarea", { name: "text", required: true, rows: 5, maxlength: 5000 })),
    h("fieldset", {}, h("legend", {}, t("broadcasts.channels")), picker),
    h("button", { type: "submit" }, t("broadcasts.send")));

  async function loadChannels() {
    const channels = items(await api("intake", "/channels"));
    channels.forEach((c) => names.set(c.id, c.name));
    replace(picker, channels.length ? channels.map((c) => h("label", { class: "check", dataset: { channel: c.id } },
      h("input", { type: "checkbox", name: "channel_ids", value: c.id }),
      // The channel's name is text someone typed.
      h("span", {}, c.name), h("small", { class: "hint" }, ` (${label("channel", c.kind)})`)))
      : h("p", { class: "empty" }, t("broadcasts.noChannels")));
  }

  async function loadHistory() {
    const list = items(await api("counselling", "/broadcasts", { query: { limit: 50 } }));
    replace(history, table([
      { title: t("broadcasts.titleField"), cell: (b) => h("strong", { class: "msg-text" }, b.title) },
      { title: t("broadcasts.text"), cell: (b) => h("span", { class: "msg-text" }, b.text) },
      { title: t("broadcasts.requestedAt"), cell: (b) => formatDateTime(b.requested_at) },
      { title: t("broadcasts.delivery"), cell: (b) => figures(b, names) },
    ], list, { rowAttrs: (b) => ({ dataset: { broadcast: b.broadcast_id } }) }));
  }

  onSubmit(form, async (f) => {
    const channelIds = [...f.querySelectorAll("input[name=channel_ids]:checked")].map((b) => b.value);
    if (!channelIds.length) throw new Error(t("broadcasts.pickChannel"));
    await api("counselling", "/broadcasts", {
      method: "POST", json: { title: f.elements.title.value.trim(), text: f.elements.text.value, channel_ids: channelIds },
    });
    f.reset();
    return t("broadcasts.sent");
  }, { ...ctx, done: loadHistory });

  const refresh = h("button", { type: "button", class: "secondary", id: "broadcasts-refresh" }, t("common.refresh"));
  refresh.addEventListener("click", () => loadHistory().catch(ctx.showError));
  replace(view, h("h1", {}, t("broadcasts.title")),
    section(t("broadcasts.compose"), "compose", form),
    section(t("broadcasts.history"), "history", refresh, history));
  // Channels first: the history names the channels it went to.
  const results = [...await Promise.allSettled([loadChannels()]), ...await Promise.allSettled([loadHistory()])];
  if (results[0].status === "rejected") replace(picker, h("p", { class: "empty" }, t("broadcasts.noChannels")));
  if (results[1].status === "rejected") replace(history, h("p", { class: "empty" }, t("common.empty")));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) ctx.showError(failed.reason);
}
