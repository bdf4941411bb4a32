// What the form says back: the API's field errors next to their inputs, and the estimate.

import { bytes, duration, h, num, put } from "./format.js";

export function sentence(text) {
  const value = String(text ?? "");
  return value.charAt(0).toUpperCase() + value.slice(1);
}

export function showFieldError(wrapper, message) {
  wrapper.classList.add("has-error");
  wrapper.closest("details")?.setAttribute("open", ""); // an option's error must be seen
  const slot = wrapper.closest(".filter-row")?.querySelector(".row-errors") || wrapper;
  if ([...slot.querySelectorAll(":scope > .field-error")].some((e) => e.textContent === message)) return;
  slot.append(h("p.field-error", { role: "alert", dataset: { for: wrapper.dataset.field } }, message));
}

export function clearFieldError(wrapper) {
  if (!wrapper) return;
  wrapper.classList.remove("has-error");
  const slot = wrapper.closest(".filter-row")?.querySelector(".row-errors") || wrapper;
  for (const error of slot.querySelectorAll(":scope > .field-error")) {
    if (error.dataset.for === wrapper.dataset.field || slot === wrapper) error.remove();
  }
  const row = wrapper.closest(".filter-row");
  if (row && !row.querySelector(".row-errors .field-error")) {
    for (const part of row.querySelectorAll(".has-error")) part.classList.remove("has-error");
    row.classList.remove("has-error");
  }
}

export function renderEstimate(box, estimate) {
  box.dataset.state = "ready";
  box.dataset.rows = String(estimate.rows);
  const stat = (label, value, testName) => h("div.stat", { dataset: { stat: testName } }, h("span.stat-value", null, value), h("span.stat-label", null, label));
  const quota = estimate.fitsQuota
    ? h("p.quota-ok", null, "✓ Fits your quota")
    : h(
        "div.quota-problems",
        null,
        h("p", null, h("strong", null, "Over your quota:")),
        h("ul", null, ...(estimate.quotaProblems || []).map((p) => h("li", null, sentence(p.reason), p.field ? h("span.muted", null, ` (${p.field})`) : null))),
      );
  const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;
  put(box,
    h("div.estimate-head", null, h("span.estimate-title", null, "Estimate"), quota),
    h(
      "div.stats",
      null,
      stat("rows", `${estimate.rowsExact ? "" : "about "}${num(estimate.rows)}`, "rows"),
      stat("size", `${estimate.rowsExact ? "" : "about "}${bytes(estimate.bytes)}`, "bytes"),
      stat("to run", `about ${duration(estimate.seconds)}`, "seconds"),
    ),
    h(
      "p.estimate-split",
      null,
      "Written as ",
      h("span", { dataset: { stat: "files" } }, plural(estimate.files, "file", "files")),
      ", extracted in ",
      h("span", { dataset: { stat: "chunks" } }, plural(estimate.chunks, "chunk", "chunks")),
      ".",
    ),
  );
}

export function renderEstimateProblem(box, message) {
  box.dataset.state = "error";
  put(box, h("p.estimate-problem", null, message));
}
