// Channels and participation: members joined against the roster headcount, per channel and per kind.
// Endpoints (intake): GET /channels (ChannelPage {at, items: [ChannelRead], participation}),
// GET /participation?at= (per channel kind at a date; past dates work).
import { api, items } from "../api.js";
import { field, h, replace } from "../dom.js";
import { formatDateTime, formatNumber, formatPercent, label, t } from "../i18n.js";
import { CHANNELS, section, table } from "../widgets.js";

function ratio(p) {
  return p?.ratio === null || p?.ratio === undefined ? t("channels.noRoster") : formatPercent(p.ratio);
}

export async function render(view, ctx) {
  const list = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const kinds = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const at = h("input", { type: "date", name: "at" });
  const when = h("p", { class: "hint" });
  at.addEventListener("change", () => loadKinds().catch(ctx.showError));
  replace(view, h("h1", {}, t("channels.title")), h("p", {}, t("channels.intro")),
    section(t("channels.byKind"), "participation", h("div", { class: "filters" }, field(t("channels.at"), at)), kinds),
    section(t("channels.list"), "channel-list", when, list));

  async function loadKinds() {
    const query = at.value ? { at: new Date(`${at.value}T23:59:59`).toISOString() } : {};
    const per = await api("intake", "/participation", { query });
    replace(kinds, table([
      { title: t("case.channel"), cell: (k) => label("channel", k) },
      { title: t("channels.members"), cell: (k) => formatNumber(per[k]?.joined ?? 0) },
      { title: t("channels.roster"), cell: (k) => formatNumber(per[k]?.headcount ?? 0) },
      { title: t("channels.rate"), cell: (k) => ratio(per[k]) },
    ], CHANNELS.filter((k) => k in per), { rowAttrs: (k) => ({ dataset: { kind: k } }) }));
  }

  async function loadChannels() {
    const answer = await api("intake", "/channels");
    when.textContent = t("channels.measuredAt", { at: formatDateTime(answer.at) });
    replace(list, table([
      // A channel's name is text someone typed: shown as text.
      { title: t("channels.name"), cell: (c) => h("span", { class: "msg-text" }, c.name) },
      { title: t("case.channel"), cell: (c) => label("channel", c.kind) },
      { title: t("channels.unit"), cell: (c) => c.unit || t("common.none") },
      { title: t("channels.members"), cell: (c) => formatNumber(c.members_joined ?? 0) },
      { title: t("channels.roster"), cell: (c) => formatNumber(c.participation?.headcount ?? 0) },
      { title: t("channels.rate"), cell: (c) => ratio(c.participation) },
    ], items(answer), { rowAttrs: (c) => ({ dataset: { channel: c.id } }) }));
  }

  const results = await Promise.allSettled([loadKinds(), loadChannels()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    if (results[0].status === "rejected") replace(kinds, h("p", { class: "empty" }, t("common.empty")));
    if (results[1].status === "rejected") replace(list, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(failed.reason);
  }
}
