// The API's event stream (SSE), kept open: EventSource reconnects by itself after a drop and
// sends Last-Event-ID; when the server refuses (a restart answering 503, a 502 from a proxy) it
// gives up, so it is opened again here with the last id, backing off up to 10 s. A `reset`
// (the id is too old, or the service restarted) means: re-read the snapshots.
import { api, signInAgain } from "./api.js";
import { t } from "./page.js";

const TYPES = [
  "call.arrived", "call.identified", "call.queued", "call.offered", "call.connected",
  "call.ended", "ticket.changed", "recording.indexed", "agent.state", "queue.state", "campaign.state",
];

// lastId: the id the page's own snapshots were taken at (they need no re-reading then).
export function openStream({ onEvent, onReset, lastId: fromPage = null }) {
  let lastId = fromPage || sessionStorage.getItem("hotline.lastEventId") || "";
  let source = null;
  let delay = 500;
  let resetPending = !fromPage; // else the first connection re-reads the snapshots too
  const link = document.getElementById("link");

  function show(state) {
    if (!link) return;
    link.dataset.state = state;
    link.textContent = t(`link.${state}`);
  }

  function connect() {
    const url = "/api/v1/events/stream" + (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : "");
    source = new EventSource(url);
    source.onopen = () => {
      show("live");
      delay = 500;
      if (resetPending) {
        resetPending = false;
        onReset();
      }
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CONNECTING) {
        show("reconnecting");
        resetPending = true; // what happened while away may be past the ring buffer
        return;
      }
      show("reconnecting");
      source.close();
      // Closed for good by the browser: a refusal. A 401 means the session ended.
      api("GET", "/session").then(
        () => setTimeout(connect, delay),
        (error) => (error.status === 401 ? signInAgain() : setTimeout(connect, delay)),
      );
      delay = Math.min(delay * 2, 10000);
      resetPending = true;
    };
    source.addEventListener("reset", () => onReset());
    for (const type of TYPES) {
      source.addEventListener(type, (message) => {
        if (message.lastEventId) {
          lastId = message.lastEventId;
          sessionStorage.setItem("hotline.lastEventId", lastId);
        }
        let payload;
        try {
          payload = JSON.parse(message.data);
        } catch {
          return;
        }
        onEvent(type, payload);
      });
    }
  }

  connect();
  return { close: () => source && source.close() };
}
