// Google Cloud Storage connector (Elastic's `google_cloud_storage` service type).
//
// Content, as Elastic's connector builds it: one document per object (current versions) of the
// configured buckets (`*`: every bucket of the project), `_id` = the object's `id`
// (`<bucket>/<name>/<generation>`) and Elastic's fields (`BLOB_ADAPTER`: name, size,
// bucket_name, storage_class, metadata, created_at, last_updated, version …, `url` = the
// object's page in the Cloud console). Contents go along as `_attachment` bytes (Elastic's
// extensions, at most 10 MiB), downloaded with objects.get `alt=media`.
//
// Incremental syncs: Elastic's framework lists everything and skips what the index already
// holds with the same `_timestamp`. A plugin cannot read the index, so the cursor keeps the
// time the last sync started by Cloud Storage's clock, and an incremental sync lists everything
// but sends (and downloads) only objects updated since then; as in Elastic, deletions wait for
// the next full sync.
//
// Authentication is the host's: the form's service account JSON becomes a host-held
// `google_service_account` credential (plugin.toml `[credentials.gcs]`), or the operator
// declares one in config.yml. This plugin never sees the key or a token.
import { defineConnector, fields, log, ConfigError } from "@inlet/sdk";
import { extractable, sizeSkipReason } from "../shared/content/content.js";
import { DEFAULT_ENDPOINT, StorageClient, apiBase } from "./gcs.js";

// Elastic's client.py: RETRY_COUNT (once the form's `retry_count`, removed in Elastic 8.12).
const DEFAULT_RETRY_COUNT = 3;
const CLOUD_STORAGE_BASE_URL = "https://console.cloud.google.com/storage/browser/_details/";
// An incremental sync sends objects updated since the last sync's start minus this much:
// `updated` and the `Date` header come from different Google front ends, whose clocks may
// differ a little; sending an object twice costs one download, missing it costs the document.
export const CLOCK_MARGIN_MS = 60_000;
// The host refuses cursors over 64 KiB (a failed sync).
const CURSOR_BUDGET = 60000;

// ---- configuration --------------------------------------------------------------------------

const configuration = {
  buckets: fields.list("Google Cloud Storage buckets", { order: 1, display: "textarea" }),
  // Never handed to this plugin: the host forms the google_service_account credential from it
  // (plugin.toml) and injects the token. Optional here (required in Elastic) so that a
  // config.yml credential can stand in for it.
  service_account_credentials: fields.textarea("Google Cloud service account JSON", {
    order: 2, sensitive: true, required: false,
    tooltip: "The service account's JSON key. Inlet keeps it: it signs the token requests with it and never hands it to the connector. Leave it empty when config.yml grants a credential instead.",
  }),
  use_text_extraction_service: fields.toggle("Use text extraction service", {
    order: 3, default: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction.",
  }),
  // Elastic's form had it until 8.12 (same key and label); Inlet keeps it so that the retries
  // stay bounded and tunable.
  retry_count: fields.integer("Maximum retries for failed requests", {
    order: 4, default: DEFAULT_RETRY_COUNT, required: false, uiRestrictions: [fields.ADVANCED],
  }),
  // Inlet's addition: Elastic reads the project from the key's `project_id`, which the host
  // keeps from the plugin.
  project_id: fields.string("Google Cloud project ID", {
    order: 5, required: false,
    tooltip: "The project_id of the service account JSON: the project whose buckets `*` lists, billed for Requester Pays buckets (userProject), and named in the documents' console URLs.",
  }),
  // Inlet's addition: emulators and private endpoints (Elastic: the STORAGE_EMULATOR_HOST
  // environment variable, in its tests only). The credential's `hosts` and `grants.http` must
  // name the same origin.
  endpoint: fields.string("Cloud Storage API endpoint", {
    order: 6, default: DEFAULT_ENDPOINT, required: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Origin of the Cloud Storage JSON API (scheme and host). Change it only for an emulator or a private endpoint.",
  }),
};

