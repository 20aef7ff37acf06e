// Drains the IndexedDB queue to the API, oldest first. A sign-up leaves the queue only when the
// server has it (201, or 200 for a repeat of the same id) or when the server refuses it, and then
// it goes to the "rejected" store, in the same transaction, never to nowhere.
import * as store from "./store.js";

const FIRST_DELAY = 1000;
const MAX_DELAY = 60000;
const MAX_RETRY_AFTER = 300000;
// Refusals that sending again cannot fix: kept aside for staff, with the server's reasons.
const REFUSED = new Set([400, 409, 413, 422]);

export class Sender {
  constructor({ token, onChange, onUnpaired }) {
    this.token = token; // () => current device token or null
    this.onChange = onChange; // called after the queue changed
    this.onUnpaired = onUnpaired; // called on 401
    this.running = null;
    this.again = false;
    this.delay = 0; // current backoff; 0 when the last attempt worked
    this.timer = null;
    this.paused = false;
  }

  // Starts a drain now, or right after the one running; `force` ignores a pending backoff.
  drain({ force = false } = {}) {
    if (force) this.cancelRetry();
    else if (this.timer) return this.running || Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run()
      .catch((error) => console.error("kiosk: drain failed", error))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.drain();
        }
      });
    return this.running;
  }

  cancelRetry() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  retryLater(retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds > 0) {
      this.delay = Math.min(seconds * 1000, MAX_RETRY_AFTER);
    } else {
      this.delay = this.delay ? Math.min(this.delay * 2, MAX_DELAY) : FIRST_DELAY;
    }
    this.cancelRetry();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, this.delay);
  }

  async run() {
    for (;;) {
      const token = this.token();
      if (!token || this.paused) return;
      const [item] = await store.all(store.QUEUE);
      if (!item) {
        this.delay = 0;
        return;
      }
      let response;
      try {
        response = await fetch("/api/kiosk/submissions", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Device ${token}` },
          body: JSON.stringify(payload(item)),
          cache: "no-store",
          credentials: "omit",
        });
      } catch {
        this.retryLater(null); // offline, DNS, connection reset: the network, not the sign-up
        return;
      }
      if (response.status === 200 || response.status === 201) {
        await store.remove(store.QUEUE, item.id);
        this.delay = 0;
        this.onChange();
        continue;
      }
      if (response.status === 401) {
        this.paused = true;
        this.onUnpaired();
        return;
      }
      if (REFUSED.has(response.status)) {
        const body = await response.json().catch(() => null);
        await store.reject(item, {
          rejected_at: new Date().toISOString(),
          status: response.status,
          error: body?.error ?? null,
        });
        this.onChange();
        continue;
      }
      // 429, 5xx, a proxy's 404 or 403 while a deploy rolls out: try again later.
      this.retryLater(response.headers.get("Retry-After"));
      return;
    }
  }
}

function payload(item) {
  return {
    id: item.id,
    form_version: item.form_version,
    locale: item.locale,
    captured_at: item.captured_at,
    answers: item.answers,
    consents: item.consents,
  };
}
