// The new-export form: built from the catalogue, estimated as it changes (debounced),
// submitted to POST /v1/exports (or, with "Run this export on a schedule", to
// POST /v1/schedules), with the API's field errors shown next to their fields.

import { ApiError, apiJson, uuid4 } from "./api.js";
import { h, put } from "./format.js";
import { clearFieldError, renderEstimate, renderEstimateProblem, sentence, showFieldError } from "./form-feedback.js";
import { readScheduleFields, scheduleFields } from "./schedule-fields.js";

const NUMERIC_TYPES = new Set(["bigint", "numeric"]);
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DELIVERY_LABELS = {
  DOWNLOAD: "Download from this page",
  EMAIL: "Email",
  S3: "Amazon S3 bucket",
  SFTP: "SFTP server",
  WEBHOOK: "Webhook (signed notice to a URL)",
};
// Field paths the API names that have no input of their own, and the input that stands for them.
const FIELD_ALIASES = {
  delivery: "delivery.method",
  "delivery.email": "delivery.email.recipients",
  "delivery.s3": "delivery.s3.bucket",
  "delivery.sftp": "delivery.sftp.host",
  "delivery.webhook": "delivery.webhook.url",
  formatOptions: "format",
  exportRequest: "name",
};
const ESTIMATE_DELAY_MS = 700;

const $ = (selector) => document.querySelector(selector);

export function humanize(name) {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}


export class ExportForm {
  constructor(catalogue, { onSubmitted, onScheduled, toast }) {
    this.catalogue = catalogue;
    this.onSubmitted = onSubmitted;
    this.onScheduled = onScheduled;
    this.toast = toast;
    this.form = $("#export-form");
    this.operatorKinds = Object.fromEntries((catalogue.operators || []).map((o) => [o.name, o.value]));
    this.estimateTimer = null;
    this.estimateController = null;
    this.estimateSequence = 0;
    this.submitting = false;
    this.build();
  }

  get source() {
    return this.catalogue.sources.find((s) => s.name === $("#source").value) || this.catalogue.sources[0];
  }

  get format() {
    return this.catalogue.formats.find((f) => f.name === $("#format").value) || this.catalogue.formats[0];
  }

  build() {
    const source = $("#source");
    put(source, ...this.catalogue.sources.map((s) => h("option", { value: s.name }, s.name)));
    put($("#format"), ...this.catalogue.formats.map((f) => h("option", { value: f.name }, f.name)));
    put($("#compression"),
      ...(this.catalogue.compressions || ["NONE"]).map((c) => h("option", { value: c }, c === "NONE" ? "None" : c)),
    );
    const methods = this.catalogue.deliveryMethods || ["DOWNLOAD"];
    put($("#delivery-method"), ...methods.map((m) => h("option", { value: m }, DELIVERY_LABELS[m] || m)));

    source.addEventListener("change", () => this.renderSource());
    $("#format").addEventListener("change", () => this.renderFormat());
    $("#delivery-method").addEventListener("change", () => this.renderDelivery());
    $("#repeat-fields").append(scheduleFields("new-schedule"));
    $("#repeat").addEventListener("change", () => this.renderRepeat());
    $("#add-filter").addEventListener("click", () => {
      this.addFilter();
      this.scheduleEstimate();
    });
    $("#columns").addEventListener("change", () => this.updateColumnCount());
    $("#columns-all").addEventListener("click", () => this.setAllColumns(true));
    $("#columns-none").addEventListener("click", () => this.setAllColumns(false));
    $("#estimate-button").addEventListener("click", () => this.estimate({ explicit: true }));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // Any edit: its field's error goes (the user is fixing it) and the estimate is redone.
    const edited = (event) => {
      const wrapper = event.target.closest?.("[data-field]");
      if (wrapper) {
        wrapper.dataset.touched = "true";
        clearFieldError(wrapper);
      }
      this.scheduleEstimate();
    };
    this.form.addEventListener("input", edited);
    this.form.addEventListener("change", edited);

    this.renderSource();
    this.renderFormat();
    this.renderDelivery();
    this.renderRepeat();
  }

  get repeating() {
    return $("#repeat").checked;
  }

