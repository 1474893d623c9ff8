// The supervisor's wallboard: agents by state and for how long, queues, today's three-ring and
// abandon rates, campaigns, the rules' clocks; listen / whisper / barge on an agent's call.
import { api } from "./api.js";
import { clockTime, duration, percent, since, untilDeadline } from "./format.js";
import { el, notify, page, setText, t } from "./page.js";
import { openStream } from "./stream.js";
import { topbar } from "./topbar.js";

const agents = new Map(); // extension -> agent.state
const queues = new Map(); // name -> queue snapshot, updated by queue.state
const campaigns = new Map(); // id -> campaign, with its latest campaign.state
const ACTIONS = { new: ["start"], running: ["pause", "stop"], paused: ["resume", "stop"] };

// ---------------------------------------------------------------- agents
function renderAgents() {
  const rows = [...agents.values()]
    .sort((a, b) => a.agent.localeCompare(b.agent))
    .map((a) =>
      el("tr", { dataset: { agent: a.agent, state: a.state } },
        el("td", {}, a.agent),
        el("td", {}, a.name || ""),
        el("td", {}, el("span", { class: "badge", dataset: { state: a.state } },
          a.paused_reason ? `${t(`state.${a.state}`)} · ${t(`pause.${a.paused_reason}`)}` : t(`state.${a.state}`))),
        el("td", { class: "since", dataset: { since: a.since || "" } }, since(a.since)),
        el("td", {}, a.queue || ""),
        el("td", {}, ...spyButtons(a)),
      ),
    );
  document.getElementById("agents").replaceChildren(...rows);
}

function spyButtons(a) {
  if (a.state !== "on_call" || !page.user.extension || a.agent === page.user.extension) return [];
  return ["listen", "whisper", "barge"].map((mode) =>
    el("button", { type: "button", class: "quiet small", dataset: { spy: mode, agent: a.agent } }, t(`spy.${mode}`)),
  );
}

document.getElementById("agents").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-spy]");
  if (!button) return;
  try {
    await api("POST", "/supervision", { agent: button.dataset.agent, mode: button.dataset.spy });
    notify(t("spy.ringing", { phone: page.user.extension }), "ok");
  } catch (error) {
    notify(error.message);
  }
});

// ---------------------------------------------------------------- queues and tiles
function renderQueues() {
  const list = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  document.getElementById("queues").replaceChildren(
    ...list.map((q) =>
      el("tr", { dataset: { queue: q.queue } },
        el("td", {}, q.queue),
        el("td", {}, String(q.waiting ?? 0)),
        el("td", {}, duration(q.longest_wait_s || 0)),
        el("td", {}, String(q.agents_free ?? 0)),
        el("td", {}, String(q.answered_today ?? 0)),
        el("td", {}, percent(q.within_three_rings_today || 0, q.answered_today || 0)),
        el("td", { class: abandonClass(q.abandon_rate_today) }, rate(q.abandon_rate_today)),
      ),
    ),
  );
  const sum = (name) => list.reduce((n, q) => n + (q[name] || 0), 0);
  setText("kpi-waiting", String(sum("waiting")));
  setText("kpi-longest", duration(Math.max(0, ...list.map((q) => q.longest_wait_s || 0))));
  setText("kpi-answered", String(sum("answered_today")));
  setText("kpi-rings", percent(sum("within_three_rings_today"), sum("answered_today")));
  const offered = sum("answered_today") + sum("abandoned_today");
  const abandon = offered ? sum("abandoned_today") / offered : null;
  setText("kpi-abandon", rate(abandon));
  document.getElementById("kpi-abandon-tile").className = `tile ${abandonClass(abandon)}`;
}

function rate(value) {
  return value === null || value === undefined ? "—" : `${(100 * value).toFixed(1)} %`;
}

function abandonClass(value) {
  return value !== null && value !== undefined && value > page.abandon_limit ? "over" : "";
}

