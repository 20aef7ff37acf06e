// The form builder without reloads: tabs for its four parts, field cards that open and close,
// and moving, removing and adding fields in the page.
//
// The server stays the one judge of a form. Every input is named by its path in the definition
// ("fields.2.label.fr"), so after a move or a removal the cards' inputs are renumbered in page
// order and the ordinary POST of "Save draft" carries the new order, validated as without this
// script. A new field's card (or a card whose options change) is the server's own rendering of
// the unsaved form, fetched and put in place; if that fails the button is pressed for real.
// Every word shown or announced comes from the page (data- attributes), in the portal's language.

const builder = document.getElementById("builder");
const tablist = builder?.querySelector(".builder-tabs");
const list = document.getElementById("field-list");
const announcer = document.getElementById("builder-announce");
const addButton = builder?.querySelector("[data-add-field]");
const pageUrl = builder ? builder.getAttribute("action").split("#")[0] : "";

function say(text) {
  announcer.textContent = "";
  // A fresh text a moment later is announced even when the words repeat.
  setTimeout(() => { announcer.textContent = text; }, 60);
}

function words(name, values) {
  return list.dataset[name].replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
}

// The unsaved form changed shape: the preview (form-preview.js) listens for this.
function changed() {
  builder.dispatchEvent(new Event("change"));
}

// --- tabs (the ARIA tabs pattern, automatic activation) ---------------------------------------

const tabs = tablist ? [...tablist.querySelectorAll('[role="tab"]')] : [];
const panelOf = (tab) => document.getElementById(tab.getAttribute("aria-controls"));

function select(tab, { focus = false } = {}) {
  for (const other of tabs) {
    const chosen = other === tab;
    other.setAttribute("aria-selected", chosen ? "true" : "false");
    other.tabIndex = chosen ? 0 : -1;
    panelOf(other).hidden = !chosen;
  }
  if (focus) tab.focus();
  const id = tab.getAttribute("aria-controls");
  // In the address, so a reload opens the same tab; in the form's action too, so the redirect
  // after "Save draft" keeps it (a browser carries the fragment over a redirect without one).
  history.replaceState(history.state, "", `#${id}`);
  builder.setAttribute("action", `${pageUrl}#${id}`);
}

function tabHolding(element) {
  const panel = element?.closest(".tab-panel");
  return tabs.find((tab) => panelOf(tab) === panel);
}

// Shows an element wherever it is: its tab chosen, its card open.
function reveal(element) {
  const tab = tabHolding(element);
  if (tab && tab.getAttribute("aria-selected") !== "true") select(tab);
  const card = element.closest("details");
  if (card) card.open = true;
}

function startTabs() {
  if (!tabs.length) return;
  tablist.hidden = false;
  builder.classList.add("has-tabs");
  for (const tab of tabs) {
    const panel = panelOf(tab);
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.tabIndex = 0;
    tab.addEventListener("click", () => select(tab));
  }
  tablist.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], { focus: true });
  });
  // A save with mistakes opens the first tab holding one; else the address says which.
  const hash = decodeURIComponent(location.hash.slice(1));
  const target = hash ? document.getElementById(hash) : null;
  const first = tabs.find((tab) => tab.getAttribute("aria-controls") === tablist.dataset.errorTab)
    || tabHolding(target) || tabs[0];
  select(first);
  if (target && tabHolding(target) === first) {
    reveal(target);
    target.scrollIntoView({ block: "center" });
  }
  // The error summary's links lead into tabs and closed cards: open the way, then go.
  document.getElementById("error-summary")?.addEventListener("click", (event) => {
    const link = event.target.closest('a[href^="#"]');
    const element = link && document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!element) return;
    event.preventDefault();
    reveal(element);
    element.scrollIntoView({ block: "center" });
    element.focus();
  });
}

// --- field cards ----------------------------------------------------------------------------

const cards = () => [...list.querySelectorAll(":scope > .field-card")];

function titleOf(card) {
  const labels = [...card.querySelectorAll('input[name$=".label.en"], input[name$=".label.fr"], input[name$=".label.es"]')]
    .filter((input) => /^fields\.\d+\.label\.\w+$/.test(input.name));
  const typed = labels.map((input) => input.value.trim()).find(Boolean);
  return typed || card.querySelector(".card-type").textContent;
}

function showTitle(card) {
  const title = titleOf(card);
  card.querySelector(".card-title").textContent = title;
  for (const name of card.querySelectorAll(".card-name")) name.textContent = title;
}

const RENAMED = ["id", "name", "for", "aria-describedby", "aria-controls", "formaction", "href"];

