// SharePoint Online connector (Elastic's `sharepoint_online` service type) over Microsoft Graph.
//
// Content, in Elastic's order and with Elastic's `_id` scheme: site collections (`_id` = webUrl),
// sites, their document libraries (drives), every drive item (from the drive's delta feed, so the
// full sync leaves a delta link per drive in the cursor), the sites' lists and list items
// (`<list id>-<item id>`), and site pages (`<site id>-site_page-<page id>`).
//
// Files' contents go along as `_attachment` bytes (Elastic's extensions and size limit), fetched
// from each file's pre-authenticated `@microsoft.graph.downloadUrl` on `<tenant>.sharepoint.com`.
// Elastic's advanced rule `{"skipExtractingDriveItemsOlderThan": <days>}` keeps older files'
// contents out (their metadata is still indexed).
//
// Authentication is the host's, from either of two places: the form (Elastic's `secret_value`,
// or its `certificate` and `private_key`), which plugin.toml's `[credentials.*]` turn into
// host-held OAuth2 credentials, or credentials the operator declares in config.yml and grants.
// Either way the host fetches, caches and injects the bearer tokens; this plugin never sees the
// secret or the key (the host withholds them) or a token (see README.md).
//
// Document-level security (dls.js): `_allow_access_control` from SharePoint role assignments
// (the SharePoint REST API, which takes certificate tokens only) and Graph drive item
// permissions, and the access-control sync's identity documents, as Elastic's connector.
import { defineConnector, fields, log, Document, AuthError, ConfigError, SourceError } from "@inlet/sdk";
import { ACCESS_CONTROL, AccessControl, accessControlDocs } from "./dls.js";
// The Graph client (throttling, paging, delta feeds, downloads) is shared with `onedrive`.
import {
  DEFAULT_GRAPH, MAX_DOCUMENT_SIZE, SUPPORTED_EXTENSIONS, GraphClient, enc, extractable, graphBase as graphBaseOf,
  graphMessage, graphOrigin, retryDelay, sizeSkipReason,
} from "../shared/graph/graph.js";

export { MAX_DOCUMENT_SIZE, SUPPORTED_EXTENSIONS, retryDelay };

const WILDCARD = "*";
const SECRET_AUTH = "secret";
const CERTIFICATE_AUTH = "certificate";
// Elastic's $select lists, so documents carry the same Graph fields.
const DRIVE_SELECT = "createdDateTime,description,id,lastModifiedDateTime,name,webUrl,driveType,createdBy,lastModifiedBy,owner";
const DRIVE_ITEM_SELECT = "id,content.downloadUrl,lastModifiedDateTime,lastModifiedBy,root,deleted,file,folder,package,name,webUrl,createdBy,createdDateTime,size,parentReference";
const LIST_SELECT = "createdDateTime,id,lastModifiedDateTime,name,webUrl,displayName,createdBy,lastModifiedBy";
const LIST_ITEM_SELECT = "createdDateTime,id,lastModifiedDateTime,weburl,createdBy,lastModifiedBy,contentType";
const LIST_ITEM_EXPAND = "fields($select=Title,Link,Attachments,LinkTitle,LinkFilename,Description,Conversation)";
// Lists and content types Elastic skips: system lists, and items that 404 on every follow-up.
const EXCLUDED_LISTS = new Set(["SharePointHomeCacheList"]);
const EXCLUDED_CONTENT_TYPES = new Set(["Web Template Extensions", "Client Side Component Manifests"]);
const EXCLUDED_PATH_SEGMENTS = ["/contentstorage/"];
// Elastic's only advanced rule (sharepoint_online/validator.py): drive items last modified more
// than this many days ago are indexed without their content.
export const SKIP_OLDER_THAN = "skipExtractingDriveItemsOlderThan";
const DAY_MS = 86400000;

// Throttling: Graph answers 429 (and 503 under load) with Retry-After; Elastic retries 5 times.
const MAX_RETRIES = 5;

// ---- configuration --------------------------------------------------------------------------

