"use strict";
(function () {
  const D = JSON.parse(document.getElementById("htsr-data").textContent);
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const COLORS = { esd: "#1f77b4", rand: "#ff7f0e", fit: "#d62728", mp: "#2ca02c", spike: "#9467bd", xmin: "#555" };
  const phaseColor = (p) => D.phase_colors[p] || D.phase_colors.unknown;
  const badge = (p) => { const b = el("span", "badge"); b.style.background = phaseColor(p); return b; };
  const fmt = (v, d) => (v === null || v === undefined || !isFinite(v)) ? "-" : Number(v).toPrecision(d || 3);

  // ---- header: source, verdict, summary ------------------------------------------------------
  $("source").textContent = D.source;
  $("version").textContent = D.version;
  if (D.verdict) { $("verdict").textContent = D.verdict; $("verdict").hidden = false; }
  D.summary.forEach(([k, v]) => {
    const d = el("div"); d.appendChild(el("b", "", k + " ")); d.appendChild(document.createTextNode(v));
    $("summary").appendChild(d);
  });
  const dbody = $("details-table").tBodies[0];
  D.details.forEach(([k, v]) => { const r = dbody.insertRow(); r.appendChild(el("th", "", k)); r.appendChild(el("td", "", v)); });
  if (!D.details.length) $("details").hidden = true;

  // ---- layer table --------------------------------------------------------------------------
  const table = $("layers"), tbody = table.tBodies[0], headRow = table.tHead.rows[0];
  const colIndex = (name) => D.columns.findIndex((c) => c.name === name);
  const iName = colIndex("name"), iPhase = colIndex("phase"), iWarn = colIndex("warning");
  const sectionOf = new Map(D.layers.map((s) => [s.row, s]));
  const numTh = el("th", "", "#"); numTh.dataset.col = "-1"; numTh.title = "layer number (model order); the x axis of the charts";
  headRow.appendChild(numTh);
  D.columns.forEach((c, j) => {
    const th = el("th", c.numeric ? "" : "text", c.header);
    th.dataset.col = String(j); th.title = c.tip || "";
    headRow.appendChild(th);
  });
  const rowEls = D.rows.map((r, i) => {
    const tr = el("tr", D.status[i] || "");
    tr.dataset.order = String(i);
    tr.appendChild(el("td", "", String(i)));
    r.cells.forEach((text, j) => {
      const c = D.columns[j], td = el("td", c.numeric ? "" : "text");
      if (j === iName && sectionOf.has(i)) {
        const a = el("a", "goto", text); a.href = "#layer-" + i; td.appendChild(a);
      } else if (j === iPhase && text !== "-") {
        td.appendChild(badge(text)); td.appendChild(document.createTextNode(text));
      } else {
        td.textContent = text;
        if (j === iWarn && text !== "-" && text !== "") td.classList.add("warn");
      }
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  });
  const keyOf = (i, col) => col < 0 ? i : D.rows[i].keys[col];
  function sortBy(th) {
    const col = Number(th.dataset.col);
    const numeric = col < 0 || D.columns[col].numeric;
    const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.from(headRow.cells).forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    const order = D.rows.map((_, i) => i);
    order.sort((a, b) => {
      const x = keyOf(a, col), y = keyOf(b, col);
      if (x === null || y === null) return (x === null) - (y === null) || a - b;  // missing last
      const c = numeric ? x - y : String(x).localeCompare(String(y));
      return dir * c || a - b;
    });
    order.forEach((i) => tbody.appendChild(rowEls[i]));
  }
  Array.from(headRow.cells).forEach((th) => th.addEventListener("click", () => sortBy(th)));

  // ---- filters ------------------------------------------------------------------------------
  const cellText = (i, col) => (col < 0 ? "" : D.rows[i].cells[col]);
  const uniq = (xs) => Array.from(new Set(xs.filter((x) => x && x !== "-"))).sort();
  function fill(select, values) { values.forEach((v) => { const o = el("option", "", v); o.value = v; select.appendChild(o); }); }
  fill($("filter-phase"), D.phases.length ? D.phases : uniq(D.rows.map((_, i) => cellText(i, iPhase))));
  fill($("filter-kind"), uniq(D.kinds));
  const warnings = uniq(D.rows.map((_, i) => cellText(i, iWarn)));
  fill($("filter-warning"), warnings);
  if (iWarn < 0 || !warnings.length) $("filter-warning").parentElement.hidden = true;
  const phaseSel = $("filter-phase"), kindSel = $("filter-kind"), warnSel = $("filter-warning"), nameIn = $("filter-name");
  function keep(i) {
    const name = cellText(i, iName).toLowerCase();
    return (!phaseSel.value || cellText(i, iPhase) === phaseSel.value) &&
      (!kindSel.value || D.kinds[i] === kindSel.value) &&
      (!warnSel.value || cellText(i, iWarn) === warnSel.value) &&
      (!nameIn.value || name.includes(nameIn.value.toLowerCase()));
  }
  const sectionEls = [];
  function applyFilters() {
    let shown = 0;
    rowEls.forEach((tr, i) => { tr.hidden = !keep(i); shown += !tr.hidden; });
    sectionEls.forEach((d) => { d.hidden = !keep(Number(d.dataset.row)); });
    $("shown-count").textContent = shown + " of " + D.rows.length + " layers";
  }
  [phaseSel, kindSel, warnSel].forEach((s) => s.addEventListener("change", applyFilters));
  nameIn.addEventListener("input", applyFilters);
  if (D.num_hidden) { $("num-hidden").textContent = D.num_hidden + " 1-D tensors (biases, norms) are not listed."; $("num-hidden").hidden = false; }

  // ---- charts (uPlot) -----------------------------------------------------------------------
  const dpr = () => window.devicePixelRatio || 1;
  // vertical marker lines with labels: [{x, color, label, dash}]
  function markers(marks) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx, r = dpr(), top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, w = u.bbox.width;
      ctx.save(); ctx.font = (11 * r) + "px system-ui, sans-serif"; ctx.lineWidth = 1.5 * r;
      marks.forEach((m, k) => {
        if (m.x === null || m.x === undefined || !isFinite(m.x)) return;
        const cx = u.valToPos(m.x, "x", true);
        if (!(cx >= left && cx <= left + w)) return;
        ctx.strokeStyle = m.color; ctx.fillStyle = m.color; ctx.setLineDash((m.dash || [6, 4]).map((d) => d * r));
        ctx.beginPath(); ctx.moveTo(cx, top); ctx.lineTo(cx, top + h); ctx.stroke();
        const tw = ctx.measureText(m.label).width, tx = cx + 4 * r + tw > left + w ? cx - 4 * r - tw : cx + 4 * r;
        ctx.fillText(m.label, tx, top + (14 + 13 * k) * r);
      });
      ctx.restore();
    }] } };
  }
  // a shaded horizontal band [lo, hi] of the y scale
  function band(lo, hi, color) {
    return { hooks: { drawClear: [(u) => {
      const ctx = u.ctx, y1 = u.valToPos(hi, "y", true), y0 = u.valToPos(lo, "y", true);
      const top = Math.max(u.bbox.top, Math.min(y1, y0)), bot = Math.min(u.bbox.top + u.bbox.height, Math.max(y1, y0));
      if (bot > top) { ctx.save(); ctx.fillStyle = color; ctx.fillRect(u.bbox.left, top, u.bbox.width, bot - top); ctx.restore(); }
    }] } };
  }
  const stepped = uPlot.paths.stepped({ align: 1 });
  const noPoints = { show: false };
  const logX = { time: false, distr: 3, log: 10 }, logY = { distr: 3, log: 10 };
  function chart(target, opts, data) {
    const div = el("div", "chart"); target.appendChild(div);
    return new uPlot(Object.assign({ width: 420, height: 270, legend: { live: false } }, opts), data, div);
  }
  // join series given on different x grids: [[x, y1, y2, ...], ...] -> [x, ys...]
  const joinTables = (tables) => (tables.length === 1 ? tables[0] : uPlot.join(tables));

  function esdChart(target, fig) {
    const h = fig.hist;
    if (!h.x) return;
    const tables = [[h.x, h.esd].concat(h.rand ? [h.rand] : [])];
    const series = [{ label: "λ" }, { label: "ESD", stroke: COLORS.esd, fill: COLORS.esd + "55", paths: stepped, points: noPoints, spanGaps: false }];
    if (h.rand) series.push({ label: "randomized", stroke: COLORS.rand, width: 1.5, paths: stepped, points: noPoints });
    if (fig.pl.x) { tables.push([fig.pl.x, fig.pl.pdf]); series.push({ label: "power law α=" + fmt(fig.pl.alpha), stroke: COLORS.fit, width: 2, points: noPoints, spanGaps: true }); }
    const marks = [];
    if (fig.pl.xmin) marks.push({ x: fig.pl.xmin, color: COLORS.xmin, label: "xmin " + fmt(fig.pl.xmin) });
    if (fig.mp.lambda_plus) marks.push({ x: fig.mp.lambda_plus, color: COLORS.mp, label: "λ+ " + fmt(fig.mp.lambda_plus), dash: [2, 3] });
    chart(target, {
      title: "ESD (log-log density)", scales: { x: logX, y: logY }, series: series,
      axes: [{ label: "eigenvalue λ" }, { label: "density" }], plugins: [markers(marks)],
    }, joinTables(tables));
  }
  function ccdfChart(target, fig) {
    const c = fig.ccdf;
    if (!c.x) return;
    const tables = [[c.x, c.y]];
    const series = [{ label: "λ" }, { label: "P(λ ≥ x)", stroke: COLORS.esd, width: 0, points: { show: true, size: 4, fill: COLORS.esd }, paths: () => null }];
    if (fig.pl.x) { tables.push([fig.pl.x, fig.pl.ccdf]); series.push({ label: "power law fit", stroke: COLORS.fit, width: 2, points: noPoints, spanGaps: true }); }
    const marks = fig.pl.xmin ? [{ x: fig.pl.xmin, color: COLORS.xmin, label: "xmin" }] : [];
    chart(target, {
      title: "CCDF (tail)", scales: { x: logX, y: logY }, series: series,
      axes: [{ label: "eigenvalue λ" }, { label: "fraction ≥ λ" }], plugins: [markers(marks)],
    }, joinTables(tables));
  }
  function mpChart(target, fig) {
    const m = fig.mp;
    if (!m.x) return;
    const tables = [[m.x, m.esd]];
    const series = [{ label: "λ" }, { label: "ESD", stroke: COLORS.esd, fill: COLORS.esd + "44", paths: stepped, points: noPoints }];
    if (m.curve_x) { tables.push([m.curve_x, m.curve_y]); series.push({ label: "MP σ=" + fmt(m.sigma), stroke: COLORS.mp, width: 2, points: noPoints, spanGaps: true }); }
    const marks = [];
    if (m.lambda_plus) marks.push({ x: m.lambda_plus, color: COLORS.mp, label: "λ+" });
    if (m.threshold) marks.push({ x: m.threshold, color: COLORS.spike, label: "spike threshold", dash: [2, 3] });
    const right = m.x[m.x.length - 1], spikes = m.spikes || [];
    const spikePlugin = { hooks: { draw: [(u) => {
      const ctx = u.ctx, r = dpr(), y = u.bbox.top + u.bbox.height;
      ctx.save(); ctx.strokeStyle = COLORS.spike; ctx.lineWidth = 2 * r;
      spikes.forEach((s) => { if (s <= right) { const x = u.valToPos(s, "x", true); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y - 12 * r); ctx.stroke(); } });
      const beyond = spikes.filter((s) => s > right).length;
      if (beyond) { ctx.fillStyle = COLORS.spike; ctx.font = (11 * r) + "px system-ui, sans-serif"; const t = "+" + beyond + " spikes beyond view"; ctx.fillText(t, u.bbox.left + u.bbox.width - ctx.measureText(t).width - 4 * r, u.bbox.top + u.bbox.height * 0.45); }
      ctx.restore();
    }] } };
    chart(target, {
      title: m.curve_x ? "Marchenko-Pastur bulk: " + spikes.length + " spikes" : "bulk (" + (m.message || "no MP fit") + ")",
      scales: { x: { time: false } }, series: series,
      axes: [{ label: "eigenvalue λ" }, { label: "density" }], plugins: [markers(marks), spikePlugin],
    }, joinTables(tables));
  }

  // ---- per-layer sections, drawn when opened -------------------------------------------------
  function title(s) {
    const parts = [s.name, "α=" + fmt(s.alpha), "D=" + fmt(s.D)];
    if (s.phase) parts.push(s.phase);
    if (s.warning) parts.push("⚠ " + s.warning);
    return parts.join("   ");
  }
  const drawn = new Set();
  // draw an opened section once it scrolls into view ("open all" on 500 layers stays instant)
  const seen = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    entries.forEach((e) => { if (e.isIntersecting) { seen.unobserve(e.target); draw(e.target); } });
  }, { rootMargin: "400px" }) : null;
  const whenVisible = (d) => (seen ? seen.observe(d) : draw(d));
  function draw(d) {
    const s = sectionOf.get(Number(d.dataset.row));
    if (!s || drawn.has(s.row)) return;
    drawn.add(s.row);
    const body = el("div", "layerbody"); d.appendChild(body);
    if (s.fig) { esdChart(body, s.fig); ccdfChart(body, s.fig); mpChart(body, s.fig); }
    else body.appendChild(el("p", "note", s.note || "This report was written without figures."));
    const facts = el("div", "factgrid");
    s.facts.forEach(([k, v]) => { const f = el("div"); f.appendChild(el("span", "k", k)); f.appendChild(el("span", "v", v)); facts.appendChild(f); });
    d.appendChild(facts);
  }
  D.layers.forEach((s) => {
    const d = el("details", "layer"); d.id = "layer-" + s.row; d.dataset.row = String(s.row);
    const sum = el("summary"); sum.appendChild(el("span", "muted", "#" + s.row + " "));
    if (s.phase) sum.appendChild(badge(s.phase));
    sum.appendChild(document.createTextNode(title(s)));
    d.appendChild(sum);
    d.addEventListener("toggle", () => { if (d.open) whenVisible(d); });
    $("sections").appendChild(d); sectionEls.push(d);
  });
  $("expand-all").addEventListener("click", () => sectionEls.forEach((d) => { if (!d.hidden) d.open = true; }));
  $("collapse-all").addEventListener("click", () => sectionEls.forEach((d) => { d.open = false; }));
  function openTarget() {
    const d = location.hash && document.getElementById(location.hash.slice(1));
    if (d && d.tagName === "DETAILS") { d.open = true; draw(d); d.scrollIntoView(); }
  }
  window.addEventListener("hashchange", openTarget);

  // ---- model charts: alpha by layer number, coloured by phase; a second metric ---------------
  function modelCharts() {
    if (!D.layers.length) return;
    $("model").hidden = false;
    const xs = D.layers.map((s) => s.row);
    const phases = D.phases.length ? D.phases : ["unknown"];
    const width = () => Math.max(480, $("model").clientWidth - 10);
    const readout = $("model-readout");
    function hover(u) {
      const i = u.cursor.idx;
      if (i === null || i === undefined) { readout.textContent = "\u00a0"; return; }
      const s = D.layers[i], parts = ["#" + s.row, s.name, "α=" + fmt(s.alpha), "D=" + fmt(s.D)];
      if (s.phase) parts.push(s.phase);
      if (s.warning) parts.push("⚠ " + s.warning);
      readout.textContent = parts.join("   ");
    }
    function clickable(u) {
      u.over.addEventListener("click", () => {
        const i = u.cursor.idx;
        if (i !== null && i !== undefined) location.hash = "#layer-" + D.layers[i].row;
      });
    }
    const series = [{ label: "layer #" }, { label: "α", stroke: "#bbb", width: 1, points: noPoints, spanGaps: true }];
    const data = [xs, D.layers.map((s) => s.alpha)];
    phases.forEach((p) => {
      series.push({ label: p, stroke: phaseColor(p), width: 0, paths: () => null, points: { show: true, size: 7, fill: phaseColor(p), stroke: phaseColor(p) } });
      data.push(D.layers.map((s) => ((s.phase || "unknown") === p ? s.alpha : null)));
    });
    const opts = (t, y) => ({
      width: width(), height: 260, title: t, series: y,
      scales: { x: { time: false } }, legend: { live: false },
      axes: [{ label: "layer #", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] }, { label: "" }],
      hooks: { setCursor: [hover], ready: [clickable] },
      cursor: { points: { show: false } },
    });
    const alphaDiv = $("model-alpha");
    const alpha = new uPlot(Object.assign(opts("α by layer (shaded: 2 ≤ α ≤ 6)", series), { plugins: [band(2, 6, "#eceff3")] }), data, alphaDiv);
    const charts = [alpha];
    const sel = $("model-metric");
    fill(sel, D.metrics);
    let metric = null;
    function drawMetric() {
      if (metric) { metric.destroy(); charts.pop(); }
      const m = sel.value;
      if (!m) return;
      const ys = D.layers.map((s) => s.metrics[m]);
      metric = new uPlot(opts(m + " by layer", [{ label: "layer #" }, { label: m, stroke: "#666", width: 1, spanGaps: true, points: { show: true, size: 5, fill: "#666" } }]), [xs, ys], $("model-metric-chart"));
      charts.push(metric);
    }
    if (D.metrics.length) { sel.value = D.metrics[0]; sel.addEventListener("change", drawMetric); drawMetric(); }
    else sel.parentElement.hidden = true;
    window.addEventListener("resize", () => charts.forEach((c) => c.setSize({ width: width(), height: 260 })));
  }
  if (D.figures) modelCharts();
  applyFilters();
  openTarget();
})();
