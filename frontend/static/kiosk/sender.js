// Drains the IndexedDB queue to the API in capture order, and never lets one sign-up hold up
// the others (docs/kiosk-api.md, "The promise"):
//
// - 201 (stored) or 200 (a repeat of the same id): the item leaves the queue.
// - 400, 409, 413, 422: refused whole, for good. The item moves to the "rejected" store (in the
//   same transaction: it is in one or the other, never in neither), then is uploaded to
//   /api/kiosk/rejections; once the server has it (200/201) the tablet forgets it. Until then
//   it is retried on every drain (with its own backoff if the server answers but refuses).
// - 5xx or any other status: this item alone waits (exponential backoff with jitter, capped),
//   and the drain moves on to the next one.
// - a network failure or 429: the whole queue pauses (Retry-After is honoured).
// - 401: the tablet was revoked. Sending stops; the queue is kept for when it is paired again.
import * as store from "./store.js";

const FIRST_DELAY = 1000;
const MAX_DELAY = 60000;
const ITEM_FIRST_DELAY = 2000;
const ITEM_MAX_DELAY = 10 * 60000;
const MAX_RETRY_AFTER = 300000;
// The server keeps at most this much of a refused payload.
const MAX_PAYLOAD_BYTES = 256 * 1000;
// Refusals that sending again cannot fix: kept aside, then handed to the server's records.
const REFUSED = new Set([400, 409, 413, 422]);
const STORED = new Set([200, 201]);

// Exponential with ±20 % jitter: tablets that failed together do not retry together.
export function itemDelay(attempts) {
  const base = Math.min(ITEM_FIRST_DELAY * 2 ** Math.max(0, attempts - 1), ITEM_MAX_DELAY);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function retryAfterMs(value) {
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds > 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER);
  const date = Date.parse(value || "");
  if (Number.isFinite(date)) return Math.min(Math.max(date - Date.now(), FIRST_DELAY), MAX_RETRY_AFTER);
  return 0;
}

// The exact body a sign-up is sent with (also what a rejection record carries).
export function submissionBody(item) {
  return JSON.stringify({
    id: item.id,
    form_version: item.form_version,
    locale: item.locale,
    captured_at: item.captured_at,
    answers: item.answers,
    consents: item.consents,
  });
}

function truncated(text) {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= MAX_PAYLOAD_BYTES) return text;
  // Cut on a character boundary: the decoder drops a half character at the end.
  return new TextDecoder().decode(bytes.slice(0, MAX_PAYLOAD_BYTES)).replace(/\uFFFD$/, "");
}

export class Sender {
  constructor({ token, onChange, onUnpaired }) {
    this.token = token; // () => current device token or null
    this.onChange = onChange; // called after the queue changed
    this.onUnpaired = onUnpaired; // called on 401
    this.running = null;
    this.again = false;
    this.delay = 0; // the queue's backoff after network failures; 0 when the last try worked
    this.pausedUntil = 0; // the whole queue waits until then (network failure, 429)
    this.rateLimited = false; // the pause is the server's (429): a new sign-up does not cut it
    this.timer = null;
    this.paused = false; // revoked: nothing is sent until the tablet is paired again
  }

  // Starts a drain now, or right after the one running; `force` cuts a network pause short
  // (a new sign-up, the network back), never a 429's.
  drain({ force = false } = {}) {
    if (force && !this.rateLimited) this.pausedUntil = 0;
    if (Date.now() < this.pausedUntil) return this.running || Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.cancelWake();
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

  cancelWake() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  wakeIn(ms) {
    this.cancelWake();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, Math.max(ms, 250));
  }

  // The whole queue waits: the network is down, or the server asked us to slow down.
  pause(retryAfter, { rateLimited = false } = {}) {
    const asked = retryAfterMs(retryAfter);
    if (asked) this.delay = asked;
    else this.delay = this.delay ? Math.min(this.delay * 2, MAX_DELAY) : FIRST_DELAY;
    this.rateLimited = rateLimited;
    this.pausedUntil = Date.now() + this.delay;
    this.wakeIn(this.delay);
  }

