// Times and durations as the console shows them.
import { page } from "./page.js";

const locale = page.language === "zh" ? "zh-CN" : "en-GB";

export function clockTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
}

export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale, {
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

/** m:ss (or h:mm:ss) since an ISO time, or of a number of seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

export function since(iso) {
  return iso ? duration((Date.now() - new Date(iso).getTime()) / 1000) : "";
}

/** Signed minutes to a deadline: "12 min" ahead, "-3 min" past. */
export function untilDeadline(iso) {
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  return `${minutes} min`;
}

export function percent(part, whole) {
  return whole ? `${Math.round((100 * part) / whole)} %` : "—";
}

/** An ISO time from a datetime-local input (the browser's zone, which is the site's). */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : null;
}
