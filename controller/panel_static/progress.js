"use strict";
// The Progress screen (loaded after panel.js, whose $, esc and api it uses).
// ---- progress -----------------------------------------------------------------------------------
function lineChart(title, labels, series, legend, opts) {
  const div = document.createElement("div"); div.className = "chart";
  div.innerHTML = `<h2>${esc(title)}</h2><canvas></canvas><div class="legend">${legend}</div>`;
  $("charts").appendChild(div);
  pending.push(() => drawChart(div.querySelector("canvas"), labels, series, opts));
}
let pending = [];
function drawChart(c, labels, series, opts = {}) {
  c.width = c.clientWidth || 340; c.height = c.clientHeight || 170;
  const g = c.getContext("2d");
  const flags = opts.flags || [];
  const nflags = flags.filter(Boolean).length;
  c.dataset.redflags = nflags;
  const all = series.flatMap((s) => s.values.filter((v) => v != null));
  if (!all.length && !nflags) { g.fillStyle = "#c8c8c8"; g.font = "16px sans-serif"; g.fillText("no sessions yet", 10, 30); c.dataset.points = 0; return; }
  const lo = Math.min(0, ...all), hi = opts.hi ?? (Math.max(...all, 0) * 1.1 || 1), n = labels.length;
  const X = (i) => 40 + (c.width - 50) * (n > 1 ? i / (n - 1) : 0.5), Y = (v) => c.height - 24 - (c.height - 34) * (v - lo) / (hi - lo);
  g.strokeStyle = "#444"; g.lineWidth = 1; g.beginPath(); g.moveTo(40, 6); g.lineTo(40, c.height - 24); g.lineTo(c.width - 6, c.height - 24); g.stroke();
  g.fillStyle = "#c8c8c8"; g.font = "13px sans-serif";
  g.fillText(hi.toFixed(0), 4, 16); g.fillText(lo.toFixed(0), 4, c.height - 26);
  g.fillText(labels[0] || "", 40, c.height - 6); if (n > 1) g.fillText(labels[n - 1], c.width - 90, c.height - 6);
  let drawn = 0;
  for (const s of series) {
    g.strokeStyle = g.fillStyle = s.colour; g.lineWidth = 3;
    if (s.bars) {
      s.values.forEach((v, i) => {
        if (flags[i]) {  // a red flag: a full-height red bar with "!", whatever the pain was
          g.fillStyle = "#ff3b30"; g.fillRect(X(i) - 7, 6, 14, Y(lo) - 6);
          g.fillStyle = "#ffffff"; g.font = "bold 16px sans-serif"; g.textAlign = "center";
          g.fillText("!", X(i), 22); g.textAlign = "start"; g.font = "13px sans-serif";
          drawn++; return;
        }
        if (v == null) return;
        g.fillStyle = s.colourOf ? s.colourOf(v, i) : s.colour;
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
  const line = $("progress-paused");
  line.hidden = !p.paused;
  line.textContent = p.paused ? `Paused since ${p.paused.date}: ${p.paused.what}` : "";
  for (const ex of p.exercises) {
    lineChart(ex.name, ex.points.map((q) => q.date.slice(5)), [
      { values: ex.points.map((q) => q.load_kg), colour: "#ffffff" },
      { values: ex.points.map((q) => q.one_rm_kg), colour: "#ffd400" }],
      `<span style="color:#fff">load kg</span> and <span style="color:#ffd400">estimated 1RM kg</span>`);
  }
  lineChart("Pain during sessions (0-10)", p.pain.map((q) => q.date.slice(5)),
    [{ values: p.pain.map((q) => q.pain), colour: "#2ecc40", bars: true,
       colourOf: (v) => v <= 3 ? "#2ecc40" : v <= 5 ? "#ffb000" : "#ff3b30" }],
    `green 0-3, amber 4-5, red 6+; <span class="flagmark">! full red bar: a red flag</span>`,
    { hi: 10, flags: p.pain.map((q) => !!q.red_flag) });
  lineChart(`Sessions per week (plan: ${p.sessions_per_week})`, p.weeks.map((w) => w.week.slice(5)),
    [{ values: p.weeks.map((w) => w.sessions), colour: "#ffffff", bars: true },
     { values: p.weeks.map(() => p.sessions_per_week), colour: "#ffd400" }], `<span style="color:#ffd400">the plan</span>`);
  pending.forEach((draw) => draw()); pending = [];  // once the grid is laid out
}

