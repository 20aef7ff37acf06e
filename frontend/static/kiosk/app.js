// The kiosk: pairing, the sign-up form, the thank-you screen, and everything that keeps a shop
// tablet honest while nobody watches it (offline queue, idle wipe, heartbeat, form updates).
import { SignupForm, el } from "./form.js";
import { LANGUAGE_NAMES, errorMessage, pick, pickLanguage, t } from "./i18n.js";
import { Sender } from "./sender.js";
import * as store from "./store.js";

const body = document.body;
const APP_VERSION = body.dataset.appVersion || "kiosk";
const THANKS_SECONDS = 6;
const PROMPT_SECONDS = 10;
const HEARTBEAT_MS = 60000;
const DRAIN_MS = 15000;
const DEFAULT_IDLE_SECONDS = 45;

const main = document.getElementById("main");
const queueNode = document.getElementById("queue");
const languagesNode = document.getElementById("languages");
const logo = document.getElementById("logo");
const dialog = document.getElementById("idle");

const state = {
  token: null,
  form: null, // {version, number, definition, location}
  locale: pickLanguage(["en", "fr", "es"]),
  screen: "loading",
  signup: null,
  lastActivity: Date.now(),
  promptDeadline: 0,
  thanksTimer: null,
  pendingVersion: null,
  reloadWhenIdle: false,
  unpaired: false,
  saving: false,
};

const auth = () => ({ Authorization: `Device ${state.token}` });
const definition = () => state.form?.definition || {};
const defaultLocale = () => (definition().languages || ["en"])[0];

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
    logo.src = logoUrl;
    logo.alt = body.dataset.tenant || "";
    logo.hidden = false;
  } else {
    logo.hidden = true;
    logo.removeAttribute("src");
  }
}

function renderLanguages() {
  const languages = (definition().languages || []).filter((code) => LANGUAGE_NAMES[code]);
  languagesNode.hidden = state.screen !== "form" || languages.length < 2;
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

function showForm(values = null) {
  if (!state.form) return;
  if (!definition().languages?.includes(state.locale)) setLocale(defaultLocale());
  document.documentElement.lang = state.locale;
  applyBranding();
  state.signup = new SignupForm({
    definition: definition(),
    locale: state.locale,
    onSubmit: queueSignup,
    onActivity: activity,
    announce: (text) => say(text, { urgent: true }),
  });
  setScreen("form", state.signup.render(values));
  renderLanguages();
  refreshQueue();
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

function showPairing(errorCode = "") {
  state.signup = null;
  languagesNode.hidden = true;
  const locale = state.locale;
  const input = el("input", { id: "pair-code", name: "code", type: "text", required: true,
    autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    "aria-describedby": "pair-intro pair-error", maxlength: 20, placeholder: "ABCD-EFGHJK" });
  const error = el("p", { class: "error", id: "pair-error", hidden: !errorCode,
    text: errorCode ? errorMessage(errorCode, locale) : "" });
  const button = el("button", { type: "submit", class: "primary", text: t("pair_button", locale) });
  const form = el("form", { class: "pairing", novalidate: true, autocomplete: "off" },
    el("h1", { text: t("pair_title", locale) }),
    el("p", { id: "pair-intro", text: t("pair_intro", locale) }),
    el("div", { class: "field" }, el("label", { for: "pair-code", text: t("pair_code", locale) }), input, error),
    el("div", { class: "actions" }, button));
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
    if (failure) showPairing(failure);
  });
  setScreen("pairing", form);
  input.focus();
  if (errorCode) say(errorMessage(errorCode, locale), { urgent: true });
}

// The server no longer knows this tablet. Sending stops at once; the screen changes between two
// shoppers, so nobody loses a thank-you or a half-typed form to it.
function unpaired() {
  state.token = null;
  state.unpaired = true;
  sender.paused = true;
  store.meta.delete("token").catch(() => {});
  const busy = state.screen === "thanks" || (state.screen === "form" && state.signup?.hasData());
  if (!busy) showUnpaired();
}

function showUnpaired() {
  state.token = null;
  state.unpaired = false;
  state.signup = null;
  sender.paused = true;
  store.meta.delete("token").catch(() => {});
  if (dialog.open) dialog.close();
  languagesNode.hidden = true;
  const again = el("button", { type: "button", class: "primary", text: t("unpaired_button", state.locale) });
  again.addEventListener("click", () => showPairing());
  const title = el("h1", { tabindex: "-1", text: t("unpaired_title", state.locale) });
  setScreen("unpaired", el("section", { class: "message", role: "alert" }, title,
    el("p", { text: t("unpaired_text", state.locale) }), again));
  title.focus();
}

// --- API ---------------------------------------------------------------------------------------

async function pair(code) {
  let response;
  try {
    response = await fetch("/api/kiosk/pair", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code }),
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
  await store.meta.set("token", data.device_token);
  await store.meta.set("device", { device: data.device, location: data.location });
  sender.paused = false;
  await loadForm();
  sender.drain({ force: true });
  heartbeat();
  return "";
}

async function loadForm() {
  let data = null;
  try {
    const response = await fetch("/api/kiosk/form", { headers: auth(), cache: "no-store" });
    if (response.status === 401) {
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
  setLocale(defaultLocale());
  showForm();
  if (!main.contains(document.activeElement)) main.querySelector("h1")?.focus();
}

async function heartbeat() {
  if (!state.token) return;
  const items = [...await store.all(store.QUEUE), ...await store.all(store.REJECTED)];
  const oldest = items.map((item) => item.captured_at).sort()[0] || null;
  try {
    const response = await fetch("/api/kiosk/heartbeat", {
      method: "POST",
      headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ app_version: APP_VERSION, queue_depth: items.length, oldest_unsent_at: oldest }),
      cache: "no-store",
      credentials: "omit",
    });
    if (response.status === 401) {
      unpaired();
      return;
    }
    if (response.ok) {
      const { form_version: version } = await response.json();
      if (version && state.form && version !== state.form.version) state.pendingVersion = version;
    }
  } catch {
    // Offline: the next beat will tell.
  }
}

async function queueSignup(answers, consents) {
  if (state.saving || !state.form) return;
  state.saving = true;
  const item = {
    id: crypto.randomUUID(),
    form_version: state.form.version,
    locale: state.locale,
    captured_at: new Date().toISOString(),
    answers,
    consents,
  };
  try {
    await store.put(store.QUEUE, item); // saved on the tablet before anything else happens
  } catch (error) {
    console.error("kiosk: could not queue the sign-up", error);
    state.saving = false;
    say(t("error_generic", state.locale), { urgent: true });
    return;
  }
  showThanks();
  await refreshQueue();
  sender.drain({ force: true });
}

async function refreshQueue() {
  const { unsent, held } = await store.counts().catch(() => ({ unsent: 0, held: 0 }));
  const parts = [];
  if (unsent) parts.push(t("unsent", state.locale, { count: unsent }));
  if (held) parts.push(t("held", state.locale, { count: held }));
  const text = parts.join(" · ");
  if (queueNode.textContent !== text) queueNode.textContent = text;
  queueNode.dataset.unsent = String(unsent);
  queueNode.dataset.held = String(held);
  queueNode.classList.toggle("empty", !text);
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
  onChange: () => refreshQueue(),
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
  setInterval(heartbeat, HEARTBEAT_MS);
  refreshQueue();
  state.token = await store.meta.get("token").catch(() => null);
  if (!state.token) {
    showPairing();
    return;
  }
  await loadForm();
  sender.drain({ force: true });
  heartbeat();
}

boot();