const dlsOnly = { use_document_level_security: true };
const configuration = {
  tenant_id: fields.string("Tenant ID", { order: 1 }),
  tenant_name: fields.string("Tenant name", { order: 2 }),
  client_id: fields.string("Client ID", { order: 3 }),
  // Elastic's orders 4 to 7. The secret and the key are never handed to this plugin: the host
  // forms the credentials from them (plugin.toml) and injects the tokens. Optional here (required
  // in Elastic) so that config.yml credentials can stand in for them.
  auth_method: fields.dropdown("Authentication Method", [
    { label: "Client Secret", value: SECRET_AUTH }, { label: "Certificate", value: CERTIFICATE_AUTH },
  ], { order: 4, default: SECRET_AUTH }),
  secret_value: fields.string("Secret value", {
    order: 5, sensitive: true, required: false, dependsOn: { auth_method: SECRET_AUTH },
    tooltip: "The app registration's client secret. Inlet keeps it: it fetches Graph tokens with it and never hands it to the connector. Leave it empty when config.yml grants a credential instead.",
  }),
  certificate: fields.textarea("Content of certificate file", {
    order: 6, sensitive: true, required: false, dependsOn: { auth_method: CERTIFICATE_AUTH },
    tooltip: "The app registration's certificate (PEM). Inlet keeps it with the key and signs Entra ID client assertions itself; the connector never sees either.",
  }),
  private_key: fields.textarea("Content of private key file", {
    order: 7, sensitive: true, required: false, dependsOn: { auth_method: CERTIFICATE_AUTH },
    tooltip: "The certificate's RSA private key (PEM). Inlet keeps it and never hands it to the connector.",
  }),
  site_collections: fields.list("Comma-separated list of sites", {
    order: 8, display: "textarea", default: WILDCARD,
    tooltip: "A comma-separated list of sites to ingest data from. If enumerating all sites, use * to include all available sites, or specify a list of site names. Otherwise, specify a list of site paths.",
  }),
  enumerate_all_sites: fields.toggle("Enumerate all sites?", {
    order: 9, default: true,
    tooltip: "If enabled, sites will be fetched in bulk, then filtered down to the configured list of sites. This is efficient when syncing many sites. If disabled, each configured site will be fetched with an individual request. This is efficient when syncing fewer sites.",
  }),
  fetch_subsites: fields.toggle("Fetch sub-sites of configured sites?", {
    order: 10, default: true, dependsOn: { enumerate_all_sites: false },
    tooltip: "Whether subsites of the configured site(s) should be automatically fetched.",
  }),
  use_text_extraction_service: fields.toggle("Use text extraction service", {
    order: 11, default: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction.",
  }),
  use_document_level_security: fields.toggle("Enable document level security", {
    order: 12, default: false,
    tooltip: "Document level security ensures identities and permissions set in Sharepoint Online are maintained in Elasticsearch. This enables you to restrict and personalize read-access users and groups have to documents in this index. Access control syncs ensure this metadata is kept up to date in your Elasticsearch documents.",
  }),
  fetch_drive_item_permissions: fields.toggle("Fetch drive item permissions", {
    order: 13, default: true, dependsOn: dlsOnly,
    tooltip: "Enable this option to fetch drive item specific permissions. This setting can increase sync time.",
  }),
  fetch_unique_page_permissions: fields.toggle("Fetch unique page permissions", {
    order: 14, default: true, dependsOn: dlsOnly,
    tooltip: "Enable this option to fetch unique page permissions. This setting can increase sync time. If this setting is disabled a page will inherit permissions from its parent site.",
  }),
  fetch_unique_list_permissions: fields.toggle("Fetch unique list permissions", {
    order: 15, default: true, dependsOn: dlsOnly,
    tooltip: "Enable this option to fetch unique list permissions. This setting can increase sync time. If this setting is disabled a list will inherit permissions from its parent site.",
  }),
  fetch_unique_list_item_permissions: fields.toggle("Fetch unique list item permissions", {
    order: 16, default: true, dependsOn: dlsOnly,
    tooltip: "Enable this option to fetch unique list item permissions. This setting can increase sync time. If this setting is disabled a list item will inherit permissions from its parent site.",
  }),
  // Inlet's addition: national clouds (graph.microsoft.us, microsoftgraph.chinacloudapi.cn) and
  // test servers. The credential's `hosts` and `grants.http` must name the same origin.
  graph_endpoint: fields.string("Microsoft Graph endpoint", {
    order: 17, default: DEFAULT_GRAPH, required: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Base URL of Microsoft Graph (scheme and host). Change it only for national clouds.",
  }),
};

