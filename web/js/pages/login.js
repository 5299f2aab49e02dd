// Login against counselling's staff directory (OAuth2 password form).
import { ApiError, signIn } from "../api.js";
import { field, h } from "../dom.js";
import { t } from "../i18n.js";

export async function render(view, { navigate, showError, clearError }) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: 128 });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, t("login.submit"));
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("login.title")),
    h("p", {}, t("login.intro")),
    field(t("login.username"), username),
    field(t("login.password"), password),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    submit.disabled = true;
    try {
      await signIn(username.value.trim(), password.value);
      navigate("#/");
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 400)) showError(t("login.failed"));
      else showError(error);
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  view.append(form);
  username.focus();
}
