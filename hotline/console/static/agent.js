// The agent's screen: the call panel (pop), the ticket as the wrap-up form, the unit's context
// and the agent's figures. The current call is kept in sessionStorage, so a reload or a service
// restart shows it again (its pop is read anew from the API).
import { api, ApiError } from "./api.js";
import { clockTime, dateTime, fromLocalInput, percent, since, untilDeadline } from "./format.js";
import { el, notify, page, setText, t } from "./page.js";
import { openStream } from "./stream.js";
import { topbar } from "./topbar.js";

const me = page.user;
const CALL_KEY = "hotline.call";
const WRAP_REASON = "wrap-up";
let current = JSON.parse(sessionStorage.getItem(CALL_KEY) || "null"); // {call_id, state, wrap}
let pop = null;
let ticket = null; // the ticket the form edits (null: a new one)
let myState = { state: "offline", paused_reason: null, since: null };
let wrapPause = null; // the wrap-up's pause request, while it may still be on its way

// ---------------------------------------------------------------- the call and its pop
function remember() {
  if (current) sessionStorage.setItem(CALL_KEY, JSON.stringify(current));
  else sessionStorage.removeItem(CALL_KEY);
}

async function showCall(callId, state, event = null) {
  const fresh = !current || current.call_id !== callId;
  current = { call_id: callId, state, wrap: fresh ? false : current.wrap };
  remember();
  renderCallState();
  if (fresh && event) prePop(event);
  await loadPop();
}

// What the event itself says (who, which unit) shows at once; the full pop follows from the API.
function prePop(e) {
  pop = null;
  setText("pop-caller", e.caller || "");
  setText("pop-resident", e.resident_name || t("pop.unknown"));
  setText("pop-unit", e.unit || "—");
  for (const id of ["pop-phones", "pop-language", "pop-units"]) setText(id, "");
  document.getElementById("pop-menu").hidden = true;
  document.getElementById("pop-lead").hidden = true;
}

async function loadPop() {
  if (!current) return;
  const callId = current.call_id;
  try {
    const found = await api("GET", `/screen-pop/${encodeURIComponent(callId)}`);
    if (!current || current.call_id !== callId) return; // another call came meanwhile
    pop = found;
    renderPop();
  } catch (error) {
    if (error.status === 404) {
      // The call record is written as the call arrives; a pop this early is tried again.
      setTimeout(() => current && current.call_id === callId && !pop && loadPop(), 500);
      return;
    }
    notify(error.message);
  }
}

function renderCallState() {
  const card = document.getElementById("call-card");
  card.dataset.state = current ? current.state : "idle";
  setText("call-state", current ? t(`call.${current.state}`) : "");
  document.getElementById("call-idle").hidden = Boolean(current);
  document.getElementById("pop").hidden = !current;
}

function renderPop() {
  const p = pop;
  const resident = p.resident;
  setText("pop-caller", p.caller || t("pop.withheld"));
  setText("pop-resident", resident ? resident.name : t("pop.unknown"));
  setText("pop-unit", p.unit || "—");
  setText("pop-phones", resident ? resident.phones.join(", ") : "");
  setText("pop-language", resident ? t(`lang.${resident.lang}`) : "");
  const several = document.getElementById("pop-several");
  several.hidden = !p.several_units;
  setText("pop-units", p.residents.map((r) => `${r.unit} ${r.name}`).join(" · "));
  const menu = document.getElementById("pop-menu");
  const tk = p.ticket;
  menu.hidden = !tk && !(p.call && p.call.path);
  setText("pop-menu-kind", tk ? t(`kind.${tk.kind}`) : "");
  setText("pop-menu-category", tk ? t(`category.${tk.category}`) : "");
  setText("pop-menu-severity", tk ? t(`severity.${tk.severity}`) : "");
  document.getElementById("pop-incomplete").hidden = !(tk && tk.incomplete);
  setText("pop-path", p.call && p.call.path ? p.call.path : "");
  const players = document.getElementById("pop-recordings");
  players.replaceChildren(
    ...p.recordings.map((r) =>
      r.audio
        ? el("div", { class: "player" }, t(`recording.${r.kind}`), " ",
            el("audio", { controls: true, preload: "none", src: r.audio }))
        : el("p", { class: "muted" }, t(`recording.${r.kind}`), " · ", t("recording.restricted")),
    ),
  );
  // Recorded but not indexed yet: `recording.indexed` (or a reload) brings the player.
  document.getElementById("pop-recording-pending").hidden = !p.recording_pending;
  renderLead();
  renderContext();
  if (tk) editTicket(tk);
  else if (!ticket || ticket.id === undefined) newTicket(p.unit);
}

