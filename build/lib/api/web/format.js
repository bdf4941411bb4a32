// How numbers, sizes, durations and times are shown, and a tiny DOM builder.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", compactDisplay: "long", maximumFractionDigits: 1 });
const shortDateTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

export function num(value) {
  return value === null || value === undefined || Number.isNaN(Number(value)) ? "—" : integer.format(value);
}

// Large limits (a billion rows a day) read better as 1B than as thirteen digits.
export function numShort(value) {
  if (value === null || value === undefined) return "—";
  return Math.abs(value) >= 10_000_000 ? compact.format(value) : integer.format(value);
}

export function percent(value) {
  if (value === null || value === undefined) return "—";
  const clamped = Math.max(0, Math.min(100, Number(value)));
  return `${clamped >= 10 || clamped === 0 ? integer.format(Math.floor(clamped)) : oneDecimal.format(clamped)} %`;
}

const UNITS = ["bytes", "KB", "MB", "GB", "TB", "PB"];
export function bytes(value) {
  if (value === null || value === undefined) return "—";
  let size = Number(value);
  let unit = 0;
  while (size >= 1024 && unit < UNITS.length - 1) {
    size /= 1024;
    unit++;
  }
  if (unit === 0) return `${integer.format(size)} ${size === 1 ? "byte" : "bytes"}`;
  return `${size >= 100 ? integer.format(size) : oneDecimal.format(size)} ${UNITS[unit]}`;
}

// 80 → "1 min 20 s", 3725 → "1 h 2 min", 0.4 → "< 1 s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
  let s = Math.max(0, Math.round(Number(seconds)));
  if (Number(seconds) > 0 && s === 0) return "< 1 s";
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  if (days) return `${days} d ${hours} h`;
  if (hours) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes) return s ? `${minutes} min ${s} s` : `${minutes} min`;
  return `${s} s`;
}

export function when(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return (seconds ? dateTimeSeconds : dateTime).format(date);
}

// "Dec 2, 12:16 AM": the year only in the title.
export function whenShort(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : shortDateTime.format(date);
}

export function clock(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeOnly.format(date);
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function rate(rowsPerSecond) {
  if (rowsPerSecond === null || rowsPerSecond === undefined || !(rowsPerSecond > 0)) return null;
  return `${integer.format(rowsPerSecond)} rows/s`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

// h("div.card", {onclick}, child, "text", ...): an element with classes, attributes and children.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.className = classes.join(" ");
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(element.dataset, value);
      else if (key === "class") element.className = [element.className, value].filter(Boolean).join(" ");
      else if (key === "text") element.textContent = value;
      else if (value === true) element.setAttribute(key, "");
      else element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

// replaceChildren() that skips null, undefined and false (the DOM would write "null").
export function put(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}
