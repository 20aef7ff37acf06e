// The sign-up form, drawn from a published definition: fields, consents, checks made with the
// server's own rules (the form payload's `rules`), and inline errors keyed by the API's codes.
import { errorMessage, pick, t } from "./i18n.js";
import { suggestEmail } from "./typo.js";

// Built-in copies of the server's rules, only for a form cached before payloads carried them.
export const FALLBACK_RULES = {
  email_pattern: "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$",
  email_max_length: 254,
  name_max_length: 100,
  text_max_length: 200,
  postal_code_pattern: "^[A-Za-z0-9][A-Za-z0-9 -]{1,18}[A-Za-z0-9]$",
  phone_country: "",
};
// What the server trims: ASCII whitespace only (String.prototype.trim also eats Unicode spaces
// the server keeps, and then the two would disagree on a length).
const EDGE_SPACES = /^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g;
// Characters PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates).
const UNSTORABLE = /[\u0000\ud800-\udfff]/u;
// Phone numbers as typed on a keypad. Anything else (letters, "ext.") the tablet refuses: the
// server's parser reads letters as digits, libphonenumber-js does not, and when the two
// disagree the tablet must be the stricter one.
const PHONE_CHARACTERS = /^\+?[0-9 ()./-]+$/;
const PHONE_MAX_LENGTH = 40;
const PHONE_MODULE = "./vendor/libphonenumber-js.max.js";

let phoneModule = null;

// libphonenumber-js with its full ("max") metadata, fetched once the form is on screen (the
// service worker keeps a copy for offline). Resolves to null if it cannot be had.
export function loadPhoneModule() {
  phoneModule ||= import(PHONE_MODULE).catch((error) => {
    console.warn("kiosk: phone rules unavailable", error);
    phoneModule = null;
    return null;
  });
  return phoneModule;
}

export function trimmed(value) {
  return String(value).replace(EDGE_SPACES, "");
}

function compiled(pattern, fallback) {
  try {
    return new RegExp(pattern);
  } catch {
    return new RegExp(fallback);
  }
}

// The rules as the tablet uses them: the payload's where given, the built-in ones otherwise.
export function kioskRules(rules) {
  const merged = { ...FALLBACK_RULES };
  for (const [key, value] of Object.entries(rules || {})) {
    if (value !== null && value !== undefined && typeof value === typeof FALLBACK_RULES[key]) {
      merged[key] = value;
    }
  }
  return {
    ...merged,
    email: compiled(merged.email_pattern, FALLBACK_RULES.email_pattern),
    postalCode: compiled(merged.postal_code_pattern, FALLBACK_RULES.postal_code_pattern),
  };
}

// null when valid, else the error code; `phone` is the loaded module or null (then a rough
// check stands in, and the server's check or its set-aside catches what it lets through).
export function phoneProblem(text, country, phone) {
  if (text.length > PHONE_MAX_LENGTH || !PHONE_CHARACTERS.test(text)) return "invalid_phone";
  if (phone) return phone.isValidPhoneNumber(text, country || undefined) ? "" : "invalid_phone";
  const digits = text.replace(/\D/g, "").length;
  return digits >= 6 && digits <= 15 ? "" : "invalid_phone";
}

