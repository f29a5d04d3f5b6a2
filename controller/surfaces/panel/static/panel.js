"use strict";
// The device panel: one page, live over Server-Sent Events. No assets from the internet.
const $ = (id) => document.getElementById(id);
// ---- settings, kept on this screen: units (display only: the wire stays in 0.5 kg), colours,
// text size, sounds and voice ----------------------------------------------------------------
const SETTINGS = { units: "kg", theme: "dark", text: "normal", sound: "on", voice: "off" };
const settings = {};
for (const [k, d] of Object.entries(SETTINGS)) settings[k] = localStorage.getItem(`halfstep-${k}`) || d;
if (localStorage.getItem("halfstep-muted") === "1" && !localStorage.getItem("halfstep-sound")) settings.sound = "off";
function applySettings() {
  document.body.dataset.theme = settings.theme;
  document.body.dataset.text = settings.text;
  window.units = settings.units;
  document.querySelectorAll(".opt[data-setting]").forEach((b) => b.setAttribute("aria-pressed", String(settings[b.dataset.setting] === b.dataset.value)));
}
function setSetting(k, v) {
  settings[k] = v; localStorage.setItem(`halfstep-${k}`, v); applySettings();
  if (k === "sound") { muted = v === "off"; showMute(); }
  if (k === "voice") showVoice();
  render(); if (document.body.dataset.screen === "today") loadToday();
}
const LB = 2.20462;
// A load as shown: kg, or pounds to one decimal (the unit is still set in 0.5 kg steps).
function loadNum(kg) { return kg == null ? "-" : (settings.units === "lb" ? kg * LB : kg).toFixed(1); }
function fmtLoad(kg) { return `${loadNum(kg)} ${settings.units}`; }
window.fmtLoad = fmtLoad;
let recountTimer = 0;
let fastest = 0, state = {}, prompt = null, clockOffset = 0, curve = [], chosen = null, pinNeeded = false;

// ---- screens ---------------------------------------------------------------------------------
function show(name) {
  if (name === "home" && home && home.summary) name = "summary";  // it stays until Home
  document.querySelectorAll(".screen").forEach((s) => s.classList.toggle("shown", s.id === name));
  document.querySelectorAll(".tab").forEach((t) => t.setAttribute("aria-current", t.dataset.screen === name ? "page" : "false"));
  document.body.dataset.screen = name;
  if (name === "progress") loadProgress();
  if (name === "unit") loadUnit();
  if (name === "today") loadToday();
  if (name === "home" && window.loadHome) loadHome();
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
  if (prompt && /^[0-9]$/.test(e.key) && !$("prompt").hidden && $("flags").hidden) {
    const b = document.querySelector(`#prompt-body .scale button[data-v="${e.key}"]`); if (b) b.click();
  }
});