// ---------------------------------------------------------------- campaigns
function renderCampaigns() {
  const list = [...campaigns.values()].filter((c) => c.state !== "stopped").sort((a, b) => a.id - b.id);
  document.getElementById("campaigns").replaceChildren(
    ...list.map((c) =>
      el("tr", { dataset: { campaign: c.id } },
        el("td", {}, `#${c.id}`),
        el("td", {}, `${t(`campaign.${c.kind}`)} · ${t(`mode.${c.mode}`)}`),
        el("td", {}, t(`campaign_state.${c.state}`)),
        el("td", {}, c.dial_level == null ? "—" : Number(c.dial_level).toFixed(2)),
        el("td", { class: abandonClass(c.abandon_rate) }, rate(c.abandon_rate)),
        el("td", {}, ...(ACTIONS[c.state] || []).map((action) =>
          el("button", { type: "button", class: "quiet small", dataset: { act: action, campaign: c.id } }, t(`action.${action}`)))),
      ),
    ),
  );
}

document.getElementById("campaigns").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-act]");
  if (!button) return;
  try {
    await api("POST", `/campaigns/${button.dataset.campaign}/${button.dataset.act}`, {});
    await loadCampaigns();
  } catch (error) {
    notify(error.message);
  }
});

async function loadCampaigns() {
  const found = (await api("GET", "/campaigns")).items;
  for (const c of found) campaigns.set(c.id, { ...(campaigns.get(c.id) || {}), ...c });
  renderCampaigns();
}

// ---------------------------------------------------------------- the rules' clocks
async function loadClocks() {
  try {
    const clocks = await api("GET", "/wallboard/clocks");
    for (const [name, rows] of Object.entries(clocks)) {
      document.getElementById(`clock-${name}`).replaceChildren(
        ...(rows.length
          ? rows.map((r) =>
              el("li", { class: `clock ${r.clock.state}` },
                `#${r.ticket_id} ${r.unit || ""} ${t(`category.${r.category}`)} · `,
                `${t(`clock.${r.clock.what}`)} ${clockTime(r.clock.due_at)} (${untilDeadline(r.clock.due_at)})`))
          : [el("li", { class: "muted" }, t("context.none"))]),
      );
    }
  } catch (error) {
    notify(error.message);
  }
}

// ---------------------------------------------------------------- live
async function resync() {
  try {
    const [a, q] = await Promise.all([api("GET", "/live/agents"), api("GET", "/live/queues")]);
    agents.clear();
    for (const agent of a.agents) agents.set(agent.agent, agent);
    queues.clear();
    for (const queue of q.queues) queues.set(queue.queue, queue);
    renderAgents();
    renderQueues();
  } catch (error) {
    notify(error.message);
  }
  await Promise.all([loadCampaigns().catch((error) => notify(error.message)), loadClocks()]);
}

function onEvent(type, e) {
  if (type === "agent.state") {
    agents.set(e.agent, { ...(agents.get(e.agent) || {}), ...e });
    renderAgents();
  } else if (type === "queue.state") {
    queues.set(e.queue, { ...(queues.get(e.queue) || {}), ...e });
    renderQueues();
    if (e.waiting === 0) refreshQueueTotals();
  } else if (type === "campaign.state") {
    campaigns.set(e.campaign_id, { ...(campaigns.get(e.campaign_id) || { id: e.campaign_id }), ...e });
    if (!campaigns.get(e.campaign_id).kind) loadCampaigns();
    renderCampaigns();
  } else if (type === "ticket.changed" || type === "call.queued") {
    scheduleClocks(); // a new or moved ticket may start or stop a clock
  } else if (type === "call.ended") {
    refreshQueueTotals();
  }
}

// Today's totals are in the snapshot, not the events: re-read after calls end (at most 1/s).
let totalsTimer = null;
function refreshQueueTotals() {
  if (totalsTimer) return;
  totalsTimer = setTimeout(async () => {
    totalsTimer = null;
    try {
      for (const queue of (await api("GET", "/live/queues")).queues) queues.set(queue.queue, queue);
      renderQueues();
    } catch (error) {
      notify(error.message);
    }
  }, 1000);
}

let clocksTimer = null;
function scheduleClocks() {
  clearTimeout(clocksTimer);
  clocksTimer = setTimeout(loadClocks, 1000);
}

// Durations tick without a round trip.
setInterval(() => {
  for (const cell of document.querySelectorAll("#agents td.since")) cell.textContent = since(cell.dataset.since);
}, 1000);
setInterval(loadClocks, 30000);

topbar();
openStream({ onEvent, onReset: resync });