const SCRIPTS = { followup: "script.followup", arrears: "script.arrears", notice: "script.notice",
  visitor: "script.visitor", appointment: "script.appointment" };

function leadReason(lead, campaign) {
  const r = lead.reason || {};
  if (campaign.kind === "arrears")
    return t("lead.reason_arrears", { stage: t(`stage.${r.stage}`), amount: r.amount, months: r.months });
  if (campaign.kind === "followup")
    return t("lead.reason_followup", { ticket: r.ticket_id, category: t(`category.${r.category}`) });
  return t(`campaign.${campaign.kind}`);
}

function renderLead() {
  const box = document.getElementById("pop-lead");
  const { lead, campaign } = pop;
  box.hidden = !lead;
  if (!lead) return;
  setText("lead-reason", leadReason(lead, campaign));
  setText("lead-script", t(SCRIPTS[campaign.kind] || "script.notice"));
  document.getElementById("outcome-form").hidden = !lead.preview;
}

function clockText(c) {
  return `${t(`clock.${c.what}`)} ${clockTime(c.due_at)} (${untilDeadline(c.due_at)})`;
}

function renderContext() {
  const rows = pop.open_tickets.map((o) =>
    el("tr", { dataset: { ticket: o.id } },
      el("td", {}, `#${o.id}`),
      el("td", {}, `${t(`kind.${o.kind}`)} · ${t(`category.${o.category}`)}`),
      el("td", {}, t(`ticket_state.${o.state}`)),
      el("td", {}, ...o.clocks.map((c) => el("span", { class: `clock ${c.state}` }, clockText(c)))),
    ),
  );
  document.getElementById("open-tickets").replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { class: "muted" }, t("context.none")))]),
  );
  const a = pop.arrears;
  setText("arrears", a
    ? t("context.arrears_line", { amount: a.amount, months: a.months, stage: t(`stage.${a.stage}`) })
    : t("context.no_arrears"));
  const items = pop.followups.map((f) =>
    el("li", {}, `${dateTime(f.done_at)} #${f.ticket_id} `,
      el("span", { class: `score s${f.satisfaction}` }, t("context.satisfaction", { n: f.satisfaction })),
      f.comment ? ` · ${f.comment}` : ""),
  );
  document.getElementById("followups").replaceChildren(
    ...(items.length ? items : [el("li", { class: "muted" }, t("context.none"))]),
  );
}

// ---------------------------------------------------------------- the ticket (wrap-up form)
const form = document.getElementById("ticket-form");
const kindSelect = document.getElementById("ticket-kind");
const categorySelect = document.getElementById("ticket-category");

function fillCategories(kind, chosen) {
  categorySelect.replaceChildren(
    ...page.categories[kind].map((c) => el("option", { value: c, selected: c === chosen }, t(`category.${c}`))),
  );
}

function showKindRules() {
  const complaint = kindSelect.value === "complaint";
  document.getElementById("about-staff-label").hidden = !complaint;
  document.getElementById("restricted-note").hidden = !complaint;
  document.getElementById("ticket-escalate").hidden = !complaint;
  document.getElementById("ticket-dispatch").parentElement.hidden = kindSelect.value !== "repair";
}

