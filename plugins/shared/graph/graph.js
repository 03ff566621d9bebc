// Microsoft Graph client shared by the connectors that read Graph: `sharepoint_online` and
// `onedrive` (each imports this file; `node sdk/js/build.mjs` bundles it into the component).
//
// What both need, in one place:
// - the base URL (`graph_endpoint`: Microsoft Graph, a national cloud or a test server);
// - GET with Graph's throttling rules: 429/503 and transient 5xx are retried with Retry-After
//   (capped) or an exponential wait, a bounded number of times; transient transport failures
//   likewise; a final refusal becomes an error that says what to fix;
// - collections (`value` + `@odata.nextLink`) and delta feeds (+ `@odata.deltaLink`), one page
//   at a time, so a connector fetches the next page only when the host wants more documents;
// - file contents from the pre-authenticated `@microsoft.graph.downloadUrl` links Graph hands
//   out (on `<tenant>.sharepoint.com` / `<tenant>-my.sharepoint.com`), which need no bearer: the
//   host injects the Graph token into Graph's origin only, never there. An expired link is
//   replaced through Graph's `/content`, whose 302 is followed here (the broker follows none);
// - Elastic's rules for which files' contents are extracted (its framework's Tika extensions and
//   10 MiB limit), re-exported from plugins/shared/content, identical for every connector.
//
// Authentication is the host's (a form credential or a config.yml credential): nothing here
// sets `Authorization`, and no token or secret reaches this code.
import { http, log, AuthError, ConfigError, NetworkError, SourceError } from "@inlet/sdk";

export const DEFAULT_GRAPH = "https://graph.microsoft.com";

// Elastic's rules for which files' contents are extracted (its framework's Tika extensions and
// 10 MiB limit), shared with the other connectors that download files.
export { MAX_DOCUMENT_SIZE, SUPPORTED_EXTENSIONS, extractable, fileExtension, sizeSkipReason } from "../content/content.js";

const MAX_WAIT_SECS = 300;
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
// Transport failures worth another try (a refused connection or a denied grant is not).
const TRANSIENT_CODES = new Set(["connection-terminated", "connection-timeout", "connection-read-timeout",
  "connection-write-timeout", "connection-limit-reached", "HTTP-response-incomplete", "HTTP-response-timeout",
  "destination-unavailable", "DNS-timeout"]);
const NONE = Object.freeze([]);
const JSON_ACCEPT = Object.freeze({ Accept: "application/json" });

export const enc = encodeURIComponent;
/** `k=v&...` with values percent-encoded (Graph's `$` parameter names are sent as they are). */
export const query = (params) => Object.entries(params).map(([k, v]) => `${k}=${enc(v)}`).join("&");
/** `scheme://host[:port]` of a URL, for messages (download links carry a token in the query). */
export const linkOrigin = (url) => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(String(url))?.[0] ?? "?";

/** `<endpoint>/v1.0` from a configured endpoint (scheme and host only); `key` names the field. */
export function graphBase(endpoint, key = "graph_endpoint") {
  const raw = String(endpoint || DEFAULT_GRAPH).trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/?#]+$/.test(raw)) {
    throw new ConfigError(`${key} must be a scheme and host such as ${DEFAULT_GRAPH}, not ${JSON.stringify(endpoint)}`);
  }
  return `${raw}/v1.0`;
}

/** Graph's origin from a `graphBase` URL. */
export const graphOrigin = (base) => base.replace(/\/v1\.0$/, "");

/**
 * Seconds to wait before retrying a throttled or failing response (attempt counts from 0):
 * Retry-After (in seconds) when Graph sends it, else `fallback(attempt)`; capped at 5 minutes.
 */
export function retryDelay(response, attempt, fallback = (a) => 2 ** a) {
  const ra = response?.header("retry-after");
  const secs = ra != null && /^\d+(\.\d+)?$/.test(ra.trim()) ? Number(ra) : fallback(attempt);
  return Math.min(Math.max(secs, 0), MAX_WAIT_SECS);
}