const graphBase = (config) => graphBaseOf(config.graph_endpoint);

function siteNames(config) {
  const names = (config.site_collections ?? []).map((s) => String(s).trim()).filter(Boolean);
  if (names.length === 0) throw new ConfigError("site_collections: list at least one site, or * for all sites");
  return names;
}

// ---- Graph client ---------------------------------------------------------------------------

class Graph extends GraphClient {
  constructor(config) {
    super({ base: graphBase(config), maxRetries: MAX_RETRIES });
  }

  /** The error for a final, non-retryable answer, saying what to fix. */
  refusal(r, url) {
    if (r.status === 401) {
      return new AuthError(`Graph refused the request (HTTP 401, ${graphMessage(r)}): fill in the Secret value (secret_value) and grant ` +
        `https://graph.microsoft.com and https://login.microsoftonline.com in this connector's grants.http, or declare an oauth2_client_credentials ` +
        `credential for ${graphOrigin(this.base)} in config.yml (credentials:) and list it in this connector's grants.credentials`);
    }
    if (r.status === 403) {
      return new AuthError(`Graph denied ${url} (HTTP 403, ${graphMessage(r)}): the app registration needs the Sites.Read.All application permission`);
    }
    return super.refusal(r, url);
  }

  siteCollections() {
    const url = this.url("/sites", { $filter: "siteCollection/root ne null", $select: "siteCollection,webUrl" });
    const all = [...this.scroll(url, { forbiddenOk: true })];
    if (all.length) return all;
    // Without Sites.Read.All Graph refuses the filter: the tenant's root site is all we can see.
    log.warn("cannot list site collections (Sites.Read.All missing?); syncing the tenant root site only");
    return [this.json(this.url("/sites/root"))];
  }

  /** Sites of a site collection, as Elastic selects them from `site_collections`. */
  *sites(hostname, config) {
    const wanted = siteNames(config);
    if (wanted.includes(WILDCARD) || config.enumerate_all_sites) {
      for (const site of this.scroll(this.url(`/sites/${enc(hostname)}/sites`, { search: "*" }))) {
        if (wanted.includes(WILDCARD) || wanted.includes(site.name)) yield site;
      }
      return;
    }
    for (const path of wanted) {
      const byPath = `/sites/${enc(hostname)}:/sites/${path.split("/").map(enc).join("/")}`;
      const site = this.json(this.url(byPath, config.fetch_subsites ? { expand: "sites" } : null), { missingOk: true });
      if (site == null) {
        log.warn(`site ${path} was not found on ${hostname}; skipped`);
        continue;
      }
      yield* config.fetch_subsites ? this.withSubsites(site) : [site];
    }
  }

  *withSubsites(site) {
    const hasSubsites = Array.isArray(site.sites) && site.sites.length > 0;
    delete site.sites;
    delete site["sites@odata.context"];
    yield site;
    if (!hasSubsites) return;
    for (const sub of this.scroll(this.url(`/sites/${enc(site.id)}/sites`, { expand: "sites" }))) yield* this.withSubsites(sub);
  }

  drives(siteId) { return this.scroll(this.url(`/sites/${enc(siteId)}/drives`, { $select: DRIVE_SELECT })); }
  deltaUrl(driveId) { return this.url(`/drives/${enc(driveId)}/root/delta`, { $select: DRIVE_ITEM_SELECT }); }
  lists(siteId) { return this.scroll(this.url(`/sites/${enc(siteId)}/lists`, { $select: LIST_SELECT })); }
  listItems(siteId, listId) {
    return this.scroll(this.url(`/sites/${enc(siteId)}/lists/${enc(listId)}/items`, { $select: LIST_ITEM_SELECT, $expand: LIST_ITEM_EXPAND }));
  }
  pages(siteId) { return this.scroll(this.url(`/sites/${enc(siteId)}/pages`), { missingOk: true }); }
}

