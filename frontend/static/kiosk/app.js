// The kiosk: pairing, the sign-up form, the thank-you screen, and everything that keeps a shop
// tablet honest while nobody watches it (offline queue, idle wipe, heartbeat, form updates,
// a closed store, a revoked tablet). The API and its promises: docs/kiosk-api.md.
import { SignupForm, el, loadPhoneModule } from "./form.js";
import { LANGUAGE_NAMES, errorMessage, pick, pickLanguage, t } from "./i18n.js";
import { Sender } from "./sender.js";
import * as store from "./store.js";

const body = document.body;
const APP_VERSION = body.dataset.appVersion || "kiosk";
const SHOP = body.dataset.tenant || "";
const THANKS_SECONDS = 6;
const PROMPT_SECONDS = 10;
const HEARTBEAT_MS = 60000;
const BEAT_DEBOUNCE_MS = 2000;
const CHECK_TIMEOUT_MS = 2000;
const DRAIN_MS = 15000;
const DEFAULT_IDLE_SECONDS = 45;
const HOLD_MS = 3000;
const MAX_REASONS = 20;

const main = document.getElementById("main");
const queueNode = document.getElementById("queue");
const languagesNode = document.getElementById("languages");
const logo = document.getElementById("logo");
const storeName = document.getElementById("store-name");
const dialog = document.getElementById("idle");

const state = {
  token: null,
  // The token of a revoked pairing: heartbeats still go out with it, so the portal can say
  // what waits on this tablet ("pair it again to recover them").
  revokedToken: null,
  form: null, // {version, number, definition, location, rules}
  locale: pickLanguage(["en", "fr", "es"]),
  screen: "loading",
  signup: null,
  lastActivity: Date.now(),
  promptDeadline: 0,
  thanksTimer: null,
  beatTimer: null,
  pendingVersion: null,
  reloadWhenIdle: false,
  unpaired: false,
  closed: false,
  saving: false,
};

const auth = () => ({ Authorization: `Device ${state.token}` });
const definition = () => state.form?.definition || {};
// The store's language when the form speaks it, else the form's first.
function defaultLocale() {
  const languages = definition().languages?.length ? definition().languages : ["en"];
  const local = state.form?.location?.language;
  return languages.includes(local) ? local : languages[0];
}

function say(text, { urgent = false } = {}) {
  const region = document.getElementById(urgent ? "announce" : "say");
  region.textContent = "";
  // A fresh text node a moment later is announced even when the words repeat.
  setTimeout(() => { region.textContent = text; }, 60);
}

function setScreen(name, ...nodes) {
  state.screen = name;
  body.dataset.screen = name;
  main.replaceChildren(...nodes);
}

function setLocale(locale) {
  state.locale = locale;
  document.documentElement.lang = locale;
  document.title = SHOP ? `${SHOP} — ${t("title", locale)}` : t("title", locale);
  refreshQueue();
}

// --- branding --------------------------------------------------------------------------------

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

const COLOUR = /^#[0-9a-fA-F]{6}$/;

function applyBranding() {
  const branding = definition().branding || {};
  const colour = (name, fallback) => (COLOUR.test(branding[name] || "") ? branding[name] : fallback);
  const background = colour("background_color", "#ffffff");
  let text = colour("text_color", "#1b1f24");
  // WCAG AA whatever the retailer picked: body text needs 4.5:1 on the background.
  if (contrast(text, background) < 4.5) {
    text = contrast("#000000", background) >= contrast("#ffffff", background) ? "#000000" : "#ffffff";
  }
  const primary = colour("primary_color", "#0b5cad");
  const onPrimary = contrast("#ffffff", primary) >= contrast("#111111", primary) ? "#ffffff" : "#111111";
  const dark = luminance(background) < 0.2;
  const root = document.documentElement.style;
  root.setProperty("--bg", background);
  root.setProperty("--fg", text);
  root.setProperty("--brand", primary);
  root.setProperty("--on-brand", onPrimary);
  // Links, focus rings and borders in the brand colour only when it stands out (3:1).
  root.setProperty("--accent", contrast(primary, background) >= 4.5 ? primary : text);
  root.setProperty("--error", dark ? "#ffb4ab" : "#b3261e");
  root.setProperty("--muted", dark ? "#c9ced6" : "#4a525c");
  document.querySelector('meta[name="theme-color"]')?.setAttribute("content", primary);
  const logoUrl = branding.logo_url || "";
  if (logoUrl && (logoUrl.startsWith("https://") || logoUrl.startsWith("/"))) {
    // A logo that cannot be had (offline and never cached) gives way to the names.
    logo.onerror = () => {
      logo.dataset.failed = logo.getAttribute("src") || "";
      logo.hidden = true;
      showPlace();
    };
    logo.onload = () => { delete logo.dataset.failed; };
    if (logo.getAttribute("src") !== logoUrl) logo.src = logoUrl;
    logo.alt = body.dataset.tenant || "";
    logo.hidden = logo.dataset.failed === logoUrl;
  } else {
    logo.hidden = true;
    logo.removeAttribute("src");
  }
  showPlace();
}

