// The Schedules card: the user's recurring exports with their next run times in this
// browser's zone, edit / pause / resume / delete, and each schedule's latest runs.
// New schedules are made with the export form ("Run this export on a schedule").

import { ApiError, apiJson } from "./api.js";
import { clearFieldError, sentence, showFieldError } from "./form-feedback.js";
import { h, num, put, when } from "./format.js";
import { BROWSER_ZONE, readScheduleFields, scheduleFields } from "./schedule-fields.js";

const $ = (selector) => document.querySelector(selector);
const RUNS_SHOWN = 10;

export class ScheduleList {
  constructor({ toast }) {
    this.toast = toast;
    this.body = $("#schedules-body");
    this.open = new Set(); // schedules whose runs are shown
    // Schedules being edited, and their forms: kept across refreshes, so typing survives one.
    this.editors = new Map();
    $("#schedules-zone").textContent = `times in ${BROWSER_ZONE}`;
    $("#schedules-refresh").addEventListener("click", () => this.refresh());
  }

  async refresh() {
    const error = $("#schedules-error");
    try {
      const { schedules } = await apiJson("/v1/schedules");
      error.hidden = true;
      $("#schedules-total").textContent = schedules.length ? `(${schedules.length})` : "";
      $("#schedules-empty").hidden = schedules.length > 0;
      const rows = [];
      for (const schedule of schedules) {
        rows.push(this.row(schedule));
        if (this.editors.has(schedule.id)) rows.push(this.editors.get(schedule.id));
        if (this.open.has(schedule.id)) rows.push(await this.runsRow(schedule));
      }
      put(this.body, ...rows);
    } catch (failure) {
      error.textContent = `The schedules could not be loaded: ${failure.message}`;
      error.hidden = false;
    }
  }

  row(schedule) {
    const paused = schedule.status === "PAUSED";
    const next = paused ? "paused" : when(schedule.nextRunAt);
    const later = (schedule.nextRuns || []).slice(1).map((t) => when(t)).join(", ");
    return h(
      "tr",
      { dataset: { scheduleId: schedule.id } },
      h("td.col-name", null,
        h("div.name", null, schedule.name),
        h("div.muted.small", null, summary(schedule))),
      h("td", null,
        h("div", null, schedule.cronDescription || schedule.cron),
        h("div.muted.small.mono", null, `${schedule.cron} · ${schedule.timezone}`)),
      h("td.col-time", null,
        h("div.next-run", null, next),
        later && !paused ? h("div.muted.small", { title: "the runs after it" }, `then ${later}`) : null),
      h("td.col-status", null, h(`span.status.status-${schedule.status.toLowerCase()}`, null, schedule.status)),
      h("td.col-actions", null, h("div.row-actions", null,
        h("button.button.small", { type: "button", onclick: () => this.toggleRuns(schedule.id) },
          this.open.has(schedule.id) ? "Hide runs" : "Runs"),
        h("button.button.small", { type: "button", onclick: () => this.toggleEditor(schedule) },
          this.editors.has(schedule.id) ? "Close" : "Edit"),
        h("button.button.small", { type: "button", onclick: () => this.act(schedule, paused ? "resume" : "pause") },
          paused ? "Resume" : "Pause"),
        h("button.button.small.danger-ghost", { type: "button", onclick: () => this.remove(schedule) }, "Delete"))),
    );
  }

  async runsRow(schedule) {
    let runs = [];
    try {
      ({ runs } = await apiJson(`/v1/schedules/${schedule.id}/runs?limit=${RUNS_SHOWN}`));
    } catch (failure) {
      return h("tr.runs-row", null, h("td", { colspan: 5 }, `Runs could not be loaded: ${failure.message}`));
    }
    if (!runs.length) return h("tr.runs-row", null, h("td.muted", { colspan: 5 }, "No runs yet."));
    const table = h("table.runs", null,
      h("thead", null, h("tr", null, ...["Run", "Slot", "Status", "Rows", "Keys", "Job or reason"].map((t) => h("th", null, t)))),
      h("tbody", null, ...runs.map((run) => h("tr", null,
        h("td", null, run.runNumber ? `#${run.runNumber}` : "—"),
        h("td", null, when(run.slot)),
        h("td", null, h(`span.status.status-${run.status.toLowerCase()}`, null, run.status)),
        h("td.num", null, run.rows === null ? "—" : num(run.rows)),
        h("td.mono.small", null, run.keyRange ? `${run.keyRange.after ?? "start"} → ${run.keyRange.through}` : "—"),
        h("td.small", null, run.reason || run.jobId || "—"),
      ))),
    );
    return h("tr.runs-row", null, h("td", { colspan: 5 }, table));
  }