function textTypes(rules) {
  return {
    email: { type: "email", inputmode: "email", autocapitalize: "off", spellcheck: "false" },
    first_name: { type: "text", autocapitalize: "words", spellcheck: "false",
      maxlength: rules.name_max_length },
    last_name: { type: "text", autocapitalize: "words", spellcheck: "false",
      maxlength: rules.name_max_length },
    phone: { type: "tel", inputmode: "tel" },
    postal_code: { type: "text", autocapitalize: "characters", spellcheck: "false", maxlength: 20 },
    short_text: { type: "text", maxlength: rules.text_max_length },
  };
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function requiredMark(required, locale) {
  // The control carries required/aria-required; the visible word is for sighted shoppers.
  return el("span", { class: required ? "mark" : "mark optional", "aria-hidden": "true",
    text: required ? t("required", locale) : t("optional", locale) });
}

function describedBy(...ids) {
  return ids.filter(Boolean).join(" ");
}

export class SignupForm {
  // definition: the published definition; rules: the payload's `rules`; onSubmit(answers,
  // consents) is called once the form passes every check (it may return a promise);
  // onActivity() on any input; notice: the line under the form (privacy).
  constructor({ definition, rules, locale, onSubmit, onActivity, announce, notice = "" }) {
    this.definition = definition;
    this.rules = kioskRules(rules);
    this.textTypes = textTypes(this.rules);
    this.notice = notice;
    this.busy = false;
    this.locale = locale;
    this.onSubmit = onSubmit;
    this.onActivity = onActivity;
    this.announce = announce;
    this.fields = (definition.fields || []).filter((field) => field && field.key);
    // Email first, then SMS (the stored JSON does not keep the keys' order).
    this.consents = ["email", "sms"]
      .map((channel) => ({ channel, spec: definition.consents?.[channel] }))
      .filter(({ spec }) => spec && spec.enabled);
    this.node = null;
  }

  text(texts) {
    return pick(texts, this.locale, (this.definition.languages || ["en"])[0]);
  }

  render(values = null) {
    const locale = this.locale;
    const form = el("form", { class: "signup", novalidate: true, autocomplete: "off" });
    const welcome = this.text(this.definition.texts?.welcome);
    form.append(el("h1", { id: "form-title", tabindex: "-1", text: welcome || t("submit", locale) }));
    form.setAttribute("aria-labelledby", "form-title");
    for (const field of this.fields) form.append(this.renderField(field));
    if (this.consents.length) {
      const group = el("fieldset", { class: "consents" },
        el("legend", { text: t("consents", locale) }));
      for (const consent of this.consents) group.append(this.renderConsent(consent));
      form.append(group);
    }
    this.button = el("button", { type: "submit", class: "primary submit", text: t("submit", locale) });
    form.append(el("div", { class: "actions" }, this.button));
    if (this.notice) form.append(el("p", { class: "notice", id: "privacy-notice", text: this.notice }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    form.addEventListener("input", (event) => {
      this.clearError(event.target.closest("[data-key]"));
      this.onActivity();
    });
    form.addEventListener("change", () => this.onActivity());
    this.node = form;
    if (values) this.fill(values);
    return form;
  }

  renderField(field) {
    const locale = this.locale;
    const id = `f-${field.key}`;
    const help = this.text(field.help);
    const helpId = help ? `${id}-help` : null;
    const errorId = `${id}-error`;
    const label = this.text(field.label) || field.key;
    const wrapper = el("div", { class: `field field-${field.type}`, "data-key": field.key });
    const helpNode = help ? el("p", { class: "help", id: helpId, text: help }) : null;
    const errorNode = el("p", { class: "error", id: errorId, hidden: true });
    const common = {
      id,
      name: field.key,
      required: !!field.required,
      "aria-required": field.required ? "true" : null,
      "aria-describedby": describedBy(helpId, errorId),
      autocomplete: "off",
    };

    if (this.textTypes[field.type]) {
      const input = el("input", { ...common, ...this.textTypes[field.type] });
      wrapper.append(...[
        el("label", { for: id }, document.createTextNode(label), requiredMark(field.required, locale)),
        helpNode, input, errorNode].filter(Boolean));
      if (field.type === "email") {
        const suggestion = el("div", { class: "suggestion", id: `${id}-suggestion`, "aria-live": "polite" });
        const update = () => this.suggest(input, suggestion);
        input.addEventListener("input", update);
        input.addEventListener("blur", update);
        wrapper.append(suggestion);
      }
      return wrapper;
    }

    if (field.type === "birthday") {
      const fieldset = el("fieldset", { class: wrapper.className, "data-key": field.key, id,
        "aria-describedby": describedBy(helpId, errorId) },
        el("legend", {}, document.createTextNode(label), requiredMark(field.required, locale)));
      const months = el("select", { id: `${id}-month`, name: `${field.key}.month`,
        "aria-required": field.required ? "true" : null });
      months.append(el("option", { value: "", text: t("choose", locale) }));
      const monthName = new Intl.DateTimeFormat(locale, { month: "long", timeZone: "UTC" });
      for (let month = 1; month <= 12; month += 1) {
        months.append(el("option", { value: month,
          text: monthName.format(new Date(Date.UTC(2000, month - 1, 1))) }));
      }
      const days = el("select", { id: `${id}-day`, name: `${field.key}.day`,
        "aria-required": field.required ? "true" : null });
      days.append(el("option", { value: "", text: t("choose", locale) }));
      for (let day = 1; day <= 31; day += 1) days.append(el("option", { value: day, text: day }));
      fieldset.append(...[helpNode].filter(Boolean),
        el("div", { class: "pair" },
          el("div", {}, el("label", { for: `${id}-month`, text: t("month", locale) }), months),
          el("div", {}, el("label", { for: `${id}-day`, text: t("day", locale) }), days)),
        errorNode);
      return fieldset;
    }

    if (field.type === "single_choice" || field.type === "multiple_choice") {
      const multiple = field.type === "multiple_choice";
      const fieldset = el("fieldset", { class: wrapper.className, "data-key": field.key, id,
        role: multiple ? null : "radiogroup",
        "aria-required": !multiple && field.required ? "true" : null,
        "aria-describedby": describedBy(helpId, errorId) },
        el("legend", {}, document.createTextNode(label), requiredMark(field.required, locale)));
      if (helpNode) fieldset.append(helpNode);
      const options = el("div", { class: "options" });
      (field.options || []).forEach((option, index) => {
        const optionId = `${id}-${index}`;
        options.append(el("label", { class: "option", for: optionId },
          el("input", { type: multiple ? "checkbox" : "radio", id: optionId, name: field.key,
            value: option.value }),
          el("span", { text: this.text(option.label) || option.value })));
      });
      fieldset.append(options, errorNode);
      return fieldset;
    }

    if (field.type === "checkbox") {
      wrapper.append(el("label", { class: "option", for: id },
        el("input", { ...common, type: "checkbox" }),
        el("span", {}, document.createTextNode(label), requiredMark(field.required, locale))),
        ...[helpNode, errorNode].filter(Boolean));
      return wrapper;
    }
    return wrapper;
  }

  renderConsent({ channel, spec }) {
    const id = `consent-${channel}`;
    const errorId = `${id}-error`;
    const disclosure = channel === "sms" ? this.text(spec.disclosure) : "";
    const disclosureId = disclosure ? `${id}-disclosure` : null;
    // Never ticked for the shopper: consent is an act, not a default.
    const box = el("input", { type: "checkbox", id, name: `consents.${channel}`,
      "aria-describedby": describedBy(disclosureId, errorId) });
    box.checked = false;
    return el("div", { class: `consent consent-${channel}`, "data-key": `consents.${channel}` },
      el("label", { class: "option", for: id }, box,
        el("span", {}, el("span", { class: "consent-text", text: this.text(spec.text) }),
          disclosure ? el("small", { class: "disclosure", id: disclosureId, text: disclosure }) : null)),
      el("p", { class: "error", id: errorId, hidden: true }));
  }

  suggest(input, node) {
    const suggestion = suggestEmail(input.value);
    // Unchanged: leave the button alone (a tap on it blurs the input first).
    if ((node.dataset.value || "") === suggestion) return;
    node.dataset.value = suggestion;
    node.replaceChildren();
    if (!suggestion) return;
    const button = el("button", { type: "button", class: "link",
      text: t("did_you_mean", this.locale, { email: suggestion }) });
    button.addEventListener("click", () => {
      input.value = suggestion;
      node.dataset.value = "";
      node.replaceChildren();
      this.clearError(input.closest("[data-key]"));
      this.announce(t("suggestion_applied", this.locale, { email: suggestion }));
      input.focus();
      this.onActivity();
    });
    node.append(button);
  }

  // Every value as typed, keyed by field; used to redraw in another language without loss.
  values() {
    const values = { fields: {}, consents: {} };
    for (const field of this.fields) values.fields[field.key] = this.readField(field);
    for (const { channel } of this.consents) {
      values.consents[channel] = this.node.querySelector(`#consent-${channel}`).checked;
    }
    return values;
  }

  readField(field) {
    const id = `f-${field.key}`;
    const root = this.node;
    switch (field.type) {
      case "birthday":
        return { month: root.querySelector(`#${id}-month`).value,
          day: root.querySelector(`#${id}-day`).value };
      case "single_choice":
        return root.querySelector(`input[name="${field.key}"]:checked`)?.value ?? "";
      case "multiple_choice":
        return [...root.querySelectorAll(`input[name="${field.key}"]:checked`)].map((i) => i.value);
      case "checkbox":
        return root.querySelector(`#${id}`).checked;
      default:
        return root.querySelector(`#${id}`)?.value ?? "";
    }
  }

  fill(values) {
    for (const field of this.fields) {
      const value = values.fields?.[field.key];
      if (value === undefined) continue;
      const id = `f-${field.key}`;
      if (field.type === "birthday") {
        this.node.querySelector(`#${id}-month`).value = value.month;
        this.node.querySelector(`#${id}-day`).value = value.day;
      } else if (field.type === "single_choice" || field.type === "multiple_choice") {
        const chosen = Array.isArray(value) ? value : [value];
        for (const box of this.node.querySelectorAll(`input[name="${field.key}"]`)) {
          box.checked = chosen.includes(box.value);
        }
      } else if (field.type === "checkbox") {
        this.node.querySelector(`#${id}`).checked = !!value;
      } else {
        this.node.querySelector(`#${id}`).value = value;
      }
    }
    for (const { channel } of this.consents) {
      this.node.querySelector(`#consent-${channel}`).checked = !!values.consents?.[channel];
    }
  }

  hasData() {
    if (!this.node) return false;
    const { fields, consents } = this.values();
    return Object.values(fields).some((v) => (typeof v === "object" && v !== null && !Array.isArray(v)
      ? v.month || v.day : Array.isArray(v) ? v.length : !!(typeof v === "string" ? v.trim() : v)))
      || Object.values(consents).some(Boolean);
  }

  // Whether the form asks for a phone number (the phone rules are then worth loading).
  hasPhone() {
    return this.fields.some((field) => field.type === "phone");
  }

  // The answers as the API takes them, and the same checks the server makes (signup/answers.py),
  // with its rules. `phone` is the libphonenumber-js module or null.
  check(phone = null) {
    const { fields, consents } = this.values();
    const answers = {};
    const errors = {};
    const fail = (key, code) => { (errors[key] ||= []).push(code); };
    for (const field of this.fields) {
      let value = fields[field.key];
      if (typeof value === "string") value = trimmed(value);
      if (field.type === "birthday") {
        const month = Number(value.month) || 0;
        const day = Number(value.day) || 0;
        if (!month && !day) value = "";
        else if (!month || !day || day > new Date(Date.UTC(2000, month, 0)).getUTCDate()) {
          fail(field.key, "invalid_birthday");
          continue;
        } else value = { month, day };
      }
      const empty = value === "" || value === false || (Array.isArray(value) && !value.length);
      if (empty) {
        if (field.required) fail(field.key, "required");
        continue;
      }
      const code = this.problem(field, value, phone);
      if (code) fail(field.key, code);
      else answers[field.key] = field.type === "email" ? value.toLowerCase() : value;
    }
    if (consents.sms && this.hasPhone() && !answers.phone && !errors.phone) {
      fail("consents.sms", "phone_required");
    }
    return { answers, consents, errors };
  }

  problem(field, value, phone) {
    const rules = this.rules;
    const length = (text) => [...text].length; // code points, as the server counts
    if (typeof value === "string" && UNSTORABLE.test(value)) {
      return field.type === "email" ? "invalid_email" : "invalid_characters";
    }
    switch (field.type) {
      case "email": {
        const email = value.toLowerCase();
        return rules.email.test(email) && length(email) <= rules.email_max_length ? "" : "invalid_email";
      }
      case "phone":
        return phoneProblem(value, rules.phone_country, phone);
      case "postal_code":
        return rules.postalCode.test(value.toUpperCase()) ? "" : "invalid_postal_code";
      case "first_name":
      case "last_name":
        return length(value) > rules.name_max_length ? "too_long" : "";
      case "short_text":
        return length(value) > rules.text_max_length ? "too_long" : "";
      default:
        return "";
    }
  }

  clearError(container) {
    if (!container) return;
    const error = container.querySelector(".error");
    if (error) { error.hidden = true; error.textContent = ""; }
    for (const control of container.querySelectorAll("input, select")) {
      control.removeAttribute("aria-invalid");
    }
    container.classList.remove("invalid");
  }

  // errors: {key: [code, ...]} from the checks above or from the API's error.fields.
  showErrors(errors) {
    for (const container of this.node.querySelectorAll("[data-key]")) this.clearError(container);
    let first = null;
    let count = 0;
    for (const [key, codes] of Object.entries(errors)) {
      const container = this.node.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (!container) continue;
      count += 1;
      container.classList.add("invalid");
      const error = container.querySelector(".error");
      error.textContent = codes.map((code) => errorMessage(code, this.locale)).join(" ");
      error.hidden = false;
      const controls = container.querySelectorAll("input, select");
      for (const control of controls) control.setAttribute("aria-invalid", "true");
      first ||= controls[0];
    }
    if (count) this.announce(t("fix_errors", this.locale, { count }));
    if (first) first.focus();
    return count;
  }

  setBusy(busy) {
    this.busy = busy;
    if (!this.button) return;
    this.button.disabled = busy;
    this.button.textContent = t(busy ? "checking" : "submit", this.locale);
  }

  async submit() {
    if (this.busy) return;
    this.setBusy(true);
    try {
      const phoneField = this.fields.find((field) => field.type === "phone");
      const typed = phoneField && trimmed(this.readField(phoneField) || "");
      const phone = typed ? await loadPhoneModule() : null;
      const { answers, consents, errors } = this.check(phone);
      if (this.showErrors(errors)) return;
      await this.onSubmit(answers, consents);
    } finally {
      if (this.node?.isConnected) this.setBusy(false);
    }
  }
}
