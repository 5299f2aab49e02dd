// Broadcasts: compose an education task or notice, pick channels, see delivery.
// Endpoints: POST|GET /api/counselling/broadcasts; delivery from GET /api/intake/deliveries?broadcast_id=.
import { api, items } from "../api.js";
import { field, h, replace } from "../dom.js";
import { formatDateTime, label, t } from "../i18n.js";
import { CHANNELS, onSubmit, section, table } from "../widgets.js";

export async function render(view, ctx) {
  const history = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const boxes = CHANNELS.map((c) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "channels", value: c, checked: true }), label("channel", c)));
  const form = h("form", { class: "stack" },
    field(t("broadcasts.text"), h("textarea", { name: "text", required: true, rows: 4, maxlength: 4000 })),
    h("fieldset", {}, h("legend", {}, t("broadcasts.channels")), boxes),
    h("button", { type: "submit" }, t("broadcasts.send")));
  async function load() {
    const list = items(await api("counselling", "/broadcasts"));
    replace(history, table([
      { title: t("broadcasts.text"), cell: (b) => h("span", { class: "msg-text" }, b.text ?? "") },
      { title: t("broadcasts.channels"), cell: (b) => (b.channels || []).map((c) => label("channel", c)).join("、") },
      { title: t("queue.received"), cell: (b) => formatDateTime(b.created_at || b.requested_at) },
      { title: t("broadcasts.delivery"), cell: (b) => (b.deliveries || []).map((d) => `${label("channel", d.channel_id || d.channel)}: ${d.status}`).join("；") || t("common.none") },
    ]));
  }
  onSubmit(form, async (f) => {
    const channels = [...f.querySelectorAll("input[name=channels]:checked")].map((b) => b.value);
    if (!channels.length) throw new Error(t("broadcasts.pickChannel"));
    await api("counselling", "/broadcasts", { method: "POST", json: { text: f.elements.text.value, channels } });
    f.reset();
    return t("broadcasts.sent");
  }, { ...ctx, done: load });
  view.append(h("h1", {}, t("broadcasts.title")),
    section(t("broadcasts.compose"), "compose", form), section(t("broadcasts.history"), "history", history));
  try {
    await load();
  } catch (error) {
    replace(history, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
