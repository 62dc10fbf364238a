// The dashboard's data: manifest.json says which files exist and their content hash; each file is
// fetched at most once per content hash and kept in a five-minute client cache (localStorage).
//
// Cache entry key: "retailmart:v1:<file>:<sha256 from the manifest>", value {storedAt, payload}.
// An entry is used only when the manifest still lists the same sha256 for that file AND it is younger
// than CACHE_TTL_MS; otherwise the file is fetched again (with ?v=<sha256> so no stale HTTP cache can
// answer). The manifest itself is always read from the server (cache: "no-store").

export const CACHE_TTL_MS = 5 * 60 * 1000;
const CACHE_PREFIX = "retailmart:v1:";

export class DataError extends Error {
  /** kind: "missing" (HTTP 404 / network), "malformed" (not JSON or wrong shape), "unexported". */
  constructor(kind, file, message) {
    super(message);
    this.kind = kind;
    this.file = file;
  }
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the dashboard still works, without the cache
  }
}

function cacheKey(file, sha) {
  return `${CACHE_PREFIX}${file}:${sha}`;
}

/** Shape every export shares: an object with a rows array (manifest has files instead). */
export function validatePayload(file, payload) {
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) {
    throw new DataError("malformed", file, `${file}: expected a JSON object`);
  }
  if (!Array.isArray(payload.rows)) {
    throw new DataError("malformed", file, `${file}: expected a "rows" list`);
  }
  return payload;
}

export class DataStore {
  constructor({ base = "data/", ttlMs = CACHE_TTL_MS, now = () => Date.now() } = {}) {
    this.base = base;
    this.ttlMs = ttlMs;
    this.now = now;
    this.manifest = null;
    this.memory = new Map(); // file → {sha, payload}
    this.stats = { manifestFetches: 0, fileFetches: 0, cacheHits: 0 };
    this.fetchLog = []; // files fetched from the server, in order (shown in tests and devtools)
  }

  /** Reads manifest.json; returns the files whose hash changed, appeared or disappeared. */
  async loadManifest() {
    this.stats.manifestFetches += 1;
    let response;
    try {
      response = await fetch(`${this.base}manifest.json`, { cache: "no-store" });
    } catch (err) {
      throw new DataError("missing", "manifest.json", `manifest.json: ${err.message}`);
    }
    if (!response.ok) {
      throw new DataError(
        "missing",
        "manifest.json",
        `manifest.json: HTTP ${response.status} — run the pipeline (bash scripts/run.sh) first`,
      );
    }
    let manifest;
    try {
      manifest = JSON.parse(await response.text());
    } catch {
      throw new DataError("malformed", "manifest.json", "manifest.json is not valid JSON");
    }
    if (!manifest || typeof manifest.files !== "object" || manifest.files === null) {
      throw new DataError("malformed", "manifest.json", 'manifest.json has no "files" object');
    }
    const before = this.manifest ? this.manifest.files : {};
    const changed = new Set();
    for (const [file, meta] of Object.entries(manifest.files)) {
      if (!before[file] || before[file].sha256 !== meta.sha256) changed.add(file);
    }
    for (const file of Object.keys(before)) if (!(file in manifest.files)) changed.add(file);
    this.manifest = manifest;
    this.pruneCache();
    return changed;
  }

  files() {
    return this.manifest ? Object.keys(this.manifest.files) : [];
  }

  has(file) {
    return Boolean(this.manifest && this.manifest.files[file]);
  }

  meta(file) {
    return this.manifest ? this.manifest.files[file] || null : null;
  }

  /** The parsed payload of one file; throws DataError. */
  async get(file) {
    const meta = this.meta(file);
    if (!meta) throw new DataError("unexported", file, `${file} is not exported yet`);
    const sha = String(meta.sha256 || "");
    const held = this.memory.get(file);
    if (held && held.sha === sha && this.now() - held.storedAt < this.ttlMs) return held.payload;
    const cached = this.readCache(file, sha);
    if (cached) {
      this.stats.cacheHits += 1;
      this.memory.set(file, { sha, payload: cached.payload, storedAt: cached.storedAt });
      return cached.payload;
    }
    const payload = await this.fetchFile(file, sha);
    const storedAt = this.now();
    this.memory.set(file, { sha, payload, storedAt });
    this.writeCache(file, sha, { storedAt, payload });
    return payload;
  }

  async fetchFile(file, sha) {
    this.stats.fileFetches += 1;
    this.fetchLog.push(file);
    let response;
    try {
      response = await fetch(`${this.base}${file}?v=${encodeURIComponent(sha.slice(0, 16))}`);
    } catch (err) {
      throw new DataError("missing", file, `${file}: ${err.message}`);
    }
    if (!response.ok) {
      throw new DataError("missing", file, `${file} could not be loaded (HTTP ${response.status})`);
    }
    let payload;
    try {
      payload = JSON.parse(await response.text());
    } catch {
      throw new DataError("malformed", file, `${file} is not valid JSON`);
    }
    return validatePayload(file, payload);
  }

  readCache(file, sha) {
    const store = storage();
    if (!store) return null;
    try {
      const raw = store.getItem(cacheKey(file, sha));
      if (!raw) return null;
      const entry = JSON.parse(raw);
      if (typeof entry.storedAt !== "number" || this.now() - entry.storedAt >= this.ttlMs) {
        store.removeItem(cacheKey(file, sha));
        return null;
      }
      validatePayload(file, entry.payload);
      return entry;
    } catch {
      return null;
    }
  }

  writeCache(file, sha, entry) {
    const store = storage();
    if (!store) return;
    try {
      for (const key of this.cacheKeys()) {
        if (key.startsWith(`${CACHE_PREFIX}${file}:`)) store.removeItem(key);
      }
      store.setItem(cacheKey(file, sha), JSON.stringify(entry));
    } catch {
      // quota exceeded or storage disabled: serve without caching
    }
  }

  cacheKeys() {
    const store = storage();
    if (!store) return [];
    const keys = [];
    for (let i = 0; i < store.length; i += 1) {
      const key = store.key(i);
      if (key && key.startsWith(CACHE_PREFIX)) keys.push(key);
    }
    return keys;
  }

  /** Drops expired entries and entries whose hash the manifest no longer lists. */
  pruneCache() {
    const store = storage();
    if (!store) return;
    for (const key of this.cacheKeys()) {
      const rest = key.slice(CACHE_PREFIX.length);
      const cut = rest.lastIndexOf(":");
      const file = rest.slice(0, cut);
      const sha = rest.slice(cut + 1);
      const meta = this.meta(file);
      let expired = !meta || String(meta.sha256) !== sha;
      if (!expired) {
        try {
          expired = this.now() - JSON.parse(store.getItem(key)).storedAt >= this.ttlMs;
        } catch {
          expired = true;
        }
      }
      if (expired) store.removeItem(key);
    }
  }
}