function editTicket(tk) {
  ticket = tk;
  setText("ticket-id", `#${tk.id}`);
  setText("ticket-state", t(`ticket_state.${tk.state}`));
  kindSelect.value = tk.kind;
  kindSelect.disabled = true; // the kind decides the state machine: file a new ticket instead
  fillCategories(tk.kind, tk.category);
  form.severity.value = tk.severity;
  form.unit.value = tk.unit || "";
  form.text.value = tk.text || "";
  form.about_staff.checked = tk.about_staff;
  document.getElementById("ticket-steps").disabled = false;
  showKindRules();
}

function newTicket(unit) {
  ticket = null;
  setText("ticket-id", t("ticket.new"));
  setText("ticket-state", "");
  kindSelect.disabled = false;
  fillCategories(kindSelect.value, null);
  form.severity.value = "general";
  form.unit.value = unit || "";
  form.text.value = "";
  form.about_staff.checked = false;
  document.getElementById("ticket-steps").disabled = true;
  showKindRules();
}

function formError(error) {
  const box = document.getElementById("ticket-error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
  document.getElementById("ticket-saved").hidden = true;
}

async function saveTicket() {
  const body = {
    category: form.category.value,
    severity: form.severity.value,
    unit: form.unit.value.trim() || null,
    text: form.text.value.trim() || null,
  };
  if (kindSelect.value === "complaint") body.about_staff = form.about_staff.checked;
  if (ticket) return api("PATCH", `/tickets/${ticket.id}`, body);
  const created = await api("POST", "/tickets", {
    kind: kindSelect.value, category: body.category, unit: body.unit,
    severity: body.severity, channel: "phone", text: body.text,
  });
  if (body.about_staff) return api("PATCH", `/tickets/${created.id}`, { about_staff: true });
  return api("GET", `/tickets/${created.id}`);
}

async function wrapUpDone() {
  // The form is saved: the call's wrap-up is over and the agent takes calls again. A form saved
  // while the wrap-up's pause is still on its way waits for it: else the pause, landing after
  // the unpause, would keep the agent out of the queue.
  await wrapPause;
  if (current && current.state === "ended") {
    current = null;
    pop = null;
    remember();
    renderCallState();
  }
  if (myState.state === "paused" && myState.paused_reason === WRAP_REASON) await setPaused(false, null);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError(null);
  try {
    const saved = await saveTicket();
    editTicket(saved);
    const ok = document.getElementById("ticket-saved");
    ok.textContent = t("ticket.saved", { id: saved.id });
    ok.hidden = false;
    await wrapUpDone();
    loadFigures();
  } catch (error) {
    formError(error);
  }
});

kindSelect.addEventListener("change", () => {
  fillCategories(kindSelect.value, null);
  showKindRules();
});
document.getElementById("ticket-new").addEventListener("click", () => newTicket(pop && pop.unit));

async function step(fn) {
  formError(null);
  try {
    editTicket(await fn());
  } catch (error) {
    formError(error);
  }
}

document.getElementById("ticket-dispatch").addEventListener("click", () =>
  step(() => api("POST", `/tickets/${ticket.id}/assignment`, {
    technician: document.getElementById("technician").value.trim(),
  })),
);
document.getElementById("ticket-escalate").addEventListener("click", () =>
  step(() => api("POST", `/tickets/${ticket.id}/moves`, { state: "escalated" })),
);

// Close with the resident's sign-off: each remaining move of the kind's machine, in order.
const TO_CLOSE = {
  repair: { done: ["accepted", "closed"], accepted: ["closed"] },
  enquiry: { new: ["resolved", "closed"], resolved: ["closed"], reopened: ["resolved", "closed"] },
  complaint: { resolved: ["notified", "closed"], notified: ["closed"] },
};
document.getElementById("ticket-close").addEventListener("click", () =>
  step(async () => {
    const by = document.getElementById("signed-by").value.trim();
    const moves = (TO_CLOSE[ticket.kind] || {})[ticket.state];
    if (!moves) throw new ApiError(422, "rejected", t("ticket.cannot_close", { state: t(`ticket_state.${ticket.state}`) }));
    let last = ticket;
    for (const state of moves) {
      last = await api("POST", `/tickets/${ticket.id}/moves`, { state, by: by || null, note: by ? t("ticket.signed_note", { by }) : null });
    }
    return last;
  }),
);