  renderRepeat() {
    $("#repeat-fields").hidden = !this.repeating;
    $("#submit-button").textContent = this.repeating ? "Create schedule" : "Start export";
  }

  renderSource() {
    const source = this.source;
    put($("#columns"),
      ...source.columns.map((column) =>
        h(
          "label.column-option",
          { title: `${column.name}: ${typeLabel(column)}` },
          h("input", { type: "checkbox", name: "column", value: column.name, checked: column.name !== "tenant_id" }),
          h("span.column-name", null, column.name),
          h("span.type-tag", null, shortType(column.type)),
        ),
      ),
    );
    $("#date-column").textContent = source.dateColumn ? `on ${source.dateColumn}` : "";
    put($("#order-column"),
      h("option", { value: "" }, "Default order"),
      ...source.columns.map((c) => h("option", { value: c.name }, c.name)),
    );
    put($("#filters"));
    this.updateColumnCount();
  }

  setAllColumns(checked) {
    for (const box of this.form.querySelectorAll('input[name="column"]')) box.checked = checked;
    clearFieldError(this.form.querySelector('[data-field="queryDefinition.columns"]'));
    this.updateColumnCount();
    this.scheduleEstimate();
  }

  updateColumnCount() {
    const all = this.form.querySelectorAll('input[name="column"]').length;
    const chosen = this.form.querySelectorAll('input[name="column"]:checked').length;
    $("#columns-count").textContent = `${chosen} of ${all} selected`;
  }

  addFilter() {
    const source = this.source;
    const row = h("div.filter-row");
    const columnSelect = h(
      "select.filter-column",
      { "aria-label": "Filter column" },
      ...source.columns.map((c) => h("option", { value: c.name }, c.name)),
    );
    const operatorSelect = h("select.filter-operator", { "aria-label": "Filter operator" });
    const valueArea = h("span.filter-value-area");
    const remove = h("button.icon-button.filter-remove", { type: "button", "aria-label": "Remove filter", title: "Remove filter" }, "✕");
    row.append(
      h("span.field-inline", { dataset: { part: "column" } }, columnSelect),
      h("span.field-inline", { dataset: { part: "operator" } }, operatorSelect),
      remove,
      h("span.field-inline.filter-value-part", { dataset: { part: "value" } }, valueArea),
      h("div.row-errors"),
    );
    const renderOperators = () => {
      const column = source.columns.find((c) => c.name === columnSelect.value);
      const previous = operatorSelect.value;
      put(operatorSelect, ...column.operators.map((op) => h("option", { value: op }, op)));
      if (column.operators.includes(previous)) operatorSelect.value = previous;
      renderValue();
    };
    const renderValue = () => {
      const column = source.columns.find((c) => c.name === columnSelect.value);
      const kind = this.operatorKinds[operatorSelect.value] || "single";
      const type = inputType(column.type);
      const placeholder = placeholderFor(column.type);
      // Same kind of value for the same column: keep what was typed.
      const shape = `${column.name}/${kind}`;
      if (valueArea.dataset.shape === shape) return;
      valueArea.dataset.shape = shape;
      row.classList.toggle("no-value", kind === "none");
      if (kind === "none") put(valueArea);
      else if (kind === "list")
        put(valueArea,
          h("input.filter-value", { type: "text", placeholder: `${placeholder}, …`, "aria-label": "Values, comma-separated" }),
        );
      else if (kind === "range")
        put(valueArea,
          h("input.filter-value.filter-low", { type, placeholder: "from", "aria-label": "From", inputmode: inputMode(column.type) }),
          h("span.range-sep", null, "and"),
          h("input.filter-value.filter-high", { type, placeholder: "to", "aria-label": "To", inputmode: inputMode(column.type) }),
        );
      else put(valueArea, h("input.filter-value", { type, placeholder, "aria-label": "Value", inputmode: inputMode(column.type) }));
      valueArea.classList.toggle("range", kind === "range");
    };
    columnSelect.addEventListener("change", renderOperators);
    operatorSelect.addEventListener("change", renderValue);
    remove.addEventListener("click", () => {
      row.remove();
      this.numberFilters();
      this.scheduleEstimate();
    });
    $("#filters").append(row);
    renderOperators();
    this.numberFilters();
    return row;
  }

