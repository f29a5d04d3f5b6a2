"use strict";
// The home screen (halfstep serve): who is training, Start, the summary that stays until Home,
// and adding a person. Loaded after panel.js, whose $, esc, api, show and settings it uses.
const REGIONS = ["neck", "shoulder", "elbow", "wrist", "back", "hip", "knee", "ankle"];

async function startHome() {
  home = await api("/api/home");
  serveMode = !!home.serve;
  document.body.dataset.serve = serveMode ? "yes" : "no";
  document.querySelector('.tab[data-screen="home"]').hidden = !serveMode;
  if (!serveMode) { loadToday(); return; }
  renderHome();
  if (home.summary) show("summary");
  else if (home.running) show(state.phase === "set" || state.phase === "armed" ? "live" : "today");
  else show("home");
}

async function loadHome() {
  home = await api("/api/home");
  renderHome();
}

function renderHome() {
  if (!home || !home.serve) return;
  const box = $("people");
  const badge = { ready: "ready", rest: "rest day", done: "done today", paused: "PAUSED", unreadable: "cannot be read" };
  box.innerHTML = (home.people || []).map((p) => `
    <button class="person ${p.status}" data-id="${esc(p.id)}" aria-pressed="${p.id === home.current}">
      <span class="person-name">${esc(p.name)}</span>
      <span class="person-status ${p.status}">${esc(badge[p.status] || p.status)}</span>
      <span class="person-plain">${esc(p.plain || "")}</span>
      <span class="person-last">${p.last ? `Last session: ${esc(p.last)}` : "No sessions yet"}</span>
    </button>`).join("") || `<p>No one yet: add the first person.</p>`;
  box.querySelectorAll(".person").forEach((b) => b.addEventListener("click", () => pick(b.dataset.id)));
  if (home.summary) renderSummary(home.summary);
  showStart();
}

async function pick(id) {
  const r = await api("/api/person", { id });
  if (!r.ok) { $("add-msg").textContent = r.error; return; }
  home = await api("/api/home");
  today = null;
  show("today");
}

$("start").addEventListener("click", async () => {
  $("start").disabled = true;
  const r = await api("/api/start", {});
  if (!r.ok) { $("start-why").textContent = r.error; $("start").disabled = false; return; }
  home = await api("/api/home");
  shownExercise = null;
  show("live");
});

// A session's end: the summary stays on screen until Home is pressed.
async function homeChanged() {
  const was = home && home.summary;
  home = await api("/api/home");
  renderHome();
  if (home.summary && !was) show("summary");
  else if (document.body.dataset.screen === "today") loadToday();
}

function renderSummary(s) {
  $("summary-title").textContent = `${s.name ? s.name + ": " : ""}session ${s.status === "finished" ? "done" : "over"}`;
  $("summary-plain").textContent = s.plain || "";
  const totals = [["Sets", s.sets], ["Reps", s.reps], ["Lifted", s.volume_kg != null ? fmtLoad(s.volume_kg) : "-"],
    ["Warm-ups", s.warmups], ["Pain", s.pain != null ? `${s.pain} / 10` : "-"]];
  $("summary-totals").innerHTML = totals.map(([k, v]) => `<div><dt>${k}</dt><dd>${esc(v ?? "-")}</dd></div>`).join("");
  const recs = s.records || [];
  $("summary-records").innerHTML = recs.length ? `<h2>New records</h2><ul class="records">${recs.map((r) => `<li>${esc(r.plain || r.text || "")}</li>`).join("")}</ul>` : "";
  $("summary-exercises").innerHTML = (s.exercises || []).map((e) => `<div class="summary-ex"><h2>${esc(e.name)}</h2><ul>${e.sets.map((x) =>
    `<li>${x.kind === "warmup" ? "Warm-up" : x.kind === "assessment" ? `Test set ${x.set_index}` : `Set ${x.set_index}`}: ${fmtLoad(x.load_kg)} x ${x.reps}` +
    `${x.partial_reps ? ` (+${x.partial_reps} partial)` : ""}${x.mean_concentric_m_s ? `, ${x.mean_concentric_m_s.toFixed(2)} m/s` : ""}</li>`).join("")}</ul></div>`).join("");
  const pains = Object.entries(s.pain_by_exercise || {}).map(([k, v]) => `${k} ${v}/10`).join(", ");
  $("summary-pain").textContent = s.red_flag ? "A warning sign was reported: training is paused until a clinician's all-clear."
    : pains ? `Pain during: ${pains}.` : "";
  $("summary-next").textContent = s.next_plain || "";
}

$("summary-home").addEventListener("click", async () => {
  const r = await api("/api/home", {});
  if (!r.ok) { $("summary-plain").textContent = r.error; return; }
  home = await api("/api/home");
  today = null;
  renderHome();
  show("home");
});

// ---- adding a person: name, what they train for, where it hurts ----------------------------------
let newKind = "pain";
const painful = new Set();
$("add-regions").innerHTML = REGIONS.map((r) => `<button type="button" class="region" data-region="${r}" aria-pressed="false">${r}</button>`).join("");
$("add-regions").querySelectorAll(".region").forEach((b) => b.addEventListener("click", () => {
  const r = b.dataset.region;
  painful.has(r) ? painful.delete(r) : painful.add(r);
  b.setAttribute("aria-pressed", String(painful.has(r)));
}));
document.querySelectorAll("#add-person .kind").forEach((b) => b.addEventListener("click", () => {
  newKind = b.dataset.kind;
  document.querySelectorAll("#add-person .kind").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
}));
$("add-person-open").addEventListener("click", () => { $("add-person").hidden = false; $("add-person-open").hidden = true; $("add-name").focus(); });
$("add-cancel").addEventListener("click", () => { $("add-person").hidden = true; $("add-person-open").hidden = false; $("add-msg").textContent = ""; });
$("add-person").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("add-name").value.trim();
  if (!name) { $("add-msg").textContent = "Type the person's name."; $("add-name").focus(); return; }
  const r = await api("/api/people", { name, kind: newKind, painful: [...painful] });
  if (!r.ok) { $("add-msg").textContent = `${r.error}${r.allowed ? ` (allowed: ${r.allowed})` : ""}`; return; }
  $("add-person").hidden = true; $("add-person-open").hidden = false; $("add-name").value = ""; $("add-msg").textContent = "";
  await loadHome();
});
