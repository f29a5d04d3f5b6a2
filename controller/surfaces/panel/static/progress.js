"use strict";
// The Progress screen (loaded after panel.js, whose $, esc and api it uses): records and the
// streak in words, then per exercise the working loads (a line), the test sets (hollow rings,
// never on the line) and the estimated strength (a dashed line); pain, confidence, sessions per
// week against the plan and volume per week. Every chart has a title, a y-axis label with its
// unit, a few y ticks and dates that do not collide; text on the canvas is 16 px and more, in
// the theme's colours (CSS variables, read at each drawing). Each canvas keeps what tests read:
// data-chart (its kind), data-points (points drawn), data-ylabel, data-yticks, data-xlabels
// ([left, right, text] of each date label drawn); the pain chart data-redflags; an exercise's
// chart data-working, data-tests and data-strength (the values drawn, in the unit shown).
// Everything lives in this closure: loadProgress (and fmtLoad, if panel.js has none) are the
// only globals it adds.
(() => {
  if (!document.querySelector('link[href$="progress.css"]')) {  // until index.html links it
    const link = document.createElement("link");
    link.rel = "stylesheet"; link.href = "/static/progress.css";
    link.addEventListener("load", () => { if (last) render(last); });
    document.head.appendChild(link);
  }

  // ---- units and colours ------------------------------------------------------------------
  const LB = 2.20462;
  const inLb = () => window.units === "lb";
  const unit = () => (inLb() ? "lb" : "kg");
  const toUnit = (kg) => (kg == null ? null : inLb() ? kg * LB : kg);
  if (typeof fmtLoad === "undefined") {
    window.fmtLoad = (kg) => (inLb() ? `${(kg * LB).toFixed(1)} lb` : `${kg.toFixed(1)} kg`);
  }
  // panel.js's own fmtLoad when it has one (a global function or const), else the one above.
  const load = (kg) => (typeof fmtLoad === "function" ? fmtLoad : window.fmtLoad)(kg);
  const bulk = (kg) => `${Math.round(toUnit(kg)).toLocaleString("en")} ${unit()}`;

  function palette() {
    const cs = getComputedStyle(document.body);
    const v = (name, dflt) => cs.getPropertyValue(name).trim() || dflt;
    return { fg: v("--fg", "#ffffff"), dim: v("--dim", "#c8c8c8"), card: v("--card", "#151515"),
      line: v("--line", "#444444"), accent: v("--accent", "#ffd400"), green: v("--green", "#2ecc40"),
      amber: v("--amber", "#ffb000"), red: v("--red", "#ff3b30"), test: v("--chart-test", "#5aa0ff") };
  }

  // Black or white, whichever reads better on this colour (WCAG contrast).
  function textOn(g, colour) {
    g.fillStyle = colour;
    const hex = String(g.fillStyle);  // the canvas gives opaque colours back as #rrggbb
    if (!/^#[0-9a-f]{6}$/i.test(hex)) return "#000000";
    const lum = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    const L = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#000000" : "#ffffff";
  }

  // ---- dates ------------------------------------------------------------------------------
  const DAY = 864e5;
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const dayOf = (iso) => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / DAY;
  const dayText = (d) => { const t = new Date(d * DAY); return `${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]}`; };
  const isoText = (iso) => dayText(dayOf(iso)) + (iso.slice(0, 4) === String(new Date().getFullYear()) ? "" : ` ${iso.slice(0, 4)}`);

  // Date ticks for [x0, x1] (days) that fit in `width` px (labels `measure`d, with a gap):
  // days, Mondays, months or years, the finest that fits with two labels or more.
  function timeTicks(x0, x1, width, measure) {
    const fits = (out) => out.length >= 2 && out.length <= Math.floor(width / (Math.max(...out.map((t) => measure(t.text))) + 14));
    for (const step of [1, 2, 7, 14, 21, 28]) {
      if ((x1 - x0) / step > 60) continue;
      let d = Math.ceil(x0);
      if (step >= 7) while (new Date(d * DAY).getUTCDay() !== 1) d++;
      const out = [];
      for (; d <= x1; d += step) out.push({ x: d, text: dayText(d) });
      if (fits(out)) return out;
    }
    let out = [];
    for (const m of [1, 2, 3, 6, 12, 24, 60, 120]) {
      const t = new Date(x0 * DAY);
      let y = t.getUTCFullYear(), mo = Math.ceil((t.getUTCMonth() + (t.getUTCDate() > 1 ? 1 : 0)) / m) * m;
      out = [];
      for (;;) {
        y += Math.floor(mo / 12); mo %= 12;
        const d = Date.UTC(y, mo, 1) / DAY;
        if (d > x1) break;
        if (d >= x0) out.push({ x: d, text: m >= 12 ? String(y) : (mo === 0 || !out.length ? `${MONTHS[mo]} ${y}` : MONTHS[mo]) });
        mo += m;
      }
      if (fits(out) || out.length < 2) return out;
    }
    return out;
  }

  // ---- drawing ----------------------------------------------------------------------------
  const FONT = 16;
  const font = (px = FONT, bold = false) => `${bold ? "bold " : ""}${px}px system-ui, "DejaVu Sans", sans-serif`;

  function niceStep(raw) {
    const p = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  const tickText = (v, step) => (v >= 10000 ? `${+(v / 1000).toFixed(1)}k` : step < 1 ? v.toFixed(1) : String(Math.round(v)));

  // Sets the canvas up and draws its frame: grid, y ticks, the rotated y-axis label, the date
  // labels (each dropped that would touch its neighbour). o: {ylabel, max, step?, hi?,
  // x0, x1, xlabels(X, left, right, g) -> [{px, text}]}. Returns the scales.
  function frame(c, o) {
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 340, h = c.clientHeight || 200;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const P = palette();
    g.font = font();
    const top = 12, bottom = h - FONT - 14;
    const plotH = bottom - top;
    let hi = o.hi, step = o.step;
    if (hi == null) {
      const n = Math.max(2, Math.min(5, Math.floor(plotH / 32)));
      const max = Math.max(o.max, 1);
      step = niceStep(max / n);
      hi = Math.ceil(max / step - 1e-9) * step;
    }
    const ticks = [];
    for (let v = 0; v <= hi + 1e-9; v += step) ticks.push(v);
    const labels = ticks.map((v) => tickText(v, step));
    const left = FONT + 10 + Math.max(...labels.map((t) => g.measureText(t).width)) + 8;
    const right = w - 14;
    const X = (x) => left + (right - left) * (o.x1 > o.x0 ? (x - o.x0) / (o.x1 - o.x0) : 0.5);
    const Y = (v) => bottom - plotH * Math.min(v, hi) / hi;
    g.lineWidth = 1; g.strokeStyle = P.line; g.fillStyle = P.dim;
    g.textAlign = "right"; g.textBaseline = "middle";
    ticks.forEach((v, i) => {
      const y = Math.round(Y(v)) + 0.5;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
      g.fillText(labels[i], left - 6, y);
    });
    g.save(); g.translate(FONT / 2 + 3, (top + bottom) / 2); g.rotate(-Math.PI / 2);
    g.textAlign = "center"; g.fillStyle = P.fg; g.fillText(o.ylabel, 0, 0); g.restore();
    g.textAlign = "left"; g.textBaseline = "alphabetic"; g.fillStyle = P.dim;
    const kept = [];
    let edge = -Infinity;
    for (const l of o.xlabels(X, left, right, g)) {
      const tw = g.measureText(l.text).width;
      const a = Math.min(Math.max(l.px - tw / 2, 2), w - 2 - tw);
      if (a < edge + 14) continue;
      g.fillText(l.text, a, h - 8);
      kept.push([Math.round(a), Math.round(a + tw), l.text]);
      edge = a + tw;
    }
    c.dataset.ylabel = o.ylabel;
    c.dataset.yticks = JSON.stringify(labels);
    c.dataset.xlabels = JSON.stringify(kept);
    return { g, P, X, Y, left, right, top, bottom, w, h };
  }

  function empty(c, text) {
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round((c.clientWidth || 340) * dpr); c.height = Math.round((c.clientHeight || 200) * dpr);
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = palette().dim; g.font = font(18); g.textBaseline = "top";
    g.fillText(text, 12, 14);
    c.dataset.points = 0; c.dataset.ylabel = ""; c.dataset.yticks = "[]"; c.dataset.xlabels = "[]";
  }

  // A time axis over these days, padded so the end markers are whole.
  function timeAxis(days) {
    let x0 = Math.min(...days), x1 = Math.max(...days);
    const pad = Math.max(1.5, (x1 - x0) * 0.03);
    x0 -= pad; x1 += pad;
    return { x0, x1, xlabels: (X, left, right, g) => timeTicks(x0, x1, right - left, (t) => g.measureText(t).width)
      .map((t) => ({ px: X(t.x), text: t.text })) };
  }

  function line(f, pts, colour, { width = 3, dash = [], dots = 0 } = {}) {
    const { g, X, Y } = f;
    if (!pts.length) return 0;
    g.save(); g.strokeStyle = colour; g.fillStyle = colour; g.lineWidth = width; g.setLineDash(dash);
    g.lineJoin = "round";
    g.beginPath();
    pts.forEach(([x, v], i) => (i ? g.lineTo(X(x), Y(v)) : g.moveTo(X(x), Y(v))));
    g.stroke(); g.setLineDash([]);
    if (dots) pts.forEach(([x, v]) => { g.beginPath(); g.arc(X(x), Y(v), dots, 0, 2 * Math.PI); g.fill(); });
    if (pts.length === 1 && !dots) { g.beginPath(); g.arc(X(pts[0][0]), Y(pts[0][1]), 4, 0, 2 * Math.PI); g.fill(); }
    g.restore();
    return pts.length;
  }

  // Hollow rings, smaller where test days crowd (a long history): never hiding the lines.
  function rings(f, pts, colour) {
    const { g, X, Y, P } = f;
    const days = new Set(pts.map((q) => q[0])).size;
    const r = Math.max(2.5, Math.min(6.5, (f.right - f.left) / Math.max(days, 1) / 3));
    g.save(); g.strokeStyle = colour; g.fillStyle = P.card; g.lineWidth = r > 4 ? 3 : 2;
    pts.forEach(([x, v]) => { g.beginPath(); g.arc(X(x), Y(v), r, 0, 2 * Math.PI); g.fill(); g.stroke(); });
    g.restore();
    return pts.length;
  }

  const round1 = (v) => Math.round(v * 10) / 10;

  // ---- the charts -------------------------------------------------------------------------
  function card(kind, title, legend) {
    const div = document.createElement("div");
    div.className = "chart"; div.dataset.chart = kind;
    div.innerHTML = `<h2>${esc(title)}</h2><canvas data-chart="${esc(kind)}" role="img" aria-label="${esc(title)}"></canvas>`
      + `<div class="legend">${legend}</div>`;
    $("charts").appendChild(div);
    return div.querySelector("canvas");
  }
  const key = (cls, shape, text) => `<span class="key ${cls}"><i class="swatch ${shape}"></i>${text}</span>`;

  function drawExercise(c, ex) {
    const work = ex.points.filter((q) => q.load_kg != null).map((q) => [dayOf(q.date), toUnit(q.load_kg)]);
    const est = ex.points.filter((q) => q.one_rm_kg != null).map((q) => [dayOf(q.date), toUnit(q.one_rm_kg)]);
    const tests = ex.tests.map((t) => [dayOf(t.date), toUnit(t.load_kg)]);
    c.dataset.working = JSON.stringify(work.map((q) => round1(q[1])));
    c.dataset.tests = JSON.stringify(tests.map((q) => round1(q[1])));
    c.dataset.strength = JSON.stringify(est.map((q) => round1(q[1])));
    const all = [...work, ...est, ...tests];
    if (!all.length) { empty(c, "no sessions yet"); return; }
    const f = frame(c, { ylabel: `load (${unit()})`, max: Math.max(...all.map((q) => q[1])),
      ...timeAxis(all.map((q) => q[0])) });
    // The rings under the lines; dots on the working line while they do not run together.
    const dots = work.length <= (f.right - f.left) / 9 ? 4 : 0;
    c.dataset.points = rings(f, tests, f.P.test) + line(f, est, f.P.accent, { width: 3, dash: [9, 6] })
      + line(f, work, f.P.fg, { width: 3, dots });
  }

  const painColour = (P, v) => (v <= 3 ? P.green : v <= 5 ? P.amber : P.red);

  function drawPain(c, pain) {
    c.dataset.redflags = pain.filter((q) => q.red_flag).length;
    const shown = pain.filter((q) => q.red_flag || q.pain != null);
    if (!shown.length) { empty(c, "no sessions yet"); return; }
    const f = frame(c, { ylabel: "pain (0-10)", hi: 10, step: 2, ...timeAxis(shown.map((q) => dayOf(q.date))) });
    const { g, P, X, Y } = f;
    const bw = Math.max(3, Math.min(14, (f.right - f.left) / shown.length * 0.6));
    let drawn = 0, flags = 0;
    for (const q of shown) {
      const x = X(dayOf(q.date));
      if (q.red_flag) {  // a red flag: a full-height red bar with "!", never a pain number
        const fw = Math.max(bw, 14);
        g.fillStyle = P.red; g.fillRect(x - fw / 2, Y(10), fw, Y(0) - Y(10));
        g.fillStyle = textOn(g, P.red); g.font = font(20, true); g.textAlign = "center"; g.textBaseline = "top";
        g.fillText("!", x, Y(10) + 3);
        g.font = font(); g.textAlign = "left"; g.textBaseline = "alphabetic";
        drawn++; flags++; continue;
      }
      g.fillStyle = painColour(P, q.pain);
      g.fillRect(x - bw / 2, Math.min(Y(q.pain), Y(0) - 3), bw, Math.max(3, Y(0) - Y(q.pain)));
      drawn++;
    }
    c.dataset.points = drawn; c.dataset.redflags = flags;
  }

  function drawConfidence(c, conf) {
    if (!conf.length) { empty(c, "not answered yet"); return; }
    const pts = conf.map((q) => [dayOf(q.date), q.confidence]);
    const f = frame(c, { ylabel: "confidence (0-10)", hi: 10, step: 2, ...timeAxis(pts.map((q) => q[0])) });
    c.dataset.points = line(f, pts, f.P.green, { width: 3, dots: pts.length <= (f.right - f.left) / 9 ? 4 : 0 });
  }

  const WEEKS_SHOWN = 26;

  // Weeks as categories (the last 26): bars, the week's Monday under every few.
  function weekAxis(weeks) {
    const n = weeks.length;
    return { x0: -0.5, x1: n - 0.5, xlabels: (X, left, right, g) => {
      const room = g.measureText("30 Sep").width + 18;
      const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((right - left) / room))));
      const out = [];
      for (let i = n - 1; i >= 0; i -= every) out.unshift({ px: X(i), text: dayText(dayOf(weeks[i].start)) });
      return out;
    } };
  }

  function drawWeeks(c, weeks, perWeek) {
    if (!weeks.length) { empty(c, "no sessions yet"); return; }
    const most = Math.max(perWeek, ...weeks.map((w) => w.sessions));
    const step = most + 1 > 6 ? 2 : 1;
    const f = frame(c, { ylabel: "sessions", hi: Math.ceil((most + 1) / step) * step, step, ...weekAxis(weeks) });
    const { g, P, X, Y } = f;
    const bw = Math.max(4, Math.min(28, (f.right - f.left) / weeks.length * 0.6));
    weeks.forEach((w, i) => {
      const x = X(i);
      if (w.paused && !w.met) {  // paused by a red flag: a red band under the week
        g.fillStyle = P.red; g.fillRect(x - bw / 2, Y(0) + 2, bw, 5);
      }
      g.fillStyle = w.met ? P.green : P.dim;
      g.fillRect(x - bw / 2, Math.min(Y(w.sessions), Y(0) - 2), bw, Math.max(2, Y(0) - Y(w.sessions)));
    });
    g.save(); g.strokeStyle = P.accent; g.lineWidth = 3;
    g.beginPath(); g.moveTo(f.left, Y(perWeek)); g.lineTo(f.right, Y(perWeek)); g.stroke(); g.restore();
    c.dataset.points = weeks.length;
  }

  function drawVolume(c, weeks) {
    if (!weeks.length) { empty(c, "no sessions yet"); return; }
    const vals = weeks.map((w) => toUnit(w.volume_kg));
    const f = frame(c, { ylabel: `${unit()} lifted`, max: Math.max(...vals, 1), ...weekAxis(weeks) });
    const { g, P, X, Y } = f;
    const bw = Math.max(4, Math.min(28, (f.right - f.left) / weeks.length * 0.6));
    g.fillStyle = P.accent;
    vals.forEach((v, i) => { if (v > 0) g.fillRect(X(i) - bw / 2, Y(v), bw, Y(0) - Y(v)); });
    c.dataset.points = vals.filter((v) => v > 0).length;
  }

  // ---- words: the streak and the records ----------------------------------------------------
  function summary(p) {
    const div = document.createElement("div");
    div.className = "chart summary"; div.dataset.chart = "summary";
    const weeks = p.weeks, s = p.streak || { current: 0, best: 0 };
    if (!weeks.length) {
      div.innerHTML = "<h2>Records</h2><p class=\"streak\">No sessions yet: records, streaks and charts appear after the first one.</p>";
      $("charts").appendChild(div); return;
    }
    const now = weeks[weeks.length - 1];
    const streak = s.current ? `${s.current} week${s.current === 1 ? "" : "s"} in a row meeting the plan`
      : "no weeks in a row meeting the plan just now";
    const rows = p.exercises.map((ex) => {
      const r = (p.records || {})[ex.name] || {};
      const bits = [];
      if (r.heaviest) bits.push(`heaviest <b>${esc(load(r.heaviest.load_kg))} x ${r.heaviest.reps}</b> <span class="when">${esc(isoText(r.heaviest.date))}</span>`);
      if (r.most_reps && r.heaviest && r.most_reps.reps > r.heaviest.reps) bits.push(`most reps there <b>${r.most_reps.reps}</b> <span class="when">${esc(isoText(r.most_reps.date))}</span>`);
      if (r.strength) bits.push(`estimated strength <b>${esc(load(r.strength.one_rm_kg))}</b> <span class="when">${esc(isoText(r.strength.date))}</span>`);
      if (r.volume) bits.push(`most in a session <b>${esc(bulk(r.volume.volume_kg))}</b> <span class="when">${esc(isoText(r.volume.date))}</span>`);
      return `<li data-exercise="${esc(ex.name)}"><span class="ex">${esc(ex.name)}</span>: ${bits.length ? bits.join("; ") : "no working sets yet"}</li>`;
    }).join("");
    div.innerHTML = `<h2>Records and streak</h2>`
      + `<p class="streak">This week: <b>${now.sessions} of ${now.planned}</b> session${now.planned === 1 ? "" : "s"}. `
      + `Streak: <b>${esc(streak)}</b> (best ${s.best}).</p><ul class="records">${rows}</ul>`;
    $("charts").appendChild(div);
  }

  // ---- the screen ---------------------------------------------------------------------------
  let last = null, generation = 0;

  function render(p) {
    last = p;
    const host = $("charts");
    host.innerHTML = "";
    summary(p);
    const jobs = [];
    for (const ex of p.exercises) {
      const c = card("exercise", ex.name, key("k-work", "line", `working load (${unit()})`)
        + key("k-test", "ring", "test sets") + key("k-est", "dash", "estimated strength"));
      c.dataset.exercise = ex.name;
      jobs.push(() => drawExercise(c, ex));
    }
    const pain = card("pain", "Pain during sessions (0-10)",
      `<span class="key k-green"><i class="swatch bar"></i>0-3</span><span class="key k-amber"><i class="swatch bar"></i>4-5</span>`
      + `<span class="key k-red"><i class="swatch bar"></i>6+</span><span class="key k-red flagmark">! full red bar: a red flag</span>`);
    jobs.push(() => drawPain(pain, p.pain));
    const conf = card("confidence", "Confidence in moving (0-10)", key("k-green", "line", "how confident moving feels, 0-10"));
    jobs.push(() => drawConfidence(conf, p.confidence || []));
    const weeks = p.weeks.slice(-WEEKS_SHOWN);
    const more = p.weeks.length > WEEKS_SHOWN ? `, last ${WEEKS_SHOWN} weeks` : "";
    const wk = card("weeks", `Sessions per week (plan: ${p.sessions_per_week}${more})`,
      key("k-green", "bar", "plan met") + key("k-dim", "bar", "fewer") + key("k-est", "line", "the plan")
      + key("k-red", "under", "paused: red flag"));
    jobs.push(() => drawWeeks(wk, weeks, p.sessions_per_week));
    const vol = card("volume", `Volume per week${more}`, key("k-est", "bar", `load x reps of working sets (${unit()})`));
    jobs.push(() => drawVolume(vol, weeks));
    jobs.forEach((draw) => draw());  // once the grid is laid out
  }

  async function loadProgress() {
    const mine = ++generation;
    const p = await api("/api/progress");
    if (mine !== generation) return;  // a newer load is on its way
    const line = $("progress-paused");
    if (!p.exercises) { last = null; $("charts").textContent = p.error || ""; line.hidden = true; return; }
    line.hidden = !p.paused;
    line.textContent = p.paused ? `Paused since ${p.paused.date}: ${p.paused.what}` : "";
    render(p);
  }
  window.loadProgress = loadProgress;

  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (last && document.body.dataset.screen === "progress") render(last); }, 150);
  });
})();