// ---- documents ------------------------------------------------------------------------------

const excluded = (obj) => EXCLUDED_PATH_SEGMENTS.some((seg) => String(obj.webUrl ?? "").includes(seg));

// Graph's objects as they are (Elastic indexes them whole), plus `_id`, `object_type`,
// `_timestamp`, and Elastic-like `title` and `url` for search and display. `id` is the document
// id, as in Elastic's indexes (its framework overwrites `id` with `_id`).
function doc(obj, id, objectType, title) {
  const out = { ...obj, _id: id, id, object_type: objectType, title: title ?? obj.name ?? null, url: obj.webUrl ?? null };
  if (obj.lastModifiedDateTime) out._timestamp = obj.lastModifiedDateTime;
  delete out["@odata.context"];
  delete out["@odata.type"];
  return out;
}

export const siteCollectionDoc = (sc) => doc(sc, sc.webUrl, "site_collection", sc.siteCollection?.hostname);
export const siteDoc = (site) => doc(site, site.id, "site", site.displayName ?? site.name);
export const driveDoc = (drive) => doc(drive, drive.id, "site_drive");
export const listDoc = (list) => doc(list, list.id, "site_list", list.displayName ?? list.name);
export const listItemDoc = (listId, item) => doc(item, `${listId}-${item.id}`, "list_item", item.fields?.Title ?? null);
export const pageDoc = (siteId, page) => doc(page, `${siteId}-site_page-${page.id}`, "site_page", page.title ?? page.name);

const OLD_PREFIX = "last modified before";

/** Why a drive item's content is not downloaded (Elastic's rules), or null to download it. A
 * missing `size` counts as empty, which Elastic does not download either. `cutoff` (ms since the
 * epoch, or null) is the advanced rule's: files last modified before it keep their metadata only. */
export function skipContent(item, cutoff = null) {
  if (item.deleted || item.folder || !item.file) return "not a file";
  if (!item["@microsoft.graph.downloadUrl"]) return "no @microsoft.graph.downloadUrl";
  if (!extractable(item.name)) return "file type is not supported";
  if (cutoff != null) {
    // A file whose age cannot be told is not downloaded under the rule, as in Elastic (which
    // skips drive items without lastModifiedDateTime).
    const modified = Date.parse(item.lastModifiedDateTime ?? "");
    if (Number.isNaN(modified)) return "no valid lastModifiedDateTime";
    if (modified < cutoff) return `${OLD_PREFIX} ${new Date(cutoff).toISOString()} (${SKIP_OLDER_THAN})`;
  }
  return sizeSkipReason(item.size);
}

/** A drive item from a delta page: an upsert, or a delete for Graph's `deleted` facet. */
export function driveItemDoc(item) {
  if (item.deleted) return Document.delete(item.id);
  const d = doc(item, item.id, "drive_item");
  // A pre-authenticated, short-lived download link: anyone holding it can read the file, so it
  // stays out of the index.
  delete d["@microsoft.graph.downloadUrl"];
  return d;
}

// ---- syncs ----------------------------------------------------------------------------------

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** Elastic's cursor shape: the delta link per drive, and when the sync started. */
function newCursor() {
  return { site_drives: {}, cursor_timestamp: nowIso() };
}

/** A drive item's document with the file's bytes as `_attachment` when Elastic would extract
 * them. A file gone since its delta page was read is indexed without content (its tombstone
 * comes with the next delta). Under DLS, readers first: an item nobody may read is not
 * downloaded. */
