// gdlab playground: plain JavaScript, no framework, no network beyond this server.
// The server computes every trajectory with gdlab's real optimizers; this page only
// draws the contour, the paths, the legend and the loss curves, and animates them.
(function () {
  "use strict";

  const COLORS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939",
  ];
  // heat map: low values light (the valleys), high values deep blue-violet
  const STOPS = [
    [0.0, [255, 250, 236]],
    [0.3, [226, 243, 214]],
    [0.55, [181, 222, 219]],
    [0.8, [146, 186, 221]],
    [1.0, [130, 138, 195]],
  ];
  const MARGIN = { left: 54, right: 14, top: 12, bottom: 42 };
  // set-ups worth a look; the first is what the page opens with
  const EXAMPLES = [
    {
      title: "Zig-zag, and momentum", surface: "quadratic", start: [-7, 2], steps: 100,
      text: "Plain GD bounces across the narrow axis; momentum and Adam do not.",
      runs: [{ optimizer: "sgd", lr: "0.95" }, { optimizer: "momentum", lr: "0.1" }, { optimizer: "adam", lr: "0.3" }],
    },
    {
      title: "A learning rate too large", surface: "regression", start: [-1, 5], steps: 60,
      text: "The notes' MSE: λmax = 6.854, so GD diverges above 2/λmax ≈ 0.292.",
      runs: [{ optimizer: "sgd", lr: "0.28" }, { optimizer: "sgd", lr: "0.3" }, { optimizer: "sgd", lr: "0.1" }],
    },
    {
      title: "A curved valley", surface: "rosenbrock", start: [-1.5, 2.5], steps: 2000,
      text: "Rosenbrock: GD crawls along the valley floor; momentum and Adam reach (1, 1).",
      runs: [{ optimizer: "sgd", lr: "0.001" }, { optimizer: "momentum", lr: "0.001" }, { optimizer: "adam", lr: "0.05" }],
    },
    {
      title: "Which minimum?", surface: "himmelblau", start: [0, 0], steps: 200,
      text: "Four minima: with momentum the same start ends in another one.",
      runs: [{ optimizer: "sgd", lr: "0.01" }, { optimizer: "momentum", lr: "0.01" }, { optimizer: "adam", lr: "0.1" }],
    },
    {
      title: "Adaptive step sizes", surface: "quadratic", start: [-7, 2], steps: 100,
      text: "Adagrad's steps shrink, RMSprop's do not; Adadelta starts very slowly.",
      runs: [{ optimizer: "adagrad", lr: "1.5" }, { optimizer: "rmsprop", lr: "0.3" }, { optimizer: "adadelta", lr: "1" }, { optimizer: "adam", lr: "0.3" }],
    },
    {
      title: "Off a saddle point", surface: "saddle", start: [-2, 0.001], steps: 100,
      text: "Starting almost on the ridge: who escapes the saddle at (0, 0) first?",
      runs: [{ optimizer: "sgd", lr: "0.1" }, { optimizer: "momentum", lr: "0.05" }, { optimizer: "adam", lr: "0.05" }],
    },
  ];

  const $ = (id) => document.getElementById(id);
  // names this page to the server: a newer request of the page cancels the older
  const PAGE = Math.random().toString(36).slice(2) + Date.now().toString(36);
  let inflight = null; // the AbortController of the request on its way
  const state = {
    surfaces: [], surfaceByName: {}, optimizers: [], optimizerByName: {},
    schedules: [], scheduleByName: {}, limits: { max_steps: 5000, max_runs: 24 },
    surface: null, start: [0, 0], steps: 100, runs: [], nextId: 1,
    result: null, derived: [], t: 0, playing: false, speed: 20, request: 0,
    heat: null, lastFrame: null, raf: null, defaultSteps: 100, speedTouched: false,
  };

  // --- small helpers ----------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined) return "∞ (overflow)";
    if (!Number.isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential((digits || 4) - 1);
    return String(Number(v.toPrecision(digits || 4)));
  }

  function parseNumber(text) {
    // a number when it reads as one; otherwise the text, for the server to name
    const t = String(text).trim();
    const n = Number(t);
    return t !== "" && Number.isFinite(n) ? n : t;
  }

  function showError(message) {
    $("error-text").textContent = message;
    $("error").hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error-text").textContent = "";
  }

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    let data;
    try {
      data = await response.json();
    } catch (e) {
      throw new Error(`playground: the server answered ${response.status} without JSON`);
    }
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  // --- geometry: data <-> canvas pixels (CSS pixels) -------------------------------------

  function plotBox(canvas) {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    return {
      left: MARGIN.left, top: MARGIN.top,
      width: Math.max(10, w - MARGIN.left - MARGIN.right),
      height: Math.max(10, h - MARGIN.top - MARGIN.bottom),
    };
  }

  function toPixel(box, x, y) {
    const [[x0, x1], [y0, y1]] = state.surface.bounds;
    return [
      box.left + ((x - x0) / (x1 - x0)) * box.width,
      box.top + (1 - (y - y0) / (y1 - y0)) * box.height,
    ];
  }

  function fromPixel(box, px, py) {
    const [[x0, x1], [y0, y1]] = state.surface.bounds;
    return [
      x0 + ((px - box.left) / box.width) * (x1 - x0),
      y1 - ((py - box.top) / box.height) * (y1 - y0),
    ];
  }

  function roundTo(v, range) {
    // a start a person can read: three significant digits of the plotted range
    const step = Math.pow(10, Math.floor(Math.log10(range)) - 2);
    return Number((Math.round(v / step) * step).toFixed(Math.max(0, -Math.log10(step) + 1)));
  }

  function setupCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return ctx;
  }

  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
      ticks.push(Math.abs(v) < 1e-12 * step ? 0 : v);
    }
    return ticks;
  }

  // --- the contour: heat map, contour lines, axes, minima ----------------------------

  function shadeOf(v, levels) {
    const n = levels.length;
    if (!(v > levels[0])) return 0;
    if (v >= levels[n - 1]) return 1;
    let lo = 0, hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (levels[mid] <= v) lo = mid; else hi = mid;
    }
    return (lo + (v - levels[lo]) / (levels[lo + 1] - levels[lo])) / (n - 1);
  }

  function colorOf(s) {
    for (let k = 1; k < STOPS.length; k++) {
      const [s1, c1] = STOPS[k];
      if (s <= s1) {
        const [s0, c0] = STOPS[k - 1];
        const u = (s - s0) / (s1 - s0);
        return c0.map((c, i) => Math.round(c + (c1[i] - c) * u));
      }
    }
    return STOPS[STOPS.length - 1][1];
  }

  function heatImage(surface) {
    const { nx, ny, values } = surface.grid;
    const image = document.createElement("canvas");
    image.width = nx;
    image.height = ny;
    const ctx = image.getContext("2d");
    const data = ctx.createImageData(nx, ny);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const rgb = colorOf(shadeOf(values[j * nx + i], surface.levels));
        const o = ((ny - 1 - j) * nx + i) * 4; // row 0 of the image is the top (max y)
        data.data[o] = rgb[0];
        data.data[o + 1] = rgb[1];
        data.data[o + 2] = rgb[2];
        data.data[o + 3] = 255;
      }
    }
    ctx.putImageData(data, 0, 0);
    return image;
  }

  // marching squares: the segments where the grid crosses `level`, in grid units
  function isoSegments(grid, level) {
    const { nx, ny, values } = grid;
    const out = [];
    const lerp = (a, b) => (level - a) / (b - a);
    for (let j = 0; j < ny - 1; j++) {
      for (let i = 0; i < nx - 1; i++) {
        const a = values[j * nx + i], b = values[j * nx + i + 1];
        const c = values[(j + 1) * nx + i + 1], d = values[(j + 1) * nx + i];
        const code = (a > level ? 1 : 0) | (b > level ? 2 : 0) | (c > level ? 4 : 0) | (d > level ? 8 : 0);
        if (code === 0 || code === 15) continue;
        const bottom = [i + lerp(a, b), j], right = [i + 1, j + lerp(b, c)];
        const top = [i + lerp(d, c), j + 1], left = [i, j + lerp(a, d)];
        const pairs = {
          1: [[left, bottom]], 2: [[bottom, right]], 3: [[left, right]], 4: [[right, top]],
          5: [[left, top], [bottom, right]], 6: [[bottom, top]], 7: [[left, top]],
          8: [[left, top]], 9: [[bottom, top]], 10: [[left, bottom], [right, top]],
          11: [[right, top]], 12: [[left, right]], 13: [[bottom, right]], 14: [[left, bottom]],
        }[code];
        for (const p of pairs) out.push(p);
      }
    }
    return out;
  }

  function drawContour() {
    const canvas = $("contour");
    const ctx = setupCanvas(canvas);
    const surface = state.surface;
    if (!surface) return;
    const box = plotBox(canvas);
    const { nx, ny } = surface.grid;
    if (!state.heat || state.heat.name !== surface.name) {
      state.heat = { name: surface.name, image: heatImage(surface), lines: null };
      state.heat.lines = surface.levels.map((level) => isoSegments(surface.grid, level));
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    // grid points sit on the corners of the box: stretch the image half a cell out
    const cw = box.width / (nx - 1), ch = box.height / (ny - 1);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(state.heat.image, box.left - cw / 2, box.top - ch / 2, box.width + cw, box.height + ch);
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = "rgba(30, 38, 60, 0.30)";
    ctx.beginPath();
    for (const segments of state.heat.lines) {
      for (const [[i0, j0], [i1, j1]] of segments) {
        ctx.moveTo(box.left + i0 * cw, box.top + box.height - j0 * ch);
        ctx.lineTo(box.left + i1 * cw, box.top + box.height - j1 * ch);
      }
    }
    ctx.stroke();
    ctx.restore();

    // frame, ticks and labels
    const [[x0, x1], [y0, y1]] = surface.bounds;
    ctx.strokeStyle = "#9aa3b2";
    ctx.lineWidth = 1;
    ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width - 1, box.height - 1);
    ctx.fillStyle = "#4a5468";
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of niceTicks(x0, x1, 8)) {
      const [px] = toPixel(box, v, y0);
      ctx.fillRect(px, box.top + box.height, 1, 4);
      ctx.fillText(fmt(v, 3), px, box.top + box.height + 6);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of niceTicks(y0, y1, 7)) {
      const [, py] = toPixel(box, x0, v);
      ctx.fillRect(box.left - 4, py, 4, 1);
      ctx.fillText(fmt(v, 3), box.left - 7, py);
    }
    ctx.font = "italic 14px 'DejaVu Serif', Georgia, serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(surface.labels[0], box.left + box.width / 2, box.top + box.height + 40);
    ctx.save();
    ctx.translate(14, box.top + box.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(surface.labels[1], 0, 0);
    ctx.restore();

    canvas.dataset.plot = [box.left, box.top, box.width, box.height].join(",");
    $("paths").dataset.plot = canvas.dataset.plot;
  }

  function star(ctx, x, y, r) {
    ctx.beginPath();
    for (let k = 0; k < 10; k++) {
      const a = -Math.PI / 2 + (k * Math.PI) / 5;
      const rr = k % 2 ? r * 0.45 : r;
      ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
    }
    ctx.closePath();
    ctx.fillStyle = "#ffd43b";
    ctx.strokeStyle = "#1d2433";
    ctx.lineWidth = 1.3;
    ctx.fill();
    ctx.stroke();
  }

  // --- the paths: clipped polylines, step dots, current points, divergence marks -------

  function clipSegment(p, q, r) {
    // Liang-Barsky: the part of p->q inside rectangle r (with huge coordinates), or null
    let t0 = 0, t1 = 1;
    const dx = q[0] - p[0], dy = q[1] - p[1];
    const checks = [[-dx, p[0] - r.x0], [dx, r.x1 - p[0]], [-dy, p[1] - r.y0], [dy, r.y1 - p[1]]];
    for (const [pk, qk] of checks) {
      if (pk === 0) {
        if (qk < 0) return null;
      } else {
        const t = qk / pk;
        if (pk < 0) { if (t > t1) return null; if (t > t0) t0 = t; }
        else { if (t < t0) return null; if (t < t1) t1 = t; }
      }
    }
    return [[p[0] + t0 * dx, p[1] + t0 * dy], [p[0] + t1 * dx, p[1] + t1 * dy]];
  }

  function derive(run, box) {
    // pixel points, and where a diverging run leaves the map (or overflows)
    const pts = run.path.map(([x, y]) => toPixel(box, x, y));
    const r = { x0: box.left - 2, x1: box.left + box.width + 2, y0: box.top - 2, y1: box.top + box.height + 2 };
    const inside = (p) => p[0] >= r.x0 && p[0] <= r.x1 && p[1] >= r.y0 && p[1] <= r.y1;
    let mark = null;
    if (run.diverged) {
      let k = pts.findIndex((p) => !inside(p));
      if (k > 0) {
        const seg = clipSegment(pts[k - 1], pts[k], r);
        mark = { step: k, at: seg ? seg[1] : pts[k - 1], why: `left the map at step ${k}` };
      } else if (k === 0) {
        mark = { step: 0, at: pts[0], why: "started off the map" };
      } else {
        k = pts.length - 1;
        mark = {
          step: k, at: pts[k],
          why: run.nonfinite_at !== null ? `overflowed at step ${run.nonfinite_at}` : "ended above its start",
        };
      }
      if (run.nonfinite_at !== null && mark.step >= run.nonfinite_at - 1) {
        mark.why = `overflowed at step ${run.nonfinite_at}`;
      }
    }
    return { pts, rect: r, mark };
  }

  function pointAt(pts, t) {
    const k = Math.min(Math.floor(t), pts.length - 1);
    const u = t - k;
    if (u <= 0 || k + 1 >= pts.length) return pts[k];
    return [pts[k][0] + (pts[k + 1][0] - pts[k][0]) * u, pts[k][1] + (pts[k + 1][1] - pts[k][1]) * u];
  }

  function cross(ctx, x, y, color) {
    ctx.lineCap = "round";
    for (const [w, c] of [[6, "#ffffff"], [3, color]]) {
      ctx.strokeStyle = c;
      ctx.lineWidth = w;
      ctx.beginPath();
      ctx.moveTo(x - 7, y - 7); ctx.lineTo(x + 7, y + 7);
      ctx.moveTo(x + 7, y - 7); ctx.lineTo(x - 7, y + 7);
      ctx.stroke();
    }
  }

  function drawPaths() {
    const canvas = $("paths");
    const ctx = setupCanvas(canvas);
    if (!state.surface) return;
    const box = plotBox(canvas);
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    const result = state.result;
    let drawn = 0;
    if (result && result.surface === state.surface.name) {
      const t = state.t;
      result.runs.forEach((run, i) => {
        const d = state.derived[i];
        const color = run.color;
        // a diverging run is drawn until it leaves the map (then a cross marks it)
        const end = d.mark ? Math.min(d.mark.step, d.pts.length - 1) : d.pts.length - 1;
        const last = Math.min(Math.floor(t), end);
        const segs = [];
        for (let k = 0; k < last; k++) {
          const s = clipSegment(d.pts[k], d.pts[k + 1], d.rect);
          if (s) segs.push(s);
        }
        if (t > last && last < end) {
          const s = clipSegment(d.pts[last], pointAt(d.pts, t), d.rect);
          if (s) segs.push(s);
        }
        for (const [w, c] of [[4.5, "rgba(255,255,255,0.85)"], [2.2, color]]) {
          ctx.strokeStyle = c;
          ctx.lineWidth = w;
          ctx.lineJoin = "round";
          ctx.lineCap = "round";
          ctx.beginPath();
          for (const [a, b] of segs) { ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); }
          ctx.stroke();
        }
        drawn += segs.length;
        if (result.steps <= 200) { // small steps: show every iterate
          ctx.fillStyle = color;
          for (let k = 1; k <= last; k++) {
            const [x, y] = d.pts[k];
            if (x < d.rect.x0 || x > d.rect.x1 || y < d.rect.y0 || y > d.rect.y1) continue;
            ctx.beginPath();
            ctx.arc(x, y, 2.2, 0, 2 * Math.PI);
            ctx.fill();
          }
        }
      });
    }
    ctx.restore();
    // minima above the lines, below the current points and the start
    for (const [mx, my] of state.surface.minima) star(ctx, ...toPixel(box, mx, my), 9);
    if (result && result.surface === state.surface.name) {
      result.runs.forEach((run, i) => {
        const d = state.derived[i];
        if (d.mark && state.t >= d.mark.step) {
          cross(ctx, d.mark.at[0], d.mark.at[1], run.color);
          return;
        }
        const [x, y] = pointAt(d.pts, Math.min(state.t, d.pts.length - 1));
        if (x < box.left - 1 || x > box.left + box.width + 1 || y < box.top - 1 || y > box.top + box.height + 1) return;
        ctx.beginPath();
        ctx.arc(x, y, 5.5, 0, 2 * Math.PI);
        ctx.fillStyle = run.color;
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.fill();
        ctx.stroke();
      });
    }
    // the start point, on top
    const [sx, sy] = toPixel(box, state.start[0], state.start[1]);
    ctx.beginPath();
    ctx.arc(sx, sy, 6.5, 0, 2 * Math.PI);
    ctx.fillStyle = "#ffffff";
    ctx.strokeStyle = "#1d2433";
    ctx.lineWidth = 2;
    ctx.fill();
    ctx.stroke();
    canvas.dataset.segments = String(drawn);
  }

  // --- the loss chart -----------------------------------------------------------------

  function lossSeries(run) {
    const s = state.surface;
    const fmin = s.min_value === null ? 0 : s.min_value;
    return run.values.map((v) => {
      if (v === null) return null;
      if (!s.log_scale) return v;
      return Math.log10(Math.max(v - fmin, 1e-300));
    });
  }

  function drawLoss() {
    const canvas = $("loss");
    const ctx = setupCanvas(canvas);
    const result = state.result;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const box = { left: 46, top: 8, width: w - 66, height: h - 38 };
    const s = state.surface;
    $("loss-scale").textContent = s && s.log_scale
      ? `${s.value_name} − min, log scale` : `${s ? s.value_name : "loss"}, linear scale`;
    if (!result || !s || result.surface !== s.name) return;
    const series = result.runs.map(lossSeries);
    const starts = series.map((y) => y[0]).filter((v) => v !== null);
    let hi = -Infinity, lo = Infinity;
    for (const ys of series) for (const v of ys) if (v !== null) { hi = Math.max(hi, v); lo = Math.min(lo, v); }
    const top0 = Math.max(...starts);
    if (s.log_scale) {
      hi = Math.min(hi, top0 + 2);
      lo = Math.max(lo, hi - 14);
      hi = Math.ceil(hi); lo = Math.floor(lo);
    } else {
      hi = Math.min(hi, top0 + 2 * Math.abs(top0) + 1);
    }
    if (!(hi > lo)) { hi = lo + 1; }
    const X = (k) => box.left + (k / result.steps) * box.width;
    const Y = (v) => box.top + (1 - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * box.height;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#667085";
    ctx.strokeStyle = "#eceef2";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yTicks = s.log_scale
      ? niceTicks(lo, hi, 5).filter((v) => Number.isInteger(v))
      : niceTicks(lo, hi, 5);
    for (const v of yTicks) {
      const y = Y(v);
      ctx.beginPath(); ctx.moveTo(box.left, y); ctx.lineTo(box.left + box.width, y); ctx.stroke();
      ctx.fillText(s.log_scale ? `1e${v}` : fmt(v, 3), box.left - 5, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const k of niceTicks(0, result.steps, 5)) {
      ctx.fillText(String(k), X(k), box.top + box.height + 5);
    }
    ctx.fillText("step", box.left + box.width / 2, box.top + box.height + 18);
    ctx.strokeStyle = "#9aa3b2";
    ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width - 1, box.height - 1);
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    const t = Math.floor(state.t);
    result.runs.forEach((run, i) => {
      ctx.strokeStyle = run.color;
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      let pen = false;
      const ys = series[i];
      for (let k = 0; k <= Math.min(t, ys.length - 1); k++) {
        if (ys[k] === null) { pen = false; continue; }
        const x = X(k), y = Y(ys[k]);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
    });
    ctx.strokeStyle = "rgba(29,36,51,0.35)";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(X(state.t), box.top);
    ctx.lineTo(X(state.t), box.top + box.height);
    ctx.stroke();
    ctx.restore();
  }

  // --- the legend ---------------------------------------------------------------------

  function renderLegend() {
    const list = $("legend");
    list.replaceChildren();
    const result = state.result;
    $("legend-empty").hidden = Boolean(result);
    if (!result) return;
    const s = state.surface;
    const [xn, yn] = s.labels;
    result.runs.forEach((run, i) => {
      const d = state.derived[i];
      const final = run.final_point
        ? `(${xn}, ${yn}) = (${fmt(run.final_point[0])}, ${fmt(run.final_point[1])})`
        : "the point overflowed";
      const badge = run.diverged
        ? el("span", { class: "badge diverged", text: `diverged · ${d.mark ? d.mark.why : ""}` })
        : el("span", { class: "badge converged", text: "stable" });
      const item = el("li", {
        class: "legend-item",
        "data-run": String(i),
        "data-label": run.label,
        "data-diverged": String(run.diverged),
        "data-final-value": run.final_value === null ? "overflow" : String(run.final_value),
      }, [
        el("span", { class: "swatch", style: `background:${run.color}` }),
        el("div", { class: "legend-body" }, [
          el("div", { class: "legend-title", text: run.label }),
          el("div", { class: "legend-line now" }),
          el("div", { class: "legend-line final" }, [
            "final ", el("b", { text: `${s.value_name} = ${fmt(run.final_value)}` }),
          ]),
          el("div", { class: "legend-line point", text: final }),
          badge,
        ]),
      ]);
      list.append(item);
    });
    updateLegendNow();
  }

  function updateLegendNow() {
    const result = state.result;
    if (!result) return;
    const k = Math.floor(state.t);
    document.querySelectorAll("#legend .legend-item").forEach((item, i) => {
      const run = result.runs[i];
      const v = k < run.values.length ? run.values[k] : null;
      item.querySelector(".now").textContent =
        `step ${k}: ${state.surface.value_name} = ${fmt(v)}` +
        (run.lrs ? `, lr = ${fmt(run.lrs[Math.min(k, run.lrs.length - 1)], 3)}` : "");
    });
  }

  // --- playback -------------------------------------------------------------------------

  function speedFromSlider() {
    const u = Number($("speed").value) / 100;
    state.speed = Math.round(Math.pow(10, u * Math.log10(2000)));
    $("speed-label").textContent = `${state.speed} steps/s`;
  }

  function setPlaying(playing) {
    state.playing = playing;
    document.body.classList.toggle("playing", playing);
    if (state.result) {
      document.body.dataset.state = playing ? "animating" : (state.t >= state.result.steps ? "done" : "paused");
    }
    if (state.raf !== null) cancelAnimationFrame(state.raf); // one loop at a time
    state.raf = null;
    if (playing) {
      state.lastFrame = null;
      state.raf = requestAnimationFrame(frame);
    }
  }

  function setStep(t) {
    const steps = state.result ? state.result.steps : 0;
    state.t = Math.max(0, Math.min(t, steps));
    $("scrub").max = String(steps);
    $("scrub").value = String(Math.floor(state.t));
    $("step-label").textContent = `step ${Math.floor(state.t)} / ${steps}`;
    drawPaths();
    drawLoss();
    updateLegendNow();
  }

  function frame(now) {
    state.raf = null;
    if (!state.playing || !state.result) return;
    if (state.lastFrame !== null) {
      const dt = Math.min(0.25, (now - state.lastFrame) / 1000);
      setStep(state.t + state.speed * dt);
    }
    state.lastFrame = now;
    if (state.t >= state.result.steps) {
      setPlaying(false);
      return;
    }
    state.raf = requestAnimationFrame(frame);
  }

  // --- the form -------------------------------------------------------------------------

  function newRun(optimizer, lr) {
    const used = new Set(state.runs.map((r) => r.color));
    const color = COLORS.find((c) => !used.has(c)) || COLORS[state.runs.length % COLORS.length];
    return {
      id: state.nextId++, color, optimizer, lr: lr || "", hyper: {},
      schedule: "none", scheduleArgs: {}, warmup: "",
    };
  }

  function hyperInput(run, h) {
    const value = run.hyper[h.name];
    if (h.kind === "bool") {
      const box = el("input", { type: "checkbox", "data-hyper": h.name });
      box.checked = value === undefined ? h.default : value;
      box.addEventListener("change", () => { run.hyper[h.name] = box.checked; });
      return box;
    }
    if (h.kind === "pair") {
      const current = value || ["", ""];
      const inputs = [0, 1].map((k) => {
        const input = el("input", { type: "text", placeholder: String(h.default[k]), "data-hyper": `${h.name}.${k}` });
        input.value = current[k];
        input.addEventListener("input", () => {
          const pair = run.hyper[h.name] || ["", ""];
          pair[k] = input.value;
          run.hyper[h.name] = pair;
        });
        return input;
      });
      return el("div", { class: "pair" }, inputs);
    }
    const input = el("input", { type: "text", placeholder: String(h.default), "data-hyper": h.name });
    input.value = value === undefined ? "" : value;
    input.addEventListener("input", () => { run.hyper[h.name] = input.value; });
    return input;
  }

  function scheduleFields(run) {
    const box = el("div", { class: "hyper-grid" });
    if (run.schedule === "none") return box;
    const spec = state.scheduleByName[run.schedule];
    for (const a of spec.args) {
      const input = el("input", {
        type: "text", placeholder: "auto", "data-schedule": a.name,
        title: `blank: chosen for the run's length (for ${state.defaultSteps} steps: ` +
          `${Array.isArray(a.default) ? a.default.join(",") : a.default})`,
      });
      input.value = run.scheduleArgs[a.name] || "";
      input.addEventListener("input", () => { run.scheduleArgs[a.name] = input.value; });
      box.append(el("span", { text: a.name }), input);
    }
    const warm = el("input", { type: "text", placeholder: "0", "data-schedule": "warmup_steps" });
    warm.value = run.warmup;
    warm.addEventListener("input", () => { run.warmup = warm.value; });
    box.append(el("span", { text: "warmup_steps" }), warm);
    return box;
  }

  function runCard(run) {
    const opt = state.optimizerByName[run.optimizer];
    const select = el("select", { class: "optimizer", "aria-label": "optimizer" },
      state.optimizers.map((o) => el("option", { value: o.name, text: o.name })));
    select.value = run.optimizer;
    select.addEventListener("change", () => {
      run.optimizer = select.value;
      run.lr = "";
      run.hyper = {};
      renderRuns();
    });
    const lr = el("input", { class: "lr", type: "text", placeholder: String(opt.lr), "aria-label": "learning rate" });
    lr.value = run.lr;
    lr.addEventListener("input", () => { run.lr = lr.value; });
    const remove = el("button", { type: "button", class: "icon remove", title: "remove this run", text: "×" });
    remove.addEventListener("click", () => {
      state.runs = state.runs.filter((r) => r !== run);
      renderRuns();
    });
    const grid = el("div", { class: "hyper-grid" });
    for (const h of opt.hyper) grid.append(el("span", { text: h.name }), hyperInput(run, h));
    const hyperDetails = el("details", {}, [el("summary", { text: "hyperparameters" }), grid]);
    hyperDetails.open = Object.keys(run.hyper).length > 0;

    const schedSelect = el("select", { class: "schedule", "aria-label": "schedule" }, [
      el("option", { value: "none", text: "constant lr" }),
      ...state.schedules.filter((s) => s.name !== "constant")
        .map((s) => el("option", { value: s.name, text: s.name })),
    ]);
    schedSelect.value = run.schedule;
    const schedBox = el("div", {}, [scheduleFields(run)]);
    schedSelect.addEventListener("change", () => {
      run.schedule = schedSelect.value;
      run.scheduleArgs = {};
      schedBox.replaceChildren(scheduleFields(run));
    });
    const schedDetails = el("details", {}, [
      el("summary", { text: "learning-rate schedule" }),
      el("div", { class: "run-row", style: "margin-top:6px" }, [schedSelect]),
      schedBox,
    ]);
    schedDetails.open = run.schedule !== "none";

    const card = el("div", { class: "run-card", "data-run-id": String(run.id) }, [
      el("div", { class: "run-row" }, [select, el("label", {}, ["lr", lr]), remove]),
      el("p", { class: "summary-line", text: opt.summary }),
      hyperDetails,
      schedDetails,
    ]);
    card.style.setProperty("--run-color", run.color);
    return card;
  }

  function setRuns(specs) {
    state.runs = [];
    for (const spec of specs) {
      if (!(spec.optimizer in state.optimizerByName)) continue;
      state.runs.push(newRun(spec.optimizer, spec.lr));
    }
    renderRuns();
  }

  function renderExamples() {
    $("examples").replaceChildren(...EXAMPLES.map((ex) => {
      const button = el("button", { type: "button", "data-example": ex.title }, [
        el("b", { text: ex.title }), el("span", { text: ex.text }),
      ]);
      button.addEventListener("click", () => {
        selectSurface(ex.surface);
        state.start = ex.start.slice();
        showStart();
        $("steps").value = String(ex.steps);
        setRuns(ex.runs);
        run();
      });
      return el("li", {}, [button]);
    }));
  }

  function renderRuns() {
    $("runs").replaceChildren(...state.runs.map(runCard));
    $("add-run").disabled = state.runs.length >= state.limits.max_runs;
    $("run").disabled = state.runs.length === 0;
  }

  function requestRun(run) {
    const opt = state.optimizerByName[run.optimizer];
    const out = { optimizer: run.optimizer };
    if (String(run.lr).trim() !== "") out.lr = parseNumber(run.lr);
    const hyper = {};
    for (const h of opt.hyper) {
      const v = run.hyper[h.name];
      if (v === undefined) continue;
      if (h.kind === "bool") {
        if (v !== h.default) hyper[h.name] = v;
      } else if (h.kind === "pair") {
        if (v.some((x) => String(x).trim() !== "")) {
          hyper[h.name] = v.map((x, k) => (String(x).trim() === "" ? h.default[k] : parseNumber(x)));
        }
      } else if (String(v).trim() !== "") {
        hyper[h.name] = parseNumber(v);
      }
    }
    if (Object.keys(hyper).length) out.hyper = hyper;
    if (run.schedule !== "none") {
      const schedule = { name: run.schedule };
      const spec = state.scheduleByName[run.schedule];
      for (const a of spec.args) {
        const v = run.scheduleArgs[a.name];
        if (v === undefined || String(v).trim() === "") continue;
        schedule[a.name] = a.kind === "list" ? String(v).split(",").map(parseNumber) : parseNumber(v);
      }
      if (String(run.warmup).trim() !== "") schedule.warmup_steps = parseNumber(run.warmup);
      out.schedule = schedule;
    }
    return out;
  }

  function readStart() {
    return [parseNumber($("start-x").value), parseNumber($("start-y").value)];
  }

  function showStart() {
    $("start-x").value = String(state.start[0]);
    $("start-y").value = String(state.start[1]);
  }

  async function run() {
    if (!state.surface || state.runs.length === 0) return;
    const body = {
      surface: state.surface.name,
      start: readStart(),
      steps: parseNumber($("steps").value),
      runs: state.runs.map(requestRun),
    };
    const id = ++state.request;
    document.body.dataset.state = "running";
    $("run").disabled = true;
    if (inflight) inflight.abort(); // its answer would be dropped anyway
    inflight = new AbortController();
    try {
      const result = await getJSON("/api/trajectories", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Playground-Page": PAGE },
        body: JSON.stringify(body),
        signal: inflight.signal,
      });
      if (id !== state.request) return; // a newer request is on its way
      clearError();
      result.runs.forEach((r, i) => { r.color = state.runs[i].color; });
      state.result = result;
      state.start = result.start;
      const box = plotBox($("paths"));
      state.derived = result.runs.map((r) => derive(r, box));
      renderLegend();
      if (!state.speedTouched) {
        // until the speed is set by hand, every animation lasts about five seconds
        const speed = Math.min(2000, Math.max(5, result.steps / 5));
        $("speed").value = String(Math.round((100 * Math.log10(speed)) / Math.log10(2000)));
        speedFromSlider();
      }
      setStep(0);
      setPlaying(true);
    } catch (error) {
      if (id !== state.request) return;
      showError(error.message);
      document.body.dataset.state = "error";
    } finally {
      if (id === state.request) $("run").disabled = state.runs.length === 0;
    }
  }

  function selectSurface(name) {
    setPlaying(false);
    state.surface = state.surfaceByName[name];
    state.start = state.surface.start.slice();
    state.result = null;
    state.derived = [];
    $("surface").value = name;
    $("formula").textContent = state.surface.formula;
    $("description").textContent = state.surface.description;
    $("start-x-name").textContent = state.surface.labels[0];
    $("start-y-name").textContent = state.surface.labels[1];
    showStart();
    renderLegend();
    drawContour();
    setStep(0);
  }

  // --- wiring ---------------------------------------------------------------------------

  function wire() {
    $("surface").addEventListener("change", () => { selectSurface($("surface").value); run(); });
    $("steps").addEventListener("change", run);
    $("run").addEventListener("click", run);
    $("add-run").addEventListener("click", () => {
      const names = state.optimizers.map((o) => o.name);
      const taken = new Set(state.runs.map((r) => r.optimizer));
      state.runs.push(newRun(names.find((n) => !taken.has(n)) || "sgd"));
      renderRuns();
    });
    $("start-default").addEventListener("click", () => {
      state.start = state.surface.start.slice();
      showStart();
      run();
    });
    $("error-close").addEventListener("click", clearError);
    $("play").addEventListener("click", () => {
      if (!state.result) return;
      if (!state.playing && state.t >= state.result.steps) setStep(0);
      setPlaying(!state.playing);
    });
    $("restart").addEventListener("click", () => { setStep(0); setPlaying(false); });
    $("end").addEventListener("click", () => {
      if (!state.result) return;
      setStep(state.result.steps);
      setPlaying(false);
    });
    $("scrub").addEventListener("input", () => {
      setStep(Number($("scrub").value));
      setPlaying(false);
    });
    $("speed").addEventListener("input", () => { state.speedTouched = true; speedFromSlider(); });
    for (const id of ["start-x", "start-y"]) {
      $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") run(); });
    }
    document.addEventListener("keydown", (e) => {
      if (e.key === " " && e.target === document.body) { e.preventDefault(); $("play").click(); }
    });

    const paths = $("paths");
    paths.addEventListener("click", (e) => {
      if (!state.surface) return;
      const rect = paths.getBoundingClientRect();
      const box = plotBox(paths);
      const px = e.clientX - rect.left, py = e.clientY - rect.top;
      if (px < box.left || px > box.left + box.width || py < box.top || py > box.top + box.height) return;
      const [x, y] = fromPixel(box, px, py);
      const [[x0, x1], [y0, y1]] = state.surface.bounds;
      state.start = [roundTo(x, x1 - x0), roundTo(y, y1 - y0)];
      showStart();
      drawPaths();
      run();
    });
    paths.addEventListener("mousemove", (e) => {
      if (!state.surface) return;
      const rect = paths.getBoundingClientRect();
      const box = plotBox(paths);
      const px = e.clientX - rect.left, py = e.clientY - rect.top;
      const hover = $("hover");
      if (px < box.left || px > box.left + box.width || py < box.top || py > box.top + box.height) {
        hover.hidden = true;
        return;
      }
      const [x, y] = fromPixel(box, px, py);
      hover.textContent = `(${fmt(x, 3)}, ${fmt(y, 3)})  ${state.surface.value_name} ≈ ${fmt(interpolate(x, y), 3)}`;
      hover.style.left = `${Math.min(px + 12, rect.width - 190)}px`;
      hover.style.top = `${py + 14}px`;
      hover.hidden = false;
    });
    paths.addEventListener("mouseleave", () => { $("hover").hidden = true; });

    new ResizeObserver(() => {
      drawContour();
      if (state.result) {
        const box = plotBox($("paths"));
        state.derived = state.result.runs.map((r) => derive(r, box));
      }
      drawPaths();
      drawLoss();
    }).observe($("canvas-wrap"));
  }

  function interpolate(x, y) {
    // bilinear in the server's grid: good enough for a hover read-out
    const s = state.surface, { nx, ny, values } = s.grid;
    const [[x0, x1], [y0, y1]] = s.bounds;
    const u = Math.max(0, Math.min(nx - 1.000001, ((x - x0) / (x1 - x0)) * (nx - 1)));
    const v = Math.max(0, Math.min(ny - 1.000001, ((y - y0) / (y1 - y0)) * (ny - 1)));
    const i = Math.floor(u), j = Math.floor(v), a = u - i, b = v - j;
    const at = (ii, jj) => values[jj * nx + ii];
    return (1 - a) * (1 - b) * at(i, j) + a * (1 - b) * at(i + 1, j) + (1 - a) * b * at(i, j + 1) + a * b * at(i + 1, j + 1);
  }

  async function main() {
    try {
      const [surfaces, optimizers] = await Promise.all([
        getJSON("/api/surfaces"), getJSON("/api/optimizers"),
      ]);
      state.surfaces = surfaces.surfaces;
      for (const s of state.surfaces) state.surfaceByName[s.name] = s;
      state.optimizers = optimizers.optimizers;
      for (const o of state.optimizers) state.optimizerByName[o.name] = o;
      state.schedules = optimizers.schedules;
      for (const s of state.schedules) state.scheduleByName[s.name] = s;
      state.limits = optimizers.limits;
      state.defaultSteps = optimizers.default_steps;
      $("steps").value = String(optimizers.default_steps);
      $("surface").replaceChildren(...state.surfaces.map((s) =>
        el("option", { value: s.name, text: s.name })));
      setRuns(EXAMPLES[0].runs);
      renderExamples();
      speedFromSlider();
      wire();
      selectSurface(state.surfaces[0].name);
      document.body.dataset.state = "ready";
      await run();
    } catch (error) {
      showError(error.message);
      document.body.dataset.state = "error";
    }
  }

  window.playground = { state, toPixel, fromPixel, plotBox, run };
  main();
})();