/** Graph's error (`{"error": {"code", "message"}}`) or the start of the body, for messages. */
export function graphMessage(r) {
  try {
    const e = r.json()?.error;
    if (e && typeof e === "object") return `${e.code ?? "error"}: ${e.message ?? ""}`.trim();
  } catch { /* not JSON */ }
  return r.text().slice(0, 200).trim();
}

export class GraphClient {
  /**
   * `base`: Graph's URL with `/v1.0` (graphBase). `maxRetries`: retries of a throttled or failing
   * request. `throttleWait(attempt)`: seconds to wait for a 429/503 without Retry-After (other
   * failures wait 2^attempt s). Subclasses override `refusal` to say what the operator must fix.
   */
  constructor({ base, maxRetries = 5, throttleWait = (a) => 2 ** a }) {
    this.base = base;
    this.maxRetries = maxRetries;
    this.throttleWait = throttleWait;
  }

  /**
   * GET with Graph's throttling rules; returns the Response (2xx), or null for a 404 when
   * `missingOk`, a 403 when `forbiddenOk`. Statuses in `pass` (e.g. a 302) come back as they
   * are. `label` names the request in logs and errors instead of the URL (download URLs carry a
   * token that must not reach the logs).
   */
  get(url, { missingOk = false, forbiddenOk = false, pass = NONE, headers = JSON_ACCEPT, label = url, server = "Graph" } = {}) {
    for (let attempt = 0; ; attempt++) {
      const r = this.tryGet(url, attempt, headers, label);
      if (r == null) continue; // a transient transport failure, already waited for
      if (r.ok || pass.includes(r.status)) return r;
      if (RETRY_STATUSES.has(r.status)) {
        if (attempt >= this.maxRetries) {
          throw new NetworkError(`GET ${label}: ${server} answered HTTP ${r.status} after ${this.maxRetries} retries (${graphMessage(r)}); the sync stops and nothing is deleted`);
        }
        const throttled = r.status === 429 || r.status === 503;
        const wait = retryDelay(r, attempt, throttled ? this.throttleWait : (a) => 2 ** a);
        log.warn(`${server} answered ${r.status} for ${label}; retry ${attempt + 1}/${this.maxRetries} in ${wait}s`);
        http.sleep(wait);
        continue;
      }
      if ((r.status === 404 && missingOk) || (r.status === 403 && forbiddenOk)) return null;
      throw server === "Graph" ? this.refusal(r, label) : new SourceError(`GET ${label}: ${server} answered HTTP ${r.status} (${graphMessage(r)})`);
    }
  }

  /** One GET: the Response, or null after backing off from a transient transport failure. */
  tryGet(url, attempt, headers, label) {
    try {
      return http.get(url, { headers });
    } catch (e) {
      if (!(e instanceof NetworkError) || !TRANSIENT_CODES.has(e.code) || attempt >= this.maxRetries) throw e;
      log.warn(`GET ${label} failed (${e.message}); retry ${attempt + 1}/${this.maxRetries} in ${2 ** attempt}s`);
      http.sleep(2 ** attempt);
      return null;
    }
  }

  /** The error for a final, non-retryable answer from Graph. */
  refusal(r, url) {
    if (r.status === 401 || r.status === 403) {
      return new AuthError(`Graph refused ${url} (HTTP ${r.status}, ${graphMessage(r)})`);
    }
    if (r.status === 410) return new SourceError(`Graph expired a delta link (HTTP 410, ${graphMessage(r)}): run a full sync`);
    return new SourceError(`GET ${url}: HTTP ${r.status} (${graphMessage(r)})`);
  }

  json(url, opts) {
    const r = this.get(url, opts);
    if (r == null) return null;
    const body = r.json();
    if (body == null || typeof body !== "object") throw new SourceError(`GET ${url}: expected a JSON object`);
    return body;
  }

