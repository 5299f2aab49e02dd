// Small pieces several pages share: tables, badges, forms that report their outcome.
import { h } from "./dom.js";
import { label, t } from "./i18n.js";

export function table(columns, rows, { caption, rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, t("common.empty"));
  return h(
    "div", { class: "table-wrap" },
    h(
      "table", {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map((c) => h("td", {}, c.cell(row)))))),
    ),
  );
}

export function severityBadge(severity) {
  return h("span", { class: `badge sev-${severity || "none"}` }, label("severity", severity));
}

export function flagList(flags) {
  if (!flags || !flags.length) return t("common.none");
  return h("ul", { class: "flags" }, flags.map((flag) => h("li", { class: "badge flag" }, label("flag", flag))));
}

/** A section with a heading; `id` lets tests and the skip links find it. */
export function section(title, id, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), children);
}

/**
 * Wire a form to an action: disables the submit button while it runs, marks the page busy (so nobody,
 * tests included, types into a form that is about to be redrawn), shows errors in the banner and a
 * confirmation in the live region. `done` runs after a successful action, before the page is idle again.
 */
export function onSubmit(form, action, { showError, showNotice, clearError, done }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const main = document.getElementById("main");
    main?.setAttribute("aria-busy", "true");
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const message = await action(form);
      if (done) await done();
      if (message) showNotice(message);
    } catch (error) {
      showError(error);
    } finally {
      if (button) button.disabled = false;
      main?.setAttribute("aria-busy", "false");
    }
  });
  return form;
}

/** A small "label: value" list of facts. */
export function facts(rows) {
  return h("dl", { class: "facts" }, rows.filter(Boolean).map(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]));
}

export const CATEGORIES = [
  "housing", "marriage_family", "workload_leave", "pay_benefits", "career", "health", "mental_distress",
  "interpersonal", "conduct", "service_complaint", "suggestion", "praise", "other",
];
export const SEVERITIES = ["critical", "high", "medium", "low"];
export const CHANNELS = ["officers", "families", "supervision"];
export const METHODS = ["answered_online", "resolved_offline", "by_committee"];