function withContent(graph, item, stats, cutoff, dls) {
  let d = driveItemDoc(item);
  if (item.deleted) return d;
  if (dls) {
    d = dls.guard(d, dls.ac.driveItem(dls.site, item, dls.acl));
    if (d == null || d instanceof Document) return d; // nobody may read it
  }
  const skip = skipContent(item, cutoff);
  if (skip) {
    // Debug, not Elastic's warning per file: with the rule on, most files of a large tenant are
    // old, and the per-drive summary below counts them.
    if (skip.startsWith(OLD_PREFIX)) stats.old++;
    if (item.file) log.debug(`not downloading ${item.name}: ${skip}`);
    return d;
  }
  const bytes = graph.download(item);
  if (bytes == null) {
    log.warn(`file ${item.name} (${item.id}) was not found for download (deleted meanwhile?); indexed without content`);
    return d;
  }
  stats.files++;
  stats.bytes += bytes.length;
  return { ...d, _attachment: bytes };
}

/** Every drive item of a drive's delta feed (from `url`), files with their content; records
 * the new delta link. Incremental syncs come here too, so changed files are downloaded again. */
function* driveItems(graph, drive, url, cursor, cutoff, dls) {
  let n = 0;
  const stats = { files: 0, bytes: 0, old: 0 };
  for (const page of graph.delta(url)) {
    for (const item of page.items) {
      n++;
      const d = withContent(graph, item, stats, cutoff, dls);
      if (d != null) yield d;
    }
    if (page.deltaLink) cursor.site_drives[drive.id] = page.deltaLink;
  }
  const old = cutoff == null ? "" : `, ${stats.old} older than ${SKIP_OLDER_THAN} indexed without content`;
  log.info(`drive ${drive.name ?? drive.id}: ${n} item changes, ${stats.files} files downloaded (${stats.bytes} bytes)${old}`);
}

/** `{ collection }` for each site collection, then `{ site }` for each of its sites (once). */
function* walkSites(graph, config) {
  const seen = new Set();
  for (const sc of graph.siteCollections()) {
    yield { collection: sc };
    const hostname = sc.siteCollection?.hostname;
    if (!hostname) throw new SourceError(`site collection ${sc.webUrl}: no siteCollection.hostname in Graph's answer`);
    for (const site of graph.sites(hostname, config)) {
      if (excluded(site) || seen.has(site.id)) continue;
      seen.add(site.id);
      yield { site };
    }
  }
}

/** Lists, list items and pages of a site; `since` keeps only what changed at or after it.
 * Under DLS each carries its readers (asked only for what is indexed). */
function* siteContent(graph, site, since, dls) {
  const fresh = (o) => since == null || String(o.lastModifiedDateTime ?? "") >= since;
  for (const list of graph.lists(site.id)) {
    if (EXCLUDED_LISTS.has(list.name)) continue;
    if (fresh(list)) yield* withReaders(dls, listDoc(list), () => dls.ac.list(site, list, dls.acl));
    for (const item of graph.listItems(site.id, list.id)) {
      if (EXCLUDED_CONTENT_TYPES.has(item.contentType?.name)) continue;
      if (fresh(item)) yield* withReaders(dls, listItemDoc(list.id, item), () => dls.ac.listItem(site, list, item, dls.acl));
    }
  }
  for (const page of graph.pages(site.id)) {
    if (fresh(page)) yield* withReaders(dls, pageDoc(site.id, page), () => dls.ac.page(site, page, dls.acl));
  }
}

// ---- document-level security ------------------------------------------------------------------

const dlsEnabled = (config) => config.use_document_level_security === true;

/**
 * Per sync: the access-control reader (dls.js) and how documents get their readers. An empty
 * list of readers would make a document public under Elastic's DLS query (a document without
 * `_allow_access_control` values matches everyone), so a document nobody may read is left out
 * of a full sync and deleted by an incremental one, where Elastic would index it for all.
 */
class Dls {
  constructor(graph, config, incremental) {
    this.ac = new AccessControl(graph, config, MAX_RETRIES);
    this.incremental = incremental;
    this.site = null;
    this.acl = null;
    this.hidden = 0;
  }

  /** Reads a site's readers and administrators; later documents are the site's. */
  enter(site) {
    this.site = site;
    this.acl = this.ac.site(site);
  }

