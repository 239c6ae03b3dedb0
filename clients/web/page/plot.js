// Small canvas plots for the dashboard, drawn whole on every update (a few hundred
// points: cheaper than keeping state). Time runs left to right, ending at the newest
// sample; values start at zero. No library: this file is all of it.
"use strict";

const Plot = (function () {
  const AXIS = "#8a94a6", GRID = "#e3e7ee", TEXT = "#3b4252";
  const FONT = "12px sans-serif";
  const PAD = { left: 54, right: 14, top: 22, bottom: 20 };

  // The canvas at its CSS size in device pixels; a context in CSS pixels.
  function context(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = FONT;
    return { g, w, h };
  }

  // A round upper bound for the axis: 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function format(v) {
    if (v === 0) return "0";
    if (Math.abs(v) >= 100) return v.toFixed(0);
    if (Math.abs(v) >= 10) return v.toFixed(1).replace(/\.0$/, "");
    return v.toFixed(2).replace(/0$/, "").replace(/\.0$/, "");
  }

  // The time shown: the window asked for, or less while there is less data (at least
  // a minute), so that a fresh start does not sit in a corner.
  function span(windowS, oldest, newest) {
    return Math.min(windowS, Math.max(60, Math.ceil((newest - oldest) / 60) * 60));
  }

  function tickLabel(s) {
    return s === 0 ? "now" : s % 60 ? "-" + s + " s" : "-" + s / 60 + " min";
  }

  // Axes, grid and the time ticks ("-N min", or every 15 s in a short window).
  function frame(g, w, h, t0, t1, ymax, unit) {
    const x0 = PAD.left, x1 = w - PAD.right, y0 = h - PAD.bottom, y1 = PAD.top;
    g.strokeStyle = GRID;
    g.fillStyle = AXIS;
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const y = y0 - (y0 - y1) * i / 4;
      g.beginPath();
      g.moveTo(x0, y + 0.5);
      g.lineTo(x1, y + 0.5);
      g.stroke();
      g.fillText(format(ymax * i / 4), x0 - 4, y);
    }
    g.save();
    g.translate(8, (y0 + y1) / 2);
    g.rotate(-Math.PI / 2);
    g.textAlign = "center";
    g.fillText(unit, 0, 0);
    g.restore();
    g.textBaseline = "top";
    const step = t1 - t0 <= 60 ? 15 : t1 - t0 <= 180 ? 30 : 60;
    for (let s = 0; t1 - s >= t0 - 0.001; s += step) {
      const x = x0 + (x1 - x0) * (t1 - s - t0) / (t1 - t0);
      g.textAlign = s === 0 ? "right" : x - x0 < 20 ? "left" : "center";   // inside the plot
      g.fillText(tickLabel(s), x, y0 + 4);
    }
    return {
      x: (t) => x0 + (x1 - x0) * (t - t0) / (t1 - t0),
      y: (v) => y0 - (y0 - y1) * Math.min(v, ymax) / ymax,
      x0, x1, y0, y1,
    };
  }

  function legend(g, x, entries) {
    g.textAlign = "left";
    g.textBaseline = "middle";
    for (const e of entries) {
      g.fillStyle = e.color;
      g.fillRect(x, 6, 10, 10);
      g.fillStyle = TEXT;
      const text = e.name + (e.value !== undefined ? " " + e.value : "");
      g.fillText(text, x + 14, 11);
      x += 14 + g.measureText(text).width + 14;
    }
  }

  function empty(g, w, h, message) {
    g.fillStyle = AXIS;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(message, w / 2, h / 2);
  }

  // series: [{name, color, points: [[t, v or null], ...], unit}]; a null breaks the
  // line. Draws the last opts.windowS seconds at most. Returns how many points it drew.
  function lines(canvas, series, opts) {
    const { g, w, h } = context(canvas);
    let t1 = -Infinity, tFirst = Infinity, vmax = 0, drawn = 0;
    for (const s of series)
      for (const [t, v] of s.points) {
        if (t > t1) t1 = t;
        if (t < tFirst) tFirst = t;
        if (v !== null && v > vmax) vmax = v;
      }
    const any = series.some((s) => s.points.some((p) => p[1] !== null));
    if (!any) {
      empty(g, w, h, opts.emptyText || "no data yet");
      canvas.dataset.points = "0";
      return 0;
    }
    const t0 = t1 - span(opts.windowS, tFirst, t1);
    const ax = frame(g, w, h, t0, t1, niceMax(vmax * 1.1), opts.unit);
    g.lineWidth = 1.6;
    for (const s of series) {
      g.strokeStyle = s.color;
      g.beginPath();
      let pen = false;
      for (const [t, v] of s.points) {
        if (t < t0 || v === null) {
          pen = false;
          continue;
        }
        pen ? g.lineTo(ax.x(t), ax.y(v)) : g.moveTo(ax.x(t), ax.y(v));
        pen = true;
        drawn++;
      }
      g.stroke();
      const last = s.points[s.points.length - 1];   // the newest, marked (alone, a dot)
      if (last && last[1] !== null) {
        g.fillStyle = s.color;
        g.beginPath();
        g.arc(ax.x(last[0]), ax.y(last[1]), 2.5, 0, 2 * Math.PI);
        g.fill();
      }
    }
    legend(g, ax.x0, series.map((s) => {
      const last = s.points.length ? s.points[s.points.length - 1][1] : null;
      return { name: s.name, color: s.color, value: last === null ? "n/a" : format(last) };
    }));
    canvas.dataset.points = String(drawn);
    return drawn;
  }

  // buckets: [{start, n: [count per name]}], oldest first; one stacked bar each, in the
  // last opts.windowS seconds at most. Returns how many bars it drew.
  function stacked(canvas, buckets, names, colors, opts) {
    const { g, w, h } = context(canvas);
    if (!buckets.length) {
      empty(g, w, h, opts.emptyText || "no faces yet");
      canvas.dataset.points = "0";
      return 0;
    }
    const t1 = buckets[buckets.length - 1].start + opts.bucketS;
    const t0 = t1 - Math.max(120, span(opts.windowS, buckets[0].start, t1));
    const windowS = t1 - t0;
    let max = 0;
    for (const b of buckets) max = Math.max(max, b.n.reduce((a, c) => a + c, 0));
    const ax = frame(g, w, h, t0, t1, niceMax(max), opts.unit);
    const width = Math.max(1, (ax.x1 - ax.x0) * opts.bucketS / windowS - 1);
    const seen = new Set();
    let drawn = 0;
    for (const b of buckets) {
      if (b.start < t0) continue;
      let v = 0;
      for (let i = 0; i < names.length; i++) {
        if (!b.n[i]) continue;
        seen.add(i);
        g.fillStyle = colors[names[i]] || AXIS;
        const top = ax.y(v + b.n[i]);
        g.fillRect(ax.x(b.start), top, width, ax.y(v) - top);
        v += b.n[i];
      }
      drawn++;
    }
    legend(g, ax.x0, [...seen].sort((a, b) => a - b).map((i) => ({ name: names[i], color: colors[names[i]] || AXIS })));
    canvas.dataset.points = String(drawn);
    return drawn;
  }

  return { lines, stacked, format };
})();
