// The dashboard: follows emotiond-web's event stream (/events: the daemon's hello, frame,
// telemetry and preview messages, plus emotiond-web's own "web" state and the "history"
// of the last minutes) and draws it. The body's data-* attributes count what arrived,
// for people and for the browser test (tests/integration/web_test.py).
"use strict";

(function () {
  const TELEMETRY_WINDOW_S = 300;   // the time plots: 5 minutes
  const LABEL_WINDOW_S = 600;       // the expressions plot: 10 minutes ...
  const BUCKET_S = 10;              // ... in 10-second bars
  const REDRAW_MS = 250;            // plots at most 4 times a second
  const LABELS = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness",
    "surprise", "other"];
  const COLORS = {
    anger: "#d62728", contempt: "#8c564b", disgust: "#7f7f00", fear: "#9467bd",
    happiness: "#f2a900", neutral: "#7f8c9a", sadness: "#1f77b4", surprise: "#17becf",
    other: "#c7c7c7",
  };

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const samples = [];               // {ts, fps_in, fps_out, p50_ms, p99_ms, watts, per_watt, drops}
  const buckets = new Map();        // bucket start -> counts in LABELS order
  let latest = null;                // the newest telemetry message
  let facesPending = null;          // the newest frame's faces, for the next redraw
  let dirty = true;
  let previewLoading = false, previewWanted = null;
  let previewFresh = false;         // a picture loaded since the daemon (re)connected

  function count(attr, by) {
    body.dataset[attr] = String(Number(body.dataset[attr] || 0) + (by === undefined ? 1 : by));
  }

  function text(id, value) {
    const el = $(id);
    if (el.textContent !== value) el.textContent = value;
  }

  const num = (v) => (typeof v === "number" && isFinite(v) ? v : null);
  const fmt = (v, unit) => (v === null ? "n/a" : Plot.format(v) + (unit || ""));

  // ---- state: the daemon connected or not, the preview on or off ----

  function showDaemon(connected, why) {
    body.dataset.daemon = connected ? "connected" : "disconnected";
    const el = $("daemon-state");
    el.className = "state " + (connected ? "ok" : "bad");
    el.textContent = connected ? "daemon connected" : "daemon not connected" + (why ? ": " + why : "");
  }

  // The picture shows only while the daemon is there and has sent one; otherwise the
  // panel says why there is none (and how to turn the preview on).
  function showPreviewState(state) {
    body.dataset.preview = state;
    const live = body.dataset.daemon === "connected";
    const shown = live && state === "enabled" && previewFresh;
    $("preview").hidden = !shown;
    $("preview-wait").hidden = shown || !live || state !== "enabled";
    $("preview-off").hidden = state !== "disabled";
    $("preview-unknown").hidden = !live || state !== "unknown";
  }

  function onWeb(m) {
    const was = body.dataset.daemon;
    showDaemon(m.daemon_connected, m.daemon_connected ? "" : "retrying " + m.daemon_socket);
    if (!m.daemon_connected && was !== "disconnected") {
      facesPending = null;          // not the last frame's faces, waiting for a redraw
      setFaces([]);
      previewFresh = false;
      showPreviewState(body.dataset.preview);
    }
    text("footer-version", "emotiond-web " + m.version);
    text("footer-rss", (m.rss_kb / 1024).toFixed(1) + " MB resident");
    text("footer-streams", m.streams + (m.streams === 1 ? " dashboard" : " dashboards") + " open");
    text("footer-drops", m.stream_drops + " events dropped for slow browsers");
    body.dataset.webRssKb = String(m.rss_kb);
    count("webCount");
  }

  function onHello(m) {
    text("model", m.model + " (" + (m.precision || "fp32") + ")");
    text("source", m.source || "");
    const pv = m.preview;
    showPreviewState(pv && typeof pv === "object" ? (pv.enabled ? "enabled" : "disabled") : "unknown");
    if (pv && pv.enabled) text("preview-rate", pv.width + " px wide, " + pv.fps + " per second");
    count("hellos");
  }

  // ---- the time plots ----

  function addSample(s) {
    const last = samples[samples.length - 1];
    if (last && last.ts === s.ts) samples.pop();    // the history's newest, sent again live
    samples.push(s);
    const cut = s.ts - TELEMETRY_WINDOW_S;
    while (samples.length && (samples[0].ts < cut || samples[0].ts > s.ts)) samples.shift();
    dirty = true;
  }

  function onTelemetry(m) {
    latest = m;
    const st = m.stages || {};
    const drops = m.drops || {};
    addSample({
      ts: m.ts,
      fps_in: num((st.capture || {}).fps),
      fps_out: num((st.publish || {}).fps),
      p50_ms: num((m.latency_ms || {}).p50),
      p99_ms: num((m.latency_ms || {}).p99),
      watts: num((m.power || {}).watts),
      per_watt: num(m.images_per_s_per_w),
      drops: Object.values(drops).reduce((a, v) => a + (num(v) || 0), 0),
    });
    count("telemetryCount");
    const mode = m.power_mode ? m.power_mode.name : null;
    text("power-mode", mode ? "power mode " + mode : "no power mode (not a Jetson)");
    text("power-now", fmt(num((m.power || {}).watts), " W") +
      (m.power && m.power.lower_bound ? " (at least)" : ""));
    text("per-watt-now", fmt(num(m.images_per_s_per_w), " images/s/W"));
    text("power-source", m.power ? m.power.source : "no power sensor (power n/a)");
    for (const k of ["camera", "corrupt", "pipeline", "clients"])
      text("drops-" + k, drops[k] === undefined ? "n/a" : String(drops[k]));
    text("capped", m.capped === undefined ? "n/a" : String(m.capped));
  }

  function onHistory(m) {
    const t = m.telemetry;
    for (let i = 0; i < t.ts.length; i++) {
      const s = { ts: m.t0 + t.ts[i] };
      for (const k of ["fps_in", "fps_out", "p50_ms", "p99_ms", "watts", "per_watt", "drops"])
        s[k] = num(t[k][i]);
      addSample(s);
    }
    for (const b of m.counts) {
      const n = LABELS.map((name) => b.n[m.labels.indexOf(name)] || 0);
      buckets.set(b.start, n);
    }
    body.dataset.history = String(t.ts.length);
    dirty = true;
  }

  // ---- faces: the table and the per-label counts ----

  function setFaces(faces) {
    const rows = faces.map((f) => {
      const tr = document.createElement("tr");
      for (const v of [String(f.id), f.label, (100 * f.confidence).toFixed(0) + " %"]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      tr.firstChild.style.borderLeft = "4px solid " + (COLORS[f.label] || COLORS.other);
      return tr;
    });
    $("faces-body").replaceChildren(...rows);
    $("faces-none").hidden = faces.length > 0;
    body.dataset.faces = String(faces.length);
  }

  function onFrame(m) {
    count("frames");
    const faces = Array.isArray(m.faces) ? m.faces : [];
    if (faces.length) {
      const start = Math.floor(m.ts / BUCKET_S) * BUCKET_S;
      let n = buckets.get(start);
      if (!n) buckets.set(start, (n = LABELS.map(() => 0)));
      for (const f of faces) {
        const i = LABELS.indexOf(f.label);
        n[i < 0 ? LABELS.length - 1 : i]++;
      }
      for (const k of buckets.keys()) if (k <= start - LABEL_WINDOW_S) buckets.delete(k);
      dirty = true;
    }
    count("faceObservations", faces.length);
    facesPending = faces;
  }

  // ---- the preview: one picture at a time, the newest when it is done ----

  function loadPreview(seq) {
    if (previewLoading) {
      previewWanted = seq;
      return;
    }
    previewLoading = true;
    const img = $("preview");
    img.src = "preview.jpg?seq=" + encodeURIComponent(seq);
  }

  function previewDone(ok) {
    previewLoading = false;
    const img = $("preview");
    if (ok && img.naturalWidth > 0) {
      previewFresh = true;
      count("previews");
      body.dataset.previewWidth = String(img.naturalWidth);
      showPreviewState(body.dataset.preview === "unknown" ? "enabled" : body.dataset.preview);
    }
    if (previewWanted !== null) {
      const seq = previewWanted;
      previewWanted = null;
      loadPreview(seq);
    }
  }

  function onPreview(m) {
    if (body.dataset.preview !== "enabled") showPreviewState("enabled");
    text("preview-faces", m.faces.length + (m.faces.length === 1 ? " face" : " faces") +
      " in frame " + m.seq);
    loadPreview(m.seq);
  }

  // ---- drawing ----

  function series(key) {
    return samples.map((s) => [s.ts, s[key]]);
  }

  // drops per second between samples (the message carries totals)
  function dropRate() {
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i];
      if (a.drops === null || b.drops === null || b.ts <= a.ts) continue;
      out.push([b.ts, Math.max(0, b.drops - a.drops) / (b.ts - a.ts)]);
    }
    return out;
  }

  function redraw() {
    if (facesPending) {
      setFaces(facesPending);
      facesPending = null;
    }
    if (!dirty) return;
    dirty = false;
    const w = TELEMETRY_WINDOW_S;
    Plot.lines($("plot-fps"), [
      { name: "captured/s", color: "#1f77b4", points: series("fps_in") },
      { name: "processed/s", color: "#2ca02c", points: series("fps_out") },
      { name: "dropped/s", color: "#d62728", points: dropRate() },
    ], { windowS: w, unit: "frames/s" });
    Plot.lines($("plot-latency"), [
      { name: "p50", color: "#2ca02c", points: series("p50_ms") },
      { name: "p99", color: "#ff7f0e", points: series("p99_ms") },
    ], { windowS: w, unit: "ms" });
    Plot.lines($("plot-power"), [
      { name: "watts", color: "#9467bd", points: series("watts") },
    ], { windowS: w, unit: "W", emptyText: "n/a: this board reports no power" });
    Plot.lines($("plot-per-watt"), [
      { name: "images/s/W", color: "#17becf", points: series("per_watt") },
    ], { windowS: w, unit: "images/s/W", emptyText: "n/a: needs a power reading" });
    const starts = [...buckets.keys()].sort((a, b) => a - b);
    Plot.stacked($("plot-labels"), starts.map((s) => ({ start: s, n: buckets.get(s) })), LABELS,
      COLORS, { windowS: LABEL_WINDOW_S, bucketS: BUCKET_S, unit: "faces per 10 s" });
    if (latest) {
      const st = latest.stages || {};
      text("fps-now", fmt(num((st.publish || {}).fps), " frames/s"));
      text("latency-now", "p50 " + fmt(num((latest.latency_ms || {}).p50), " ms") + ", p99 " +
        fmt(num((latest.latency_ms || {}).p99), " ms"));
    }
    body.dataset.drawn = String(Number(body.dataset.drawn || 0) + 1);
  }

  // ---- the stream ----

  const HANDLERS = {
    web: onWeb, hello: onHello, history: onHistory, telemetry: onTelemetry, frame: onFrame,
    preview: onPreview,
    dropped: (m) => count("dropped", m.count),
  };

  function connect() {
    const es = new EventSource("events");
    es.onopen = () => body.dataset.stream = "open";
    es.onmessage = (e) => {
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (err) {
        count("badEvents");
        return;
      }
      const handle = m && HANDLERS[m.type];
      if (handle) handle(m);
    };
    es.onerror = () => {
      // the browser retries by itself after a network error (retry: 2000), but a refusal
      // (503 when all streams are taken, 403) closes the stream for good: start again
      body.dataset.stream = "lost";
      showDaemon(false, "emotiond-web itself is not answering");
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(connect, 5000);
      }
    };
  }

  $("preview").addEventListener("load", () => previewDone(true));
  $("preview").addEventListener("error", () => previewDone(false));
  window.addEventListener("resize", () => (dirty = true));
  showPreviewState("unknown");
  setInterval(redraw, REDRAW_MS);
  connect();
})();
