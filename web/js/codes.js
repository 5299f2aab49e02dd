// The closed lists of outcome, decision and reason codes, with their Chinese and English labels, as
// counselling serves them (GET /codes). Fetched once per session; forms offer them as choices and pages
// show a stored code by its label in the chosen language (the code itself if a list does not hold it).
import { api, onSessionChange } from "./api.js";
import { h } from "./dom.js";
import { locale } from "./i18n.js";

let loading = null;
let lists = new Map();

onSessionChange(() => {
  loading = null;
  lists = new Map();
});

/** Load the lists (once); pages await this before they draw codes. */
export function loadCodes() {
  if (!loading) {
    loading = api("counselling", "/codes").then((body) => {
      lists = new Map(body.lists.map((list) => [list.name, list]));
      return lists;
    }).catch((error) => {
      loading = null;
      throw error;
    });
  }
  return loading;
}

function text(entry) {
  return locale() === "en" ? entry.en : entry.zh;
}

/** A code's label from its list in the chosen language, or the code itself. */
export function codeLabel(listName, code) {
  if (code === null || code === undefined || code === "") return "";
  const found = lists.get(listName)?.codes.find((c) => c.code === code);
  return found ? text(found) : String(code);
}

/** A select offering a list's codes, labelled in the chosen language; `blank` adds an empty first choice. */
export function codeSelect(listName, name, { blank, required = true } = {}) {
  const options = (lists.get(listName)?.codes || []).map((c) => h("option", { value: c.code }, text(c)));
  if (blank) options.unshift(h("option", { value: "" }, blank));
  return h("select", { name, required: required && !blank, dataset: { codeList: listName } }, options);
}
