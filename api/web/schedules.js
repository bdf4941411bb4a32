// The Schedules card: the user's recurring exports with their next run times in this
// browser's zone, pause / resume / delete, and each schedule's latest runs.

import { ApiError, apiJson } from "./api.js";
import { h, num, put, when } from "./format.js";

const $ = (selector) => document.querySelector(selector);
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const RUNS_SHOWN = 10;

export class ScheduleList {
  constructor({ toast }) {
    this.toast = toast;
    this.body = $("#schedules-body");
    this.open = new Set(); // schedules whose runs are shown
    $("#schedules-zone").textContent = `times in ${ZONE}`;
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
        h("div.muted.small", null, `${schedule.exportRequest?.queryDefinition?.source || ""} · ${schedule.exportRequest?.format || ""}${schedule.incremental ? " · new rows only" : ""}`)),
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
