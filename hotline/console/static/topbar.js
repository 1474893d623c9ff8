// The top bar every signed-in page has: signing out.
import { api } from "./api.js";

export function topbar() {
  const button = document.getElementById("sign-out");
  if (!button) return;
  button.addEventListener("click", async () => {
    sessionStorage.clear();
    await api("DELETE", "/session").catch(() => null);
    location.assign("/console/login");
  });
}
