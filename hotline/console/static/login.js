import { api, setCsrf } from "./api.js";
import { t } from "./page.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const params = new URLSearchParams(location.search);
if (params.get("why") === "session") {
  error.textContent = t("login.session_ended");
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const fields = new FormData(form);
  try {
    const who = await api("POST", "/session", {
      name: fields.get("name"),
      password: fields.get("password"),
    });
    setCsrf(who.csrf_token);
    const next = params.get("next");
    const wanted = next === "supervisor" || next === "agent" ? next : "";
    location.assign(`/console/${wanted}`);
  } catch (failure) {
    error.textContent = failure.code === "rate_limited" ? failure.message : t("login.failed");
    error.hidden = false;
  }
});