  /** `doc` with `_allow_access_control`, or, when nobody may read it, null (full) or its
   * deletion (incremental). */
  guard(doc, readers) {
    if (readers.length) return { ...doc, [ACCESS_CONTROL]: readers };
    this.hidden++;
    log.debug(`${doc.object_type} ${doc._id}: no identity may read it; not indexed`);
    return this.incremental ? Document.delete(doc._id) : null;
  }

  done() {
    if (this.hidden) log.info(`document-level security: ${this.hidden} documents nobody may read were left out (they would be public with an empty _allow_access_control)`);
  }
}

/** `[doc]` as it is without DLS; under DLS with `readers()`, or `[]` / its deletion when nobody
 * may read it (readers are asked for only under DLS). */
function withReaders(dls, doc, readers) {
  if (!dls) return [doc];
  const d = dls.guard(doc, readers());
  return d == null ? [] : [d];
}

// ---- advanced rules ---------------------------------------------------------------------------

const kindOf = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? JSON.stringify(v) : String(v));

/**
 * What is wrong with the advanced rules, as messages ([] when they are fine or absent).
 *
 * Elastic's schema: an object whose only (optional) property is `skipExtractingDriveItemsOlderThan`,
 * an integer (`additionalProperties: false`); `{}` is valid and sets no rule. One deliberate
 * difference: a negative number is refused here. Elastic accepts it, and its cutoff then lies in
 * the future, so no file's content is downloaded at all: almost certainly a typo, and one that
 * would silently empty every file's content.
 */
export function advancedRuleErrors(rules) {
  if (rules == null) return [];
  const example = `advanced rules are a JSON object such as {"${SKIP_OLDER_THAN}": 30} (days)`;
  if (typeof rules !== "object" || Array.isArray(rules)) return [`${example}; got ${kindOf(rules)}`];
  const errors = [];
  const unknown = Object.keys(rules).filter((k) => k !== SKIP_OLDER_THAN);
  if (unknown.length) {
    errors.push(`unknown advanced rule ${unknown.map((k) => JSON.stringify(k)).join(", ")}: the only rule is "${SKIP_OLDER_THAN}" (days)`);
  }
  if (SKIP_OLDER_THAN in rules) {
    const days = rules[SKIP_OLDER_THAN];
    if (typeof days !== "number" || !Number.isInteger(days)) {
      errors.push(`"${SKIP_OLDER_THAN}" must be a whole number of days; got ${kindOf(days)}`);
    } else if (days < 0) {
      errors.push(`"${SKIP_OLDER_THAN}" must be 0 or more days (0 turns the rule off); got ${days}`);
    }
  }
  return errors;
}

/**
 * The rule's cutoff (ms since the epoch) for this sync, or null when no content is skipped for
 * age. Invalid rules fail the sync before any request: the host validates advanced rules only
 * when Kibana edits them, not for `sync_rules.advanced` in config.yml. 0 days means no rule, as
 * in Elastic (which tests the number's truthiness). Elastic compares each item with the current
 * time; one cutoff per sync gives every file of the sync the same threshold.
 */
export function contentCutoff(rules, now = Date.now()) {
  const errors = advancedRuleErrors(rules);
  if (errors.length) throw new ConfigError(`advanced sync rules: ${errors.join("; ")}`);
  const days = rules?.[SKIP_OLDER_THAN];
  if (!days) return null;
  log.info(`advanced rule: files last modified more than ${days} days ago are indexed without their content`);
  return now - days * DAY_MS;
}

function* fullSync(config, rules, ctx) {
  const cutoff = contentCutoff(rules);
  const graph = new Graph(config);
  const cursor = newCursor();
  const dls = dlsEnabled(config) ? new Dls(graph, config, false) : null;
  for (const step of walkSites(graph, config)) {
    // Site collections carry no readers, as in Elastic: their document is the tenant's host name.
    if (step.collection) { yield siteCollectionDoc(step.collection); continue; }
    const { site } = step;
    log.info(`site ${site.webUrl}`);
    dls?.enter(site);
    yield* withReaders(dls, siteDoc(site), () => dls.acl.readers);
    for (const drive of graph.drives(site.id)) {
      yield* withReaders(dls, driveDoc(drive), () => dls.acl.readers);
      yield* driveItems(graph, drive, graph.deltaUrl(drive.id), cursor, cutoff, dls);
    }
    yield* siteContent(graph, site, null, dls);
  }
  dls?.done();
  ctx.setCursor(cursor);
}