// ---- today ------------------------------------------------------------------------------------
let todayDate = null;
async function loadToday() {
  const rx = await api("/api/today");
  if (!rx.items) return;
  todayDate = rx.date || todayDate;
  const paused = rx.status === "paused";
  today = rx;
  $("today-title").textContent = rx.name && serveMode ? `Today: ${rx.name}` : "Today";
  const flag = (rx.reasons || []).find((r) => r.rule === "FLAG-1");
  showPaused(paused ? { ...((flag && flag.data) || {}), advice: (flag && flag.data && flag.data.advice) || rx.advice } : null);
  const soon = rx.too_soon ? " Your last session was very recent: resting today is part of the training." : "";
  $("today-status").textContent = paused ? "No training until the all-clear." : `${rx.headline || ""}.${soon}`.replace(/^\./, "").replace("..", ".");
  const ol = $("today-items"); ol.innerHTML = "";
  for (const it of rx.items) {
    const li = document.createElement("li");
    const dose = it.kind === "assessment"
      ? `A few test sets, each a little heavier, from ${fmtLoad(it.load_kg)}; stop each with 2-3 reps left`
      : `${it.sets} sets of ${it.target_reps} at ${fmtLoad(it.load_kg)}, ${it.rest_s} s rest` +
        (it.warmup_kg && serveMode ? `; first a warm-up of ${it.warmup_reps} at ${fmtLoad(it.warmup_kg)}` : "");
    const change = { up: "heavier", down: "lighter", hold: "same", start: "first", assess: "finding your level" }[it.change] || it.change;
    const mode = it.kind === "work" && it.mode && it.mode !== "standard" ? `<span class="badge mode">${esc(modeLabel(it.mode))}</span>` : "";
    li.innerHTML = `<div class="head"><span>${esc(it.exercise)}</span><span>${mode}<span class="badge ${it.change}">${change}</span></span></div>
      <div class="dose">${esc(dose)}</div>${it.last ? `<div class="last">${esc(lastText(it.last))}</div>` : ""}<ul class="why">${it.reasons.filter((r) => r.plain).map((r) => `<li data-rule="${esc(r.rule)}" >${esc(r.plain)}</li>`).join("")}</ul>`;
    ol.appendChild(li);
  }
  loadCheckin();
  showStart();
}
let today = null, serveMode = false, home = null;
function modeLabel(name) { const m = ((today && today.modes) || []).find((x) => x.name === name); return m ? m.label : name; }
function lastText(last) {
  const sets = last.sets.map((x) => `${x.reps}`).join(", ");
  const load = Math.max(...last.sets.map((x) => x.load_kg));
  return `Last time (${last.date}): ${last.sets.length} sets at ${fmtLoad(load)}, reps ${sets}` +
    (last.best_m_s ? `, fastest ${last.best_m_s.toFixed(2)} m/s` : "");
}
function showStart() {  // Start (halfstep serve): greyed out with the reason beside it
  const b = $("start");
  b.hidden = !serveMode;
  if (!serveMode) { $("start-why").textContent = ""; return; }
  const running = home && home.running, paused = today && today.status === "paused";
  const why = running ? "A session is under way: see the Set screen."
    : paused ? "Paused after a warning sign: record a clinician's all-clear above first."
    : !today ? "Choose who is training on the Home screen." : "";
  b.disabled = !!why;
  $("start-why").textContent = why;
}
function showPaused(pause) {  // the banner and the all-clear form while a red flag stands
  const box = $("paused");
  const was = !box.hidden;
  box.hidden = !pause;
  if (!pause) return;
  $("paused-what").textContent = `Red flag on ${pause.date || "-"}: ${pause.what || "a red flag"}.`;
  $("paused-advice").textContent = pause.advice || "";
  if (!was) {  // a fresh form: today's date, nothing ticked
    const d = $("clear-date");
    d.value = todayDate || new Date().toISOString().slice(0, 10);
    if (todayDate) d.max = todayDate;
    if (pause.date) d.min = pause.date;
    $("clear-confirm").checked = false; $("clear-submit").disabled = true;
    $("clear-msg").textContent = "Tick the box above first: the button records the all-clear once it is confirmed.";
  }
}
$("clear-confirm").addEventListener("change", () => {
  $("clear-submit").disabled = !$("clear-confirm").checked;
  $("clear-msg").textContent = $("clear-confirm").checked ? "" : "Tick the box above first: the button records the all-clear once it is confirmed.";
});
$("clear-date").addEventListener("invalid", () => {
  $("clear-msg").textContent = "The date of the all-clear must be on or after the red flag's date, and not in the future.";
});
$("clear-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("clear-msg").textContent = "";
  const by = $("clear-by").value.trim();
  if (!by) { $("clear-msg").textContent = "Say who gave the all-clear (their name or role)."; $("clear-by").focus(); return; }
  if (!$("clear-confirm").checked) { $("clear-msg").textContent = "Tick the box to confirm the all-clear."; return; }
  $("clear-submit").disabled = true;
  const r = await api("/api/clear", { by, date: $("clear-date").value || null, confirm: true });
  if (!r.ok) {
    $("clear-msg").textContent = `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`;
    $("clear-submit").disabled = !$("clear-confirm").checked;
    if (r.field && $(`clear-${r.field}`)) $(`clear-${r.field}`).focus();
    return;
  }
  $("clear-msg").textContent = "";
  $("clear-by").value = "";
  $("checkin-msg").textContent = `All-clear from ${by} recorded: training restarts, lighter at first.`;
  await loadToday();
});
async function loadCheckin() {  // the next-morning check-in, when no session asks anything
  const c = await api("/api/checkin");
  const b = $("checkin-open");
  b.hidden = !c.open;
  b.onclick = () => showPrompt({ ...c.question, id: null }, "checkin");
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

// ---- the live set -----------------------------------------------------------------------------
const PHASE = { idle: "No set running", armed: "Take up the handles to start", set: "Lift", rest: "Rest",
  paused: "Waiting for you", fault: "Link to the unit lost: the load is off" };
function render() {
  const s = state;
  const inSet = s.phase === "set";
  $("load").textContent = loadNum(inSet ? s.applied_kg : (s.next_kg ?? s.applied_kg ?? 0));
  $("load").nextElementSibling.firstChild.textContent = `${settings.units} `;
  // During a rest the screen is about the set to come, never the one just done.
  const resting = s.phase === "rest", n = (s.set_index || 0) + (resting ? 1 : 0);
  $("step-label").textContent = !s.exercise ? "" : (resting ? "Next: " : "") + (s.step === "warmup" ? `${s.exercise}: warm-up set (light)`
    : s.step === "assessment" ? `${s.exercise}: test set ${n}` : `${s.exercise}: set ${n} of ${s.sets}`);
  document.querySelector("#reps").closest(".figure").querySelector(".unit-label").firstChild.textContent = resting ? "reps, last set " : "reps ";
  if (s.exercise && s.exercise !== shownExercise && (s.phase === "armed" || s.phase === "rest")) exerciseCard(s.exercise);
  if (s.phase === "set") $("excard").hidden = true;
  renderModes();
  $("load-what").textContent = inSet ? "on now" : (s.next_kg != null ? "next set" : "");
  $("reps").textContent = s.reps ?? 0;
  $("target").textContent = s.target_reps ?? "-";
  $("partials").textContent = s.partial_reps ? `(+${s.partial_reps} partial)` : "";
  $("exercise").textContent = s.exercise || "-";
  $("setno").textContent = s.step === "warmup" ? "warm-up" : s.step === "assessment" ? `test ${s.set_index}` : s.set_index ? `${s.set_index} of ${s.sets}` : "-";
  $("next").textContent = s.next_kg != null ? `next set ${fmtLoad(s.next_kg)}` : "next set -";
  // Heavier loads move in bigger steps (2.5 kg from 20 kg up: 77 to 85 kg is 4 taps, not 16);
  // a button that cannot be used says why beside it.
  const canAdjust = !inSet && s.next_kg != null;
  const up = step(s.next_kg, +1), down = step(s.next_kg, -1);
  const stepText = (kg) => settings.units === "lb" ? `${(kg * LB).toFixed(1)} lb` : `${kg} kg`;
  $("plus").textContent = `+${stepText(up)}`; $("plus").setAttribute("aria-label", `next set ${stepText(up)} heavier`);
  $("minus").textContent = `-${stepText(down)}`; $("minus").setAttribute("aria-label", `next set ${stepText(down)} lighter`);
  const atMost = s.next_max_kg != null && s.next_kg >= s.next_max_kg;
  $("minus").disabled = !canAdjust || s.next_kg <= 0.5;
  $("plus").disabled = !canAdjust || atMost;
  $("adjust-why").textContent = inSet ? "The load changes between sets, not during one."
    : s.next_kg == null ? "No set is coming up."
    : atMost ? (s.step === "warmup" ? "A warm-up stays light: the working sets come next."
      : s.step === "assessment" ? "A test set's load is set by the test: lighter is allowed, not heavier."
      : `${fmtLoad(s.next_max_kg)} is the most today's plan allows for this exercise.`)
    : s.next_kg <= 0.5 ? `${fmtLoad(0.5)} is the lightest the unit sets.` : "";
  const link = $("link");
  const over = s.phase === "idle" && (s.reason || "").startsWith("session");
  link.textContent = over ? "session over" : s.phase === "idle" && !s.exercise ? "ready" : s.link === "ok" ? "connected" : `link ${s.link}`;
  link.classList.toggle("bad", s.link !== "ok" || s.phase === "fault");
  const paused = s.program === "paused";
  $("paused-badge").hidden = !paused;
  $("paused-badge").title = paused && s.pause ? `Paused since ${s.pause.date}: ${s.pause.what}` : "";
  document.body.dataset.program = s.program || "";
  tick();
}
// ---- sound cues: a rep, a set's end, the rest's last 3 s and its end; muted from the screen ----
// Every cue is recorded in window.cues (played or muted), so what the page did can be checked.
window.cues = [];
let audio = null, muted = settings.sound === "off";
const TONES = { rep: [660, 0.08], "set-end": [440, 0.35], count: [880, 0.12], "rest-end": [1100, 0.45] };
function cue(name) {
  // `played`: the tone was handed to the page's audio output (false when muted or when the
  // device has no audio), so what was heard can be checked.
  const entry = { name, played: false, at: Date.now() };
  window.cues.push(entry);
  if (muted) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    const [hz, secs] = TONES[name], osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = hz; gain.gain.value = 0.25;
    osc.connect(gain).connect(audio.destination);
    osc.start(); osc.stop(audio.currentTime + secs);
    entry.played = true;
  } catch (e) { /* no audio device: the cue is still shown on screen */ }
}
function showMute() {
  $("mute").textContent = muted ? "Sounds: off" : "Sounds: on";
  $("mute").setAttribute("aria-pressed", String(muted));
}
$("mute").addEventListener("click", () => setSetting("sound", muted ? "on" : "off"));
showMute();
// Spoken cues (optional): what the screen says, said aloud, for people who cannot read it
// from the bench; recorded in window.cues like the tones.
function say(text) {
  const on = settings.voice === "on";
  window.cues.push({ name: "voice", text, played: on, at: Date.now() });
  if (!on || !window.speechSynthesis) return;
  try { const u = new SpeechSynthesisUtterance(text); u.rate = 0.95; speechSynthesis.speak(u); } catch (e) { /* no voice */ }
}
function showVoice() {
  $("voice").textContent = settings.voice === "on" ? "Voice: on" : "Voice: off";
  $("voice").setAttribute("aria-pressed", String(settings.voice === "on"));
}
$("voice").addEventListener("click", () => setSetting("voice", settings.voice === "on" ? "off" : "on"));
showVoice();
// ---- the exercise card: between exercises, how to set up and move (from today's plan) ----------
let shownExercise = null;
async function exerciseCard(name) {
  shownExercise = name;
  if (!today || !today.items || !today.items.some((i) => i.exercise === name)) {
    const rx = await api("/api/today"); if (rx.items) today = rx;
  }
  const it = today && today.items ? today.items.find((i) => i.exercise === name) : null;
  const g = it && it.guide;
  if (!g) return;
  $("excard-title").textContent = `Next: ${g.title || name}`;
  $("excard-art").innerHTML = g.svg || "";
  $("excard-dose").textContent = it.kind === "assessment" ? "Test sets: each a little heavier, stop with 2-3 reps left."
    : `${it.sets} sets of ${it.target_reps} at ${fmtLoad(it.load_kg)}` + (state.step === "warmup" ? `, after a warm-up at ${fmtLoad(it.warmup_kg)}` : "");
  $("excard-setup").innerHTML = (g.setup || []).map((x) => `<li>${esc(x)}</li>`).join("");
  $("excard-cues").innerHTML = [...(g.cues || []), ...(g.avoid || [])].map((x) => `<li>${esc(x)}</li>`).join("");
  $("excard").hidden = false;
  $("excard").dataset.exercise = name;
  $("rom").textContent = "-"; $("vloss").textContent = "-"; $("rep-speed").textContent = ""; $("rep-power").textContent = "";
  $("last-time").textContent = it.last ? lastText(it.last) : "";
  say(`Next: ${name}. Set up, then take up the handles.`);
}
$("excard-ok").addEventListener("click", () => { $("excard").hidden = true; });
// ---- load modes: chosen between working sets, refused with the reason when they do not fit ----
function renderModes() {
  const s = state, box = $("mode-buttons");
  const modes = (today && today.modes) || [];
  if (box.childElementCount !== modes.length) {
    box.innerHTML = modes.map((m) => `<button class="mode" data-mode="${esc(m.name)}" aria-pressed="false">${esc(m.label)}</button>`).join("");
    box.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => chooseMode(b.dataset.mode)));
  }
  const current = s.mode || "standard";
  const why = s.phase === "set" ? "The mode changes between sets, not during one."
    : s.next_kg == null ? "Modes are chosen while a set is ready or during the rest before it."
    : s.step === "warmup" ? "The warm-up is done with a steady load; modes apply to working sets."
    : s.step === "assessment" ? "Test sets need a steady load to measure your level; modes apply to working sets." : "";
  box.querySelectorAll(".mode").forEach((b) => {
    const m = modes.find((x) => x.name === b.dataset.mode) || {};
    b.setAttribute("aria-pressed", String(b.dataset.mode === current));
    b.disabled = !!why || m.offered === false;
  });
  const m = modes.find((x) => x.name === current);
  $("mode-plain").textContent = m ? `${m.label}: ${m.plain}` : "";
  const off = modes.filter((x) => x.offered === false).map((x) => x.label);
  $("mode-why").textContent = why || (off.length ? `This unit does not offer: ${off.join(", ")}.` : "");
}
async function chooseMode(name) {
  const r = await api("/api/mode", { mode: name });
  $("adjust-msg").textContent = r.ok ? "" : `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`;
}
$("ready").addEventListener("click", async () => {
  const r = await api("/api/ready", {});
  $("adjust-msg").textContent = r.ok ? "" : r.error;
});
let lastLeft = null;
function tick() {
  const s = state;
  let text = PHASE[s.phase] || s.phase || "";
  const resting = s.phase === "rest" && s.rest_until;
  $("rest-card").hidden = !resting;
  if (resting) {
    const left = Math.max(0, Math.round(s.rest_until - (Date.now() / 1000 + clockOffset)));
    const clock = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    text = `Rest ${clock}`;
    $("rest-left").textContent = left > 0 && left <= 3 ? String(left) : clock;  // 3-2-1
    $("rest-card").dataset.left = String(left);
    if (lastLeft !== null && left !== lastLeft && left <= 3) {
      cue(left > 0 ? "count" : "rest-end");
      if (left === 0) say(`Rest over. Next set: ${fmtLoad(s.next_kg)}. Take up the handles.`);
    }
    lastLeft = left;
  } else {
    lastLeft = null;
  }
  if (s.reason && (s.phase === "paused" || s.phase === "fault")) text += ` (${s.reason})`;
  $("phase").textContent = text;
  document.body.dataset.phase = s.phase || "";
}
setInterval(tick, 250);
function step(kg, direction) {
  return (direction > 0 ? (kg ?? 0) >= 20 : (kg ?? 0) > 20) ? 2.5 : 0.5;
}
async function adjust(direction) {
  const now = state.next_kg || 0;
  let kg = Math.round((now + direction * step(now, direction)) * 2) / 2;
  if (direction > 0 && state.next_max_kg != null) kg = Math.min(kg, state.next_max_kg);  // up to the cap
  if (direction < 0) kg = Math.max(kg, 0.5);
  // Sent as the text "12.5": the controller takes plain decimals only, never 1e21-style numbers.
  const r = await api("/api/next-load", { kg: kg.toFixed(1) });
  $("adjust-msg").textContent = r.ok ? "" : `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`;
}
$("minus").addEventListener("click", () => adjust(-1));
$("plus").addEventListener("click", () => adjust(+1));

