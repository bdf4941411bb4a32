// The detail drawer of one export: what was asked, its progress, its files (each one a
// download), the ZIP and the manifest, the delivery outcome and the audit trail (events).

import { apiFetch, apiJson, downloadFile, saveLink } from "./api.js";
import { bytes, clock, duration, h, num, put, when } from "./format.js";
import {
  busy,
  cancelButton,
  deliveryBadge,
  deliveryMethod,
  elapsed,
  isRunning,
  METHOD_LABELS,
  progressView,
  statusBadge,
} from "./exports.js";
import { humanize } from "./form.js";

const $ = (selector) => document.querySelector(selector);

export class Detail {
  constructor(list, { toast }) {
    this.list = list;
    this.toast = toast;
    this.id = null;
    this.status = null;
    this.loadSequence = 0;
    $("#drawer-close").addEventListener("click", () => this.close());
    $("#drawer-backdrop").addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.id) this.close();
    });
    list.subscribe((job) => {
      if (job.id === this.id) this.changed(job);
    });
  }

  open(id) {
    const job = this.list.jobs.get(id);
    if (!job) return;
    this.id = id;
    this.status = null;
    $("#drawer").hidden = false;
    $("#drawer-backdrop").hidden = false;
    $("#drawer").dataset.id = id;
    const body = $("#drawer-body");
    // What a user comes for first: where it stands and its files; then how it went.
    put(body,
      h("section.drawer-section", { id: "detail-status" }),
      h("section.drawer-section", { id: "detail-files" }),
      h("section.drawer-section", { id: "detail-delivery" }),
      h("section.drawer-section", { id: "detail-events" }),
      h("section.drawer-section", { id: "detail-summary" }),
    );
    body.scrollTop = 0;
    this.changed(job);
    $("#drawer-close").focus();
  }

  close() {
    this.id = null;
    $("#drawer").hidden = true;
    $("#drawer-backdrop").hidden = true;
  }

  // A new view of the open job: redraw; when its status moved, read files and events again.
  changed(job) {
    $("#drawer-title").textContent = job.name;
    $("#drawer-subtitle").textContent = `Export ${job.id}`;
    $("#drawer").dataset.status = job.status;
    this.renderStatus(job);
    this.renderSummary(job);
    this.renderDelivery(job);
    const key = `${job.status}/${job.deliveryStatus}`;
    if (key !== this.status) {
      this.status = key;
      this.loadFiles(job);
      this.loadEvents(job);
    }
  }

  renderStatus(job) {
    const section = $("#detail-status");
    // The buttons are made again only when the status moves (an armed cancel stays armed).
    let actions = section.querySelector(".detail-actions");
    if (!actions || actions.dataset.status !== job.status) {
      actions = h("div.actions.detail-actions", { dataset: { status: job.status } });
      if (isRunning(job)) actions.append(cancelButton(job, (button) => this.list.cancel(job.id, button)));
    }
    put(section,
      h("div.detail-status-head", null, h("div.badges", null, statusBadge(job), deliveryBadge(job)), actions),
      progressView(job),
      job.status === "FAILED" && (job.errorMessage || job.errorCode)
        ? h("div.alert.alert-error", null, h("strong", null, job.errorCode || "Failed"), job.errorMessage ? ` ${job.errorMessage}` : "")
        : null,
    );
  }

  renderSummary(job) {
    const query = job.queryDefinition || {};
    const columns = (query.columns || []).map((c) => (c.alias ? `${c.name} as ${c.alias}` : c.name));
    const filters = (query.filters || []).map(filterText);
    const order = (query.orderBy || []).map((o) => `${o.column} ${o.direction === "DESC" ? "descending" : "ascending"}`);
    const range = query.dateRange ? `${query.dateRange.start} to ${query.dateRange.end}` : null;
    const took = elapsed(job);
    const rows = [
      ["Source", query.source],
      ["Columns", columns.length ? columns.join(", ") : null],
      ["Filters", filters.length ? filters.join(" and ") : "none"],
      ["Date range", range || "all dates"],
      ["Order", order.length ? order.join(", ") : "default"],
      ["Format", [job.format, optionsText(job)].filter(Boolean).join(" · ")],
      ["Requested", when(job.requestedAt, { seconds: true })],
      ["Started", job.startedAt ? when(job.startedAt, { seconds: true }) : null],
      ["Finished", job.completedAt ? when(job.completedAt, { seconds: true }) : null],
      ["Run time", took !== null ? duration(took) : null],
      ["Rows", job.totalRows !== null && job.totalRows !== undefined ? num(job.totalRows) : null],
      ["Output", job.fileCount ? `${num(job.fileCount)} ${job.fileCount === 1 ? "file" : "files"}, ${bytes(job.fileSizeBytes)}` : null],
      ["Available until", job.expiresAt ? when(job.expiresAt) : null],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    put($("#detail-summary"),
      h("h3.drawer-heading", null, "Request"),
      job.description ? h("p.description", null, job.description) : null,
      h("dl.summary", null, ...rows.flatMap(([label, value]) => [h("dt", null, label), h("dd", null, value)])),
    );
  }

  renderDelivery(job) {
    const method = deliveryMethod(job);
    const section = $("#detail-delivery");
    const target = deliveryTarget(job);
    const rows = [
      ["Method", method === "DOWNLOAD" ? "Download from this page" : METHOD_LABELS[method] || method],
      ["Destination", target],
      ["Outcome", job.deliveryStatus ? deliveryBadge(job) : deliveryOutcome(job, method)],
      ["Delivered to", job.deliveredTo],
      ["Delivered at", job.deliveredAt ? when(job.deliveredAt, { seconds: true }) : null],
      ["Attempts", job.deliveryAttempts ? num(job.deliveryAttempts) : null],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    put(section,
      h("h3.drawer-heading", null, "Delivery"),
      h("dl.summary", { dataset: { delivery: job.deliveryStatus || "" } }, ...rows.flatMap(([label, value]) => [h("dt", null, label), h("dd", null, value)])),
      job.deliveryError ? h("div.alert.alert-error", null, h("strong", null, "Delivery error: "), job.deliveryError) : null,
    );
  }

  async loadFiles(job) {
    const section = $("#detail-files");
    if (job.status !== "COMPLETED") {
      put(section,
        h("h3.drawer-heading", null, "Files"),
        h("p.muted", null, job.status === "EXPIRED" ? "The files have expired and were deleted." : isRunning(job) ? "The files can be downloaded once the export is completed." : "No files: the export did not complete."),
      );
      return;
    }
    put(section, h("h3.drawer-heading", null, "Files"), h("p.muted", null, "Loading files…"));
    try {
      const { files, archive } = await apiJson(`/v1/exports/${job.id}/files`);
      if (this.id !== job.id) return;
      const zip = h("button.button.small.primary", { type: "button", dataset: { action: "zip" } }, "Download all (ZIP)");
      zip.addEventListener("click", () => saveLink(archive, `export-${job.id}.zip`));
      const manifestButton = h("button.button.small", { type: "button", dataset: { action: "manifest" } }, "Show manifest");
      const manifestBox = h("div.manifest", { hidden: true });
      manifestButton.addEventListener("click", () => this.toggleManifest(job, manifestButton, manifestBox));
      const table = h(
        "table.files",
        null,
        h("thead", null, h("tr", null, h("th", null, "File"), h("th.num", null, "Rows"), h("th.num", null, "Size"), h("th", null, "SHA-256"), h("th", null, ""))),
        h(
          "tbody",
          null,
          ...files.map((file) => {
            const button = h("button.button.small", { type: "button", dataset: { action: "download-file", file: file.name } }, "Download");
            button.addEventListener("click", () => saveLink(file.link, file.name));
            return h(
              "tr",
              { dataset: { file: file.name } },
              h("td.mono", null, file.name),
              h("td.num", null, num(file.rows)),
              h("td.num", null, bytes(file.bytes)),
              h("td.mono.muted.small", { title: file.sha256 }, `${file.sha256.slice(0, 12)}…`),
              h("td.right", null, button),
            );
          }),
        ),
      );
      put(section,
        h("div.drawer-heading-row", null, h("h3.drawer-heading", null, `Files (${num(files.length)})`), h("div.actions", null, zip, manifestButton)),
        table,
        manifestBox,
      );
    } catch (error) {
      if (this.id !== job.id) return;
      put(section, h("h3.drawer-heading", null, "Files"), h("div.alert.alert-error", null, `The files could not be listed: ${error.message}`));
    }
  }

  async toggleManifest(job, button, box) {
    if (!box.hidden) {
      box.hidden = true;
      button.textContent = "Show manifest";
      return;
    }
    try {
      await busy(button, "Loading…", async () => {
        const response = await apiFetch(`/v1/exports/${job.id}/manifest`);
        const manifest = await response.json();
        const save = h("button.link-button", { type: "button" }, "Save manifest.json");
        save.addEventListener("click", () => downloadFile(`/v1/exports/${job.id}/manifest`, "manifest.json"));
        put(box,
          h("div.manifest-head", null, h("strong", null, "manifest.json"), save),
          h("pre.code", null, JSON.stringify(manifest, null, 2)),
        );
      });
      box.hidden = false;
      button.textContent = "Hide manifest";
    } catch (error) {
      this.toast(`The manifest could not be loaded: ${error.message}`, "error");
    }
  }

  async loadEvents(job) {
    const section = $("#detail-events");
    const sequence = ++this.loadSequence;
    if (!section.firstChild) section.append(h("h3.drawer-heading", null, "Audit trail"), h("p.muted", null, "Loading events…"));
    try {
      const { events } = await apiJson(`/v1/exports/${job.id}/events`);
      if (this.id !== job.id || sequence !== this.loadSequence) return;
      put(section,
        h("h3.drawer-heading", null, `Audit trail (${num(events.length)} events)`),
        h(
          "ol.timeline",
          null,
          ...events.map((event) =>
            h(
              `li.event.event-${eventTone(event.type)}`,
              { dataset: { type: event.type } },
              h("span.event-dot"),
              h(
                "div.event-body",
                null,
                h(
                  "div.event-head",
                  null,
                  h("span.event-type", null, humanize(event.type)),
                  h("span.event-time", { title: when(event.envelope?.occurredAt, { seconds: true }) }, clock(event.envelope?.occurredAt)),
                ),
                h("div.event-text", null, eventText(event)),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      if (this.id !== job.id) return;
      put(section, h("h3.drawer-heading", null, "Audit trail"), h("div.alert.alert-error", null, `The events could not be loaded: ${error.message}`));
    }
  }
}

function filterText(filter) {
  const value = filter.value;
  if (value === null || value === undefined) return `${filter.column} ${filter.operator}`;
  if (filter.operator.toUpperCase() === "BETWEEN" && Array.isArray(value)) return `${filter.column} between ${value[0]} and ${value[1]}`;
  if (Array.isArray(value)) return `${filter.column} ${filter.operator} (${value.join(", ")})`;
  return `${filter.column} ${filter.operator} ${value}`;
}

function optionsText(job) {
  const options = job.formatOptions || {};
  const chosen = Object.values(options).find((v) => v && typeof v === "object");
  if (!chosen) return null;
  const parts = Object.entries(chosen)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${humanize(k).toLowerCase()}: ${typeof v === "boolean" ? (v ? "yes" : "no") : JSON.stringify(v)}`);
  return parts.length ? parts.join(", ") : null;
}

function deliveryOutcome(job, method) {
  if (method !== "DOWNLOAD") return isRunning(job) ? "sent once the export is completed" : "not sent";
  if (job.status === "COMPLETED") return "ready: download the files below";
  return isRunning(job) ? "the files can be downloaded here once completed" : "nothing to download";
}

function deliveryTarget(job) {
  const delivery = job.delivery || {};
  if (delivery.email?.recipients) return delivery.email.recipients.join(", ");
  if (delivery.s3) return `s3://${delivery.s3.bucket}/${delivery.s3.key}`;
  if (delivery.sftp) return `${delivery.sftp.username}@${delivery.sftp.host}:${delivery.sftp.path}`;
  return null;
}

function eventTone(type) {
  if (/Failed|Rejected/.test(type)) return "bad";
  if (/Cancelled|Expired/.test(type)) return "warn";
  if (/Completed|Delivered/.test(type)) return "good";
  return "plain";
}

function eventText(event) {
  switch (event.type) {
    case "ExportRequested": {
      const request = event.request || {};
      const columns = request.queryDefinition?.columns?.length || 0;
      return `${request.queryDefinition?.source}, ${num(columns)} ${columns === 1 ? "column" : "columns"}, ${request.format}${request.compression && request.compression !== "NONE" ? ` (${request.compression})` : ""}`;
    }
    case "ExportAccepted":
      return `${num(event.totalRows)} rows in ${num(event.chunks?.length)} ${event.chunks?.length === 1 ? "chunk" : "chunks"}, up to ${num(event.maxRowsPerFile)} rows per file`;
    case "ExportRejected":
      return `${event.code}: ${event.reason}${event.field ? ` (${event.field})` : ""}`;
    case "ExportStarted":
      return "A worker started extracting the rows.";
    case "ExportProgressed":
      return `Chunk ${num(event.chunkIndex)}: ${num(event.chunkRows)} rows (${num(event.processedRows)} in all)`;
    case "ChunkExtracted":
      return `${event.file?.name}: ${num(event.file?.rows)} rows, ${bytes(event.file?.bytes)}`;
    case "ExportCompleted":
      return `${num(event.totalRows)} rows, ${bytes(event.totalBytes)} in ${num(event.files?.length)} ${event.files?.length === 1 ? "file" : "files"}; kept until ${when(event.expiresAt)}`;
    case "ExportFailed":
      return `${event.code}: ${event.reason}`;
    case "ExportCancelled":
    case "ExportExpired":
      return humanReason(event.reason);
    case "ExportDelivered":
      return `${event.method} to ${event.destination} (attempt ${event.attempt})`;
    case "DeliveryFailed":
      return `${event.method} attempt ${event.attempt}: ${event.reason}${event.permanent ? " (gave up)" : event.nextAttemptAt ? `; next attempt at ${clock(event.nextAttemptAt)}` : ""}`;
    default: {
      const fields = Object.entries(event).filter(([k]) => k !== "type" && k !== "envelope");
      return fields.map(([k, v]) => `${humanize(k).toLowerCase()}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
    }
  }
}

function humanReason(reason) {
  const text = String(reason ?? "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
