// Which pages exist, who may see them (the services enforce the same roles on every endpoint; hiding a
// page is only courtesy) and where their code lives. Loaded lazily so a page's module loads on first use.
// The first page in this list that a role may see is that role's home page.

export const CASE_ROLES = ["political_worker", "psychologist", "centre_coordinator"];
export const NOTE_ROLES = ["political_worker", "psychologist"];

export const ROUTES = [
  { name: "login", nav: "nav.login", roles: null, load: () => import("./pages/login.js") },
  {
    name: "queue", nav: "nav.queue", roles: ["political_worker", "psychologist", "centre_coordinator", "admin"],
    load: () => import("./pages/queue.js"),
  },
  { name: "reading", nav: "nav.reading", roles: CASE_ROLES, load: () => import("./pages/reading.js") },
  { name: "cases", nav: "nav.cases", roles: CASE_ROLES, load: () => import("./pages/cases.js") },
  { name: "case", nav: null, navActive: "cases", roles: CASE_ROLES, load: () => import("./pages/case.js") },
  {
    name: "committee", nav: "nav.committee", roles: ["committee_member", "centre_coordinator"],
    load: () => import("./pages/committee.js"),
  },
  {
    name: "broadcasts", nav: "nav.broadcasts", roles: ["centre_coordinator", "committee_member"],
    load: () => import("./pages/broadcasts.js"),
  },
  {
    name: "dashboard", nav: "nav.dashboard", roles: ["auditor", "admin", "committee_member"],
    load: () => import("./pages/dashboard.js"),
  },
  {
    name: "channels", nav: "nav.channels",
    roles: ["centre_coordinator", "admin", "auditor", "committee_member", "political_worker", "psychologist"],
    load: () => import("./pages/channels.js"),
  },
];