/** The configuration, checked; every error names its key. */
export function settings(config) {
  const buckets = (config.buckets ?? []).map((b) => String(b).trim()).filter(Boolean);
  if (buckets.length === 0) {
    throw new ConfigError('buckets must name at least one bucket, or be "*" for every bucket of the project');
  }
  const all = buckets.includes("*");
  for (const b of buckets) {
    // Cloud Storage's naming rules: 3–222 characters of lower-case letters, digits, - _ and .
    if (b !== "*" && !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(b)) {
      throw new ConfigError(`buckets: ${JSON.stringify(b)} is not a Cloud Storage bucket name (lower-case letters, digits, '-', '_' and '.')`);
    }
  }
  const retries = config.retry_count ?? DEFAULT_RETRY_COUNT;
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
    throw new ConfigError(`retry_count must be a whole number from 0 to 20 (retries of a throttled or failing request); got ${JSON.stringify(retries)}`);
  }
  const projectId = String(config.project_id ?? "").trim();
  if (projectId && !/^[a-z0-9.:-]+$/i.test(projectId)) {
    throw new ConfigError(`project_id must be a Google Cloud project ID such as my-project-123, not ${JSON.stringify(projectId)}`);
  }
  if (all && !projectId) {
    throw new ConfigError('project_id is required with buckets "*": it names the project whose buckets are listed (the project_id of the service account JSON)');
  }
  const endpoint = config.endpoint || DEFAULT_ENDPOINT;
  apiBase(endpoint); // checks it
  return { buckets: all ? null : [...new Set(buckets)], retries, projectId, endpoint };
}

const clientFor = (s) => new StorageClient({ endpoint: s.endpoint, retries: s.retries, userProject: s.projectId });

// ---- documents ------------------------------------------------------------------------------

/** Python's `urllib.parse.quote(s, safe="'")`: UTF-8, every byte but letters, digits, `_.-~`
 * and `'` percent-encoded (also `/`). */
