"use strict";
// The device panel: one page, live over Server-Sent Events. No assets from the internet.
const $ = (id) => document.getElementById(id);
let fastest = 0, state = {}, prompt = null, clockOffset = 0, curve = [], chosen = null, pinNeeded = false;

// ---- screens ---------------------------------------------------------------------------------
function show(name) {
  document.querySelectorAll(".screen").forEach((s) => s.classList.toggle("shown", s.id === name));
  document.querySelectorAll(".tab").forEach((t) => t.setAttribute("aria-current", t.dataset.screen === name ? "page" : "false"));
  document.body.dataset.screen = name;
  if (name === "progress") loadProgress();
  if (name === "unit") loadUnit();
  if (name === "today") loadToday();
}
document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => show(t.dataset.screen)));

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opts);
  let data = {};
  try { data = await r.json(); } catch (e) { data = { ok: false, error: "no answer from the controller" }; }
  if (r.status === 401) askPin();
  return data;
}

// ---- STOP: always on screen, also on Escape ---------------------------------------------------
async function stop() {
  $("stop").disabled = true;
  $("phase").textContent = "Stopping...";
  const r = await api("/api/stop", {});
  $("stop").disabled = false;
  $("phase").textContent = r.confirmed ? "Stopped: the load is off" : (r.detail || r.error || "Stop sent");
}
$("stop").addEventListener("click", stop);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { e.preventDefault(); stop(); }
  if (prompt && prompt.kind !== "yes" && /^[0-9]$/.test(e.key) && !$("prompt").hidden) {
    const b = document.querySelector(`.scale button[data-v="${e.key}"]`); if (b) b.click();
  }
});