// No logo: the shop's and the store's names say where the shopper is signing up.
function showPlace() {
  const place = [SHOP, state.form?.location?.name].filter(Boolean);
  storeName.hidden = !logo.hidden || !place.length;
  storeName.replaceChildren(...place.map((text, index) =>
    el("span", { class: index ? "store" : "shop", text })));
}

function renderLanguages() {
  const languages = (definition().languages || []).filter((code) => LANGUAGE_NAMES[code]);
  languagesNode.hidden = state.screen !== "form" || languages.length < 2;
  languagesNode.setAttribute("aria-label", t("language", state.locale));
  languagesNode.replaceChildren(...languages.map((code) => {
    const button = el("button", { type: "button", lang: code, "data-lang": code,
      "aria-pressed": code === state.locale ? "true" : "false", text: LANGUAGE_NAMES[code] });
    button.addEventListener("click", () => switchLanguage(code));
    return button;
  }));
}

function switchLanguage(code) {
  if (code === state.locale || !state.signup) return;
  const values = state.signup.values();
  setLocale(code);
  showForm(values);
  languagesNode.querySelector(`[data-lang="${code}"]`)?.focus();
}

// --- screens ---------------------------------------------------------------------------------

// Something on screen must not be cut short: a thank-you, or a form a shopper is filling in.
function busy() {
  return state.screen === "thanks" || (state.screen === "form" && !!state.signup?.hasData());
}

function showForm(values = null) {
  if (!state.form) return;
  if (!definition().languages?.includes(state.locale)) setLocale(defaultLocale());
  document.documentElement.lang = state.locale;
  applyBranding();
  state.signup = new SignupForm({
    definition: definition(),
    rules: state.form.rules,
    locale: state.locale,
    onSubmit: queueSignup,
    onActivity: activity,
    announce: (text) => say(text, { urgent: true }),
    notice: t("privacy", state.locale, { shop: SHOP || state.form.location?.name || "" }),
  });
  setScreen("form", state.signup.render(values));
  renderLanguages();
  refreshQueue();
  // The phone rules are big: fetched once the form is up, never on the first paint.
  if (state.signup.hasPhone()) setTimeout(loadPhoneModule, 0);
}

// Back to an empty form for the next shopper: nothing of the previous one survives, since the
// whole form is drawn anew from the definition.
function startOver() {
  clearTimeout(state.thanksTimer);
  state.thanksTimer = null;
  if (dialog.open) dialog.close();
  state.signup = null;
  state.saving = false;
  setLocale(defaultLocale());
  if (state.unpaired) {
    showUnpaired();
    return;
  }
  if (state.reloadWhenIdle) {
    location.reload();
    return;
  }
  if (state.closed) {
    showClosed();
    return;
  }
  if (state.pendingVersion) {
    state.pendingVersion = null;
    loadForm();
    return;
  }
  showForm();
  window.scrollTo(0, 0);
  state.lastActivity = Date.now();
  main.querySelector("h1")?.focus();
}

