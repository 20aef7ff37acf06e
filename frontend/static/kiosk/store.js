// IndexedDB: the sign-up queue, sign-ups the server refused (kept aside, never dropped), and the
// tablet's settings (device token, last form). One database per tenant host (origin).
const DB_NAME = "kiosk";
const DB_VERSION = 1;
export const QUEUE = "queue";
export const REJECTED = "rejected";
const META = "meta";

let opening = null;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const name of [QUEUE, REJECTED]) {
          if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, { keyPath: "id" });
        }
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
    });
  }
  return opening;
}

// Runs fn(stores...) in one transaction and resolves once it has committed (durably).
async function transact(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const options = mode === "readwrite" ? { durability: "strict" } : undefined;
    const tx = db.transaction(names, mode, options);
    let result;
    Promise.resolve(fn(...names.map((name) => tx.objectStore(name))))
      .then((value) => { result = value; })
      .catch((error) => { try { tx.abort(); } catch { /* already finished */ } reject(error); });
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export const meta = {
  get: (key) => transact([META], "readonly", (store) => promised(store.get(key))),
  set: (key, value) => transact([META], "readwrite", (store) => promised(store.put(value, key))),
  delete: (key) => transact([META], "readwrite", (store) => promised(store.delete(key))),
};

export function put(storeName, item) {
  return transact([storeName], "readwrite", (store) => promised(store.put(item)));
}

export function remove(storeName, id) {
  return transact([storeName], "readwrite", (store) => promised(store.delete(id)));
}

export async function all(storeName) {
  const items = await transact([storeName], "readonly", (store) => promised(store.getAll()));
  return items.sort((a, b) => (a.captured_at < b.captured_at ? -1 : 1));
}

// Moves an item from the queue to the rejected store in one transaction: it is in one or the
// other, never in neither.
export function reject(item, details) {
  return transact([QUEUE, REJECTED], "readwrite", (queue, rejected) =>
    Promise.all([promised(rejected.put({ ...item, ...details })), promised(queue.delete(item.id))]),
  );
}

export async function counts() {
  return transact([QUEUE, REJECTED], "readonly", async (queue, rejected) => {
    const [unsent, held] = await Promise.all([promised(queue.count()), promised(rejected.count())]);
    return { unsent, held };
  });
}