// ---------------------------------------------------------------- pause
const pauseButton = document.getElementById("pause-button");

async function setPaused(paused, reason) {
  if (!me.extension) return notify(t("error.no_extension"));
  try {
    await api("POST", `/agents/${encodeURIComponent(me.extension)}/pause`, { paused, reason });
    showState({ ...myState, state: paused ? "paused" : "free", paused_reason: reason, since: new Date().toISOString() });
  } catch (error) {
    notify(error.message);
  }
}

document.getElementById("pause-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const paused = myState.state === "paused";
  setPaused(!paused, paused ? null : document.getElementById("pause-reason").value);
});

function showState(state) {
  myState = state;
  const badge = document.getElementById("my-state");
  badge.dataset.state = state.state;
  badge.textContent = state.paused_reason
    ? `${t(`state.${state.state}`)} · ${t(`pause.${state.paused_reason}`)}`
    : t(`state.${state.state}`);
  pauseButton.textContent = state.state === "paused" ? t("action.unpause") : t("action.pause");
  pauseButton.dataset.paused = String(state.state === "paused");
}

setInterval(() => setText("my-state-since", myState.since ? since(myState.since) : ""), 1000);

// ---------------------------------------------------------------- preview campaigns
let previewLeads = [];

async function loadPreview() {
  try {
    const campaigns = (await api("GET", "/campaigns")).items.filter(
      (c) => c.mode === "preview" && c.state === "running",
    );
    previewLeads = [];
    for (const c of campaigns) {
      const leads = (await api("GET", `/campaigns/${c.id}/leads?state=ready`)).items;
      previewLeads.push(...leads.map((lead) => ({ lead, campaign: c })));
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    previewLeads = [];
  }
  renderPreview();
}

function renderPreview() {
  const first = previewLeads[0];
  document.getElementById("preview-empty").hidden = Boolean(first);
  document.getElementById("preview-lead").hidden = !first;
  if (!first) return;
  setText("preview-resident", first.lead.resident || "");
  setText("preview-number", first.lead.number || "");
  setText("preview-reason", `${t(`campaign.${first.campaign.kind}`)} · ${first.campaign.name || `#${first.campaign.id}`}`);
  const pending = first.lead.dial_request;
  setText("preview-status", pending ? t(`dial.${pending.state}`) : "");
}

document.getElementById("preview-dial").addEventListener("click", async () => {
  const first = previewLeads[0];
  if (!first) return;
  try {
    const request = await api("POST", `/leads/${first.lead.id}/dial-requests`, {});
    first.lead.dial_request = request;
    renderPreview();
    notify(t("dial.requested"), "ok");
  } catch (error) {
    notify(error.message);
  }
});
document.getElementById("preview-skip").addEventListener("click", () => {
  previewLeads.push(previewLeads.shift());
  renderPreview();
});

// ---------------------------------------------------------------- outbound outcome, callback
document.getElementById("outcome-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", `/leads/${pop.lead.id}/outcome`, { disposition: event.target.disposition.value });
    notify(t("lead.outcome_saved"), "ok");
    loadPreview();
  } catch (error) {
    notify(error.message);
  }
});
document.getElementById("callback-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const at = fromLocalInput(event.target.at.value);
    await api("POST", `/leads/${pop.lead.id}/callback`, { at });
    notify(t("lead.callback_saved", { at: dateTime(at) }), "ok");
  } catch (error) {
    notify(error.message);
  }
});

// ---------------------------------------------------------------- figures
let queueFigures = {};

