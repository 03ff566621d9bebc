// Google Cloud Storage JSON API v1 client of the `google_cloud_storage` connector: the few calls
// Elastic's connector makes (buckets.list, objects.list, objects.get with `alt=media`), each
// page fetched only when the connector needs it.
//
// - Retries as Google asks clients to (408, 429 and 5xx, and broken connections: exponential
//   back-off, Retry-After honoured, capped), a bounded number of times; a final refusal becomes
//   an error that says what to fix.
// - Authentication is the host's: a `google_service_account` credential (the form's service
//   account JSON, or the operator's config.yml) signs a JWT grant, fetches the access token and
//   injects `Authorization: Bearer …` into requests to the endpoint. Nothing here sets
//   `Authorization`, and no key or token reaches this code.
import { http, log, AuthError, ConfigError, NetworkError, SourceError } from "@inlet/sdk";

export const DEFAULT_ENDPOINT = "https://storage.googleapis.com";
// objects.list and buckets.list answer at most 1,000 items per page (also their default).
export const PAGE_SIZE = 1000;
// What objects.list returns per object, cut to what the documents use (`fields`, a partial
// response: no ACLs, checksums, links or etags on the wire).
const OBJECT_FIELDS = "nextPageToken,items(id,name,bucket,size,generation,updated,timeCreated,contentType," +
  "contentEncoding,contentLanguage,componentCount,metadata,storageClass)";
const BUCKET_FIELDS = "nextPageToken,items(id,name)";

const MAX_WAIT_SECS = 300;
// Google's guidance for Cloud Storage: retry 408, 429 and 5xx with exponential back-off.
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
// Transport failures worth another try (a refused connection or a denied grant is not).
const TRANSIENT_CODES = new Set(["connection-terminated", "connection-timeout", "connection-read-timeout",
  "connection-write-timeout", "connection-limit-reached", "HTTP-response-incomplete", "HTTP-response-timeout",
  "destination-unavailable", "DNS-timeout"]);
const JSON_ACCEPT = Object.freeze({ Accept: "application/json" });

const enc = encodeURIComponent;
const query = (params) => Object.entries(params).filter(([, v]) => v != null && v !== "").map(([k, v]) => `${k}=${enc(v)}`).join("&");

/** `<endpoint>/storage/v1` from the configured endpoint (scheme, host and port only). */
export function apiBase(endpoint) {
  const raw = String(endpoint || DEFAULT_ENDPOINT).trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/?#@\s]+$/.test(raw)) {
    throw new ConfigError(`endpoint must be a scheme and host such as ${DEFAULT_ENDPOINT} (or http://127.0.0.1:4443 for an emulator), not ${JSON.stringify(endpoint)}`);
  }
  return `${raw}/storage/v1`;
}

/**
 * Seconds to wait before retry number `attempt` (from 0) of a throttled or failing response:
 * Retry-After (seconds or an HTTP date) when sent, else Elastic's back-off (2, 4, 8 … s);
 * capped at 5 minutes.
 */
export function retryDelay(response, attempt, now = Date.now()) {
  const ra = response?.header("retry-after")?.trim();
  let secs = 2 ** (attempt + 1);
  if (ra && /^\d+(\.\d+)?$/.test(ra)) secs = Number(ra);
  else if (ra && !Number.isNaN(Date.parse(ra))) secs = Math.ceil((Date.parse(ra) - now) / 1000);
  return Math.min(Math.max(secs, 0), MAX_WAIT_SECS);
}

/** Google's error (`{"error": {"code", "message", "errors": [{"reason"}]}}`) or the start of
 * the body, for messages. */
export function googleMessage(r) {
  try {
    const e = r.json()?.error;
    if (e && typeof e === "object") {
      const reason = Array.isArray(e.errors) ? e.errors[0]?.reason : null;
      return [reason, e.message].filter(Boolean).join(": ") || `HTTP ${r.status}`;
    }
  } catch { /* not JSON */ }
  return r.text().slice(0, 200).trim() || `HTTP ${r.status}`;
}

export class StorageClient {
  /**
   * `endpoint`: the API's origin (Google's, or an emulator's). `retries`: retries of a throttled
   * or failing request. `userProject`: sent as `userProject` on every call, as Elastic sends
   * the key's project (billing for Requester Pays buckets); omitted when empty.
   */
  constructor({ endpoint, retries = 3, userProject = null }) {
    this.base = apiBase(endpoint);
    this.origin = this.base.replace(/\/storage\/v1$/, "");
    this.retries = retries;
    this.userProject = userProject || null;
  }

  url(path, params = {}) {
    const q = query({ ...params, userProject: this.userProject });
    return `${this.base}${path}${q ? `?${q}` : ""}`;
  }

