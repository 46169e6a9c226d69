// dspy-code dashboard: plain browser JavaScript, no build step. Served by the status server.
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };
  const fmtTime = (ts) => ts ? new Date(ts * 1000).toLocaleTimeString() : "–";
  // Messages a durable topic's KV log retains (oldest..newest sequence).
  const storedCount = (t) => (t.head > 0 && t.first > 0 ? t.head - t.first + 1 : 0);
  const fmtNum = (n, d = 2) => (n === null || n === undefined) ? "–" : Number(n).toFixed(d);
  const PAGES = {
    "/": "overview",
    "/bus": "bus",
    "/tools": "tools",
    "/rl": "rl",
    "/events": "events",
    "/experiments": "experiments",
  };
  const page = PAGES[location.pathname.replace(/\/+$/, "") || "/"] || "overview";
  const timers = [];

  // ---- admin key and API helpers -------------------------------------------------------------------
  const adminKey = () => localStorage.getItem("ADMIN_KEY") || "";
  function toast(msg, kind = "ok") {
    const t = $("#toast");
    t.textContent = msg;
    t.className = `show ${kind}`;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.className = ""), 4000);
  }
  async function api(path, options = {}) {
    const headers = { accept: "application/json", ...(options.headers || {}) };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.admin && adminKey()) headers["x-admin-key"] = adminKey();
    const res = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
    return data;
  }
  function every(ms, fn) {
    const run = () => fn().catch((err) => console.warn(`refresh failed: ${err.message}`));
    run();
    timers.push(setInterval(run, ms));
  }

  // ---- plots (uPlot) ---------------------------------------------------------------------------------
  const COLORS = ["#4c9aff", "#2ea043", "#d29922", "#da3633", "#a371f7", "#3fb9a2", "#f778ba", "#8b98a8"];
  const plots = new Map();
  // Compact tick labels (40k, 1.2M) so large values fit the axis instead of being clipped.
  const compact = (v) => {
    const a = Math.abs(v);
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
    if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
    return `${+v.toPrecision(3)}`;
  };

  function plot(container, xs, series, opts = {}) {
    const node = typeof container === "string" ? $(container) : container;
    if (!node) return;
    const names = Object.keys(series);
    if (!xs.length || !names.length) {
      plots.get(node)?.destroy();
      plots.delete(node);
      node.replaceChildren(el("div", { class: "empty", text: opts.empty || "no data yet" }));
      return;
    }
    const data = [xs, ...names.map((n) => series[n])];
    const key = names.join("|");
    const existing = plots.get(node);
    if (existing && existing._key === key) {
      existing.setData(data);
      return;
    }
    existing?.destroy();
    node.replaceChildren();
    const spark = !!opts.spark;
    const width = spark ? 190 : Math.max(280, node.clientWidth || 480);
    const u = new uPlot(
      {
        width,
        height: spark ? 44 : 220,
        scales: { x: { time: !!opts.time } },
        legend: { show: !spark },
        cursor: { show: !spark },
        axes: spark ? [{ show: false }, { show: false }] : [
          opts.time
            ? { stroke: "#8b98a8", grid: { stroke: "#232c38" } }
            : { stroke: "#8b98a8", grid: { stroke: "#232c38" }, values: (_u, ticks) => ticks.map(compact) },
          { stroke: "#8b98a8", grid: { stroke: "#232c38" }, values: (_u, ticks) => ticks.map(compact) },
        ],
        series: [
          {},
          ...names.map((n, i) => ({
            label: n,
            stroke: COLORS[i % COLORS.length],
            width: spark ? 1.5 : 1.5,
            fill: spark ? "rgba(76,154,255,0.15)" : undefined,
            spanGaps: true,
          })),
        ],
      },
      data,
      node,
    );
    u._key = key;
    plots.set(node, u);
  }

  // ---- navigation and admin form -------------------------------------------------------------------
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  $(`#page-${page}`).classList.add("active");
  $("#admin-key").value = adminKey();
  $("#admin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("#admin-key").value.trim();
    if (v) localStorage.setItem("ADMIN_KEY", v);
    else localStorage.removeItem("ADMIN_KEY");
    toast(v ? "admin key saved in this browser" : "admin key removed");
  });
  api("/health").then((h) => ($("#version").textContent = `v${h.version}`)).catch(() => {});

  // ---- overview --------------------------------------------------------------------------------------
  function overview() {
    devCycle();
    every(10000, async () => {
      const s = await api("/api/status");
      $("#workspace-label").textContent = s.workspace;
      const pills = Object.entries(s.components).map(([name, c]) =>
        el(
          "span",
          { class: `pill ${c.status}`, title: c.reason, "data-component": name },
          el("span", { class: "dot" }),
          `${name}: ${c.status}`,
        )
      );
      for (const name of s.not_configured || []) {
        pills.push(
          el(
            "span",
            { class: "pill off", title: "not configured" },
            el("span", { class: "dot" }),
            `${name}: off`,
          ),
        );
      }
      $("#status-pills").replaceChildren(...pills);
      if (s.components.bus && s.components.bus.status !== "down") {
        const b = await api("/api/bus");
        const topics = Object.keys(b.topics || {}).length;
        const groups = Object.values(b.groups || {}).reduce((n, g) => n + Object.keys(g).length, 0);
        const published = Object.values(b.totals || {}).reduce((n, t) => n + t.published, 0);
        const durable = b.durable || [];
        const stored = durable.reduce((n, t) => n + storedCount(t), 0);
        const dgroups = durable.reduce((n, t) => n + Object.keys(t.groups || {}).length, 0);
        $("#bus-summary").className = "";
        $("#bus-summary").replaceChildren(
          el("div", { class: "big", text: `${b.backend} bus` }),
          el("div", {
            text:
              `${durable.length} durable topic(s) in KV, ${stored} stored message(s), ${dgroups} durable group(s)`,
          }),
          el("div", { text: `live here: ${topics} topic(s), ${groups} group(s), ${published} published` }),
          el("div", {
            class: b.dlq && b.dlq.total ? "st4" : "",
            text: `${(b.dlq && b.dlq.total) || 0} dead letter(s)`,
          }),
          el("a", { href: "/bus", text: "Bus & DLQ →" }),
        );
      } else {
        $("#bus-summary").className = "muted";
        $("#bus-summary").textContent = s.components.bus ? s.components.bus.reason : "no bus";
      }
    });
    const hist = { t: [], disk: [], mem: [], load: [] };
    let seeded = false;
    every(5000, async () => {
      const r = await api("/api/system/resources");
      if (!seeded) {
        for (const h of r.history || []) {
          hist.t.push(h.ts);
          hist.disk.push(h.value.disk_free_gb);
          hist.mem.push(h.value.mem_free_gb);
          hist.load.push(h.value.load1);
        }
        seeded = true;
      }
      hist.t.push(r.ts);
      hist.disk.push(r.disk.free_gb);
      hist.mem.push(r.memory.free_gb);
      hist.load.push(r.cpu.load1);
      for (const k of Object.keys(hist)) if (hist[k].length > 120) hist[k].splice(0, hist[k].length - 120);
      $("#res-disk").textContent = `${fmtNum(r.disk.free_gb, 1)} / ${fmtNum(r.disk.total_gb, 0)} GB`;
      $("#res-mem").textContent = `${fmtNum(r.memory.free_gb, 1)} / ${fmtNum(r.memory.total_gb, 0)} GB`;
      $("#res-load").textContent = `${fmtNum(r.cpu.load1)} (${r.cpu.cores} cores)`;
      $("#res-gpu").textContent = r.gpus.length
        ? "GPU: " + r.gpus.map((g) => `${g.name} ${g.mem_free_mb} MB free`).join(", ")
        : "GPU: none detected (nvidia-smi not available)";
      plot("#spark-disk", hist.t, { disk: hist.disk }, { spark: true, time: true });
      plot("#spark-mem", hist.t, { mem: hist.mem }, { spark: true, time: true });
      plot("#spark-load", hist.t, { load: hist.load }, { spark: true, time: true });
    });

    let guardLoaded = false;
    const setTile = (id, ok) => {
      const t = $(id);
      t.classList.toggle("ok", ok);
      t.classList.toggle("block", !ok);
      t.querySelector(".state").textContent = ok ? "OK" : "BLOCK";
    };
    const showGuard = (g) => {
      setTile("#tile-disk", g.disk_ok);
      setTile("#tile-ram", g.ram_ok);
      setTile("#tile-gpu", g.gpu_ok);
      $("#tile-disk").title = `${g.snapshot.disk.free_gb} GB free, need ${g.thresholds.min_free_gb}`;
      $("#tile-ram").title = `${g.snapshot.memory.free_gb} GB free, need ${g.thresholds.min_ram_gb}`;
      if (!guardLoaded) {
        $("#guard-min-free-gb").value = g.thresholds.min_free_gb;
        $("#guard-min-ram-gb").value = g.thresholds.min_ram_gb;
        $("#guard-min-vram-mb").value = g.thresholds.min_vram_mb;
        guardLoaded = true;
      }
    };
    every(5000, async () => showGuard(await api("/api/system/guard")));
    api("/api/system/workspace").then((w) => ($("#ws-path").value = w.path)).catch(() => {});
    $("#guard-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const g = await api("/api/system/guard", {
          method: "POST",
          admin: true,
          body: {
            min_free_gb: Number($("#guard-min-free-gb").value || 0),
            min_ram_gb: Number($("#guard-min-ram-gb").value || 0),
            min_vram_mb: Number($("#guard-min-vram-mb").value || 0),
          },
        });
        showGuard(g);
        toast(
          g.ok ? "guard saved: heavy operations allowed" : "guard saved: heavy operations blocked",
          g.ok ? "ok" : "err",
        );
      } catch (err) {
        toast(`could not save the guard: ${err.message}`, "err");
      }
    });
    $("#workspace-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const w = await api("/api/system/workspace", {
          method: "POST",
          admin: true,
          body: { path: $("#ws-path").value },
        });
        $("#ws-path").value = w.path;
        toast(`workspace: ${w.path}`);
      } catch (err) {
        toast(`could not change the workspace: ${err.message}`, "err");
      }
    });

    // Debug trace: live list of the last 50 matching requests.
    const lines = [];
    const render = () => {
      const f = $("#trace-filter").value.trim().toLowerCase();
      const shown = lines.filter((r) => !f || `${r.method} ${r.path} ${r.status}`.toLowerCase().includes(f))
        .slice(-50);
      $("#trace-list").replaceChildren(
        ...shown.reverse().map((r) =>
          el(
            "li",
            { "data-path": r.path },
            el("span", { class: "t", text: fmtTime(r.ts) }),
            el("span", { class: `st${String(r.status)[0]}`, text: `${r.status} ` }),
            `${r.method} ${r.path} `,
            el("span", { class: "muted", text: `${fmtNum(r.ms, 1)} ms` }),
          )
        ),
      );
    };
    // Each (re)connect sends a replay or, when it resumes, just the missed records, then `ready`: a replay
    // replaces the list (no duplicates after the server restarts), a resume appends to it.
    const es = new EventSource("/api/debug/trace/stream?replay=50");
    let incoming = null;
    const keep = () => {
      if (lines.length > 500) lines.splice(0, lines.length - 500);
      render();
    };
    es.addEventListener("open", () => (incoming = []));
    es.addEventListener("trace", (ev) => {
      if (incoming) incoming.push(JSON.parse(ev.data));
      else {
        lines.push(JSON.parse(ev.data));
        keep();
      }
    });
    es.addEventListener("ready", (ev) => {
      const resumed = JSON.parse(ev.data).resumed;
      if (!resumed) lines.length = 0;
      lines.push(...(incoming || []));
      incoming = null;
      keep();
    });
    $("#trace-filter").addEventListener("input", render);
    const traceInfo = () =>
      api("/api/debug/trace").then((t) => ($("#trace-info").textContent = `${t.file} · ${t.bytes} bytes`));
    every(15000, traceInfo);
    $("#trace-clear").addEventListener("click", async () => {
      try {
        await api("/api/debug/trace", { method: "POST", admin: true, body: { clear: true } });
        lines.length = 0;
        render();
        traceInfo();
        toast("trace cleared");
      } catch (err) {
        toast(`could not clear the trace: ${err.message}`, "err");
      }
    });
  }

  // ---- dev cycle -------------------------------------------------------------------------------------
  // Stages and the live log from /api/dev-cycle/stream; EventSource resumes with Last-Event-ID, so a
  // reconnect appends only what it missed. A `start` event begins a new run.
  function devCycle() {
    const STAGES = ["deps", "check", "test", "compose", "build", "up", "health", "status"];
    let stages = STAGES.map((name) => ({ name, state: "pending" }));
    let lines = [];
    let running = false;
    const renderStages = () =>
      $("#dc-stages").replaceChildren(
        ...stages.map((st) =>
          el("li", {
            class: st.state,
            title: st.detail || "",
            text: `${st.name} · ${st.state}${
              st.seconds !== undefined ? ` ${Number(st.seconds).toFixed(1)}s` : ""
            }`,
          })
        ),
      );
    const renderLog = () => {
      if (lines.length > 500) lines = lines.slice(-500);
      const list = $("#dc-log");
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      list.replaceChildren(
        ...lines.map((t) => el("li", { class: t.startsWith("[dev-cycle]") ? "" : "muted", text: t })),
      );
      if (atBottom) list.scrollTop = list.scrollHeight;
    };
    const setRunning = (r, summary) => {
      running = r;
      $("#dc-start").disabled = r;
      $("#dc-stop").disabled = !r;
      if (summary) $("#dc-summary").textContent = summary;
    };
    const es = new EventSource("/api/dev-cycle/stream");
    es.addEventListener("start", (ev) => {
      stages = STAGES.map((name) => ({ name, state: "pending" }));
      lines = [];
      setRunning(true, `running since ${fmtTime(JSON.parse(ev.data).started)}`);
      renderStages();
      renderLog();
    });
    es.addEventListener("line", (ev) => {
      lines.push(JSON.parse(ev.data).text);
      renderLog();
    });
    es.addEventListener("stage", (ev) => {
      const st = JSON.parse(ev.data);
      const i = stages.findIndex((s) => s.name === st.name);
      if (i >= 0) stages[i] = st;
      renderStages();
    });
    es.addEventListener("done", (ev) => {
      const d = JSON.parse(ev.data);
      setRunning(
        false,
        d.ok ? "last run: ok" : d.stopped ? "last run: stopped" : `last run: failed (exit ${d.code})`,
      );
    });
    es.addEventListener("ready", (ev) => setRunning(JSON.parse(ev.data).running));
    renderStages();
    $("#dc-start").addEventListener("click", async () => {
      try {
        await api("/api/dev-cycle/start", { method: "POST", admin: true, body: {} });
        toast("dev cycle started");
      } catch (err) {
        toast(`could not start the dev cycle: ${err.message}`, "err");
      }
    });
    $("#dc-stop").addEventListener("click", async () => {
      $("#dc-stop").disabled = true;
      toast("stopping: SIGTERM, then SIGKILL after 10 s if needed");
      try {
        const r = await api("/api/dev-cycle/stop", { method: "POST", admin: true, body: {} });
        toast(r.stopped ? "dev cycle stopped" : "no dev cycle was running");
      } catch (err) {
        toast(`could not stop the dev cycle: ${err.message}`, "err");
        $("#dc-stop").disabled = !running;
      }
    });
  }

  // ---- bus & DLQ ------------------------------------------------------------------------------------
  function bus() {
    let depthSeeded = false;
    const depth = { t: [], s: {} };
    const lag = { t: [], s: {} };
    const pushSample = (store, ts, values) => {
      store.t.push(ts);
      const n = store.t.length;
      for (const k of Object.keys(values)) if (!store.s[k]) store.s[k] = new Array(n - 1).fill(null);
      for (const k of Object.keys(store.s)) store.s[k].push(values[k] ?? null);
      if (n > 240) {
        store.t.shift();
        for (const k of Object.keys(store.s)) store.s[k].shift();
      }
    };
    const refreshBus = async () => {
      let b;
      try {
        b = await api("/api/bus");
      } catch (err) {
        $("#topics-table tbody").replaceChildren(
          el("tr", {}, el("td", { colspan: "6", class: "empty", text: err.message })),
        );
        return;
      }
      if (!depthSeeded) {
        for (const h of b.history || []) {
          pushSample(depth, h.ts, h.value.depth);
          pushSample(lag, h.ts, h.value.lag);
        }
        depthSeeded = true;
      }
      const now = Date.now() / 1000;
      const d = {};
      for (const [t, v] of Object.entries(b.totals || {})) d[t] = v.depth;
      const l = {};
      for (const [t, gs] of Object.entries(b.groups || {})) {
        for (const [g, v] of Object.entries(gs)) l[`${t}/${g}`] = v.lag;
      }
      for (const dt of b.durable || []) {
        for (const [g, v] of Object.entries(dt.groups || {})) {
          if (l[`${dt.topic}/${g}`] === undefined) l[`${dt.topic}/${g}`] = v.lag;
        }
      }
      $("#durable-where").textContent = `stored in the KV of ${b.workspace} by every process`;
      const drows = [];
      for (const dt of b.durable || []) {
        const stored = storedCount(dt);
        const groups = Object.entries(dt.groups || {});
        const cells = (g, v) => [
          el("td", { text: dt.topic }),
          el("td", { class: "num", text: stored }),
          el("td", { class: "num", text: dt.first || "–" }),
          el("td", { class: "num", text: dt.head || "–" }),
          el("td", { text: g ?? "–" }),
          el("td", { class: "num", text: v ? v.committed : "–" }),
          el("td", { class: "num", text: v ? v.lag : "–" }),
          el("td", {
            class: v && v.active ? "st2" : "muted",
            text: v ? (v.active ? "active" : "idle") : "–",
            title: v && v.active ? "a process holds this group's lease" : "",
          }),
        ];
        if (groups.length === 0) drows.push(el("tr", {}, ...cells(null, null)));
        for (const [g, v] of groups) drows.push(el("tr", {}, ...cells(g, v)));
      }
      $("#durable-table tbody").replaceChildren(
        ...(drows.length
          ? drows
          : [el("tr", {}, el("td", { colspan: "8", class: "empty", text: "no durable topics yet" }))]),
      );
      pushSample(depth, now, d);
      pushSample(lag, now, l);
      const rows = Object.entries(b.totals || {}).map(([t, v]) =>
        el(
          "tr",
          {},
          el("td", { text: t }),
          el("td", { text: b.topics[t] && b.topics[t].durable ? "yes" : "no" }),
          el("td", { class: "num", text: v.published }),
          el("td", { class: "num", text: v.delivered }),
          el("td", { class: "num", text: v.dropped }),
          el("td", { class: "num", text: v.depth }),
        )
      );
      $("#topics-table tbody").replaceChildren(
        ...(rows.length ? rows : [el(
          "tr",
          {},
          el("td", {
            colspan: "6",
            class: "empty",
            text:
              "nothing published through this server's bus yet (durable topics other processes write are listed above)",
          }),
        )]),
      );
      const grows = [];
      for (const [t, gs] of Object.entries(b.groups || {})) {
        for (const [g, v] of Object.entries(gs)) {
          grows.push(
            el(
              "tr",
              {},
              el("td", { text: t }),
              el("td", { text: g }),
              el("td", { class: "num", text: v.members }),
              el("td", { class: "num", text: v.lag }),
              el("td", { class: "num", text: v.delivered }),
              el("td", { class: "num", text: v.acked }),
              el("td", { class: "num", text: v.redelivered }),
              el("td", { class: "num", text: v.dropped }),
            ),
          );
        }
      }
      $("#groups-table tbody").replaceChildren(
        ...(grows.length ? grows : [
          el(
            "tr",
            {},
            el("td", {
              colspan: "8",
              class: "empty",
              text:
                "no consumer groups in this server's bus (durable groups of other processes are listed above)",
            }),
          ),
        ]),
      );
      plot("#depth-plot", depth.t, depth.s, { time: true, empty: "no live topics yet" });
      plot("#lag-plot", lag.t, lag.s, { time: true, empty: "no consumer groups" });
    };
    const act = async (path, body, what) => {
      try {
        const r = await api(path, { method: "POST", admin: true, body });
        const failed = r.failed || [];
        if (failed.length) {
          toast(`${what}: ${r.replayed ?? 0}; ${failed.length} kept: ${failed[0].error}`, "err");
        } else toast(`${what}: ${r.replayed ?? r.purged ?? 0}`);
      } catch (err) {
        toast(`${what} failed: ${err.message}`, "err");
      }
      await refreshDlq();
      await refreshBus();
    };
    const refreshDlq = async () => {
      let d;
      try {
        d = await api("/api/dlq?limit=200");
      } catch (err) {
        $("#dlq-table tbody").replaceChildren(
          el("tr", {}, el("td", { colspan: "7", class: "empty", text: err.message })),
        );
        return;
      }
      $("#dlq-count").textContent = `${d.total} record(s)`;
      const rows = d.items.map((r) =>
        el(
          "tr",
          { "data-id": r.id },
          el("td", { text: fmtTime(r.ts) }),
          el("td", { text: r.topic }),
          el("td", { text: r.group ?? "–" }),
          el("td", { text: r.reason }),
          el("td", { class: "num", text: r.attempts }),
          el("td", { class: "msg", text: JSON.stringify(r.message), title: JSON.stringify(r.message) }),
          el(
            "td",
            {},
            el("button", {
              class: "replay",
              text: "Replay",
              onclick: () => act("/api/dlq/replay", { ids: [r.id] }, "replayed"),
            }),
          ),
        )
      );
      $("#dlq-table tbody").replaceChildren(
        ...(rows.length
          ? rows
          : [el("tr", {}, el("td", { colspan: "7", class: "empty", text: "no dead letters" }))]),
      );
    };
    $("#dlq-replay-all").addEventListener("click", () => act("/api/dlq/replay", { all: true }, "replayed"));
    $("#dlq-purge-all").addEventListener("click", () => {
      if (confirm("Delete every dead letter?")) act("/api/dlq/purge", { all: true }, "purged");
    });
    every(5000, refreshBus);
    every(5000, refreshDlq);
  }

  // ---- tools ---------------------------------------------------------------------------------------
  function tools() {
    every(5000, async () => {
      const s = await api("/api/tools/stats");
      $("#tools-window").textContent = `${s.window.tool_end} tool.end in the last ${s.window.scanned} events`;
      const rows = s.tools.map((t) =>
        el(
          "tr",
          {},
          el("td", { text: t.tool }),
          el("td", { class: "num", text: t.count }),
          el("td", { class: "num", text: `${(t.success_rate * 100).toFixed(0)}%` }),
          el("td", { class: "num", text: fmtNum(t.avg_score) }),
          el("td", {
            class: "num",
            text: t.avg_duration_sec === null ? "–" : `${fmtNum(t.avg_duration_sec, 3)} s`,
          }),
          el("td", { text: fmtTime(t.last_ts) }),
        )
      );
      $("#tools-table tbody").replaceChildren(
        ...(rows.length ? rows : [
          el(
            "tr",
            {},
            el("td", { colspan: "6", class: "empty", text: "no tool.end events yet: run a few commands" }),
          ),
        ]),
      );
      $("#tools-recent").replaceChildren(
        ...s.recent.map((e) =>
          el(
            "li",
            {},
            el("span", { class: "t", text: fmtTime(e.ts) }),
            el("span", {
              class: e.data && e.data.success ? "st2" : "st5",
              text: e.data && e.data.success ? "ok " : "fail ",
            }),
            `${(e.data && e.data.tool) || "?"} score=${fmtNum(e.data && e.data.score)} ${
              fmtNum(e.data && e.data.duration_sec, 3)
            }s`,
          )
        ),
      );
      $("#session-summary").textContent = s.session_summary
        ? JSON.stringify(s.session_summary, null, 2)
        : "none yet";
    });
  }

  // ---- RL ------------------------------------------------------------------------------------------
  function rl() {
    const select = $("#rl-run");
    // Bookkeeping fields are not plotted; the rest go to the chart whose scale they share.
    const SKIP = new Set(["ts", "wall_s", "update", "episodes", "step"]);
    const group = (name) =>
      SKIP.has(name)
        ? null
        : /return|reward|best_avg/i.test(name)
        ? "reward"
        : /loss/i.test(name)
        ? "loss"
        : /entropy/i.test(name)
        ? "entropy"
        : /steps_per_s/i.test(name)
        ? "throughput"
        : "diagnostics";
    const load = async () => {
      if (!select.value) return;
      const r = await api(`/api/rl/runs/${encodeURIComponent(select.value)}?max=1000`);
      const groups = { reward: {}, loss: {}, entropy: {}, throughput: {}, diagnostics: {} };
      for (const [name, values] of Object.entries(r.series)) {
        const g = group(name);
        if (g) groups[g][name] = values;
      }
      $("#rl-info").textContent = `${r.id}: ${r.points} points${
        r.skipped ? `, ${r.skipped} unreadable line(s) skipped` : ""
      }`;
      plot("#rl-reward", r.step, groups.reward, { empty: "no reward/return fields" });
      plot("#rl-loss", r.step, groups.loss, { empty: "no loss fields" });
      plot("#rl-entropy", r.step, groups.entropy, { empty: "no entropy field" });
      plot("#rl-throughput", r.step, groups.throughput, { empty: "no steps_per_s field" });
      plot("#rl-diagnostics", r.step, groups.diagnostics, { empty: "no other fields" });
    };
    const refreshRuns = async () => {
      const r = await api("/api/rl/runs");
      const current = select.value;
      select.replaceChildren(...r.runs.map((run) => el("option", { value: run.id, text: run.id })));
      if (!r.runs.length) {
        $("#rl-info").textContent = `no runs yet in ${r.dir}: train with 'dspy-code rl train'`;
        for (const id of ["#rl-reward", "#rl-loss", "#rl-entropy", "#rl-throughput", "#rl-diagnostics"]) {
          plot(id, [], {});
        }
        return;
      }
      select.value = r.runs.some((x) => x.id === current) ? current : r.runs[0].id;
      await load();
    };
    select.addEventListener("change", () => load().catch((err) => toast(err.message, "err")));
    every(10000, refreshRuns);
  }

  // ---- events --------------------------------------------------------------------------------------
  function events() {
    let es = null;
    let paused = false;
    const items = [];
    const render = () => {
      const text = $("#ev-text").value.trim().toLowerCase();
      const shown = items.filter((e) => !text || JSON.stringify(e).toLowerCase().includes(text)).slice(-200)
        .reverse();
      $("#ev-list").replaceChildren(
        ...shown.map((e) =>
          el(
            "li",
            { title: JSON.stringify(e.data) },
            el("span", { class: "t", text: `${fmtTime(e.ts)} ${e.stream}#${e.seq}` }),
            el("b", { text: e.name }),
            " ",
            el("span", { class: "muted", text: JSON.stringify(e.data) }),
          )
        ),
      );
      $("#ev-info").textContent = `${items.length} event(s) received${paused ? " (paused)" : ""}`;
    };
    const connect = () => {
      es?.close();
      items.length = 0;
      const q = new URLSearchParams({ stream: $("#ev-stream").value, backlog: "100" });
      const name = $("#ev-name").value.trim();
      if (name) q.set("name", name);
      es = new EventSource(`/api/events/stream?${q}`);
      const onEvent = (ev) => {
        if (paused) return;
        items.push(JSON.parse(ev.data));
        if (items.length > 1000) items.splice(0, items.length - 1000);
        render();
      };
      es.addEventListener("metric", onEvent);
      es.addEventListener("action", onEvent);
      // The server switched workspaces: the stream reconnects on the new one's log.
      es.addEventListener("workspace", () => {
        items.length = 0;
        render();
      });
      render();
    };
    $("#ev-stream").addEventListener("change", connect);
    $("#ev-name").addEventListener("change", connect);
    $("#ev-text").addEventListener("input", render);
    $("#ev-pause").addEventListener("click", () => {
      paused = !paused;
      $("#ev-pause").textContent = paused ? "Resume" : "Pause";
      render();
    });
    connect();
  }

  // Pages in their own script (experiments.js) use these helpers.
  globalThis.dspyDashboard = { $, el, api, every, plot, toast, page, fmtNum };
  ({ overview, bus, tools, rl, events })[page]?.();
})();