  resumed() {
    this.delay = 0;
    this.rateLimited = false;
    this.pausedUntil = 0;
  }

  async post(path, token, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Device ${token}` },
      body,
      cache: "no-store",
      credentials: "omit",
    });
  }

  // One pass: uploads what was refused, then sends every due sign-up in capture order.
  // Returns early only when the queue must pause or the tablet is revoked.
  async run() {
    const token = this.token();
    if (!token || this.paused) return;
    if (!(await this.uploadRejected(token))) return;
    const items = await store.all(store.QUEUE);
    for (const item of items) {
      if (this.paused || this.token() !== token) return;
      if ((item.next_attempt_at || 0) > Date.now()) continue;
      const outcome = await this.send(token, item);
      if (outcome === "stop") return;
    }
    // Items that wait for their own retry: wake up for the first one due.
    const waiting = [
      ...(await store.all(store.QUEUE)).map((item) => item.next_attempt_at || 0),
      ...(await store.all(store.REJECTED)).map((item) => item.next_upload_at || 0),
    ];
    if (waiting.length) this.wakeIn(Math.min(...waiting) - Date.now());
  }

  async send(token, item) {
    const body = submissionBody(item);
    let response;
    try {
      response = await this.post("/api/kiosk/submissions", token, body);
    } catch {
      this.pause(null); // offline, DNS, connection reset: the network, not the sign-up
      return "stop";
    }
    if (STORED.has(response.status)) {
      await store.remove(store.QUEUE, item.id);
      this.resumed();
      this.onChange();
      return "next";
    }
    if (response.status === 401) {
      this.paused = true;
      this.onUnpaired();
      return "stop";
    }
    if (response.status === 429) {
      this.pause(response.headers.get("Retry-After"), { rateLimited: true });
      return "stop";
    }
    this.resumed(); // the server answered: the network works
    if (REFUSED.has(response.status)) {
      const answer = await response.json().catch(() => null);
      const rejected = {
        ...item,
        rejected_at: new Date().toISOString(),
        status: response.status,
        error: answer?.error ?? null,
        payload: body,
      };
      await store.reject(item, rejected);
      this.onChange();
      const uploaded = await this.uploadOne(token, rejected);
      return uploaded === "stop" ? "stop" : "next";
    }
    // 5xx, a proxy's 404 or 403 while a deploy rolls out: this item waits, the others go on.
    const attempts = (item.attempts || 0) + 1;
    const wait = Math.max(itemDelay(attempts), retryAfterMs(response.headers.get("Retry-After")));
    await store.put(store.QUEUE, { ...item, attempts, next_attempt_at: Date.now() + wait,
      last_status: response.status });
    this.onChange();
    return "next";
  }

  // Uploads every refused sign-up still held; false when the queue must stop.
  async uploadRejected(token) {
    for (const item of await store.all(store.REJECTED)) {
      if ((item.next_upload_at || 0) > Date.now()) continue;
      if ((await this.uploadOne(token, item)) === "stop") return false;
    }
    return true;
  }

  async uploadOne(token, item) {
    const body = JSON.stringify({
      id: item.id,
      status: item.status,
      error: item.error ?? null,
      payload: truncated(item.payload ?? submissionBody(item)),
      captured_at: item.captured_at ?? null,
    });
    let response;
    try {
      response = await this.post("/api/kiosk/rejections", token, body);
    } catch {
      this.pause(null);
      return "stop";
    }
    if (STORED.has(response.status)) {
      await store.remove(store.REJECTED, item.id);
      this.onChange();
      return "next";
    }
    if (response.status === 401) {
      this.paused = true;
      this.onUnpaired();
      return "stop";
    }
    if (response.status === 429) {
      this.pause(response.headers.get("Retry-After"), { rateLimited: true });
      return "stop";
    }
    // Anything else: kept and tried again, a little later each time (it never blocks the
    // queue); the heartbeat reports it held meanwhile.
    const attempts = (item.upload_attempts || 0) + 1;
    await store.put(store.REJECTED, { ...item, upload_attempts: attempts,
      next_upload_at: Date.now() + itemDelay(attempts) });
    return "next";
  }
}