// ---- today ------------------------------------------------------------------------------------
async function loadToday() {
  const rx = await api("/api/today");
  if (!rx.items) return;
  $("today-status").textContent = rx.status === "paused" ? rx.advice : `Week ${rx.week}, ${rx.phase}`;
  const ol = $("today-items"); ol.innerHTML = "";
  for (const it of rx.items) {
    const li = document.createElement("li");
    const dose = it.kind === "assessment"
      ? `one set at each of ${it.assessment_loads_kg.map((w) => w.toFixed(1)).join(", ")} kg`
      : `${it.sets} x ${it.target_reps} at ${it.load_kg.toFixed(1)} kg, rest ${it.rest_s} s`;
    const change = { up: "heavier", down: "lighter", hold: "same", start: "first", assess: "test" }[it.change] || it.change;
    li.innerHTML = `<div class="head"><span>${esc(it.exercise)}</span><span class="badge ${it.change}">${change}</span></div>
      <div class="dose">${dose}</div><ul class="why">${it.reasons.map((r) => `<li>${esc(r.text)}</li>`).join("")}</ul>`;
    ol.appendChild(li);
  }
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// ---- the live set -----------------------------------------------------------------------------
const PHASE = { idle: "No set running", armed: "Take up the handles to start", set: "Lift", rest: "Rest",
  paused: "Waiting for you", fault: "Link to the unit lost: the load is off" };
function render() {
  const s = state;
  const inSet = s.phase === "set";
  $("load").textContent = (inSet ? s.applied_kg : (s.next_kg ?? s.applied_kg ?? 0)).toFixed(1);
  $("load-what").textContent = inSet ? "on now" : (s.next_kg != null ? "next set" : "");
  $("reps").textContent = s.reps ?? 0;
  $("target").textContent = s.target_reps ?? "-";
  $("partials").textContent = s.partial_reps ? `(+${s.partial_reps} partial)` : "";
  $("exercise").textContent = s.exercise || "-";
  $("setno").textContent = s.set_index ? `${s.set_index} of ${s.sets}` : "-";
  $("next").textContent = s.next_kg != null ? `next set ${s.next_kg.toFixed(1)} kg` : "next set -";
  const canAdjust = !inSet && s.next_kg != null;
  $("minus").disabled = !canAdjust || s.next_kg <= 0.5;
  $("plus").disabled = !canAdjust || (s.next_max_kg != null && s.next_kg >= s.next_max_kg);
  const link = $("link");
  const over = s.phase === "idle" && (s.reason || "").startsWith("session");
  link.textContent = over ? "session over" : s.link === "ok" ? "unit connected" : `link ${s.link}`;
  link.classList.toggle("bad", s.link !== "ok" || s.phase === "fault");
  tick();
}
function tick() {
  const s = state;
  let text = PHASE[s.phase] || s.phase || "";
  if (s.phase === "rest" && s.rest_until) {
    const left = Math.max(0, Math.round(s.rest_until - (Date.now() / 1000 + clockOffset)));
    text = `Rest ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }
  if (s.reason && (s.phase === "paused" || s.phase === "fault")) text += ` (${s.reason})`;
  $("phase").textContent = text;
  document.body.dataset.phase = s.phase || "";
}
setInterval(tick, 500);
async function adjust(delta) {
  const kg = Math.round(((state.next_kg || 0) + delta) * 2) / 2;
  const r = await api("/api/next-load", { kg });
  $("adjust-msg").textContent = r.ok ? "" : `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`;
}
$("minus").addEventListener("click", () => adjust(-0.5));
$("plus").addEventListener("click", () => adjust(0.5));

function drawCurve() {
  const c = $("curve"), g = c.getContext("2d");
  c.width = c.clientWidth; c.height = c.clientHeight;
  g.fillStyle = "#151515"; g.fillRect(0, 0, c.width, c.height);
  if (curve.length < 2) return;
  const t0 = curve[0][0], t1 = curve[curve.length - 1][0] || t0 + 1;
  for (const [k, colour] of [[1, "#ffffff"], [2, "#ffd400"]]) {
    const vals = curve.map((p) => p[k]);
    // Position fills the height; force is drawn from zero, so noise on a steady load stays flat.
    const lo = k === 2 ? 0 : Math.min(...vals), hi = k === 2 ? Math.max(...vals, 1) * 1.3 : Math.max(...vals, lo + 1);
    g.strokeStyle = colour; g.lineWidth = 4; g.beginPath();
    curve.forEach((p, i) => {
      const x = 6 + (c.width - 12) * (p[0] - t0) / Math.max(0.1, t1 - t0);
      const y = c.height - 6 - (c.height - 12) * (p[k] - lo) / (hi - lo);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
  g.fillStyle = "#c8c8c8"; g.font = "16px sans-serif";
  g.fillText("position", 10, 20); g.fillStyle = "#ffd400"; g.fillText("force", 90, 20);
  c.dataset.points = curve.length;
}

// ---- check-in and questions ---------------------------------------------------------------------
function showPrompt(p) {
  prompt = p; chosen = null;
  const box = $("prompt");
  if (!p) { box.hidden = true; return; }
  $("prompt-q").textContent = p.question;
  $("prompt-msg").textContent = "";
  const body = $("prompt-body");
  if (p.kind === "yes") {
    body.innerHTML = `<div class="row"><button data-answer="yes">Yes</button><button data-answer="no">No</button></div>`;
    body.querySelector('[data-answer="yes"]').onclick = () => answer(true);
    body.querySelector('[data-answer="no"]').onclick = () => answer(false);
  } else {
    let buttons = "";
    for (let v = p.lo; v <= p.hi; v++) {
      const cls = p.kind === "pain" ? (v <= 3 ? "p-green" : v <= 5 ? "p-amber" : "p-red") : "";
      buttons += `<button class="${cls}" data-v="${v}" aria-pressed="false">${v}</button>`;
    }
    body.innerHTML = `<div class="scale">${buttons}</div>` +
      (p.kind === "pain" ? `<p class="lights" id="lights">0-3 green: fine to train. 4-5 amber: hold the load and tell us. 6 and over, red: stop; the next session is lighter.</p>` : "") +
      `<div class="row">` + (p.kind === "pain" ? `<button class="redflag" id="redflag">Red flag: snap or tearing, new weakness or numbness, chest pain, breathlessness, fainting</button>` : `<button id="skip">Skip</button>`) +
      `<button id="save" disabled>Save</button></div>`;
    body.querySelectorAll(".scale button").forEach((b) => b.onclick = () => {
      chosen = Number(b.dataset.v);
      body.querySelectorAll(".scale button").forEach((x) => x.setAttribute("aria-pressed", x === b ? "true" : "false"));
      $("save").disabled = false;
      if ($("lights")) $("lights").textContent = chosen <= 3 ? `${chosen}: green - fine to train.` : chosen <= 5 ? `${chosen}: amber - we hold the load.` : `${chosen}: red - stop; the next session is lighter.`;
    });
    if ($("redflag")) $("redflag").onclick = () => { chosen = "red_flag"; $("save").disabled = false; $("save").textContent = "Stop everything: red flag"; };
    if ($("skip")) $("skip").onclick = () => answer(null);
    $("save").onclick = () => answer(chosen);
  }
  box.hidden = false;
  const first = box.querySelector("button"); if (first) first.focus();
}
async function answer(value) {
  const r = await api("/api/answer", { prompt: prompt.id, value });
  if (!r.ok) $("prompt-msg").textContent = `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`;
}

// ---- progress -----------------------------------------------------------------------------------
function lineChart(title, labels, series, legend) {
  const div = document.createElement("div"); div.className = "chart";
  div.innerHTML = `<h2>${esc(title)}</h2><canvas></canvas><div class="legend">${legend}</div>`;
  $("charts").appendChild(div);
  pending.push(() => drawChart(div.querySelector("canvas"), labels, series));
}
let pending = [];
function drawChart(c, labels, series) {
  c.width = c.clientWidth || 340; c.height = c.clientHeight || 170;
  const g = c.getContext("2d");
  const all = series.flatMap((s) => s.values.filter((v) => v != null));
  if (!all.length) { g.fillStyle = "#c8c8c8"; g.font = "16px sans-serif"; g.fillText("no sessions yet", 10, 30); c.dataset.points = 0; return; }
  const lo = Math.min(0, ...all), hi = Math.max(...all) * 1.1 || 1, n = labels.length;
  const X = (i) => 40 + (c.width - 50) * (n > 1 ? i / (n - 1) : 0.5), Y = (v) => c.height - 24 - (c.height - 34) * (v - lo) / (hi - lo);
  g.strokeStyle = "#444"; g.lineWidth = 1; g.beginPath(); g.moveTo(40, 6); g.lineTo(40, c.height - 24); g.lineTo(c.width - 6, c.height - 24); g.stroke();
  g.fillStyle = "#c8c8c8"; g.font = "13px sans-serif";
  g.fillText(hi.toFixed(0), 4, 16); g.fillText(lo.toFixed(0), 4, c.height - 26);
  g.fillText(labels[0] || "", 40, c.height - 6); if (n > 1) g.fillText(labels[n - 1], c.width - 90, c.height - 6);
  let drawn = 0;
  for (const s of series) {
    g.strokeStyle = g.fillStyle = s.colour; g.lineWidth = 3;
    if (s.bars) {
      s.values.forEach((v, i) => { if (v == null) return; g.fillStyle = s.colourOf ? s.colourOf(v, i) : s.colour;
        g.fillRect(X(i) - 6, Math.min(Y(v), Y(lo) - 3), 12, Math.max(3, Y(lo) - Y(v))); drawn++; });
      continue;
    }
    g.beginPath(); let started = false;
    s.values.forEach((v, i) => { if (v == null) return; started ? g.lineTo(X(i), Y(v)) : g.moveTo(X(i), Y(v)); started = true; drawn++; });
    g.stroke();
    s.values.forEach((v, i) => { if (v != null) { g.beginPath(); g.arc(X(i), Y(v), 4, 0, 7); g.fill(); } });
  }
  c.dataset.points = drawn;
}
async function loadProgress() {
  const p = await api("/api/progress");
  $("charts").innerHTML = ""; pending = [];
  if (!p.exercises) { $("charts").textContent = p.error || ""; return; }
  for (const ex of p.exercises) {
    lineChart(ex.name, ex.points.map((q) => q.date.slice(5)), [
      { values: ex.points.map((q) => q.load_kg), colour: "#ffffff" },
      { values: ex.points.map((q) => q.one_rm_kg), colour: "#ffd400" }],
      `<span style="color:#fff">load kg</span> and <span style="color:#ffd400">estimated 1RM kg</span>`);
  }
  lineChart("Pain during sessions (0-10)", p.pain.map((q) => q.date.slice(5)),
    [{ values: p.pain.map((q) => q.pain), colour: "#2ecc40", bars: true,
       colourOf: (v) => v <= 3 ? "#2ecc40" : v <= 5 ? "#ffb000" : "#ff3b30" }], "green 0-3, amber 4-5, red 6+");
  lineChart(`Sessions per week (plan: ${p.sessions_per_week})`, p.weeks.map((w) => w.week.slice(5)),
    [{ values: p.weeks.map((w) => w.sessions), colour: "#ffffff", bars: true },
     { values: p.weeks.map(() => p.sessions_per_week), colour: "#ffd400" }], `<span style="color:#ffd400">the plan</span>`);
  pending.forEach((draw) => draw()); pending = [];  // once the grid is laid out
}

// ---- the unit -------------------------------------------------------------------------------------
async function loadUnit() {
  const u = await api("/api/unit");
  if (!u.rearm) return;
  const info = u.unit || {}, h = u.health || {};
  const rows = [["Serial", info.serial], ["Firmware", info.firmware], ["Link", u.connected ? `connected (${u.link})` : "not connected"],
    ["Address", info.url], ["Cables", info.cable_count], ["Most load", info.max_kg != null ? `${info.max_kg} kg` : null],
    ["Frames received", h.frames_received], ["Bad frames", h.bad_frames], ["Command retries", h.retries],
    ["Frames lost", h.device_frames_lost], ["Last sample", h.last_sample_age_s != null ? `${(h.last_sample_age_s * 1000).toFixed(0)} ms ago` : null]];
  $("unit-info").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v == null ? "-" : esc(v)}</dd>`).join("");
  $("rearm").textContent = u.rearm;
  $("events").innerHTML = u.safety.length ? u.safety.map((e) => `<li>${new Date(e.at * 1000).toLocaleTimeString()} ${esc(e.kind)}: ${esc(e.cause)}</li>`).join("") : "<li>none</li>";
}

// ---- PIN --------------------------------------------------------------------------------------------
function askPin() { $("pin").hidden = false; $("pin-input").focus(); }
$("pin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await api("/api/login", { pin: $("pin-input").value });
  if (r.ok) { $("pin").hidden = true; start(); } else $("pin-msg").textContent = r.error;
});

