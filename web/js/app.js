// The app shell: header, role-aware navigation, language switch, error banner and a hash router.
import { ApiError, hasRole, onSessionChange, session, signOut } from "./api.js";
import { h, replace } from "./dom.js";
import { LOCALES, locale, onLocaleChange, setLocale, t, translateShell } from "./i18n.js";
import { ROUTES } from "./routes.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const bannerText = document.getElementById("banner-text");
const notice = document.getElementById("notice");

/** Show an error above the page (a service down, a refused action); stays until dismissed. */
export function showError(error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  bannerText.textContent = message;
  banner.dataset.kind = error instanceof ApiError && error.serviceDown ? "down" : "error";
  banner.hidden = false;
}

export function clearError() {
  banner.hidden = true;
  bannerText.textContent = "";
}

/** A short confirmation read out by screen readers. */
export function showNotice(message) {
  notice.textContent = message;
  window.clearTimeout(showNotice.timer);
  showNotice.timer = window.setTimeout(() => {
    notice.textContent = "";
  }, 6000);
}

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, "");
  const [path, queryString] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || "", params: parts.slice(1), query: new URLSearchParams(queryString || "") };
}

export function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function homeFor() {
  const first = ROUTES.find((route) => route.nav && route.roles && hasRole(...route.roles));
  return first ? `#/${first.name}` : "#/login";
}

function renderNav(active) {
  const list = document.getElementById("nav-list");
  const current = session();
  const links = ROUTES.filter((route) => route.nav && (current ? route.roles && hasRole(...route.roles) : !route.roles));
  replace(
    list,
    links.map((route) =>
      h("li", {}, h("a", {
        href: `#/${route.name}`,
        "aria-current": route.name === active ? "page" : null,
        dataset: { route: route.name },
      }, t(route.nav))),
    ),
  );
  const user = document.getElementById("user");
  const logout = document.getElementById("logout");
  if (current) {
    const roleNames = current.roles.map((role) => t(`role.${role}`)).join(t("common.listSep"));
    user.textContent = t("user.withRoles", { user: t("user.signedInAs", { name: current.name }), roles: roleNames });
    logout.hidden = false;
  } else {
    user.textContent = "";
    logout.hidden = true;
  }
}

let renderCount = 0;

async function render() {
  const { name, params, query } = parseHash();
  const current = session();
  if (!current && name !== "login") {
    window.location.replace("#/login");
    return;
  }
  if (current && (name === "" || name === "login")) {
    window.location.replace(homeFor());
    return;
  }
  const route = ROUTES.find((candidate) => candidate.name === name);
  renderNav(route?.navActive || name);
  translateShell();
  const ticket = ++renderCount;
  if (!route) {
    replace(main, h("h1", {}, t("page.notFound")));
    return;
  }
  if (route.roles && !hasRole(...route.roles)) {
    replace(main, h("h1", {}, t("page.forbidden")), h("p", { class: "forbidden" }, t("page.forbiddenText")));
    main.dataset.page = "forbidden";
    return;
  }
  main.dataset.page = route.name;
  main.setAttribute("aria-busy", "true");
  replace(main, h("p", { class: "loading" }, t("common.loading")));
  try {
    const module = await route.load();
    if (ticket !== renderCount) return;
    const view = h("div", { class: `page page-${route.name}` });
    replace(main, view);
    await module.render(view, { params, query, navigate, showError, showNotice, clearError });
  } catch (error) {
    if (ticket === renderCount) showError(error);
  } finally {
    if (ticket === renderCount) main.setAttribute("aria-busy", "false");
  }
}

function setUpShell() {
  const lang = document.getElementById("lang");
  replace(lang, LOCALES.map(([code, name]) => h("option", { value: code, lang: code }, name)));
  lang.value = locale();
  lang.addEventListener("change", () => setLocale(lang.value));
  document.getElementById("logout").addEventListener("click", () => {
    signOut();
    navigate("#/login");
  });
  document.getElementById("banner-close").addEventListener("click", clearError);
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  onLocaleChange(() => {
    lang.value = locale();
    notice.textContent = ""; // a confirmation in the old language would stay behind otherwise
    render();
  });
  onSessionChange((current) => {
    if (!current) {
      renderNav("");
      if (parseHash().name !== "login") navigate("#/login");
    }
  });
  window.addEventListener("hashchange", () => {
    clearError();
    render();
  });
  translateShell();
  render();
}

setUpShell();