  // Filter i of the request is row i, so the API's filters[i] errors land on the right row.
  numberFilters() {
    [...this.form.querySelectorAll(".filter-row")].forEach((row, index) => {
      row.dataset.index = String(index);
      for (const part of row.querySelectorAll(".field-inline")) {
        part.dataset.field = `queryDefinition.filters[${index}].${part.dataset.part}`;
      }
      row.dataset.field = `queryDefinition.filters[${index}]`;
    });
  }

  renderFormat() {
    const format = this.format;
    const compression = $("#compression");
    compression.disabled = !format.compressible;
    if (!format.compressible) compression.value = "NONE";
    compression.title = format.compressible ? "" : `${format.name} files are compressed inside; no extra compression`;
    const options = format.options || [];
    $("#format-options-box").hidden = options.length === 0;
    // Text and number options first, then the switches together.
    const ordered = [...options.filter((o) => o.type !== "boolean"), ...options.filter((o) => o.type === "boolean")];
    put($("#format-options"), ...ordered.map((option) => this.optionField(format, option)));
  }

  optionField(format, option) {
    const id = `opt-${format.optionsKey}-${option.name}`;
    const field = `formatOptions.${format.optionsKey}.${option.name}`;
    const label = humanize(option.name);
    if (option.type === "boolean") {
      return h(
        "div.field.option-check",
        { dataset: { field } },
        h(
          "label.check",
          { for: id },
          h("input", { id, type: "checkbox", checked: option.default === true, dataset: { option: option.name, kind: "boolean" } }),
          label,
        ),
      );
    }
    const input = h("input", {
      id,
      type: option.type === "integer" ? "number" : "text",
      step: option.type === "integer" ? "1" : undefined,
      placeholder: option.default === null || option.default === undefined ? "none" : undefined,
      dataset: { option: option.name, kind: option.type },
    });
    if (option.default !== null && option.default !== undefined) input.value = String(option.default);
    if (option.default === null) input.dataset.nullDefault = "true";
    return h("div.field", { dataset: { field } }, h("label", { for: id }, label), input);
  }

  renderDelivery() {
    const method = $("#delivery-method").value;
    for (const box of this.form.querySelectorAll(".delivery-fields")) box.hidden = box.dataset.method !== method;
  }

  // The ExportRequest of the form as it stands. Every filter row is sent, complete or not, so
  // that the API's filters[i] errors match the rows.
  request({ forEstimate = false } = {}) {
    const source = this.source;
    const format = this.format;
    const name = $("#export-name").value.trim();
    const body = {
      name: forEstimate && !name ? "estimate" : name,
      queryDefinition: {
        source: source.name,
        columns: [...this.form.querySelectorAll('input[name="column"]:checked')].map((box) => ({ name: box.value })),
        filters: [...this.form.querySelectorAll(".filter-row")].map((row) => this.filterOf(source, row)),
      },
      format: format.name,
      compression: format.compressible ? $("#compression").value : "NONE",
    };
    const description = $("#export-description").value.trim();
    if (description) body.description = description;
    const start = $("#date-start").value;
    const end = $("#date-end").value;
    if (start || end) body.queryDefinition.dateRange = { start: start || null, end: end || null };
    const orderColumn = $("#order-column").value;
    if (orderColumn) body.queryDefinition.orderBy = [{ column: orderColumn, direction: $("#order-direction").value }];
    const options = {};
    for (const input of this.form.querySelectorAll("#format-options [data-option]")) {
      const key = input.dataset.option;
      if (input.dataset.kind === "boolean") options[key] = input.checked;
      else if (input.dataset.kind === "integer") {
        if (input.value.trim() !== "") options[key] = Number(input.value);
      } else if (!(input.value === "" && input.dataset.nullDefault === "true")) options[key] = input.value;
    }
    if (Object.keys(options).length) body.formatOptions = { [format.optionsKey]: options };
    const maxRows = $("#max-rows-per-file").value.trim();
    if (maxRows) body.maxRowsPerFile = NUMBER_TEXT.test(maxRows) ? Number(maxRows) : maxRows;
    body.delivery = this.delivery();
    return body;
  }

