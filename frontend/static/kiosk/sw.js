// The kiosk's service worker. VERSION and PRECACHE are prepended by the server (see
// signup/views/kiosk.py): a new release changes VERSION, so tablets fetch the new shell.
/* global VERSION, PRECACHE */
const SHELL = `kiosk-shell-${VERSION}`;
const DATA = "kiosk-data";
const FORM_PATH = "/api/kiosk/form";
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names
        .filter((name) => name.startsWith("kiosk-shell-") && name !== SHELL)
        .map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); });
  });
}

// Network first, the cached copy when the network fails; the copy is refreshed on success.
async function networkFirst(request, cacheName, { key = request, timeout = 0 } = {}) {
  const cache = await caches.open(cacheName);
  try {
    const pending = fetch(request);
    const response = await (timeout ? withTimeout(pending, timeout) : pending);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(key, { ignoreVary: true, ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { ignoreVary: true });
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  // Sign-ups, pairing and heartbeats go straight to the network: never cache a POST.
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === FORM_PATH) {
    event.respondWith(networkFirst(request, DATA, { key: FORM_PATH }));
    return;
  }
  if (url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate" && url.pathname.startsWith(self.registration.scope.replace(self.location.origin, ""))) {
    event.respondWith(networkFirst(request, SHELL, {
      key: new URL(self.registration.scope).pathname,
      timeout: NAVIGATION_TIMEOUT_MS,
    }));
    return;
  }
  if (PRECACHE.includes(url.pathname)) event.respondWith(cacheFirst(request));
});