  /**
   * GET with Google's retry rules: the Response when it is 2xx or its status is in `pass`;
   * otherwise, after the retries, an error saying what to fix. `what` names the request in
   * logs and errors.
   */
  get(url, what, { pass = [], headers = JSON_ACCEPT } = {}) {
    for (let attempt = 0; ; attempt++) {
      const r = this.tryGet(url, attempt, headers, what);
      if (r == null) continue; // a transient transport failure, already waited for
      if (r.ok || pass.includes(r.status)) return r;
      if (RETRY_STATUSES.has(r.status)) {
        if (attempt >= this.retries) {
          throw new NetworkError(`${what}: Cloud Storage answered HTTP ${r.status} after ${this.retries} retries (${googleMessage(r)}); the sync stops and nothing is deleted`);
        }
        const wait = retryDelay(r, attempt);
        log.warn(`Cloud Storage answered ${r.status} to ${what}; retry ${attempt + 1}/${this.retries} in ${wait}s`);
        http.sleep(wait);
        continue;
      }
      throw this.refusal(r, what);
    }
  }

  /** One GET: the Response, or null after backing off from a transient transport failure. */
  tryGet(url, attempt, headers, what) {
    try {
      return http.get(url, { headers });
    } catch (e) {
      if (e instanceof NetworkError && e.code === "HTTP-request-denied") {
        const err = new NetworkError(`${e.message}. Grant ${this.origin} in this connector's grants.http`);
        err.code = e.code;
        throw err;
      }
      if (!(e instanceof NetworkError) || !TRANSIENT_CODES.has(e.code) || attempt >= this.retries) throw e;
      const wait = 2 ** (attempt + 1);
      log.warn(`${what} failed (${e.message}); retry ${attempt + 1}/${this.retries} in ${wait}s`);
      http.sleep(wait);
      return null;
    }
  }

  /** The error for a final, non-retryable answer. */
  refusal(r, what) {
    const msg = googleMessage(r);
    if (r.status === 401) {
      return new AuthError(`${what}: Cloud Storage refused the credentials (HTTP 401, ${msg}): fill in the service account JSON ` +
        `(service_account_credentials) and grant https://oauth2.googleapis.com and ${this.origin} in this connector's grants.http, ` +
        `or declare a google_service_account credential for ${this.origin} in config.yml (credentials:) and list it in grants.credentials`);
    }
    if (r.status === 403) {
      return new AuthError(`${what}: Cloud Storage denied access (HTTP 403, ${msg}): the service account needs the Storage Object Viewer role ` +
        "(storage.objects.list, storage.objects.get; storage.buckets.list for buckets: *)");
    }
    return new SourceError(`${what}: Cloud Storage answered HTTP ${r.status} (${msg})`);
  }

  json(url, what, opts) {
    const r = this.get(url, what, opts);
    if (!r.ok) return { response: r, body: null };
    const body = r.json();
    if (body == null || typeof body !== "object") throw new SourceError(`${what}: expected a JSON object from Cloud Storage`);
    return { response: r, body };
  }

  /** The names of the project's buckets (buckets.list, every page). */
  *bucketNames(project) {
    let pageToken = null;
    do {
      const url = this.url("/b", { project, maxResults: PAGE_SIZE, pageToken, fields: BUCKET_FIELDS });
      const { body } = this.json(url, `listing the buckets of project ${project}`);
      for (const b of body.items ?? []) {
        if (b?.name) yield b.name;
      }
      pageToken = body.nextPageToken || null;
    } while (pageToken);
  }

  /**
   * The pages of a bucket's objects (objects.list, current versions), as `{ items, date }`
   * (`date`: the answer's `Date` header). A 403 or 404 on the first page yields `{ refused }`
   * (the Response) and ends: whether to skip the bucket is the caller's choice. Later pages
   * must succeed: the listing had access a moment ago.
   */
  *objectPages(bucket, maxResults = PAGE_SIZE) {
    let pageToken = null;
    let first = true;
    do {
      const url = this.url(`/b/${enc(bucket)}/o`, { maxResults, pageToken, fields: OBJECT_FIELDS });
      const { response, body } = this.json(url, `listing the objects of bucket ${bucket}`, { pass: first ? [403, 404] : [] });
      if (body == null) {
        yield { refused: response };
        return;
      }
      if (body.items != null && !Array.isArray(body.items)) throw new SourceError(`listing the objects of bucket ${bucket}: \`items\` is not a list`);
      yield { items: body.items ?? [], date: response.header("date") ?? null };
      pageToken = body.nextPageToken || null;
      first = false;
    } while (pageToken);
  }

  /** An object's bytes (objects.get, `alt=media`) at `generation`, or null when that
   * generation is gone (deleted or replaced since it was listed). */
  media(bucket, name, generation) {
    const url = this.url(`/b/${enc(bucket)}/o/${enc(name)}`, { alt: "media", generation });
    const r = this.get(url, `downloading ${bucket}/${name}`, { pass: [404], headers: {} });
    return r.status === 404 ? null : r.body;
  }
}