  filterOf(source, row) {
    const columnName = row.querySelector(".filter-column").value;
    const operator = row.querySelector(".filter-operator").value;
    const column = source.columns.find((c) => c.name === columnName);
    const kind = this.operatorKinds[operator] || "single";
    const filter = { column: columnName, operator };
    const convert = (text) => typedValue(column, text);
    if (kind === "single") filter.value = convert(row.querySelector(".filter-value").value);
    else if (kind === "list") {
      filter.value = row
        .querySelector(".filter-value")
        .value.split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "")
        .map(convert);
    } else if (kind === "range") {
      filter.value = [convert(row.querySelector(".filter-low").value), convert(row.querySelector(".filter-high").value)];
    }
    return filter;
  }

  delivery() {
    const method = $("#delivery-method").value;
    const text = (selector) => $(selector).value.trim();
    if (method === "EMAIL") {
      const recipients = text("#email-recipients")
        .split(/[,;]/)
        .map((r) => r.trim())
        .filter(Boolean);
      return { method, email: { recipients } };
    }
    if (method === "S3") return { method, s3: { bucket: text("#s3-bucket"), key: text("#s3-key") } };
    if (method === "SFTP") {
      return { method, sftp: { host: text("#sftp-host"), username: text("#sftp-username"), path: text("#sftp-path") } };
    }
    if (method === "WEBHOOK") return { method, webhook: { url: text("#webhook-url") } };
    return { method: "DOWNLOAD" };
  }

  scheduleEstimate() {
    clearTimeout(this.estimateTimer);
    if ($("#estimate-button").disabled) return; // not allowed to estimate (see the note)
    this.estimateTimer = setTimeout(() => this.estimate({ explicit: false }), ESTIMATE_DELAY_MS);
  }

  async estimate({ explicit }) {
    clearTimeout(this.estimateTimer);
    this.estimateController?.abort();
    const controller = new AbortController();
    this.estimateController = controller;
    const sequence = ++this.estimateSequence;
    const box = $("#estimate");
    box.classList.add("loading");
    box.dataset.state = "loading";
    if (explicit) this.clearErrors();
    try {
      const estimate = await apiJson("/v1/exports/estimate", {
        method: "POST",
        body: this.request({ forEstimate: true }),
        signal: controller.signal,
      });
      if (sequence !== this.estimateSequence) return;
      // An empty name was replaced for the estimate: its error from a submit stays.
      this.clearErrors({ keepName: !$("#export-name").value.trim() });
      renderEstimate(box, estimate);
    } catch (error) {
      if (error.name === "AbortError" || sequence !== this.estimateSequence) return;
      if (error instanceof ApiError && error.status === 400) {
        // While the user is still filling the form in, only the fields they have touched are
        // marked; an Estimate click (or a submit) marks them all.
        const shown = this.showErrors(error, { scroll: explicit, onlyTouched: !explicit });
        renderEstimateProblem(
          box,
          shown ? "Fix the highlighted fields to see an estimate." : "Complete the form to see an estimate.",
        );
      } else {
        renderEstimateProblem(box, `No estimate: ${error.message}`);
      }
    } finally {
      if (sequence === this.estimateSequence) box.classList.remove("loading");
    }
  }

  async submit() {
    if (this.submitting) return;
    this.submitting = true;
    const button = $("#submit-button");
    const repeating = this.repeating;
    button.disabled = true;
    button.textContent = repeating ? "Creating…" : "Starting…";
    this.clearErrors();
    const body = this.request();
    try {
      if (repeating) await this.createSchedule(body);
      else {
        const accepted = await apiJson("/v1/exports", {
          method: "POST",
          body,
          headers: { "Idempotency-Key": uuid4() },
        });
        this.toast(`Export “${body.name}” started.`, "success");
        this.onSubmitted(accepted, body);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        this.showErrors(error, { scroll: true });
        clearTimeout(this.estimateTimer);
        this.estimateController?.abort();
        renderEstimateProblem($("#estimate"), `Not ${repeating ? "created" : "started"}: fix the highlighted fields.`);
      } else this.showGeneralErrors([error.message]);
    } finally {
      this.submitting = false;
      button.disabled = false;
      this.renderRepeat();
    }
  }

  // The schedule is named and described like the export it runs.
  async createSchedule(exportRequest) {
    const schedule = {
      name: exportRequest.name,
      ...(exportRequest.description ? { description: exportRequest.description } : {}),
      ...readScheduleFields($("#repeat-fields .schedule-fields")),
      exportRequest,
    };
    const created = await apiJson("/v1/schedules", {
      method: "POST",
      body: schedule,
      headers: { "Idempotency-Key": uuid4() },
    });
    this.toast(`Schedule “${schedule.name}” created.`, "success");
    this.onScheduled?.(created);
  }

  clearErrors({ keepName = false } = {}) {
    for (const wrapper of this.form.querySelectorAll(".has-error")) {
      if (keepName && wrapper.dataset.field === "name") continue;
      clearFieldError(wrapper);
    }
    const general = $("#form-error");
    general.hidden = true;
    put(general);
  }

  // Marks each field error next to its input; returns how many were shown.
  showErrors(error, { scroll, onlyTouched = false }) {
    const general = [];
    let shown = 0;
    const details = error.details.length ? error.details : [{ field: null, reason: error.message }];
    let first = null;
    for (const detail of details) {
      const wrapper = detail.field ? this.wrapperFor(detail.field) : null;
      if (onlyTouched && !(wrapper && wrapper.dataset.touched === "true")) continue;
      shown += 1;
      if (!wrapper) {
        general.push(detail.field ? `${detail.field}: ${detail.reason}` : detail.reason);
        continue;
      }
      let reason = sentence(detail.reason);
      const column = /^queryDefinition\.columns\[(\d+)\]/.exec(detail.field);
      if (column) {
        const chosen = this.form.querySelectorAll('input[name="column"]:checked')[Number(column[1])];
        if (chosen) reason = `${chosen.value}: ${detail.reason}`;
      }
      const recipient = /^delivery\.email\.recipients\[(\d+)\]/.exec(detail.field);
      if (recipient) {
        const address = this.delivery().email?.recipients?.[Number(recipient[1])];
        if (address) reason = `${address}: ${detail.reason}`;
      }
      showFieldError(wrapper, reason);
      first ||= wrapper;
    }
    if (general.length) this.showGeneralErrors(general);
    if (scroll) (general.length ? $("#form-error") : first)?.scrollIntoView({ block: "center", behavior: "smooth" });
    return shown;
  }

  showGeneralErrors(messages) {
    const box = $("#form-error");
    put(box,
      h("strong", null, "The export could not be checked:"),
      h("ul", null, ...messages.map((m) => h("li", null, sentence(m)))),
    );
    box.hidden = false;
  }

  // The input (its wrapper) that stands for an API field path: the path itself, else its
  // nearest parent with an input (delivery.email.recipients[2] → the recipients field).
  wrapperFor(path) {
    let current = path.replace(/^exportRequest\./, "");
    while (current) {
      const target = FIELD_ALIASES[current] || current;
      const wrapper = this.form.querySelector(`[data-field="${CSS.escape(target)}"]`);
      if (wrapper && !wrapper.closest("[hidden]")) return wrapper;
      const last = /(\[\d+\]|\.[^.[\]]+)$/.exec(current);
      if (!last) return null;
      current = current.slice(0, -last[0].length);
    }
    return null;
  }
}

function typeLabel(column) {
  if (column.type === "numeric" && column.precision !== null && column.precision !== undefined) {
    return `numeric(${column.precision},${column.scale ?? 0})`;
  }
  return column.type;
}

function shortType(type) {
  return { timestamptz: "timestamp", numeric: "decimal" }[type] || type;
}

function inputType(type) {
  return type === "date" ? "date" : "text";
}

function inputMode(type) {
  return type === "bigint" ? "numeric" : type === "numeric" ? "decimal" : undefined;
}

function placeholderFor(type) {
  return (
    {
      bigint: "e.g. 1000",
      numeric: "e.g. 10.5",
      date: "YYYY-MM-DD",
      timestamptz: "2026-01-31T09:30:00Z",
      uuid: "UUID",
      text: "text",
    }[type] || "value"
  );
}

// bigint and numeric values go as JSON numbers; anything else (or a number that does not
// parse, which the API then names) as the text typed.
function typedValue(column, text) {
  const value = String(text).trim();
  if (column && NUMERIC_TYPES.has(column.type) && NUMBER_TEXT.test(value)) return Number(value);
  return value;
}
