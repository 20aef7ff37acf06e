// The form builder's preview: the draft drawn by the tablet's own code (kiosk/form.js and
// kiosk/i18n.js) in a frame styled by the tablet's own stylesheet, so the retailer sees the
// words, inputs and keyboards shoppers will get, not a look-alike that drifts from them.
//
// The page embeds the draft and the rules (json_script); as the builder's inputs change, the
// server turns them into a definition (form_preview, the same parser "Save draft" uses) and the
// preview is drawn again, keeping what was typed in it. Nothing typed in the preview is sent.
import { SignupForm, el } from "../kiosk/form.js";
import { LANGUAGE_NAMES, pick, t } from "../kiosk/i18n.js";

const DEBOUNCE_MS = 300;
const COLOUR = /^#[0-9a-fA-F]{6}$/;

const container = document.getElementById("preview");
const builder = document.getElementById("builder");
const languageInput = document.getElementById("preview_language");
const status = document.getElementById("preview-status");
const after = document.getElementById("preview-after");
const SHOP = container.dataset.shop || "";

const readJson = (id) => JSON.parse(document.getElementById(id).textContent);

const state = {
  definition: readJson("preview-definition"),
  rules: readJson("preview-rules"),
  locale: languageInput.value,
  signup: null,
  sequence: 0,
  timer: null,
};

// The tablet's page (signup/templates/signup/kiosk/shell.html) reduced to what a shopper sees
// of a form: the brand bar with its language buttons, the form, the live region it speaks in.
// Its landmarks are named: in the portal they sit beside the portal's own banner and main.
const SCREEN = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview</title>
<link rel="stylesheet" href="${encodeURI(container.dataset.kioskCss)}"></head>
<body><div class="preview-screen">
<header class="bar" aria-label="Preview: the tablet's bar">
  <div class="brand"><img id="logo" alt="" hidden><p id="store-name" class="store-name" hidden></p></div>
  <nav id="languages" class="languages" aria-label="Language" hidden></nav>
