// The fields a schedule adds to an export: when it runs (a cron expression in a time zone,
// with presets for the usual cases), whether each run takes only the new rows, what a run
// with no rows does, what happens to runs missed while the service was down, and when the
// schedule ends. Used by the new-export form (to create) and by the Schedules card (to edit).

import { h } from "./format.js";

export const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const PRESETS = [
  ["0 6 * * *", "Every day at 06:00"],
  ["0 7 * * 1-5", "Weekdays at 07:00"],
  ["0 7 * * 1", "Mondays at 07:00"],
  ["0 6 1 * *", "The 1st of each month at 06:00"],
  ["0 * * * *", "Every hour, on the hour"],
];
const CUSTOM = "custom";
const IF_EMPTY = [
  ["DELIVER", "Deliver a file with only its header"],
  ["SKIP", "Skip the run and deliver nothing"],
];
const CATCH_UP = [
  ["ONE", "Run once for all the missed times"],
  ["ALL", "Run once for each missed time"],
  ["NONE", "Skip them"],
];

function zones() {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", BROWSER_ZONE, ...known])].sort();
}

function field(path, label, control, hint) {
  return h("div.field", { dataset: { field: path } }, h("label", { for: control.id }, label), control,
    hint ? h("p.hint", null, hint) : null);
}

function options(pairs, selected) {
  return pairs.map(([value, label]) => h("option", { value, selected: value === selected }, label));
}

// The fields, filled from `initial` (a schedule as the API returns it, or nothing); the ids
// start with `prefix` so that two sets can be on the page at once.
export function scheduleFields(prefix, initial = {}) {
  const cron = initial.cron || PRESETS[0][0];
  const preset = PRESETS.some(([value]) => value === cron) ? cron : CUSTOM;
  const presetSelect = h("select", { id: `${prefix}-preset` },
    ...options([...PRESETS, [CUSTOM, "Custom (cron expression)"]], preset));
  const cronInput = h("input.mono", { id: `${prefix}-cron`, type: "text", autocomplete: "off", spellcheck: "false", value: cron });
  presetSelect.addEventListener("change", () => {
    if (presetSelect.value !== CUSTOM) {
      cronInput.value = presetSelect.value;
      // As if typed: the form takes the cron field's error away.
      cronInput.dispatchEvent(new Event("input", { bubbles: true }));
    }
    cronInput.focus();
  });
  cronInput.addEventListener("input", () => {
    const value = cronInput.value.trim();
    presetSelect.value = PRESETS.some(([p]) => p === value) ? value : CUSTOM;
  });
  const zone = initial.timezone || BROWSER_ZONE;
  const zoneSelect = h("select", { id: `${prefix}-timezone` }, ...zones().map((z) => h("option", { value: z, selected: z === zone }, z)));
  const incremental = h("input", { id: `${prefix}-incremental`, type: "checkbox", checked: Boolean(initial.incremental) });
  const ifEmpty = h("select", { id: `${prefix}-if-empty` }, ...options(IF_EMPTY, initial.ifEmpty || "DELIVER"));
  const catchUp = h("select", { id: `${prefix}-catch-up` }, ...options(CATCH_UP, initial.catchUp || "ONE"));
  const endAt = h("input", { id: `${prefix}-end-at`, type: "datetime-local", value: localInputValue(initial.endAt) });
  return h("div.schedule-fields", { dataset: { prefix } },
    h("div.row2", null,
      field("cronPreset", "Runs", presetSelect),
      field("timezone", "Time zone", zoneSelect)),
    field("cron", "Cron expression", cronInput, "minute hour day-of-month month day-of-week, read in the time zone"),
    h("div.field", { dataset: { field: "incremental" } },
      h("label.check", { for: incremental.id }, incremental, "Each run exports only the rows added since the last one")),
    h("div.row2", null,
      field("ifEmpty", "When a run finds no rows", ifEmpty),
      field("catchUp", "Runs missed while the service was down", catchUp)),
    field("endAt", "Ends (your time) — optional", endAt),
  );
}

// The schedule's fields as the API takes them.
export function readScheduleFields(container) {
  const prefix = container.dataset.prefix;
  const value = (name) => container.querySelector(`#${prefix}-${name}`);
  const fields = {
    cron: value("cron").value.trim(),
    timezone: value("timezone").value,
    incremental: value("incremental").checked,
    ifEmpty: value("if-empty").value,
    catchUp: value("catch-up").value,
  };
  const end = value("end-at").value;
  fields.endAt = end ? new Date(end).toISOString() : null;
  return fields;
}

// An instant as a datetime-local input's value, in this browser's zone.
function localInputValue(iso) {
  if (!iso) return undefined;
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}