function drawCurve() {
  const c = $("curve"), g = c.getContext("2d");
  c.width = c.clientWidth; c.height = c.clientHeight;
  const css = getComputedStyle(document.body), v = (n) => css.getPropertyValue(n).trim();
  const fg = v("--fg") || "#ffffff", accent = v("--accent") || "#ffd400";
  g.fillStyle = v("--card") || "#151515"; g.fillRect(0, 0, c.width, c.height);
  if (curve.length < 2) return;
  const t0 = curve[0][0], t1 = curve[curve.length - 1][0] || t0 + 1;
  for (const [k, colour] of [[1, fg], [2, accent]]) {
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
  g.fillStyle = fg; g.font = "18px sans-serif";
  g.fillText("position", 10, 22); g.fillStyle = accent; g.fillText("force", 100, 22);
  c.dataset.points = curve.length;
}

// ---- check-in and questions ---------------------------------------------------------------------
// One card for every question: the session's (answered at /api/answer by the prompt's id) and
// the next-morning check-in (answered at /api/checkin). A red flag is an answer at any question.
const GROUPS = { cardiovascular: "Heart and breathing", neurological: "Nerves", injury: "Injury",
  function: "Everyday function", pain: "Pain", other: "Something else" };
let promptMode = "answer", sending = false;
function lightsText(v) {
  return v <= 3 ? `${v}: green - fine to train.` : v <= 5 ? `${v}: amber - we hold the load.` : `${v}: red - stop; the next session is lighter.`;
}
function closePrompt() { prompt = null; chosen = null; promptMode = "answer"; $("prompt").hidden = true; $("prompt").dataset.qid = ""; }
let serverQuestion = null;  // the session's question now (kept while a red flag is being chosen)
function serverPrompt(p) {  // a prompt event: the session's question, or null when none is asked
  serverQuestion = p;
  if (sending && promptMode !== "checkin") return;  // answer() shows what comes next
  // A red flag being chosen is never lost: its question may end (a rest runs out), the card
  // stays and Save sends the flag on its own (/api/red-flag).
  if (prompt && (promptMode === "answer" || promptMode === "flag") && !$("flags").hidden) {
    if (!p || p.id !== prompt.id) {
      promptMode = "flag";  // its question has ended: say so, keep the flag within reach
      $("prompt-q").textContent = "That question has ended and the session has moved on. " +
        "Choose a red flag to stop everything now, or press Back.";
      $("prompt-help").hidden = true;
    }
    return;
  }
  if (p) showPrompt(p, "answer");
  else if (promptMode === "answer" || promptMode === "flag") closePrompt();
}
function choose(value) {  // a value picked on a scale or among the red flags; Save sends it
  chosen = value;
  const scale = prompt && (prompt.kind === "pain" || prompt.kind === "number");
  $("prompt-msg").textContent = value == null && scale ? "Choose a number, then Save." : "";
  const save = $("save"), flag = typeof value === "string" && value.startsWith("red_flag:");
  save.hidden = false; save.disabled = value == null;
  save.textContent = flag ? "Stop everything: red flag" : "Save";
  save.classList.toggle("redflag", flag);
  document.querySelectorAll("#prompt-body .scale button").forEach((x) => x.setAttribute("aria-pressed", String(!flag && Number(x.dataset.v) === value)));
  document.querySelectorAll("#flags .flagkind").forEach((x) => x.setAttribute("aria-pressed", String(flag && value === `red_flag:${x.dataset.kind}`)));
  if ($("lights")) $("lights").textContent = flag ? "" : lightsText(value);
}
function showPrompt(p, mode = "answer") {
  if (!p) { closePrompt(); return; }
  const same = prompt && prompt.id === p.id && prompt.qid === p.qid && promptMode === mode;
  if (same && !$("prompt").hidden) return;  // the same question again (a reconnect): keep the choice
  prompt = p; chosen = null; promptMode = mode;
  const box = $("prompt");
  box.dataset.qid = p.qid || ""; box.dataset.kind = p.kind; box.dataset.mode = mode;
  $("prompt-q").textContent = p.question;
  $("prompt-help").textContent = p.help || ""; $("prompt-help").hidden = !p.help;
  $("prompt-msg").textContent = "";
  const body = $("prompt-body"), actions = $("prompt-actions");
  const skip = p.skippable ? `<button id="skip" class="skip">Skip</button>` : "";
  const scaled = p.kind === "pain" || p.kind === "number";
  if (p.kind === "yes") {
    body.innerHTML = `<div class="row"><button data-answer="yes">Yes</button><button data-answer="no">No</button></div>`;
    body.querySelector('[data-answer="yes"]').onclick = () => answer(true);
    body.querySelector('[data-answer="no"]').onclick = () => answer(false);
  } else if (p.kind === "choice") {
    body.innerHTML = `<div class="choices">${(p.choices || []).map((c) =>
      `<button class="choice" data-choice="${esc(c.value)}">${esc(c.label)}</button>`).join("")}</div>`;
    body.querySelectorAll(".choice").forEach((b) => b.onclick = () => answer(b.dataset.choice));
  } else {
    let buttons = "";
    for (let v = p.lo; v <= p.hi; v++) {
      const cls = p.kind === "pain" ? (v <= 3 ? "p-green" : v <= 5 ? "p-amber" : "p-red") : "p-plain";
      const shown = v === p.hi && p.open_top ? `${v}+` : `${v}`;  // RIR: 5+ means 5 or more
      buttons += `<button class="${cls}" data-v="${v}" aria-pressed="false">${shown}</button>`;
    }
    const [loLabel, hiLabel] = p.labels || ["", ""];
    body.innerHTML = `<div class="scale" style="grid-template-columns: repeat(${p.hi - p.lo + 1}, 1fr)">${buttons}</div>` +
      (loLabel || hiLabel ? `<div class="ends"><span id="label-lo">${esc(loLabel || "")}</span><span id="label-hi">${esc(hiLabel || "")}</span></div>` : "") +
      (p.kind === "pain" ? `<p class="lights" id="lights"></p>` : "");
    body.querySelectorAll(".scale button").forEach((b) => b.onclick = () => choose(Number(b.dataset.v)));
  }
  actions.innerHTML = `<button class="redflag" id="redflag" aria-expanded="false" aria-controls="flags">Red flag: something serious</button>` +
    skip + `<button id="save" ${scaled ? "" : "hidden"} disabled>Save</button>`;
  // The red flags: every kind in plain words, grouped, each its own big button.
  const groups = {};
  for (const f of p.red_flags || []) (groups[f.group] = groups[f.group] || []).push(f);
  $("flags").innerHTML = `<h3>Which red flag? Everything stops and the program pauses.</h3>` +
    Object.entries(groups).map(([g, fs]) => `<div class="flaggroup"><h4>${esc(GROUPS[g] || g)}</h4>` +
      fs.map((f) => `<button class="flagkind" data-kind="${esc(f.kind)}" aria-pressed="false">${esc(f.label)}</button>`).join("") + "</div>").join("");
  $("flags").hidden = true; body.hidden = false;
  $("flags").querySelectorAll(".flagkind").forEach((b) => b.onclick = () => {
    choose(`red_flag:${b.dataset.kind}`); $("save").scrollIntoView({ block: "nearest" }); });
  $("redflag").onclick = () => {
    const open = $("flags").hidden;
    if (!open && promptMode === "flag") {  // back from a flag whose question has ended
      closePrompt(); if (serverQuestion) showPrompt(serverQuestion, "answer"); return;
    }
    $("flags").hidden = !open; body.hidden = open;
    $("redflag").setAttribute("aria-expanded", String(open));
    $("redflag").textContent = open ? "Back: no red flag" : "Red flag: something serious";
    $("redflag").classList.toggle("redflag", !open);
    if (!open || typeof chosen === "string") choose(null);
    if (!scaled && !open) $("save").hidden = true;
    if ($("skip")) $("skip").hidden = open;
  };
  if ($("skip")) $("skip").onclick = () => answer(null);
  $("save").onclick = () => { if (chosen != null) answer(chosen); };
  if (scaled) $("prompt-msg").textContent = "Choose a number, then Save.";
  box.hidden = false;
  const first = box.querySelector("#prompt-body button"); if (first) first.focus();
}
async function answer(value) {
  if (sending || !prompt) return;
  sending = true;
  const checkin = promptMode === "checkin";
  const flag = typeof value === "string" && value.startsWith("red_flag");
  try {
    let r = checkin ? await api("/api/checkin", { value })
      : promptMode === "flag" && flag ? await api("/api/red-flag", { value, qid: prompt.qid || null })
      : await api("/api/answer", { prompt: prompt.id, value });
    if (!r.ok && flag && !checkin && /no longer asked/.test(r.error || "")) r = await api("/api/red-flag", { value, qid: prompt.qid || null });
    if (!r.ok) {
      if (!checkin && !flag && prompt && (!serverQuestion || serverQuestion.id !== prompt.id)) {
        closePrompt(); if (serverQuestion) showPrompt(serverQuestion, "answer");
        return;  // the question moved on meanwhile
      }
      $("prompt-msg").textContent = `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`; return;
    }
    if (!checkin) {  // answered: the card closes; the session's next question, if any, shows
      const done = prompt ? prompt.id : null;
      closePrompt();
      if (serverQuestion && serverQuestion.id !== done) showPrompt(serverQuestion, "answer");
      return;
    }
    if (checkin) {
      const label = ((prompt.choices || []).find((c) => c.value === r.answer) || {}).label;
      closePrompt();
      $("checkin-msg").textContent = r.program === "paused"
        ? `Recorded: red flag. Training is paused.${r.pause && r.pause.advice ? " " + r.pause.advice : ""}`
        : `Recorded: ${label || r.answer}. Today's plan takes it into account.`;
      loadToday();
    }
  } finally { sending = false; }
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
    state = d.state; render(); serverPrompt(d.prompt);
    if (state.phase === "set") show("live"); });
  source.addEventListener("state", (e) => {
    const prev = state.phase, prevProgram = state.program; state = JSON.parse(e.data); render();
    if (state.program !== prevProgram) {  // a red flag paused the program, or an all-clear
      if (document.body.dataset.screen === "today") loadToday();
      if (document.body.dataset.screen === "progress") loadProgress();
    }
    if ((state.phase === "armed" || state.phase === "set") && prev !== state.phase && document.body.dataset.screen !== "live") show("live");
    if (state.phase === "armed" && prev !== "armed") { curve = []; fastest = 0; drawCurve(); $("vloss").textContent = "-"; }
  });
  source.addEventListener("curve", (e) => { const d = JSON.parse(e.data);
    d.t.forEach((t, i) => curve.push([t, d.pos[i], d.force[i]])); if (curve.length > 600) curve = curve.slice(-600); drawCurve(); });
  source.addEventListener("rep", (e) => { const r = JSON.parse(e.data);
    if (r.corrected) {  // an earlier rep read again once the set's range was clear: said for a while
      const word = { full: "a rep", partial: "a partial rep", ignored: "not a rep" }[r.kind] || r.kind;
      const note = $("recount");
      note.textContent = `Rep ${r.index} recounted: ${word}${r.note ? ` (${r.note})` : ""}`;
      note.dataset.index = String(r.index);
      note.hidden = false;
      clearTimeout(recountTimer);
      recountTimer = setTimeout(() => { note.hidden = true; }, 8000);
      return;
    }
    if (r.kind !== "ignored") cue("rep");
    if (r.mean_concentric_m_s != null && r.kind !== "ignored") $("rep-speed").textContent = `Rep ${r.count}: ${r.mean_concentric_m_s.toFixed(2)} m/s`;
    $("rep-power").textContent = r.mean_concentric_power_w != null && r.kind !== "ignored" ? `${Math.round(r.mean_concentric_power_w)} W` : "";
    if (r.kind === "full") {  // speed loss so far: this rep against the set's fastest
      fastest = Math.max(fastest, r.mean_concentric_m_s);
      $("vloss").textContent = `${Math.max(0, (1 - r.mean_concentric_m_s / fastest) * 100).toFixed(0)}%`;
    }
    $("rom").textContent = r.rom_pct != null ? `${r.rom_pct.toFixed(0)}% of your range` : `${r.rom_mm.toFixed(0)} mm`;
    curve = curve.slice(-5); });
  source.addEventListener("set", (e) => { const s = JSON.parse(e.data); cue("set-end");
    say(`Set done: ${s.full_reps} reps.`);
    $("vloss").textContent = s.velocity_loss != null ? `${(s.velocity_loss * 100).toFixed(0)}%` : "-"; });
  source.addEventListener("prompt", (e) => { serverPrompt(JSON.parse(e.data)); if (document.body.dataset.screen === "today") loadCheckin(); });
  source.addEventListener("safety", () => { if (document.body.dataset.screen === "unit") loadUnit(); });
  source.addEventListener("session", () => { const screen = document.body.dataset.screen;
    if (screen === "progress") loadProgress(); if (screen === "today") loadToday(); });
  source.addEventListener("home", () => { if (window.homeChanged) homeChanged(); });
  source.addEventListener("bye", () => { source.close(); $("link").textContent = "session over"; });
  source.onerror = () => { $("link").textContent = "panel reconnecting"; $("link").classList.add("bad"); };
}
async function start() {
  const s = await api("/api/state");
  if (s.ok === false) return;
  state = s.state; render(); connect();
  if (window.startHome) await startHome(); else loadToday();
}
applySettings();
document.querySelectorAll(".opt[data-setting]").forEach((b) => b.addEventListener("click", () => setSetting(b.dataset.setting, b.dataset.value)));
show("today");
start();
