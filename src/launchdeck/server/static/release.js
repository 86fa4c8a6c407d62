// The release page, live: charts of each gate metric (canary vs stable, the gate's limit, the error rate's
// interval, weight changes and decisions marked) fed by the event stream, and the page's live panels
// rendered again by the server whenever the stream says the release changed. No reload, no build step.
(function () {
  "use strict";
  const room = document.getElementById("room");
  if (!room) return;
  const name = room.dataset.name, prefix = room.dataset.prefix;
  const base = prefix + "/releases/" + encodeURIComponent(name);
  const charts = {};            // metric -> {plot, data}
  let markers = [], after = Number(room.dataset.after || 0), byGate = {};
  const LABEL = {error_rate: "error rate", latency_p95_ms: "p95 latency", latency_p50_ms: "p50 latency",
                 latency_p99_ms: "p99 latency", throughput_rps: "throughput per share", availability: "availability"};
  const COLOR = {"stage.started": "#4aa3ff", "rollback.started": "#ff4d4f", "gate.fired": "#ff4d4f",
                 "release.rolled_back": "#ff4d4f", "release.promoted": "#3ecf8e"};

  // Tick steps of whole units: seconds on x, milliseconds on latency axes (never "1 ms / 1 ms / 0 ms").
  const WHOLE = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];

  function fmt(metric, v) {
    if (v == null) return "–";
    if (metric === "error_rate" || metric === "availability") return (v * 100).toFixed(2) + "%";
    if (metric.endsWith("_ms")) return v.toFixed(0) + " ms";
    if (metric === "throughput_rps") return v.toFixed(0) + " rps";
    return String(+v.toPrecision(3));
  }

  function markerPlugin() {
    return {hooks: {draw: [u => {
      const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.font = (10 * devicePixelRatio) + "px sans-serif";
      let lastX = -1e9, row = 0;
      for (const m of markers) {
        const x = Math.round(u.valToPos(m.t, "x", true));
        row = x - lastX < 40 * devicePixelRatio ? row + 1 : 0;  // labels of close markers stack, not overlap
        lastX = x;
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        ctx.strokeStyle = ctx.fillStyle = COLOR[m.kind] || "#f0b429";
        ctx.setLineDash(m.kind === "stage.started" ? [] : [4, 3]);
        ctx.lineWidth = devicePixelRatio;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
        const label = m.weight != null ? m.weight.toFixed(0) + "%" : m.kind.split(".").pop();
        ctx.fillText(label, x + 3, top + (10 + 11 * row) * devicePixelRatio);
      }
      ctx.restore();
    }]}};
  }

  function makeChart(metric) {
    const box = document.createElement("div");
    box.className = "chart card empty";  // the plot shows once a value arrives, not bare axes before
    box.dataset.metric = metric;
    const gates = Object.keys(byGate).filter(g => byGate[g] === metric);
    box.innerHTML = "<h3>" + (LABEL[metric] || metric) + (gates.length ? " <span class='muted'>gate " + gates.join(", ") + "</span>" : "") +
      "</h3><p class='now'>no data yet</p>" +
      "<p class='key'><i class='c'></i>canary <span class='muted'>(dotted: 95% CI)</span><i class='s'></i>stable<i class='l'></i>limit</p>";
    document.getElementById("charts").appendChild(box);
    const data = [[], [], [], [], [], []];
    const width = Math.max(280, box.clientWidth - 16);
    const opts = {
      width: width, height: 150, cursor: {drag: {x: false, y: false}}, legend: {show: false},
      // From the release's start (its first stage marked); the height fits canary, stable and the limit, so a
      // wide interval over a thin early window does not flatten what matters.
      // Whole seconds on x and a floor of a minute, so a young release does not read "t+0s t+0s t+1s".
      scales: {x: {time: false, range: (u, min, max) => [Math.min(0, min), Math.max(max, 60)]},
               y: {range: (u, min, max) => {
                 let top = 0;
                 for (const i of [1, 2, 3]) for (const v of u.data[i]) if (v != null && v > top) top = v;
                 return [0, top > 0 ? top * 1.25 : (metric.endsWith("_ms") ? 10 : 1)];
               }}},
      axes: [{stroke: "#9aa4b2", grid: {stroke: "#222a35"}, incrs: WHOLE, values: (u, vals) => vals.map(v => "t+" + Math.round(v) + "s")},
             {stroke: "#9aa4b2", grid: {stroke: "#222a35"}, size: 60, incrs: metric.endsWith("_ms") ? WHOLE : undefined,
              values: (u, vals) => vals.map(v => fmt(metric, v))}],
      series: [{}, {label: "canary", stroke: "#ff9f43", width: 2, points: {show: false}},
               {label: "stable", stroke: "#4aa3ff", width: 2, points: {show: false}},
               {label: "limit", stroke: "#ff4d4f", width: 1, dash: [6, 4], points: {show: false}},
               {label: "canary 95% low", stroke: "rgba(255,159,67,.45)", width: 1, dash: [2, 3], points: {show: false}},
               {label: "canary 95% high", stroke: "rgba(255,159,67,.45)", width: 1, dash: [2, 3], points: {show: false}}],
      plugins: [markerPlugin()],
    };
    const plot = new uPlot(opts, data, box);
    return charts[metric] = {plot: plot, data: data, box: box};
  }

  function addPoint(p, redraw) {
    for (const metric of Object.keys(charts)) {
      const c = charts[metric], e = p[metric] || {};
      c.data[0].push(p.t); c.data[1].push(e.canary); c.data[2].push(e.stable); c.data[3].push(e.limit);
      c.data[4].push(e.low); c.data[5].push(e.high);
      c.box.dataset.points = c.data[0].length;
      if (redraw) c.plot.setData(c.data);
      if (e.canary == null && e.stable == null) continue;
      c.box.classList.remove("empty");
      c.box.querySelector(".now").textContent = "now: canary " + fmt(metric, e.canary) + " · stable " + fmt(metric, e.stable) +
        (e.limit != null ? " · limit " + fmt(metric, e.limit) : "");
    }
  }

  function redrawAll() { for (const m of Object.keys(charts)) charts[m].plot.setData(charts[m].data); }

  // Only the parts of a panel that changed are replaced: a button a person is pressing (the kill switch
  // beside gate numbers that move every few seconds) stays the same element, so the click is not lost.
  function patch(old, fresh) {
    const was = old.children, now = fresh.children;
    if (old.tagName !== fresh.tagName || was.length !== now.length || !sameAttributes(old, fresh) ||
        ownText(old) !== ownText(fresh)) {
      old.replaceWith(fresh);
      if (window.htmx) htmx.process(fresh);
      return;
    }
    for (let i = now.length - 1; i >= 0; i--) {
      if (was[i].isEqualNode(now[i])) continue;
      const node = document.importNode(now[i], true);
      was[i].replaceWith(node);
      if (window.htmx) htmx.process(node);
    }
  }

  function ownText(el) {
    return Array.from(el.childNodes).filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.data.trim()).join(" ");
  }

  function sameAttributes(a, b) {
    if (a.attributes.length !== b.attributes.length) return false;
    for (const at of a.attributes) if (b.getAttribute(at.name) !== at.value) return false;
    return true;
  }

  let refreshing = null, again = false;
  function refreshPanels() {
    // At most one refresh at a time, and one more if something changed meanwhile.
    if (refreshing) { again = true; return; }
    refreshing = fetch(base + "/panels", {headers: {"HX-Request": "true"}, credentials: "same-origin"})
      .then(r => r.ok ? r.text() : Promise.reject(r.status))
      .then(html => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-live]").forEach(fresh => {
          const old = document.getElementById(fresh.id);
          if (!old) return;
          // A "why" a person opened stays open when its panel is drawn again.
          const open = Array.from(old.querySelectorAll("details[open][data-key]")).map(d => d.dataset.key);
          for (const key of open) fresh.querySelector('details[data-key="' + key + '"]')?.setAttribute("open", "");
          patch(old, fresh);
        });
      })
      .catch(() => {})
      .finally(() => { refreshing = null; if (again) { again = false; refreshPanels(); } });
  }

  function connect() {
    const state = document.getElementById("live-state");
    const source = new EventSource(base + "/events?after=" + after);
    source.onopen = () => { state.textContent = "live"; state.className = "live-state ok"; };
    source.addEventListener("decision", ev => {
      const d = JSON.parse(ev.data);
      after = Math.max(after, d.seq);
      if (d.point) addPoint(d.point, true);
      if (d.marker) { markers.push(d.marker); redrawAll(); }
      if (d.kind === "release.promoted" || d.kind === "release.rolled_back" || d.kind.startsWith("stage.passed")) {
        if (window.htmx) htmx.trigger("#audit", "verify");  // a new bundle was signed: verify again
      }
      if (d.kind !== "evaluation") refreshPanels();
    });
    source.addEventListener("snapshot", () => refreshPanels());
    source.addEventListener("outcome", () => {
      refreshPanels(); source.close();
      if (window.htmx) htmx.trigger("#audit", "verify");
      state.textContent = "finished"; state.className = "live-state muted";
    });
    source.onerror = () => {
      state.textContent = "reconnecting…"; state.className = "live-state warn";
    };
  }

  // Confirmations that name the release (kill switch, roll back, no-go), on the live panels too.
  document.addEventListener("submit", ev => {
    const form = ev.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) ev.preventDefault();
  }, true);

  fetch(base + "/series", {credentials: "same-origin"}).then(r => r.json()).then(s => {
    byGate = s.byGate || {};
    after = Math.max(after, s.lastSeq || 0);
    markers = s.markers;
    for (const m of s.metrics) makeChart(m);
    for (const p of s.points) addPoint(p, false);
    redrawAll();
    connect();
  });
  window.addEventListener("resize", () => {
    for (const m of Object.keys(charts)) charts[m].plot.setSize({width: Math.max(280, charts[m].box.clientWidth - 16), height: 150});
  });
})();