function* incrementalSync(config, previous, rules, ctx) {
  const cutoff = contentCutoff(rules);
  if (!previous || typeof previous !== "object" || typeof previous.site_drives !== "object") {
    throw new SourceError("Unable to start incremental sync. Please perform a full sync to re-enable incremental syncs.");
  }
  const graph = new Graph(config);
  const since = previous.cursor_timestamp ?? null;
  // Links of drives not seen this time are kept: a drive that is back later resumes from them.
  const cursor = { ...newCursor(), site_drives: { ...previous.site_drives } };
  const dls = dlsEnabled(config) ? new Dls(graph, config, true) : null;
  for (const step of walkSites(graph, config)) {
    if (step.collection) { yield siteCollectionDoc(step.collection); continue; }
    const { site } = step;
    dls?.enter(site);
    if (since == null || String(site.lastModifiedDateTime ?? "") >= since) yield* withReaders(dls, siteDoc(site), () => dls.acl.readers);
    for (const drive of graph.drives(site.id)) {
      // Editing an item does not touch the drive's lastModifiedDateTime: always re-index drives.
      yield* withReaders(dls, driveDoc(drive), () => dls.acl.readers);
      // A drive without a link is new since the last sync: its whole delta feed is the change.
      const link = previous.site_drives[drive.id] ?? graph.deltaUrl(drive.id);
      yield* driveItems(graph, drive, link, cursor, cutoff, dls);
    }
    yield* siteContent(graph, site, since, dls);
  }
  dls?.done();
  ctx.setCursor(cursor);
}

export default defineConnector({
  configuration,

  validateConfig(config) {
    graphBase(config);
    siteNames(config);
    const auth = config.auth_method ?? SECRET_AUTH;
    if (auth !== SECRET_AUTH && auth !== CERTIFICATE_AUTH) {
      throw new ConfigError(`auth_method: ${JSON.stringify(auth)} is not one of "${SECRET_AUTH}", "${CERTIFICATE_AUTH}"`);
    }
    // Elastic also reads role assignments with a client secret, through Azure ACS tokens, which
    // Microsoft has retired; the REST API refuses Entra ID tokens obtained with a secret.
    if (dlsEnabled(config) && auth !== CERTIFICATE_AUTH) {
      throw new ConfigError(`use_document_level_security needs auth_method "${CERTIFICATE_AUTH}": SharePoint's REST API, where ` +
        "role assignments are read, accepts app-only tokens obtained with a certificate only; fill in certificate and private_key " +
        "(or grant a config.yml oauth2_client_certificate credential for https://<tenant_name>.sharepoint.com), or turn document-level security off");
    }
    if (config.use_text_extraction_service) {
      log.warn("use_text_extraction_service: Inlet has no text extraction service; file contents are sent as _attachment " +
        "for the ingest pipeline (keep its binary content extraction on), and the 10 MiB file size limit stays");
    }
  },

  ping(config) {
    new Graph(config).json(`${graphBase(config)}/sites/root?$select=id`);
  },

  *getDocs(config, advancedRules) {
    yield* fullSync(config, advancedRules, this);
  },

  *getDocsIncrementally(config, cursor, advancedRules) {
    yield* incrementalSync(config, cursor, advancedRules, this);
  },

  *getAccessControl(config) {
    if (!dlsEnabled(config)) {
      log.warn("DLS is not enabled (use_document_level_security); no access-control documents");
      return;
    }
    yield* accessControlDocs(new Graph(config));
  },

  // Kibana's advanced sync rules editor (through the host's Elastic protocol) asks this.
  validateAdvancedRules(config, rules) {
    return advancedRuleErrors(rules);
  },
});
