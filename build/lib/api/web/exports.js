// The list of the user's exports, kept live by one SSE stream per unfinished export
// (no polling): each `job` event updates its row, `done` ends the stream.

import { ApiError, apiFetch, apiJson, saveLink } from "./api.js";
import { ago, bytes, duration, h, num, percent, put, rate, when, whenShort } from "./format.js";
import { readEventStream } from "./sse.js";

export const FINISHED = new Set(["COMPLETED", "FAILED", "CANCELLED", "EXPIRED"]);
const PAGE = 20;
const STATUS_LABELS = {
  PENDING: "Pending",
  QUEUED: "Queued",
  PROCESSING: "Running",
  COMPLETED: "Completed",
  FAILED: "Failed",
  CANCELLED: "Cancelled",
  EXPIRED: "Expired",
};
const DELIVERY_LABELS = { PENDING: "Delivering", DELIVERED: "Delivered", FAILED: "Delivery failed" };
export const METHOD_LABELS = { DOWNLOAD: "Download", EMAIL: "Email", S3: "Amazon S3", SFTP: "SFTP" };

const $ = (selector) => document.querySelector(selector);

export function isRunning(job) {
  return !FINISHED.has(job.status);
}

export function statusBadge(job) {
  return h(
    `span.badge.status-${job.status.toLowerCase()}`,
    { dataset: { status: job.status } },
    STATUS_LABELS[job.status] || job.status,
  );
}

export function deliveryBadge(job) {
  if (!job.deliveryStatus) return null;
  return h(
    `span.badge.subtle.delivery-${job.deliveryStatus.toLowerCase()}`,
    { title: job.deliveryError || job.deliveredTo || "" },
    DELIVERY_LABELS[job.deliveryStatus] || job.deliveryStatus,
  );
}

export function deliveryMethod(job) {
  return job.delivery?.method || "DOWNLOAD";
}

// The progress bar and its figures: rows done of total, percent, speed, time left.
export function progressView(job) {
  const total = job.totalRows;
  const done = job.processedRows || 0;
  const pct = Number(job.progressPercent ?? (total ? (100 * done) / total : 0));
  const running = isRunning(job);
  const bar = h(
    "div.progress",
    {
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(Math.round(pct)),
      class: running ? (job.status === "PROCESSING" ? "active" : "waiting") : `ended-${job.status.toLowerCase()}`,
      dataset: { percent: String(pct), processed: String(done), total: total === null || total === undefined ? "" : String(total) },
    },
    h("div.progress-fill", { style: `width: ${Math.max(0, Math.min(100, pct))}%` }),
  );
  const lines = [];
  if (running) {
    if (total === null || total === undefined) lines.push(h("div.progress-text", null, job.status === "PENDING" ? "Waiting to be checked…" : "Counting rows…"));
    else {
      lines.push(
        h(
          "div.progress-text",
          null,
          h("span.progress-rows", null, `${num(done)} / ${num(total)} rows`),
          h("span.progress-pct", null, percent(pct)),
        ),
      );
      const details = [];
      const speed = rate(job.rowsPerSecond);
      if (speed) details.push(speed);
      const left = secondsLeft(job);
      if (left !== null) details.push(left < 1 ? "finishing" : `${duration(left)} left`);
      else if (job.status === "QUEUED") details.push("waiting for a worker");
      if (details.length) lines.push(h("div.progress-meta", null, details.join(" · ")));
    }
  } else if (job.status === "COMPLETED") {
    lines.push(h("div.progress-text", null, h("span.progress-rows", null, `${num(total ?? done)} rows`), h("span.progress-pct", null, "100 %")));
    const took = elapsed(job);
    if (took !== null) lines.push(h("div.progress-meta", null, `in ${duration(took)}`));
  } else if (total) {
    lines.push(
      h("div.progress-text", null, h("span.progress-rows", null, `${num(done)} / ${num(total)} rows`), h("span.progress-pct", null, percent(pct))),
      h("div.progress-meta", null, job.status === "CANCELLED" ? "Stopped: cancelled" : job.status === "FAILED" ? "Stopped: failed" : "Stopped"),
    );
  } else {
    lines.push(h("div.progress-text.muted", null, "no rows exported"));
  }
  return h("div.progress-cell", null, bar, ...lines);
}