// ---- live events -----------------------------------------------------------------------------------
let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/api/events");
  source.addEventListener("hello", (e) => { const d = JSON.parse(e.data); clockOffset = d.now - Date.now() / 1000;
    state = d.state; render(); showPrompt(d.prompt);
    if (state.phase === "set") show("live"); });
  source.addEventListener("state", (e) => {
    const prev = state.phase; state = JSON.parse(e.data); render();
    if ((state.phase === "armed" || state.phase === "set") && prev !== state.phase && document.body.dataset.screen !== "live") show("live");
    if (state.phase === "armed" && prev !== "armed") { curve = []; fastest = 0; drawCurve(); $("vloss").textContent = "-"; }
  });
  source.addEventListener("curve", (e) => { const d = JSON.parse(e.data);
    d.t.forEach((t, i) => curve.push([t, d.pos[i], d.force[i]])); if (curve.length > 600) curve = curve.slice(-600); drawCurve(); });
  source.addEventListener("rep", (e) => { const r = JSON.parse(e.data);
    if (r.kind === "full") {  // speed loss so far: this rep against the set's fastest
      fastest = Math.max(fastest, r.mean_concentric_m_s);
      $("vloss").textContent = `${Math.max(0, (1 - r.mean_concentric_m_s / fastest) * 100).toFixed(0)}%`;
    }
    $("rom").textContent = r.rom_pct != null ? `${r.rom_pct.toFixed(0)}% of your range` : `${r.rom_mm.toFixed(0)} mm`;
    curve = curve.slice(-5); });
  source.addEventListener("set", (e) => { const s = JSON.parse(e.data);
    $("vloss").textContent = s.velocity_loss != null ? `${(s.velocity_loss * 100).toFixed(0)}%` : "-"; });
  source.addEventListener("prompt", (e) => showPrompt(JSON.parse(e.data)));
  source.addEventListener("safety", () => { if (document.body.dataset.screen === "unit") loadUnit(); });
  source.addEventListener("session", () => { if (document.body.dataset.screen === "progress") loadProgress(); });
  source.addEventListener("bye", () => { source.close(); $("link").textContent = "session over"; });
  source.onerror = () => { $("link").textContent = "panel reconnecting"; $("link").classList.add("bad"); };
}
async function start() {
  const s = await api("/api/state");
  if (s.ok === false) return;
  state = s.state; render(); connect(); loadToday();
}
show("today");
start();