</header>
<main id="main" tabindex="-1" aria-label="Preview: the sign-up form"></main>
<p id="announce" class="visually-hidden" aria-live="assertive"></p>
</div></body></html>`;

const frame = el("iframe", {
  id: "preview-frame",
  class: "preview-frame",
  title: "Preview of the sign-up form as the tablet shows it",
  "aria-describedby": "preview-hint",
  srcdoc: SCREEN,
});

function part(id) {
  return frame.contentDocument.getElementById(id);
}

function setStatus(text) {
  status.textContent = text;
}

function say(text) {
  const region = part("announce");
  region.textContent = "";
  // A fresh text node a moment later is announced even when the words repeat (as app.js does).
  setTimeout(() => { region.textContent = text; }, 60);
}

// --- what app.js does around the form, for the one screen the preview shows -------------------
// The same rules as app.js applyBranding and renderLanguages; they live in app.js, which runs the
// whole kiosk when imported, so they are repeated here until they move to a module of their own.

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function applyBranding(branding) {
  const colour = (name, fallback) => (COLOUR.test(branding[name] || "") ? branding[name] : fallback);
  const background = colour("background_color", "#ffffff");
  let text = colour("text_color", "#1b1f24");
  if (contrast(text, background) < 4.5) {
    text = contrast("#000000", background) >= contrast("#ffffff", background) ? "#000000" : "#ffffff";
  }
  const primary = colour("primary_color", "#0b5cad");
  const onPrimary = contrast("#ffffff", primary) >= contrast("#111111", primary) ? "#ffffff" : "#111111";
  const dark = luminance(background) < 0.2;
  const root = frame.contentDocument.documentElement.style;
  root.setProperty("--bg", background);
  root.setProperty("--fg", text);
  root.setProperty("--brand", primary);
  root.setProperty("--on-brand", onPrimary);
  root.setProperty("--accent", contrast(primary, background) >= 4.5 ? primary : text);
  root.setProperty("--error", dark ? "#ffb4ab" : "#b3261e");
  root.setProperty("--muted", dark ? "#c9ced6" : "#4a525c");
  const logo = part("logo");
  const logoUrl = branding.logo_url || "";
  if (logoUrl && (logoUrl.startsWith("https://") || logoUrl.startsWith("/"))) {
    logo.onerror = () => {
      logo.hidden = true;
      showPlace();
    };
    if (logo.getAttribute("src") !== logoUrl) {
      logo.hidden = false;
      logo.src = logoUrl;
    }
    logo.alt = SHOP;
  } else {
    logo.hidden = true;
    logo.removeAttribute("src");
  }
  showPlace();
}

function showPlace() {
  const names = part("store-name");
  names.hidden = !part("logo").hidden || !SHOP;
  names.replaceChildren(el("span", { class: "shop", text: SHOP }));
}

function renderLanguages(languages) {
  const nav = part("languages");
  nav.hidden = languages.length < 2;
  nav.setAttribute("aria-label", t("language", state.locale));
  nav.replaceChildren(...languages.map((code) => {
    const button = el("button", { type: "button", lang: code, "data-lang": code,
      "aria-pressed": code === state.locale ? "true" : "false", text: LANGUAGE_NAMES[code] });
    button.addEventListener("click", () => switchLanguage(code));
    return button;
  }));
}

// --- the preview -------------------------------------------------------------------------------

function render(values = null) {
  const definition = state.definition;
  const languages = (definition.languages || []).filter((code) => LANGUAGE_NAMES[code]);
  if (!languages.includes(state.locale)) state.locale = languages[0] || "en";
  languageInput.value = state.locale;
  frame.contentDocument.documentElement.lang = state.locale;
  try {
    applyBranding(definition.branding || {});
    state.signup = new SignupForm({
      definition,
      rules: state.rules,
      locale: state.locale,
      // A preview sends nothing: the form's own checks run, then this instead of the queue.
      onSubmit: () => setStatus("Preview only: nothing was sent. A tablet would now thank the shopper."),
      onActivity: () => {},
      announce: say,
      notice: t("privacy", state.locale, { shop: SHOP }),
    });
    part("main").replaceChildren(state.signup.render(values));
  } catch (error) {
    // A draft is edited one keystroke at a time; the next one will likely draw again.
    console.error("preview:", error);
    setStatus("The preview cannot show this draft as it stands.");
    return;
  }
  renderLanguages(languages);
  // The thank-you screen, in words (app.js showThanks says "Thank you!" when the form does not).
  const thanks = pick(definition.texts?.thank_you, state.locale, languages[0]) || "Thank you!";
  after.textContent = `After a sign-up, the tablet says: “${thanks}”`;
  after.hidden = false;
}

function switchLanguage(code) {
  if (code === state.locale) return;
  const values = state.signup?.values() ?? null;
  state.locale = code;
  setStatus("");
  render(values);
  part("languages").querySelector(`[data-lang="${code}"]`)?.focus();
}

async function refresh() {
  const sequence = ++state.sequence;
  let definition = null;
  try {
    const response = await fetch(container.dataset.url, {
      method: "POST",
      body: new FormData(builder),
      headers: { Accept: "application/json" },
    });
    // Signed out meanwhile: the answer is the sign-in page, not JSON.
    if (response.ok && response.headers.get("Content-Type")?.startsWith("application/json")) {
      definition = (await response.json()).definition;
    }
  } catch {
    definition = null;
  }
  if (sequence !== state.sequence) return; // a later edit's answer is on its way
  if (!definition) {
    setStatus("The preview could not be updated. Save the draft to keep your changes.");
    return;
  }
  state.definition = definition;
  setStatus("");
  render(state.signup?.values() ?? null);
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, DEBOUNCE_MS);
}

function start() {
  const shown = frame.contentDocument.querySelector(".preview-screen");
  // The frame is as tall as the screen it shows, up to what the window has room for (the
  // stylesheet's max-height); past that it scrolls like a tablet's screen does.
  const fit = () => { frame.style.height = `${Math.ceil(shown.getBoundingClientRect().height)}px`; };
  new frame.contentWindow.ResizeObserver(fit).observe(shown);
  render();
  builder.addEventListener("input", schedule);
  builder.addEventListener("change", schedule);
}

frame.addEventListener("load", function loaded() {
  if (!frame.contentDocument?.querySelector(".preview-screen")) return; // a blank page first
  frame.removeEventListener("load", loaded);
  start();
});
container.replaceChildren(frame);