function showThanks() {
  const text = pick(definition().texts?.thank_you, state.locale, defaultLocale())
    || "Thank you!";
  state.signup = null; // the form and every value typed in it are gone from the page now
  languagesNode.hidden = true;
  const done = el("button", { type: "button", class: "primary", text: t("next", state.locale) });
  done.addEventListener("click", startOver);
  const title = el("h1", { tabindex: "-1", text });
  setScreen("thanks", el("section", { class: "thanks" }, el("div", { class: "tick", "aria-hidden": "true", text: "✓" }), title, done));
  title.focus();
  say(text);
  state.thanksTimer = setTimeout(startOver, THANKS_SECONDS * 1000);
}

function showMessage(key) {
  languagesNode.hidden = true;
  setScreen("message", el("section", { class: "message" }, el("p", { text: t(key, state.locale) })));
}

// The store is closed: no form, only this, until it opens again. What the tablet holds is
// still sent (the sender does not care which screen is up).
function showClosed() {
  state.signup = null;
  if (dialog.open) dialog.close();
  setLocale(defaultLocale());
  applyBranding();
  languagesNode.hidden = true;
  const title = el("h1", { tabindex: "-1", text: t("closed_title", state.locale) });
  setScreen("closed", el("section", { class: "message closed" }, title,
    el("p", { text: t("closed_text", state.locale) })));
  title.focus();
}

// Opens or closes the form as the server says (form payload or heartbeat), never in front of a
// shopper: a change waits for the next startOver.
function setAccepting(accepting) {
  if (accepting === false && !state.closed) {
    state.closed = true;
    if (!busy() && ["form", "loading", "message"].includes(state.screen)) showClosed();
  } else if (accepting === true && state.closed) {
    state.closed = false;
    if (state.screen === "closed") loadForm();
  }
}

function showPairing(errorCode = "", { cancellable = false } = {}) {
  state.signup = null;
  languagesNode.hidden = true;
  const locale = state.locale;
  const input = el("input", { id: "pair-code", name: "code", type: "text", required: true,
    autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    "aria-describedby": "pair-intro pair-error", maxlength: 20, placeholder: "ABCD-EFGHJK" });
  const error = el("p", { class: "error", id: "pair-error", hidden: !errorCode,
    text: errorCode ? errorMessage(errorCode, locale) : "" });
  const button = el("button", { type: "submit", class: "primary", text: t("pair_button", locale) });
  const cancel = cancellable
    ? el("button", { type: "button", class: "secondary", text: t("cancel", locale) }) : null;
  cancel?.addEventListener("click", () => showUnpaired());
  const form = el("form", { class: "pairing", novalidate: true, autocomplete: "off" },
    el("h1", { text: t("pair_title", locale) }),
    el("p", { id: "pair-intro", text: t("pair_intro", locale) }),
    el("div", { class: "field" }, el("label", { for: "pair-code", text: t("pair_code", locale) }), input, error),
    el("div", { class: "actions" }, button, cancel));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) {
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = t("pairing", locale);
    const failure = await pair(code);
    if (failure) showPairing(failure, { cancellable });
  });
  setScreen("pairing", form);
  input.focus();
  if (errorCode) say(errorMessage(errorCode, locale), { urgent: true });
}

// The server no longer knows this tablet. Sending stops at once (the queue is kept); the screen
// changes between two shoppers, so nobody loses a thank-you or a half-typed form to it.
function unpaired() {
  if (state.token) {
    state.revokedToken = state.token;
    store.meta.set("revoked_token", state.token).catch(() => {});
  }
  state.token = null;
  state.unpaired = true;
  sender.paused = true;
  store.meta.delete("token").catch(() => {});
  if (!busy()) showUnpaired();
  scheduleBeat();
}

// Press and hold (pointer), or hold Enter or Space (keyboard), for HOLD_MS: a gesture staff
// are told about and a shopper will not make by chance.
function onHold(node, done) {
  let timer = null;
  const stop = () => {
    clearTimeout(timer);
    timer = null;
    node.classList.remove("holding");
  };
  const start = () => {
    if (timer) return;
    node.classList.add("holding");
    timer = setTimeout(() => { stop(); done(); }, HOLD_MS);
  };
  node.addEventListener("pointerdown", (event) => { if (event.isPrimary) start(); });
  for (const type of ["pointerup", "pointerleave", "pointercancel"]) node.addEventListener(type, stop);
  node.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    if (!event.repeat) start();
  });
  node.addEventListener("keyup", (event) => { if (event.key === "Enter" || event.key === " ") stop(); });
  node.addEventListener("blur", stop);
  node.addEventListener("contextmenu", (event) => event.preventDefault());
}