// Gives every card's inputs the index of its place in the page; returns old index -> new.
function renumber() {
  const all = cards();
  const moved = new Map();
  all.forEach((card, index) => {
    const old = Number(card.dataset.index);
    if (old !== index) moved.set(old, index);
    card.dataset.index = String(index);
    for (const element of [card, ...card.querySelectorAll("*")]) {
      for (const attribute of RENAMED) {
        const value = element.getAttribute(attribute);
        if (value === null) continue;
        const renamed = value.replace(/\bfields\.\d+\./g, `fields.${index}.`)
          .replace(/#field-\d+$/, `#field-${index}`)
          .replace(/^field-\d+$/, `field-${index}`);
        if (renamed !== value) element.setAttribute(attribute, renamed);
      }
      if (element.name === "action") element.value = element.value.replace(/^(\w+):\d+/, `$1:${index}`);
    }
    card.querySelector(".card-number").textContent = `${index + 1}.`;
    const up = card.querySelector('[data-move="up"]');
    const down = card.querySelector('[data-move="down"]');
    up.hidden = index === 0;
    down.hidden = index === all.length - 1;
    up.setAttribute("formaction", `${pageUrl}#field-${index - 1}`);
    down.setAttribute("formaction", `${pageUrl}#field-${index + 1}`);
  });
  addButton.setAttribute("formaction", `${pageUrl}#field-${all.length}`);
  // The error summary's links follow the inputs they name.
  for (const link of document.querySelectorAll('#error-summary a[href^="#field"]')) {
    link.setAttribute("href", link.getAttribute("href").replace(/^#(fields\.|field-)(\d+)/,
      (whole, stem, old) => (moved.has(Number(old)) ? `#${stem}${moved.get(Number(old))}` : whole)));
  }
}

function move(button) {
  const card = button.closest(".field-card");
  const up = button.dataset.move === "up";
  const other = up ? card.previousElementSibling : card.nextElementSibling;
  if (!other) return;
  list.insertBefore(card, up ? other : other.nextElementSibling);
  renumber();
  const count = cards().length;
  const position = cards().indexOf(card) + 1;
  // Moving a node takes focus from it: give it back, to the other button at either end.
  const again = button.hidden ? card.querySelector(`[data-move="${up ? "down" : "up"}"]`) : button;
  again.focus();
  card.classList.add("just-moved");
  setTimeout(() => card.classList.remove("just-moved"), 1200);
  say(words("moved", { name: titleOf(card), position, count }));
  changed();
}

function remove(button) {
  const card = button.closest(".field-card");
  const name = titleOf(card);
  const after = card.nextElementSibling || card.previousElementSibling;
  card.remove();
  renumber();
  (after?.querySelector("summary") || document.getElementById("new_field_type")).focus();
  say(words("removed", { name }));
  changed();
}

// Asks the server to render the unsaved form as this button would, and takes one card from it.
async function fetchCard(button, index) {
  const data = new FormData(builder);
  data.set("action", button.value);
  const response = await fetch(pageUrl, { method: "POST", body: data, credentials: "same-origin" });
  if (!response.ok || !response.headers.get("Content-Type")?.startsWith("text/html")) return null;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const card = page.getElementById(`field-${index}`);
  return card?.matches("#field-list > .field-card") ? document.adoptNode(card) : null;
}

async function structural(button) {
  const current = button.closest(".field-card");
  const index = current ? Number(current.dataset.index) : cards().length;
  button.disabled = true;
  let card = null;
  try {
    card = await fetchCard(button, index);
  } catch {
    card = null;
  } finally {
    button.disabled = false;
  }
  if (!card) {
    say(list.dataset.failed);
    builder.requestSubmit(button);
    return;
  }
  card.querySelector("details").open = true;
  if (current) {
    current.replaceWith(card);
    card.querySelector('[name="action"][value^="add_option"]')?.focus();
  } else {
    list.append(card);
    renumber();
    // Its label is what a new field lacks (a standard one comes worded, still to check).
    card.querySelector(`[name="fields.${index}.label.en"], [name^="fields.${index}.label."]`)?.focus();
    say(words("added", { name: titleOf(card), position: index + 1 }));
  }
  changed();
}

function startCards() {
  if (!list) return;
  // Every card can move now, so both buttons exist on each; renumber says which to show.
  renumber();
  builder.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !builder.contains(button)) return;
    if (button.matches("[data-move]")) move(button);
    else if (button.matches("[data-remove]")) remove(button);
    else if (button.matches("[data-card-action], [data-add-field]")) structural(button);
    else return;
    event.preventDefault();
  });
  list.addEventListener("input", (event) => {
    if (/^fields\.\d+\.label\./.test(event.target.name || "")) showTitle(event.target.closest(".field-card"));
  });
  list.addEventListener("change", (event) => {
    if (!/^fields\.\d+\.required$/.test(event.target.name || "")) return;
    const badge = event.target.closest(".field-card").querySelector("[data-required-badge]");
    badge.hidden = !event.target.checked;
  });
}

if (builder) {
  startCards();
  startTabs();
}
