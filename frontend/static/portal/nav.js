// The portal's menus on a phone: the page list folds behind "Menu" on a narrow screen and
// stays open on a wide one. Without this script the list is simply always open.
const narrow = window.matchMedia("(max-width: 40rem)");
const menu = document.getElementById("portal-menu");

function fit() {
  if (menu) menu.open = !narrow.matches;
}

fit();
narrow.addEventListener("change", fit);