async function loadFigures() {
  if (!me.extension) return;
  try {
    const today = await api("GET", `/agents/${encodeURIComponent(me.extension)}/today`);
    setText("fig-calls", String(today.calls));
    setText("fig-tickets", String(today.tickets));
  } catch (error) {
    notify(error.message);
  }
}

async function loadQueueFigures() {
  try {
    const { queues } = await api("GET", "/live/queues");
    queueFigures = Object.fromEntries(queues.map((q) => [q.queue, q]));
    showQueueFigures();
  } catch (error) {
    notify(error.message);
  }
}

function showQueueFigures() {
  const queues = Object.values(queueFigures);
  const answered = queues.reduce((n, q) => n + (q.answered_today || 0), 0);
  const within = queues.reduce((n, q) => n + (q.within_three_rings_today || 0), 0);
  setText("fig-rings", percent(within, answered));
}

// ---------------------------------------------------------------- live
// Snapshots: who I am now (state), my call if one is on, the queues' figures. Returns the
// loading of my live call's pop, or null when I have none.
function applySnapshot({ agents, calls, queues }) {
  const mine = agents.find((a) => a.agent === me.extension);
  if (mine) showState(mine);
  queueFigures = Object.fromEntries(queues.map((q) => [q.queue, q]));
  showQueueFigures();
  const call = calls.find(
    (c) => c.agent === me.extension && (c.state === "offered" || c.state === "connected"),
  );
  if (call) return showCall(call.call_id, call.state);
  if (current && current.state !== "ended") {
    current.state = "ended"; // it ended while we were away: keep it for the wrap-up
    remember();
    renderCallState();
  }
  return null;
}

async function resync() {
  try {
    const [agents, calls, queues] = await Promise.all([
      api("GET", "/live/agents"), api("GET", "/live/calls"), api("GET", "/live/queues"),
    ]);
    await applySnapshot({ agents: agents.agents, calls: calls.calls, queues: queues.queues });
  } catch (error) {
    if (error.status !== 404) notify(error.message);
  }
}

function onEvent(type, e) {
  if ((type === "call.offered" || type === "call.connected") && e.agent === me.extension) {
    showCall(e.call_id, type === "call.offered" ? "offered" : "connected", e);
  } else if (type === "call.ended" && current && e.call_id === current.call_id) {
    loadQueueFigures(); // today's answered and within-three-rings counts are the snapshot's
    current.state = "ended";
    remember();
    renderCallState();
    loadFigures();
    // Wrap-up: out of the queue until the ticket is saved (unless already paused).
    if (myState.state !== "paused") wrapPause = setPaused(true, WRAP_REASON);
  } else if (type === "agent.state" && e.agent === me.extension) {
    showState(e);
  } else if (type === "queue.state") {
    queueFigures[e.queue] = { ...(queueFigures[e.queue] || {}), ...e };
    showQueueFigures();
  } else if (type === "recording.indexed" && pop && pop.recording_pending &&
      ((pop.ticket && e.ticket_id === pop.ticket.id) || e.call_id === pop.call_id)) {
    loadPop();
  } else if (type === "ticket.changed" && ticket && e.ticket_id === ticket.id) {
    api("GET", `/tickets/${ticket.id}`).then(editTicket, () => null);
  } else if (type === "ticket.changed" && pop && e.unit === pop.unit) {
    loadPop();
  }
}

topbar();
renderCallState();
newTicket(null);
// The call on screen first (a reload mid-call), then the stream; the rest can wait its turn.
// The page came with the live snapshots and the stream's id when they were taken: the stream
// starts after that id, and nothing is asked twice.
(async () => {
  const live = page.live;
  const shown = live ? applySnapshot(live) : null;
  if (shown) await shown;
  else if (current) await loadPop();
  openStream({ onEvent, onReset: resync, lastId: live ? live.last_id : null });
  loadFigures();
  loadPreview();
  setInterval(loadPreview, 15000);
})();