  /** Every object of a collection, following `@odata.nextLink`. */
  *scroll(url, opts) {
    for (let next = url; next;) {
      const page = this.json(next, opts);
      if (page == null) return;
      if (!Array.isArray(page.value)) throw new SourceError(`GET ${next}: no \`value\` list in Graph's answer`);
      yield* page.value;
      next = page["@odata.nextLink"];
    }
  }

  /** A delta feed's pages as `{ items, deltaLink }`; the delta link comes with the last page.
   * `opts` apply to the first request: with `missingOk`, a feed whose first page answers 404
   * yields nothing at all (a later page's 404 is an error). */
  *delta(url, opts) {
    for (let next = url; next;) {
      const page = this.json(next, next === url ? opts : undefined);
      if (page == null) return;
      if (!Array.isArray(page.value)) throw new SourceError(`GET ${next}: no \`value\` list in Graph's delta answer`);
      yield { items: page.value, deltaLink: page["@odata.deltaLink"] ?? null };
      next = page["@odata.nextLink"];
    }
  }

  url(path, params) { return `${this.base}${path}${params ? `?${query(params)}` : ""}`; }

  /**
   * A file's bytes, or null when it is gone (deleted since the delta page was read).
   *
   * Elastic asks Graph's `/drives/{d}/items/{i}/content` (SharePoint) or GETs the download URL
   * with the bearer (OneDrive); `/content` answers with a 302 to the same kind of
   * pre-authenticated URL the delta feed already handed us as `@microsoft.graph.downloadUrl`.
   * Using that link directly saves one Graph call (and throttling budget) per file, and sends no
   * token: the link is its own authorization. It expires (about an hour): if it is refused,
   * Graph's `/content` gives a fresh one.
   */
  download(item) {
    const r = this.fetchFile(item["@microsoft.graph.downloadUrl"], item, [401, 403]);
    if (r == null || r.ok) return r?.body ?? null;
    log.info(`the download link of ${item.name ?? item.id} was refused (HTTP ${r.status}, expired?); asking Graph for a fresh one`);
    return this.downloadViaGraph(item);
  }

  /** Graph's `/content`: a 302 to a fresh download link, which is followed here because the
   * host's broker follows no redirects (so each hop passes the grants again, and the Graph
   * token, bound to Graph's origin, is not sent along). */
  downloadViaGraph(item) {
    const driveId = item.parentReference?.driveId;
    if (!driveId) throw new SourceError(`drive item ${item.id}: no parentReference.driveId in Graph's answer`);
    const url = this.url(`/drives/${enc(driveId)}/items/${enc(item.id)}/content`);
    const r = this.get(url, { missingOk: true, pass: [301, 302, 303, 307, 308, 410], headers: {} });
    if (r == null || r.status === 410) return null;
    if (r.ok) return r.body; // Graph may also serve the bytes itself
    const location = r.header("location");
    if (!location) throw new SourceError(`GET ${url}: HTTP ${r.status} without a Location`);
    const target = /^https?:\/\//i.test(location) ? location : `${graphOrigin(this.base)}${location.startsWith("/") ? "" : "/"}${location}`;
    const f = this.fetchFile(target, item, NONE);
    return f == null ? null : f.body;
  }

  /** GET of a pre-authenticated link: the Response (2xx or a status in `pass`), or null when the
   * file is gone (404, 410). The link itself never reaches logs or errors. */
  fetchFile(link, item, pass) {
    const label = `the content of ${item.name ?? item.id} (${linkOrigin(link)})`;
    try {
      const r = this.get(link, { headers: {}, label, server: "SharePoint", pass: [...pass, 404, 410] });
      return r.status === 404 || r.status === 410 ? null : r;
    } catch (e) {
      if (e instanceof NetworkError && e.code === "HTTP-request-denied") {
        const err = new NetworkError(`${e.message}. File contents come from SharePoint's download links on ${linkOrigin(link)}: ` +
          "grant that origin (https://*.sharepoint.com for Microsoft 365) in this connector's grants.http");
        err.code = e.code;
        throw err;
      }
      throw e;
    }
  }
}
