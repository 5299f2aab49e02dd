// Channels and participation: members joined against the roster headcount, per channel.
// Endpoint: GET /api/intake/channels ({items: [{id, kind, name, members_joined, participation}], participation}).
import { api, items } from "../api.js";
import { h, replace } from "../dom.js";
import { formatNumber, formatPercent, label, t } from "../i18n.js";
import { table } from "../widgets.js";

export async function render(view, ctx) {
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  view.append(h("h1", {}, t("channels.title")), body);
  try {
    const list = items(await api("intake", "/channels"));
    replace(body, table([
      { title: t("queue.channel"), cell: (c) => h("span", {}, c.name || label("channel", c.kind)) },
      { title: t("case.channel"), cell: (c) => label("channel", c.kind) },
      { title: t("channels.members"), cell: (c) => formatNumber(c.members_joined ?? c.participation?.joined ?? 0) },
      { title: t("channels.roster"), cell: (c) => formatNumber(c.participation?.headcount ?? 0) },
      {
        title: t("channels.rate"),
        cell: (c) => (c.participation?.ratio === null || c.participation?.ratio === undefined
          ? t("common.none") : formatPercent(c.participation.ratio)),
      },
    ], { rowAttrs: (c) => ({ dataset: { channel: c.id } }) }));
  } catch (error) {
    replace(body, h("p", { class: "empty" }, t("common.empty")));
    ctx.showError(error);
  }
}