// What a shopper sees on a tablet that is not paired: ask staff. No button: staff hold the
// title to reach the pairing form.
function showUnpaired() {
  state.token = null;
  state.unpaired = false;
  state.signup = null;
  sender.paused = true;
  if (dialog.open) dialog.close();
  languagesNode.hidden = true;
  if (state.form) {
    setLocale(defaultLocale());
    applyBranding();
  }
  const title = el("h1", { id: "unpaired-title", class: "hold", tabindex: "0",
    "aria-describedby": "unpaired-text unpaired-staff", text: t("unpaired_title", state.locale) });
  onHold(title, () => showPairing("", { cancellable: true }));
  setScreen("unpaired", el("section", { class: "message" }, title,
    el("p", { id: "unpaired-text", text: t("unpaired_text", state.locale) }),
    el("p", { id: "unpaired-staff", class: "staff", text: t("unpaired_staff", state.locale) })));
  title.focus();
}

// --- API ---------------------------------------------------------------------------------------

async function pair(code) {
  let response;
  try {
    response = await fetch("/api/kiosk/pair", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      // The revoked token, if any: its queue now travels with the new pairing, and the portal
      // stops saying that sign-ups wait on the old one.
      body: JSON.stringify(state.revokedToken ? { code, previous_token: state.revokedToken } : { code }),
      credentials: "omit",
    });
  } catch {
    return "network";
  }
  const data = await response.json().catch(() => null);
  if (response.status !== 201 || !data?.device_token) {
    return data?.error?.code || "error_generic";
  }
  state.token = data.device_token;
  state.revokedToken = null;
  state.unpaired = false;
  await store.meta.set("token", data.device_token);
  await store.meta.delete("revoked_token").catch(() => {});
  await store.meta.set("device", { device: data.device, location: data.location });
  sender.paused = false;
  await loadForm();
  sender.drain({ force: true }); // what waited on the tablet goes out with the new token
  heartbeat();
  return "";
}

// One load at a time. A reopened store is noticed twice in the same minute (the closed screen
// asks for the form again, and the heartbeat's answer says it takes sign-ups): a second load
// finishing after the first would draw the form again over what the shopper began to type.
let formLoading = null;

function loadForm() {
  formLoading ||= loadFormOnce().finally(() => {
    formLoading = null;
  });
  return formLoading;
}

async function loadFormOnce() {
  let data = null;
  try {
    const response = await fetch("/api/kiosk/form", { headers: auth(), cache: "no-store" });
    if (response.status === 401) {
      state.form ||= await store.meta.get("form").catch(() => null); // its branding
      unpaired();
      return;
    }
    if (response.ok) {
      data = await response.json();
      await store.meta.set("form", data);
    }
  } catch {
    // Offline and nothing cached by the service worker: the copy in IndexedDB will do.
  }
  data ||= await store.meta.get("form");
  if (!data) {
    showMessage(navigator.onLine ? "no_form" : "offline_no_form");
    setTimeout(() => { if (state.screen === "message") loadForm(); }, DRAIN_MS);
    return;
  }
  state.form = data;
  state.pendingVersion = null;
  state.closed = data.location?.accepting === false;
  setLocale(defaultLocale());
  if (state.closed) {
    showClosed();
    return;
  }
  showForm();
  if (!main.contains(document.activeElement)) main.querySelector("h1")?.focus();
}

// Why a held sign-up was refused, as one code: the field's code for a validation failure.
function reasonOf(item) {
  const error = item.error || {};
  const fields = Object.values(error.fields || {}).flat();
  const code = (error.code === "validation_failed" && fields[0]?.code) || error.code;
  // As the server takes them: lower case, digits, "_" and ".", at most 60 characters.
  const clean = String(code || "").toLowerCase().replace(/[^a-z0-9_.]/g, "_").slice(0, 60);
  return clean || `http_${Number(item.status) || 0}`;
}

function heldReasons(rejected) {
  const counts = {};
  for (const item of rejected) {
    const code = reasonOf(item);
    counts[code] = (counts[code] || 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, MAX_REASONS));
}