  // A change is a command: the list shows it once the worker has recorded it, usually
  // well within a second, so look again a few times.
  refreshSoon() {
    for (const delay of [500, 1500, 4000]) setTimeout(() => this.refresh(), delay);
  }

  async toggleRuns(id) {
    if (this.open.has(id)) this.open.delete(id);
    else this.open.add(id);
    await this.refresh();
  }

  async toggleEditor(schedule) {
    if (this.editors.has(schedule.id)) this.editors.delete(schedule.id);
    else this.editors.set(schedule.id, this.editor(schedule));
    await this.refresh();
  }

  // A row below the schedule with its name and timing to change; what it exports stays.
  editor(schedule) {
    const prefix = `edit-${schedule.id.slice(0, 8)}`;
    const name = h("input", { id: `${prefix}-name`, type: "text", autocomplete: "off", value: schedule.name });
    const fields = scheduleFields(prefix, schedule);
    const problem = h("div.alert.alert-error", { role: "alert", hidden: true });
    const save = h("button.button.small.primary", { type: "submit" }, "Save changes");
    const form = h("form.schedule-editor", { novalidate: true },
      h("h3.section-title", null, `Edit “${schedule.name}”`),
      problem,
      h("div.field", { dataset: { field: "name" } }, h("label", { for: name.id }, "Name"), name),
      fields,
      h("div.form-buttons", null,
        h("button.button.small", { type: "button", onclick: () => this.toggleEditor(schedule) }, "Cancel"),
        save),
    );
    form.addEventListener("input", (event) => clearFieldError(event.target.closest("[data-field]")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const wrapper of form.querySelectorAll(".has-error")) clearFieldError(wrapper);
      problem.hidden = true;
      save.disabled = true;
      const changes = { name: name.value.trim(), ...readScheduleFields(fields) };
      try {
        await apiJson(`/v1/schedules/${schedule.id}`, { method: "PATCH", body: changes });
        this.toast(`${changes.name}: changes saved.`, "success");
        this.editors.delete(schedule.id);
        this.refreshSoon();
      } catch (failure) {
        const details = failure instanceof ApiError && failure.status === 400 ? failure.details : [];
        const unplaced = [];
        for (const detail of details) {
          const wrapper = form.querySelector(`[data-field="${CSS.escape(detail.field)}"]`);
          if (wrapper) showFieldError(wrapper, sentence(detail.reason));
          else unplaced.push(`${detail.field}: ${detail.reason}`);
        }
        if (!details.length) unplaced.push(failure.message);
        if (unplaced.length) {
          problem.textContent = `Not saved: ${unplaced.join("; ")}`;
          problem.hidden = false;
        }
      } finally {
        save.disabled = false;
      }
    });
    return h("tr.edit-row", null, h("td", { colspan: 5 }, form));
  }

  async act(schedule, action) {
    try {
      await apiJson(`/v1/schedules/${schedule.id}/${action}`, { method: "POST" });
      this.toast(`${schedule.name}: ${action === "pause" ? "paused" : "resumed"}.`);
      this.refreshSoon();
    } catch (failure) {
      this.toast(`${schedule.name} could not be changed: ${failure.message}`, "error");
    }
  }

  async remove(schedule) {
    if (!confirm(`Delete the schedule "${schedule.name}"? Its past exports stay.`)) return;
    try {
      await apiJson(`/v1/schedules/${schedule.id}`, { method: "DELETE" });
      this.toast(`${schedule.name}: deleted.`);
      this.refreshSoon();
    } catch (failure) {
      const gone = failure instanceof ApiError && failure.status === 409;
      this.toast(gone ? `${schedule.name} was already deleted.` : `Not deleted: ${failure.message}`, "error");
    }
  }
}

const DELIVERY_WORDS = { DOWNLOAD: "download", EMAIL: "email", S3: "to S3", SFTP: "over SFTP", WEBHOOK: "webhook" };

function summary(schedule) {
  const request = schedule.exportRequest || {};
  const method = request.delivery?.method || "DOWNLOAD";
  const parts = [request.queryDefinition?.source, request.format, DELIVERY_WORDS[method] || method];
  if (schedule.incremental) parts.push("new rows only");
  return parts.filter(Boolean).join(" · ");
}