function secondsLeft(job) {
  if (!job.estimatedCompletionAt) return null;
  const seconds = (new Date(job.estimatedCompletionAt).getTime() - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null;
}

export function elapsed(job) {
  if (!job.startedAt || !job.completedAt) return null;
  return (new Date(job.completedAt).getTime() - new Date(job.startedAt).getTime()) / 1000;
}

export function outputSummary(job) {
  if (!job.fileCount && !job.fileSizeBytes) return h("span.muted", null, "—");
  const files = job.fileCount === 1 ? "1 file" : `${num(job.fileCount)} files`;
  return h("div.output", null, h("div", null, files), h("div.muted.small", null, bytes(job.fileSizeBytes)));
}

// How far a view of a job has got. A job only moves forward (status, rows done, delivery),
// so of two views the one further on is the later; the list (the read model) may lag behind
// a stream, and their updatedAt come from different clocks, so times are not compared.
const STATUS_RANK = { PENDING: 0, QUEUED: 1, PROCESSING: 2, COMPLETED: 3, FAILED: 3, CANCELLED: 3, EXPIRED: 4 };
function progressKey(job) {
  const settled = job.deliveryStatus === "DELIVERED" || job.deliveryStatus === "FAILED" ? 1 : 0;
  return [STATUS_RANK[job.status] ?? 0, job.processedRows || 0, settled, job.deliveryAttempts || 0];
}

// The later of two views of one job; on a tie the incoming one (`b`).
function newer(a, b) {
  const ka = progressKey(a);
  const kb = progressKey(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] > kb[i] ? a : b;
  return b;
}

export class ExportList {
  constructor({ toast, onChanged, openDetail }) {
    this.toast = toast;
    this.onChanged = onChanged; // the quota may have moved
    this.openDetail = openDetail;
    this.listeners = new Set();
    this.jobs = new Map();
    this.rows = new Map();
    this.streams = new Map();
    this.limit = PAGE;
    this.total = 0;
    this.refreshing = null;
    this.body = $("#exports-body");
    $("#refresh").addEventListener("click", () => this.refresh());
    $("#status-filter").addEventListener("change", () => {
      this.limit = PAGE;
      this.refresh();
    });
    $("#load-more").addEventListener("click", () => {
      this.limit += PAGE;
      this.refresh();
    });
    // Only the "5 min ago" labels age here: a local clock, no request to the service.
    setInterval(() => {
      for (const label of this.body.querySelectorAll("[data-ago]")) label.textContent = ago(label.dataset.ago);
    }, 30_000);
  }

  // Called with each new view of a job (the detail drawer listens).
  subscribe(listener) {
    this.listeners.add(listener);
  }

  async refresh() {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  async load() {
    const status = $("#status-filter").value;
    const query = new URLSearchParams({ limit: String(this.limit) });
    if (status) query.set("status", status);
    const errorBox = $("#list-error");
    try {
      const { exports, total } = await apiJson(`/v1/exports?${query}`);
      errorBox.hidden = true;
      const ids = new Set(exports.map((j) => j.id));
      // Rows just submitted that the read model does not list yet stay at the top.
      const pending = [...this.jobs.values()].filter((j) => j.placeholder && !ids.has(j.id));
      this.total = total + pending.length;
      const merged = exports.map((job) => (this.jobs.has(job.id) ? newer(this.jobs.get(job.id), job) : job));
      this.jobs = new Map([...pending, ...merged].map((j) => [j.id, j]));
      this.render([...pending, ...merged]);
      for (const job of merged) for (const listener of this.listeners) listener(job);
      for (const job of this.jobs.values()) if (isRunning(job)) this.watch(job.id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      errorBox.textContent = `Your exports could not be loaded: ${error.message}`;
      errorBox.hidden = false;
    }
  }

  render(jobs) {
    const seen = new Set();
    const ordered = jobs.map((job) => {
      seen.add(job.id);
      return this.row(job);
    });
    for (const [id, row] of this.rows) if (!seen.has(id)) {
      row.remove();
      this.rows.delete(id);
    }
    put(this.body, ...ordered);
    $("#exports-total").textContent = this.total ? `(${num(this.total)})` : "";
    $("#exports-empty").hidden = jobs.length > 0;
    $("#load-more").hidden = this.total <= jobs.length;
  }

  // A just-submitted export, shown before the list has it, and its stream opened at once.
  added(accepted, request) {
    const now = new Date().toISOString();
    const job = {
      id: accepted.id,
      name: request.name,
      status: accepted.status || "PENDING",
      format: request.format,
      queryDefinition: request.queryDefinition,
      delivery: request.delivery,
      requestedAt: now,
      processedRows: 0,
      totalRows: null,
      progressPercent: 0,
      placeholder: true,
    };
    if (!this.jobs.has(job.id)) {
      this.jobs = new Map([[job.id, job], ...this.jobs]);
      this.total += 1;
      this.render([...this.jobs.values()]);
    }
    this.watch(job.id, { fresh: true });
    this.refresh();
    this.onChanged();
  }

  update(job) {
    const known = this.jobs.get(job.id);
    const latest = known && !known.placeholder ? newer(known, job) : job;
    this.jobs.set(job.id, latest);
    // A job that starts or ends moves the quota's "running now": read it once per move.
    if (known && known.status !== latest.status) this.onChanged();
    const row = this.rows.get(job.id);
    if (row) this.fill(row, latest);
    for (const listener of this.listeners) listener(latest);
  }

  row(job) {
    let row = this.rows.get(job.id);
    if (!row) {
      row = h("tr.export-row", { dataset: { id: job.id } });
      this.rows.set(job.id, row);
    }
    this.fill(row, job);
    return row;
  }

  fill(row, job) {
    row.dataset.name = job.name;
    const statusChanged = row.dataset.status !== job.status || row.dataset.delivery !== String(job.deliveryStatus);
    row.dataset.status = job.status;
    row.dataset.delivery = String(job.deliveryStatus);
    if (!row.firstChild) {
      row.append(h("td.col-name"), h("td.col-status"), h("td.col-time"), h("td.col-progress"), h("td.col-output"), h("td.col-actions"));
    }
    const [nameCell, statusCell, timeCell, progressCell, outputCell, actionsCell] = row.children;
    const meta = [job.format, job.queryDefinition?.source, deliveryMethod(job) !== "DOWNLOAD" ? `→ ${METHOD_LABELS[deliveryMethod(job)] || deliveryMethod(job)}` : null].filter(Boolean).join(" · ");
    put(nameCell,
      h("button.name-link", { type: "button", title: "Show details", onclick: () => this.openDetail(job.id) }, job.name),
      h("div.meta", null, meta),
    );
    const problem = job.status === "FAILED" ? job.errorMessage || job.errorCode : job.deliveryStatus === "FAILED" ? job.deliveryError : null;
    put(statusCell,
      h("div.badges", null, statusBadge(job), deliveryBadge(job)),
      problem ? h("div.status-note", { title: problem }, problem) : null,
    );
    put(timeCell,
      h("div", { title: when(job.requestedAt, { seconds: true }) }, whenShort(job.requestedAt)),
      h("div.muted.small", { dataset: { ago: job.requestedAt || "" } }, ago(job.requestedAt)),
    );
    put(progressCell, progressView(job));
    put(outputCell, job.status === "COMPLETED" ? outputSummary(job) : h("span.muted", null, "—"));
    if (statusChanged || !actionsCell.firstChild) put(actionsCell, this.actions(job));
  }

  actions(job) {
    const box = h("div.actions");
    if (job.status === "COMPLETED") {
      box.append(
        h("button.button.small.primary", { type: "button", dataset: { action: "download" }, onclick: (e) => this.downloadAll(job, e.currentTarget) }, job.fileCount === 1 ? "Download" : "Download ZIP"),
      );
    }
    if (isRunning(job)) box.append(cancelButton(job, (button) => this.cancel(job.id, button)));
    box.append(h("button.button.small.ghost", { type: "button", dataset: { action: "details" }, onclick: () => this.openDetail(job.id) }, "Details"));
    return box;
  }

  // One file: that file; several: the ZIP of them all.
  async downloadAll(job, button) {
    await busy(button, "Downloading…", async () => {
      const { files, archive } = await apiJson(`/v1/exports/${job.id}/files`);
      if (files.length === 1) return saveLink(files[0].link, files[0].name);
      return saveLink(archive, `export-${job.id}.zip`);
    }).catch((error) => this.toast(`Download failed: ${error.message}`, "error"));
  }

  async cancel(id, button) {
    button.disabled = true;
    button.textContent = "Cancelling…";
    try {
      await apiFetch(`/v1/exports/${id}`, { method: "DELETE" });
      this.toast("Cancellation requested.", "info");
      this.watch(id);
    } catch (error) {
      this.toast(`Could not cancel: ${error.message}`, "error");
      button.disabled = false;
      button.textContent = "Cancel";
    }
  }

  // Follow one export's progress stream until its `done` event. A stream cut short (the API
  // restarted, the network dropped) is opened again after a pause that grows; a 404 right
  // after submitting means the read model has not caught up yet.
  watch(id, { fresh = false } = {}) {
    if (this.streams.has(id)) return;
    const controller = new AbortController();
    this.streams.set(id, controller);
    const run = async () => {
      let attempt = 0;
      let lastEventId = null;
      let final = null;
      while (!controller.signal.aborted && !final) {
        try {
          lastEventId = await readEventStream(`/v1/exports/${id}/progress`, {
            signal: controller.signal,
            lastEventId,
            onEvent: (event) => {
              if (event.type !== "job" && event.type !== "done") return;
              let job;
              try {
                job = JSON.parse(event.data);
              } catch {
                return;
              }
              attempt = 0;
              this.update(job);
              if (event.type === "done") final = job;
            },
          });
        } catch (error) {
          if (controller.signal.aborted || error.name === "AbortError") break;
          if (error instanceof ApiError && (error.status === 401 || error.status === 403)) break;
          if (error instanceof ApiError && error.status === 404 && !(fresh && attempt < 10)) break;
        }
        if (final || controller.signal.aborted) break;
        attempt += 1;
        if (attempt > 12) break;
        await sleep(Math.min(500 * 2 ** Math.min(attempt - 1, 6), 30_000), controller.signal);
      }
      this.streams.delete(id);
      if (final) this.finished(final);
    };
    run();
  }

  finished(job) {
    const label = STATUS_LABELS[job.status] || job.status;
    this.toast(`“${job.name}” ${label.toLowerCase()}.`, job.status === "COMPLETED" ? "success" : job.status === "FAILED" ? "error" : "info");
    this.refresh();
    this.onChanged();
  }

  stopAll() {
    for (const controller of this.streams.values()) controller.abort();
    this.streams.clear();
  }
}

export function cancelButton(job, onConfirm) {
  // Two steps, so that a long export is not lost to a slip of the mouse.
  const button = h("button.button.small.danger-ghost", { type: "button", dataset: { action: "cancel" } }, "Cancel");
  let armed = null;
  button.addEventListener("click", () => {
    if (button.disabled) return;
    if (!armed) {
      button.textContent = "Confirm cancel";
      button.classList.add("armed");
      button.dataset.action = "confirm-cancel";
      armed = setTimeout(() => {
        armed = null;
        button.textContent = "Cancel";
        button.classList.remove("armed");
        button.dataset.action = "cancel";
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.classList.remove("armed");
    onConfirm(button);
  });
  return button;
}

export async function busy(button, label, work) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