// Soon after the queue changed (a burst of changes makes one beat).
function scheduleBeat() {
  clearTimeout(state.beatTimer);
  state.beatTimer = setTimeout(heartbeat, BEAT_DEBOUNCE_MS);
}

async function heartbeat() {
  clearTimeout(state.beatTimer);
  state.beatTimer = null;
  const token = state.token || state.revokedToken;
  if (!token) return;
  let queued = [];
  let rejected = [];
  try {
    [queued, rejected] = await Promise.all([store.all(store.QUEUE), store.all(store.REJECTED)]);
  } catch {
    // IndexedDB unavailable: still say the tablet is alive.
  }
  const oldest = [...queued, ...rejected].map((item) => item.captured_at).filter(Boolean).sort()[0] || null;
  try {
    const response = await fetch("/api/kiosk/heartbeat", {
      method: "POST",
      headers: { Authorization: `Device ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        app_version: APP_VERSION,
        queue_depth: queued.length,
        held: rejected.length,
        held_reasons: heldReasons(rejected),
        oldest_unsent_at: oldest,
      }),
      cache: "no-store",
      credentials: "omit",
    });
    if (token !== state.token) return; // a revoked tablet's report: the server kept it, and said 401
    if (response.status === 401) {
      unpaired();
      return;
    }
    if (response.ok) {
      const { form_version: version, accepting } = await response.json();
      if (version && state.form && version !== state.form.version) state.pendingVersion = version;
      setAccepting(accepting);
    }
  } catch {
    // Offline: the next beat will tell.
  }
}

// The server's verdict on a sign-up before the shopper is thanked: {accepted, fields} or null
// when it cannot say within CHECK_TIMEOUT_MS (offline, slow, an error): local rules decide then.
async function serverCheck(item) {
  if (!state.token || navigator.onLine === false) return null;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), CHECK_TIMEOUT_MS);
  try {
    const response = await fetch("/api/kiosk/submissions/check", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify(item),
      cache: "no-store",
      credentials: "omit",
      signal: controller.signal,
    });
    if (response.status !== 200) return null;
    const verdict = await response.json();
    return verdict && typeof verdict === "object" ? verdict : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

async function queueSignup(answers, consents) {
  if (state.saving || !state.form) return;
  state.saving = true;
  const form = state.signup;
  const item = {
    id: crypto.randomUUID(),
    form_version: state.form.version,
    locale: state.locale,
    captured_at: new Date().toISOString(),
    answers,
    consents,
  };
  const verdict = await serverCheck(item);
  if (form !== state.signup) { // wiped (idle) while the server was asked
    state.saving = false;
    return;
  }
  if (verdict?.fields && typeof verdict.fields === "object") {
    const errors = Object.fromEntries(Object.entries(verdict.fields)
      .map(([key, problems]) => [key, (Array.isArray(problems) ? problems : [])
        .map((problem) => problem?.code).filter(Boolean)])
      .filter(([, codes]) => codes.length));
    // Only what the shopper can fix on this form holds up the thank-you.
    if (form.showErrors(errors)) {
      state.saving = false;
      return;
    }
  }
  // Refused whole for a reason the shopper cannot fix (the store just closed, the form just
  // changed): the sign-up is queued all the same (the server will keep a record of it), and the
  // tablet asks at once what changed.
  if (verdict?.accepted === false) scheduleBeat();
  try {
    await store.put(store.QUEUE, { ...item, attempts: 0, next_attempt_at: 0 }); // on the tablet first
  } catch (error) {
    console.error("kiosk: could not queue the sign-up", error);
    state.saving = false;
    say(t("error_generic", state.locale), { urgent: true });
    return;
  }
  showThanks();
  await refreshQueue();
  scheduleBeat();
  sender.drain({ force: true });
}

// A small dot for staff (amber: waiting to be sent, red: refused and not yet handed to the
// server), with words for screen readers; nothing at all when the queue is empty.
async function refreshQueue() {
  const { unsent, held } = await store.counts().catch(() => ({ unsent: 0, held: 0 }));
  const parts = [];
  if (unsent) parts.push(t("unsent", state.locale, { count: unsent }));
  if (held) parts.push(t("held", state.locale, { count: held }));
  const text = parts.join(" · ");
  queueNode.hidden = !text;
  queueNode.classList.toggle("held", held > 0);
  queueNode.dataset.unsent = String(unsent);
  queueNode.dataset.held = String(held);
  queueNode.dataset.status = text;
  const label = text ? t("queue_label", state.locale, { status: text }) : "";
  if (queueNode.getAttribute("aria-label") !== label) queueNode.setAttribute("aria-label", label);
  queueNode.title = label;
}

// --- idle ------------------------------------------------------------------------------------

function activity() {
  state.lastActivity = Date.now();
}

function idleSeconds() {
  const value = Number(definition().idle_timeout_seconds);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_IDLE_SECONDS;
}

function openPrompt() {
  state.promptDeadline = Date.now() + PROMPT_SECONDS * 1000;
  document.getElementById("idle-title").textContent = t("idle_title", state.locale);
  document.getElementById("idle-continue").textContent = t("idle_continue", state.locale);
  document.getElementById("idle-reset").textContent = t("idle_reset", state.locale);
  updatePrompt();
  dialog.showModal();
  document.getElementById("idle-continue").focus();
}

function updatePrompt() {
  const seconds = Math.max(0, Math.ceil((state.promptDeadline - Date.now()) / 1000));
  document.getElementById("idle-text").textContent = t("idle_text", state.locale, { seconds });
}

function keepGoing() {
  if (dialog.open) dialog.close();
  activity();
}

function tick() {
  // Staff opened the pairing form and walked away: back to the screen shoppers see.
  if (state.screen === "pairing" && state.revokedToken && !state.token
      && Date.now() - state.lastActivity > 60000) {
    showUnpaired();
    return;
  }
  if (state.screen !== "form" || !state.signup) return;
  if (dialog.open) {
    if (Date.now() >= state.promptDeadline) startOver();
    else updatePrompt();
    return;
  }
  const idleFor = Date.now() - state.lastActivity;
  if (idleFor < idleSeconds() * 1000) return;
  if (state.unpaired && !state.signup.hasData()) showUnpaired();
  else if (state.signup.hasData()) openPrompt();
  else if (state.locale !== defaultLocale() || state.pendingVersion || state.reloadWhenIdle) startOver();
}

// --- start -----------------------------------------------------------------------------------

const sender = new Sender({
  token: () => state.token,
  onChange: () => { refreshQueue(); scheduleBeat(); },
  onUnpaired: () => unpaired(),
});

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // A new release took over: reload between two shoppers, never in front of one.
    if (hadController) state.reloadWhenIdle = true;
  });
  navigator.serviceWorker.register(body.dataset.sw, { scope: body.dataset.scope })
    .catch((error) => console.warn("kiosk: no service worker", error));
}

// Every minute: the heartbeat (which also says whether the store takes sign-ups), and a closed
// store's form asked for again, in case it opened.
function everyMinute() {
  heartbeat();
  if (state.closed && state.screen === "closed" && state.token) loadForm();
}

async function boot() {
  registerServiceWorker();
  setLocale(state.locale);
  for (const type of ["pointerdown", "keydown", "touchstart", "input", "wheel"]) {
    document.addEventListener(type, activity, { capture: true, passive: true });
  }
  document.getElementById("idle-continue").addEventListener("click", keepGoing);
  document.getElementById("idle-reset").addEventListener("click", startOver);
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); keepGoing(); });
  window.addEventListener("online", () => { sender.drain({ force: true }); heartbeat(); });
  setInterval(tick, 1000);
  setInterval(() => sender.drain(), DRAIN_MS);
  setInterval(everyMinute, HEARTBEAT_MS);
  refreshQueue();
  state.token = await store.meta.get("token").catch(() => null);
  state.revokedToken = await store.meta.get("revoked_token").catch(() => null);
  if (!state.token) {
    if (state.revokedToken) {
      state.form = await store.meta.get("form").catch(() => null);
      showUnpaired();
      heartbeat();
    } else {
      showPairing();
    }
    return;
  }
  await loadForm();
  sender.drain({ force: true });
  heartbeat();
}

boot();
