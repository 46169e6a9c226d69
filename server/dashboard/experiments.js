// dspy-code dashboard, Experiments page: start a run, follow its log live (SSE, resumed by the browser
// with Last-Event-ID), history table and a uPlot chart of texts/s (embed) and mean return (rl) per run,
// and the schedules with their next fire time and last outcome. Uses the helpers app.js exposes.
"use strict";
(() => {
  const d = globalThis.dspyDashboard;
  if (!d || d.page !== "experiments") return;
  const { $, el, api, every, plot, toast, fmtNum } = d;
  const TERMINAL = ["done", "failed", "cancelled", "interrupted"];
  const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");
  let es = null;
  let current = null;
  let statusTimer = null;

  const form = $("#xp-form");
  $("#xp-sweep").addEventListener("change", () => form.classList.toggle("sweep", $("#xp-sweep").checked));

  $("#xp-preview").addEventListener("click", async () => {
    const list = $("#xp-preview-list");
    try {
      const r = await api(`/api/datasets/preview?path=${encodeURIComponent($("#xp-dataset").value.trim())}`);
      list.replaceChildren(
        ...r.preview.map((t) => el("li", { text: t.length > 120 ? t.slice(0, 117) + "…" : t })),
      );
      if (!r.preview.length) list.replaceChildren(el("li", { text: "no texts in this file" }));
    } catch (err) {
      list.replaceChildren(el("li", { class: "err", text: err.message }));
    }
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const sweep = $("#xp-sweep").checked;
    const backend = $("#xp-backend").value;
    const body = {
      dataset_path: $("#xp-dataset").value.trim(),
      backend,
      max_count: Number($("#xp-max").value || 0),
      normalize: $("#xp-normalize").checked,
    };
    const url = $("#xp-url").value.trim();
    if (url) body.infermesh_url = url;
    const imModel = $("#xp-im-model").value.trim();
    if (sweep) {
      body.batch_sizes = $("#xp-batches").value.split(",").map((s) => Number(s.trim())).filter(Boolean);
      const models = $("#xp-models").value.split(",").map((s) => s.trim()).filter(Boolean);
      if (models.length) body.models = models;
    } else {
      body.batch_size = Number($("#xp-batch").value || 64);
      const mp = $("#xp-model-path").value.trim();
      if (mp && backend === "local") body.model_path = mp;
      if (imModel) body.model = imModel;
    }
    try {
      const r = await api(sweep ? "/api/experiments/sweep" : "/api/experiments/run", {
        method: "POST",
        body,
        admin: true,
      });
      toast(`started ${r.id}`);
      follow(r.id);
    } catch (err) {
      toast(err.message, "err");
    }
  });

  $("#xp-cancel").addEventListener("click", async () => {
    if (!current) return;
    try {
      await api("/api/experiments/cancel", { method: "POST", body: { id: current }, admin: true });
      toast(`cancelling ${current}`);
    } catch (err) {
      toast(err.message, "err");
    }
  });

  function follow(id) {
    current = id;
    es?.close();
    clearInterval(statusTimer);
    $("#xp-run-id").textContent = id;
    $("#xp-log").replaceChildren();
    es = new EventSource(`/api/experiments/stream?id=${encodeURIComponent(id)}`);
    es.onmessage = (ev) => {
      const log = $("#xp-log");
      log.append(el("li", { text: JSON.parse(ev.data) }));
      while (log.children.length > 500) log.firstChild.remove();
      log.scrollTop = log.scrollHeight;
    };
    es.addEventListener("done", () => {
      es.close();
      refreshStatus(id);
      refreshHistory();
    });
    const tick = () => refreshStatus(id).catch(() => {});
    tick();
    statusTimer = setInterval(tick, 1000);
  }

  async function refreshStatus(id) {
    const s = await api(`/api/experiments/status?id=${encodeURIComponent(id)}`);
    if (id !== current) return;
    const pill = $("#xp-run-status");
    pill.textContent = s.status;
    pill.className = `pill ${s.status}`;
    const p = s.progress;
    $("#xp-progress-bar").style.width = p && p.total ? `${Math.min(100, (100 * p.done) / p.total)}%` : "0";
    const m = s.metrics || {};
    $("#xp-run-info").textContent = [
      `${s.kind} · ${s.trigger}`,
      p ? `${p.done}/${p.total}${p.rate ? ` · ${Math.round(p.rate)}/s` : ""}` : "",
      m.texts_per_s !== undefined
        ? `${m.texts_per_s} texts/s, p50 ${m.batch_p50_ms} ms, p95 ${m.batch_p95_ms} ms`
        : "",
      s.error || "",
    ].filter(Boolean).join(" · ");
    $("#xp-cancel").disabled = TERMINAL.includes(s.status);
    if (TERMINAL.includes(s.status)) clearInterval(statusTimer);
  }

  async function refreshHistory() {
    const h = await api("/api/experiments/history?limit=200");
    const rows = h.items;
    $("#xp-history").replaceChildren(
      ...rows.slice().reverse().map((r) => {
        const m = r.metrics || {};
        const row = el(
          "tr",
          {},
          el(
            "td",
            {},
            el("a", { href: "#", text: r.id, onclick: (e) => (e.preventDefault(), follow(r.id)) }),
          ),
          ...[
            r.kind,
            r.status,
            r.trigger,
            when(r.finished),
            m.texts_per_s ?? (m.best ? m.best.texts_per_s : "–"),
            m.batch_p50_ms ?? "–",
            m.batch_p95_ms ?? "–",
            m.failures ?? "–",
            m.dims ?? "–",
            m.mean_return !== undefined ? fmtNum(m.mean_return) : "–",
          ].map((v) => el("td", { text: String(v) })),
        );
        return row;
      }),
    );
    const done = rows.filter((r) => r.status === "done" && r.finished);
    const xs = done.map((r) => r.finished / 1000);
    const series = {};
    if (done.some((r) => r.kind !== "rl")) {
      series["texts/s"] = done.map((r) =>
        r.kind === "embed"
          ? r.metrics.texts_per_s
          : r.kind === "sweep"
          ? r.metrics.best?.texts_per_s ?? null
          : null
      );
    }
    if (done.some((r) => r.kind === "rl")) {
      series["mean return"] = done.map((r) => r.kind === "rl" ? r.metrics.mean_return : null);
    }
    plot("#xp-chart", xs, series, { time: true, empty: "no finished runs yet" });
    $("#xp-chart").dataset.points = String(xs.length);
  }

  async function refreshSchedules() {
    const s = await api("/api/experiments/schedules");
    $("#xp-schedules").replaceChildren(...s.items.map((r) => {
      const f = r.firings[r.firings.length - 1];
      return el(
        "tr",
        {},
        ...[
          r.name,
          r.cron,
          r.paused ? "paused" : "active",
          r.next_fire ? new Date(r.next_fire).toLocaleString() : "–",
          f ? `${f.outcome} ${when(f.ts)}${f.reason ? ` (${f.reason})` : ""}` : "–",
          r.fired,
          r.skipped,
          r.args.join(" "),
        ].map((v) => el("td", { text: String(v) })),
      );
    }));
  }

  every(5000, refreshHistory);
  every(5000, refreshSchedules);
  // Follow the run in progress, if any.
  api("/api/experiments/list?limit=20").then((l) => {
    const live = l.items.find((r) => r.status === "running" && !r.parent) ||
      l.items.find((r) => r.status === "queued" && !r.parent);
    if (live && !current) follow(live.id);
  }).catch(() => {});
})();
