// The page's entry point: sign-in, the header, the quota bars, and wiring the form, the list
// and the detail drawer together.

import { ApiError, apiJson, session, setUnauthorizedHandler } from "./api.js";
import { Detail } from "./detail.js";
import { ExportList } from "./exports.js";
import { ExportForm } from "./form.js";
import { ScheduleList } from "./schedules.js";
import { h, num, numShort, put } from "./format.js";

const NOTICE_KEY = "exportService.notice";
const $ = (selector) => document.querySelector(selector);

function show(element, visible = true) {
  element.hidden = !visible;
}

export function toast(message, tone = "info") {
  const item = h(`div.toast.toast-${tone}`, { role: tone === "error" ? "alert" : "status" }, message);
  $("#toasts").append(item);
  setTimeout(() => item.classList.add("leaving"), 4500);
  setTimeout(() => item.remove(), 5000);
}

// Who the request is: with the token in this tab, or without one (a proxy in front of the
// service may add the Authorization header itself). null when not signed in.
async function whoAmI() {
  try {
    return await apiJson("/v1/me");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

async function boot() {
  let me = null;
  try {
    me = await whoAmI();
  } catch (error) {
    show($("#booting"), false);
    await showSignIn(`The service could not be reached: ${error.message}`);
    return;
  }
  show($("#booting"), false);
  if (me) {
    start(me);
    return;
  }
  const hadToken = Boolean(session.token);
  session.clear();
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  await showSignIn(notice || (hadToken ? "Your session has ended. Sign in again." : null));
}

async function showSignIn(message) {
  show($("#app"), false);
  show($("#who"), false);
  show($("#signin"));
  const box = $("#signin-message");
  box.textContent = message || "";
  show(box, Boolean(message));
  try {
    const { devLogin } = await apiJson("/v1/session", { auth: false });
    show($("#dev-login"), devLogin === true);
  } catch {
    show($("#dev-login"), false);
  }
}

async function signInWith(token, development) {
  session.save(token, development);
  const me = await whoAmI().catch(() => null);
  if (!me) {
    session.clear();
    return false;
  }
  show($("#signin"), false);
  start(me);
  return true;
}

function wireSignIn() {
  $("#token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("#token-input").value.trim().replace(/^Bearer\s+/i, "");
    const box = $("#signin-message");
    if (!token) {
      box.textContent = "Paste a token first.";
      show(box);
      return;
    }
    const button = $("#token-sign-in");
    button.disabled = true;
    try {
      if (!(await signInWith(token, false))) {
        box.textContent = "That token was not accepted: it may have expired, or it is not for this service.";
        show(box);
      }
    } finally {
      button.disabled = false;
    }
  });
  $("#dev-sign-in").addEventListener("click", async () => {
    const button = $("#dev-sign-in");
    const box = $("#signin-message");
    button.disabled = true;
    try {
      const answer = await apiJson("/v1/session/dev-login", { method: "POST", auth: false });
      if (!(await signInWith(answer.token, true))) throw new Error("the token it gave was not accepted");
    } catch (error) {
      box.textContent = `Development sign-in failed: ${error.message}`;
      show(box);
    } finally {
      button.disabled = false;
    }
  });
  $("#sign-out").addEventListener("click", () => signOut());
}

function signOut(notice) {
  session.clear();
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  // A fresh page: every stream closed, nothing of the old session left in memory.
  location.reload();
}

let started = false;
function start(me) {
  if (started) return;
  started = true;
  setUnauthorizedHandler(() => signOut("Your session has expired or was revoked. Sign in again."));
  $("#who-tenant").textContent = me.tenantId;
  $("#who-tenant").title = `Tenant ${me.tenantId}`;
  $("#who-user").textContent = me.userId;
  $("#who-user").title = `User ${me.userId}`;
  put($("#who-roles"), ...(me.roles || []).map((role) => h("span.tag", null, role)));
  show($("#dev-tag"), session.development);
  // Signed in by a proxy, there is no token of ours to drop.
  show($("#sign-out"), Boolean(session.token));
  show($("#who"));
  show($("#app"));

  const list = new ExportList({ toast, onChanged: () => refreshQuota(), openDetail: (id) => detail.open(id) });
  const detail = new Detail(list, { toast });
  list.refresh();
  const schedules = new ScheduleList({ toast });
  schedules.refresh();
  refreshQuota();
  loadForm(list, schedules, me);
}

async function loadForm(list, schedules, me) {
  try {
    const catalogue = await apiJson("/v1/catalogue");
    new ExportForm(catalogue, {
      toast,
      onSubmitted: (accepted, request) => list.added(accepted, request),
      onScheduled: () => schedules.refreshSoon(),
    });
    if (!(me.roles || []).includes("exports:create")) {
      const box = $("#form-note");
      box.textContent = "Your role lets you see exports, not estimate or start new ones (that needs exports:create).";
      show(box);
      $("#submit-button").disabled = true;
      $("#estimate-button").disabled = true;
    }
  } catch (error) {
    const box = $("#form-error");
    box.textContent = `The catalogue could not be loaded, so no export can be made: ${error.message}`;
    show(box);
    $("#submit-button").disabled = true;
    $("#estimate-button").disabled = true;
  }
}

let quotaLoading = null;
async function refreshQuota() {
  if (quotaLoading) return quotaLoading;
  quotaLoading = (async () => {
    const box = $("#quota");
    try {
      const q = await apiJson("/v1/exports/quota");
      put(box,
        quotaBar("Exports today", q.dailyExportsUsed, q.dailyExportsUsed + q.dailyExportsRemaining, "exports"),
        quotaBar("Rows today", q.dailyRowsUsed, q.dailyRowsUsed + q.dailyRowsRemaining, "rows"),
        quotaBar("Running now", q.concurrentActive, q.concurrentLimit, "concurrent"),
      );
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        put(box, h("p.muted", null, `The quota could not be loaded: ${error.message}`));
      }
    } finally {
      quotaLoading = null;
    }
  })();
  return quotaLoading;
}

function quotaBar(label, used, limit, key) {
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  const tone = share >= 0.9 ? "bad" : share >= 0.7 ? "warn" : "good";
  const left = Math.max(0, limit - used);
  return h(
    `div.quota-item.quota-${tone}`,
    { dataset: { quota: key, used: String(used), limit: String(limit) } },
    h("div.quota-head", null, h("span.quota-label", null, label), h("span.quota-figures", { title: `${num(used)} of ${num(limit)}` }, h("strong", null, num(used)), ` of ${numShort(limit)}`)),
    h("div.meter", { role: "meter", "aria-valuemin": "0", "aria-valuemax": String(limit), "aria-valuenow": String(used), "aria-label": label }, h("div.meter-fill", { style: `width: ${(share * 100).toFixed(2)}%` })),
    h("div.quota-left.muted.small", null, `${numShort(left)} left`),
  );
}

wireSignIn();
boot();