export const pyQuote = (s) => encodeURIComponent(s).replace(/[!()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The object's page in the Cloud console, as Elastic writes `url`. */
export function consoleUrl(bucket, name, projectId) {
  const project = projectId ? `?project=${projectId}` : "";
  return `${CLOUD_STORAGE_BASE_URL}${bucket}/${pyQuote(name)};tab=live_object${project}`;
}

/** Elastic's document for an object (`prepare_blob_document`), plus `id` = `_id` as its
 * framework writes it. Values are the API's own (`size` and `version` are strings there). */
export function blobDoc(blob, projectId) {
  const v = (k) => blob[k] ?? null;
  return {
    _id: blob.id,
    id: blob.id,
    component_count: v("componentCount"),
    content_encoding: v("contentEncoding"),
    content_language: v("contentLanguage"),
    created_at: v("timeCreated"),
    last_updated: v("updated"),
    metadata: v("metadata"),
    name: v("name"),
    size: v("size"),
    storage_class: v("storageClass"),
    _timestamp: blob.updated ?? undefined,
    type: v("contentType"),
    url: consoleUrl(blob.bucket, blob.name ?? "", projectId),
    version: v("generation"),
    bucket_name: v("bucket"),
  };
}

/** Why an object's content is not downloaded (Elastic's rules), or null to download it. */
export function skipContent(blob) {
  if (!extractable(blob.name)) return "file type is not supported";
  return sizeSkipReason(blob.size);
}

// ---- syncs ----------------------------------------------------------------------------------

/** The buckets to read: the configured ones, or every bucket of the project. */
function bucketList(client, s) {
  if (s.buckets) {
    log.info(`fetching the configured buckets: ${s.buckets.join(", ")}`);
    return s.buckets.map((name) => ({ name, listed: false }));
  }
  log.info(`fetching every bucket of project ${s.projectId} (buckets: *)`);
  return [...client.bucketNames(s.projectId)].map((name) => ({ name, listed: true }));
}

/** Milliseconds of an RFC 3339 timestamp, or NaN. */
const millis = (ts) => (ts == null ? NaN : Date.parse(ts));

/**
 * Documents of every object of every bucket; with `since` (milliseconds) only objects updated
 * at or after it in the buckets of `knownBuckets` (a Set; the others are new since the last
 * sync: all their objects). Sets `cursor.started` from the first listing's `Date` (Cloud
 * Storage's clock) and adds the buckets read to `cursor.buckets`.
 */
function* syncBuckets(s, { since = null, knownBuckets = new Set(), cursor }) {
  const client = clientFor(s);
  const buckets = bucketList(client, s);
  const stats = { objects: 0, sent: 0, downloads: 0, bytes: 0 };
  for (const bucket of buckets) {
    const cutoff = since != null && knownBuckets.has(bucket.name) ? since : null;
    let count = 0;
    let read = true;
    for (const page of client.objectPages(bucket.name)) {
      if (page.refused) {
        skipBucket(bucket, page.refused, client);
        read = false;
        break;
      }
      if (cursor.started == null) cursor.started = serverTime(page.date);
      for (const blob of page.items) {
        count++;
        if (cutoff != null && !(millis(blob.updated) >= cutoff)) continue;
        yield withContent(client, blob, s, stats);
        stats.sent++;
      }
    }
    // Only buckets read count as known to the next incremental sync: one skipped now (403) is
    // then read whole, once it may be.
    if (read) cursor.buckets.push(bucket.name);
    stats.objects += count;
    log.info(`bucket ${bucket.name}: ${count} objects`);
  }
  if (cursor.started == null) cursor.started = new Date().toISOString(); // no bucket was listed
  log.info(`${stats.objects} objects listed, ${stats.sent} sent, ${stats.downloads} downloaded (${stats.bytes} bytes)`);
}

/** A bucket whose listing was refused: Elastic logs a 403 as a warning and goes on (the key may
 * not read every bucket `*` finds); a configured bucket that does not exist is a configuration
 * error; anything else fails the sync. */
function skipBucket(bucket, r, client) {
  if (r.status === 403) {
    log.warn(`permission denied for bucket ${bucket.name} (HTTP 403); skipping it (a full sync removes its documents from the index)`);
    return;
  }
  if (bucket.listed) {
    log.warn(`bucket ${bucket.name} is gone (HTTP 404) since the buckets were listed; skipping it`);
    return;
  }
  throw new ConfigError(`buckets: bucket ${bucket.name} does not exist at ${client.origin} (HTTP 404)`);
}

/** The `Date` header as an ISO timestamp, or the plugin's clock without one. */
function serverTime(date) {
  const t = millis(date);
  return new Date(Number.isNaN(t) ? Date.now() : t).toISOString();
}

/** The object's document, with `_attachment` when Elastic would extract its content. */
function withContent(client, blob, s, stats) {
  const doc = blobDoc(blob, s.projectId);
  const skip = skipContent(blob);
  if (skip) {
    log.debug(`not downloading ${blob.bucket}/${blob.name}: ${skip}`);
    return doc;
  }
  const bytes = client.media(blob.bucket, blob.name, blob.generation);
  if (bytes == null) {
    log.warn(`object ${blob.bucket}/${blob.name} (generation ${blob.generation}) was not found for download (deleted or replaced meanwhile?); indexed without content`);
    return doc;
  }
  stats.downloads++;
  stats.bytes += bytes.length;
  doc._attachment = bytes;
  return doc;
}

/** The cursor within the host's 64 KiB: without room for the bucket names (thousands of
 * buckets under `*`) they are left out, and the next incremental sync sends every object. */
export function fitCursor(cursor) {
  if (JSON.stringify(cursor).length <= CURSOR_BUDGET) return cursor;
  log.warn(`the names of ${cursor.buckets.length} buckets do not fit in a cursor; the next incremental sync sends every object`);
  return { started: cursor.started, buckets: null };
}

/** The cursor of an earlier sync, or null when there is none usable. */
function previousCursor(cursor) {
  if (cursor == null || typeof cursor !== "object" || Number.isNaN(millis(cursor.started))) return null;
  return cursor;
}

export default defineConnector({
  configuration,

  validateConfig(config) {
    settings(config);
    if (config.use_text_extraction_service) {
      log.warn("use_text_extraction_service: Inlet has no text extraction service; file contents are sent as _attachment " +
        "for the ingest pipeline (keep its binary content extraction on), and the 10 MiB file size limit stays");
    }
  },

  // Elastic asks for the project's Cloud Storage service account (projects.serviceAccount.get),
  // which needs a project; here the calls a sync makes first are tried: one page of the
  // project's buckets for `*`, else one object of each configured bucket.
  ping(config) {
    const s = settings(config);
    const client = clientFor(s);
    if (!s.buckets) {
      client.get(client.url("/b", { project: s.projectId, maxResults: 1, fields: "items(name)" }), `listing the buckets of project ${s.projectId}`);
      return;
    }
    for (const name of s.buckets) {
      const page = client.objectPages(name, 1).next().value;
      if (page?.refused) throw page.refused.status === 404 ? new ConfigError(`buckets: bucket ${name} does not exist at ${client.origin} (HTTP 404)`) : client.refusal(page.refused, `listing the objects of bucket ${name}`);
    }
  },

  *getDocs(config) {
    const cursor = { started: null, buckets: [] };
    yield* syncBuckets(settings(config), { cursor });
    this.setCursor(fitCursor(cursor));
  },

  *getDocsIncrementally(config, cursor) {
    const s = settings(config);
    const previous = previousCursor(cursor);
    if (!previous) log.info("no cursor from an earlier sync: every object is sent");
    const next = { started: null, buckets: [] };
    yield* syncBuckets(s, {
      since: previous ? millis(previous.started) - CLOCK_MARGIN_MS : null,
      knownBuckets: new Set(Array.isArray(previous?.buckets) ? previous.buckets : []),
      cursor: next,
    });
    this.setCursor(fitCursor(next));
  },
});
