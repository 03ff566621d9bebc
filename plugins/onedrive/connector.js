// OneDrive connector (Elastic's `onedrive` service type) over Microsoft Graph.
//
// Content, as Elastic's connector builds it: every file and folder of the OneDrive of every
// licensed, enabled user of the tenant (Graph's `/users`), read from each user's drive delta
// feed; `_id` = the drive item's id, and Elastic's fields (type, title, _timestamp, created_at,
// size, url, mime_type). Files' contents go along as `_attachment` bytes (Elastic's extensions
// and 10 MiB limit), from each file's pre-authenticated `@microsoft.graph.downloadUrl` (on
// `<tenant>-my.sharepoint.com`; no Graph token goes there).
//
// Incremental syncs follow each user's delta link from the last sync (Elastic declares
// incremental sync for OneDrive but does not implement it): changes and deletions only.
//
// Advanced rules (Elastic's): `[{owners?, skipFilesWithExtensions?, parentPathPattern?}]`, plus
// Inlet's `notParentPathPattern`. Document-level security as Elastic's: each item's
// `_allow_access_control` from its Graph permissions, and one access-control document per user.
//
// Authentication is the host's: the form's "Azure application Client Secret" becomes a
// host-held OAuth2 credential (plugin.toml `[credentials.graph]`), or the operator declares one in
// config.yml. This plugin never sees the secret or a token. The Graph client (throttling, paging,
// delta feeds, downloads) is shared with `sharepoint_online` (plugins/shared/graph).
import { defineConnector, fields, log, Document, AuthError, ConfigError, SourceError } from "@inlet/sdk";
import {
  DEFAULT_GRAPH, GraphClient, enc, extractable, fileExtension, graphBase as graphBaseOf, graphMessage, graphOrigin, sizeSkipReason,
} from "../shared/graph/graph.js";
import { compile } from "./glob.js";

// Elastic's onedrive/constants.py: the fields of a drive item it selects (plus `deleted`, for
// incremental syncs, and `root`, to tell the drive's root from an item named "root"), its page
// size, and its retry defaults.
const ITEM_FIELDS = "id,name,lastModifiedDateTime,content.downloadUrl,createdDateTime,size,webUrl,parentReference,file,folder,deleted,root";
const FETCH_SIZE = 999;
const USER_FIELDS = "userPrincipalName,mail,transitiveMemberOf,id,createdDateTime";
const DEFAULT_RETRY_COUNT = 3;
const DEFAULT_RETRY_SECONDS = 30; // a 429/503 without Retry-After
const DEFAULT_PARALLEL_CONNECTION_COUNT = 15;
// `$expand=transitiveMemberOf` returns at most 100 groups; more are paged from the user.
const EXPAND_LIMIT = 100;
// The host refuses cursors over 64 KiB (a failed sync); past this the delta links are left out.
export const CURSOR_BUDGET = 60000;

// ---- configuration --------------------------------------------------------------------------

const configuration = {
  client_id: fields.string("Azure application Client ID", { order: 1 }),
  // Never handed to this plugin: the host forms the Graph credential from it (plugin.toml) and
  // injects the token. Optional here (required in Elastic) so that a config.yml credential can
  // stand in for it.
  client_secret: fields.string("Azure application Client Secret", {
    order: 2, sensitive: true, required: false,
    tooltip: "The app registration's client secret. Inlet keeps it: it fetches Graph tokens with it and never hands it to the connector. Leave it empty when config.yml grants a credential instead.",
  }),
  tenant_id: fields.string("Azure application Tenant ID", { order: 3 }),
  retry_count: fields.integer("Maximum retries per request", {
    order: 4, default: DEFAULT_RETRY_COUNT, required: false, uiRestrictions: [fields.ADVANCED],
  }),
  concurrent_downloads: fields.integer("Maximum concurrent downloads", {
    order: 5, default: DEFAULT_PARALLEL_CONNECTION_COUNT, required: false, uiRestrictions: [fields.ADVANCED],
  }),
  use_document_level_security: fields.toggle("Enable document level security", {
    order: 6, default: false,
    tooltip: "Document level security ensures identities and permissions set in OneDrive are maintained in Elasticsearch. This enables you to restrict and personalize read-access users and groups have to documents in this index. Access control syncs ensure this metadata is kept up to date in your Elasticsearch documents.",
  }),
  use_text_extraction_service: fields.toggle("Use text extraction service", {
    order: 7, default: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction.",
  }),
  // Inlet's addition: national clouds and test servers (Elastic: the OVERRIDE_URL environment
  // variable). The credential's `hosts` and `grants.http` must name the same origin.
  graph_endpoint: fields.string("Microsoft Graph endpoint", {
    order: 8, default: DEFAULT_GRAPH, required: false, uiRestrictions: [fields.ADVANCED],
    tooltip: "Base URL of Microsoft Graph (scheme and host). Change it only for national clouds.",
  }),
};

const graphBase = (config) => graphBaseOf(config.graph_endpoint);

function retryCount(config) {
  const n = config.retry_count ?? DEFAULT_RETRY_COUNT;
  if (!Number.isInteger(n) || n < 0 || n > 20) {
    throw new ConfigError(`retry_count must be a whole number from 0 to 20 (retries of a throttled or failing request); got ${JSON.stringify(n)}`);
  }
  return n;
}

const dlsEnabled = (config) => config.use_document_level_security === true;

// ---- Graph ----------------------------------------------------------------------------------

class OneDriveGraph extends GraphClient {
  constructor(config) {
    super({ base: graphBase(config), maxRetries: retryCount(config), throttleWait: () => DEFAULT_RETRY_SECONDS });
  }

  /** The error for a final, non-retryable answer, saying what to fix. */
  refusal(r, url) {
    if (r.status === 401) {
      return new AuthError(`Graph refused the request (HTTP 401, ${graphMessage(r)}): fill in the Azure application Client Secret (client_secret) and grant ` +
        `https://graph.microsoft.com and https://login.microsoftonline.com in this connector's grants.http, or declare an oauth2_client_credentials ` +
        `credential for ${graphOrigin(this.base)} in config.yml (credentials:) and list it in this connector's grants.credentials`);
    }
    if (r.status === 403) {
      return new AuthError(`Graph denied ${url} (HTTP 403, ${graphMessage(r)}): the app registration needs the User.Read.All and Files.Read.All ` +
        "application permissions (and GroupMember.Read.All for document-level security)");
    }
    return super.refusal(r, url);
  }

  /** Licensed, enabled users (who have a OneDrive), as Elastic lists them for content syncs.
   * `$count` in a filter is an advanced query: Graph wants `ConsistencyLevel: eventual`. */
  licensedUsers() {
    const url = this.url("/users", {
      $filter: "accountEnabled eq true and assignedLicenses/$count ne 0", $count: "true", $select: USER_FIELDS, $top: FETCH_SIZE,
    });
    return this.scroll(url, { headers: { Accept: "application/json", ConsistencyLevel: "eventual" } });
  }

  /** Every enabled user with their groups (up to 100 inline), for access-control syncs. */
  allUsers() {
    const url = this.url("/users", {
      $filter: "accountEnabled eq true", $select: USER_FIELDS, $expand: "transitiveMemberOf($select=id)", $top: FETCH_SIZE,
    });
    return this.scroll(url);
  }

  groupsOf(userId) {
    return this.scroll(this.url(`/users/${enc(userId)}/transitiveMemberOf`, { $top: FETCH_SIZE }));
  }

  deltaUrl(userId) {
    return this.url(`/users/${enc(userId)}/drive/root/delta`, { $select: ITEM_FIELDS, $top: FETCH_SIZE });
  }

  permissions(userId, itemId) {
    // An item deleted since its delta page was read has no permissions left: none.
    return this.scroll(this.url(`/users/${enc(userId)}/drive/items/${enc(itemId)}/permissions`, { $top: FETCH_SIZE }), { missingOk: true });
  }
}

// ---- documents ------------------------------------------------------------------------------

const FILE = "file";
const FOLDER = "folder";

/** The drive's root (not indexed, as in Elastic, which skips items named "root"). */
const isRoot = (item) => item.root != null || (item.name === "root" && !item.parentReference?.path);

/** Elastic's document for a drive item (`prepare_doc`), plus `id` = `_id` as its framework
 * writes it. */
export function itemDoc(item) {
  return {
    _id: item.id,
    id: item.id,
    type: item.file ? FILE : FOLDER,
    title: item.name ?? null,
    _timestamp: item.lastModifiedDateTime ?? undefined,
    created_at: item.createdDateTime ?? null,
    size: item.size ?? null,
    url: item.webUrl ?? null,
    mime_type: item.file?.mimeType ?? null,
  };
}

/** Why a drive item's content is not downloaded (Elastic's rules), or null to download it. */
export function skipContent(item) {
  if (item.deleted || !item.file) return "not a file";
  if (!item["@microsoft.graph.downloadUrl"]) return "no @microsoft.graph.downloadUrl";
  if (!extractable(item.name)) return "file type is not supported";
  return sizeSkipReason(item.size);
}

// Elastic's access-control identities (connectors/access_control.py).
const prefixed = (prefix, v) => (v == null ? null : `${prefix}:${v}`);
const DLS_QUERY = `{
                    "bool": {
                        "should": [
                            {
                                "bool": {
                                    "must_not": {
                                        "exists": {
                                            "field": "_allow_access_control"
                                        }
                                    }
                                }
                            },
                            {
                                "terms": {
                                    "_allow_access_control.keyword": {{#toJson}}access_control{{/toJson}}
                                }
                            }
                        ]
                    }
                }`;

/** `_allow_access_control` of an item from its Graph permissions (Elastic's
 * `get_entity_permission`): user ids from grantedToV2, user and group ids from
 * grantedToIdentitiesV2. */
export function permissionIdentities(permissions) {
  const out = [];
  for (const p of permissions) {
    const user = p.grantedToV2?.user?.id;
    if (user) out.push(prefixed("user_id", user));
    for (const identity of p.grantedToIdentitiesV2 ?? []) {
      if (identity?.user?.id) out.push(prefixed("user_id", identity.user.id));
      if (identity?.group?.id) out.push(prefixed("group", identity.group.id));
    }
  }
  return [...new Set(out)];
}

/** A user's access-control document (Elastic's `_user_access_control_doc`). */
export function userAccessDoc(user, groupIds) {
  const email = prefixed("email", user.mail);
  const username = prefixed("user", user.userPrincipalName);
  const userId = prefixed("user_id", user.id);
  const access = [...new Set([email, username, userId, ...groupIds.map((g) => prefixed("group", g))])].filter((v) => v != null);
  return {
    _id: user.mail || user.userPrincipalName,
    identity: { email, username, user_id: userId },
    created_at: user.createdDateTime ?? new Date().toISOString(),
    query: { template: { params: { access_control: access }, source: DLS_QUERY } },
  };
}

// ---- advanced rules ---------------------------------------------------------------------------

const RULE_KEYS = ["owners", "skipFilesWithExtensions", "parentPathPattern", "notParentPathPattern"];
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const describe = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? JSON.stringify(v) : typeof v === "object" ? "an object" : String(v));

/**
 * What is wrong with the advanced rules, as messages ([] when they are fine or absent).
 *
 * Elastic's schema (onedrive/validator.py): a list of objects, each with at least one of
 * `skipFilesWithExtensions` (a non-empty list of strings), `parentPathPattern` (a non-empty
 * string) and `owners` (a non-empty list of e-mail addresses), and nothing else. Inlet also
 * takes `notParentPathPattern` (a non-empty string): items whose parent path matches it are
 * left out.
 */
export function advancedRuleErrors(rules) {
  if (rules == null) return [];
  const example = 'advanced rules are a JSON list such as [{"owners": ["user@contoso.com"], "parentPathPattern": "/drive/root:/Reports/**"}]';
  if (!Array.isArray(rules)) return [`${example}; got ${describe(rules)}`];
  const errors = [];
  rules.forEach((rule, i) => {
    const at = `rule ${i + 1}`;
    if (rule === null || typeof rule !== "object" || Array.isArray(rule)) {
      errors.push(`${at} must be an object; got ${describe(rule)}`);
      return;
    }
    const keys = Object.keys(rule);
    if (keys.length === 0) errors.push(`${at} is empty: give at least one of ${RULE_KEYS.join(", ")}`);
    for (const k of keys.filter((k) => !RULE_KEYS.includes(k))) {
      errors.push(`${at}: unknown key ${JSON.stringify(k)}; the keys are ${RULE_KEYS.join(", ")}`);
    }
    for (const k of ["skipFilesWithExtensions", "owners"]) {
      if (!(k in rule)) continue;
      const v = rule[k];
      if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== "string" || s === "")) {
        errors.push(`${at}: ${k} must be a non-empty list of non-empty strings; got ${describe(v)}`);
      } else if (k === "owners") {
        for (const mail of v.filter((m) => !EMAIL.test(m))) errors.push(`${at}: owners: ${JSON.stringify(mail)} is not an e-mail address`);
      }
    }
    for (const k of ["parentPathPattern", "notParentPathPattern"]) {
      if (k in rule && (typeof rule[k] !== "string" || rule[k] === "")) {
        errors.push(`${at}: ${k} must be a non-empty string such as "/drive/root:/Reports/**"; got ${describe(rule[k])}`);
      }
    }
  });
  return errors;
}

/** Advanced rules compiled for a sync, or null when there are none (`null` or `[]`). Invalid
 * rules fail the sync before any request (config.yml's rules are not validated elsewhere). */
export function compileRules(rules) {
  const errors = advancedRuleErrors(rules);
  if (errors.length) throw new ConfigError(`advanced sync rules: ${errors.join("; ")}`);
  if (rules == null || rules.length === 0) return null;
  return rules.map((r) => ({
    owners: r.owners ? new Set(r.owners) : null,
    extensions: r.skipFilesWithExtensions ? new Set(r.skipFilesWithExtensions) : null,
    include: r.parentPathPattern ? compile(r.parentPathPattern) : null,
    exclude: r.notParentPathPattern ? compile(r.notParentPathPattern) : null,
  }));
}

/** The rules that apply to a user's drive (those naming their e-mail, or no owners at all). */
const rulesFor = (rules, user) => rules.filter((r) => r.owners == null || (user.mail != null && r.owners.has(user.mail)));

/**
 * Whether any of `rules` keeps the item (Elastic's `get_owned_files`): its extension (Python's
 * splitext of the name, exact) is not skipped, and its parent path matches parentPathPattern
 * (wcmatch glob with `**`) and not notParentPathPattern. Elastic runs its rules one after the
 * other, so an item kept by any rule is indexed: the union.
 */
export function kept(rules, item) {
  const path = item.parentReference?.path ?? "";
  // Python's os.path.splitext, as Elastic (`os.path.splitext(file["name"])[-1]`): case kept.
  const ext = fileExtension(item.name);
  return rules.some((r) => (!r.extensions || !r.extensions.has(ext))
    && (!r.include || r.include.match(path))
    && (!r.exclude || !r.exclude.match(path)));
}

// ---- syncs ----------------------------------------------------------------------------------

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** The cursor: each user's delta link, and when the sync started. Without room for every link
 * under the host's cursor limit, the links are left out (and incremental syncs refused). */
function finalCursor(cursor) {
  const size = JSON.stringify(cursor).length;
  if (size <= CURSOR_BUDGET) return cursor;
  const n = Object.keys(cursor.user_drives).length;
  log.warn(`the delta links of ${n} drives take ${size} bytes, more than a cursor may hold (${CURSOR_BUDGET}): ` +
    "incremental syncs need a full sync first, and will again after this one; schedule full syncs for this tenant");
  return { user_drives: null, drives_left_out: n, cursor_timestamp: cursor.cursor_timestamp };
}

/** The item's document with `_attachment` (and `_allow_access_control` under DLS). A file gone
 * since its delta page was read is indexed without content (its tombstone comes later). */
function document(graph, user, item, dls, stats) {
  const doc = itemDoc(item);
  if (dls) doc._allow_access_control = permissionIdentities([...graph.permissions(user.id, item.id)]);
  const skip = skipContent(item);
  if (skip) {
    if (item.file) log.debug(`not downloading ${item.name}: ${skip}`);
    return doc;
  }
  const bytes = graph.download(item);
  if (bytes == null) {
    log.warn(`file ${item.name} (${item.id}) was not found for download (deleted meanwhile?); indexed without content`);
    return doc;
  }
  stats.files++;
  stats.bytes += bytes.length;
  doc._attachment = bytes;
  return doc;
}

/**
 * A user's drive from `url` (their delta feed from the start, or the link of the last sync):
 * documents for what the rules keep, deletions for tombstones (and, in incremental syncs, for
 * changed items the rules now leave out); records the new delta link.
 */
function* drive(graph, user, url, { rules, dls, incremental, cursor }) {
  const stats = { items: 0, files: 0, bytes: 0, left_out: 0, deleted: 0 };
  let found = false;
  for (const page of graph.delta(url, { missingOk: true })) {
    found = true;
    for (const item of page.items) {
      if (isRoot(item)) continue;
      stats.items++;
      if (item.deleted) {
        if (incremental) { stats.deleted++; yield Document.delete(item.id); }
        continue;
      }
      if (rules && !kept(rules, item)) {
        stats.left_out++;
        // It may have been indexed before, when the rules kept it (or before it moved).
        if (incremental) yield Document.delete(item.id);
        continue;
      }
      yield document(graph, user, item, dls, stats);
    }
    if (page.deltaLink) cursor.user_drives[user.id] = page.deltaLink;
  }
  const who = user.userPrincipalName ?? user.mail ?? user.id;
  if (!found) {
    log.warn(`${who} has no OneDrive (Graph answered 404 for their drive); skipped`);
    return;
  }
  const rule = rules ? `, ${stats.left_out} left out by the advanced rules` : "";
  log.info(`drive of ${who}: ${stats.items} item changes, ${stats.deleted} deletions, ${stats.files} files downloaded (${stats.bytes} bytes)${rule}`);
}

/** The users whose drives are synced, with the rules that apply to each (null: no rules). */
function* users(graph, rules) {
  if (!rules) {
    for (const user of graph.licensedUsers()) yield { user, rules: null };
    return;
  }
  const named = new Set(rules.flatMap((r) => (r.owners ? [...r.owners] : [])));
  const seen = new Set();
  for (const user of graph.licensedUsers()) {
    const applicable = rulesFor(rules, user);
    if (user.mail != null) seen.add(user.mail);
    if (applicable.length) yield { user, rules: applicable };
  }
  for (const mail of named) {
    if (!seen.has(mail)) log.warn(`advanced rules: no licensed, enabled user has the e-mail ${mail}; skipped`);
  }
}

function* fullSync(config, advancedRules, ctx) {
  const rules = compileRules(advancedRules);
  const graph = new OneDriveGraph(config);
  const cursor = { user_drives: {}, cursor_timestamp: nowIso() };
  const dls = dlsEnabled(config);
  for (const { user, rules: applicable } of users(graph, rules)) {
    yield* drive(graph, user, graph.deltaUrl(user.id), { rules: applicable, dls, incremental: false, cursor });
  }
  ctx.setCursor(finalCursor(cursor));
}

function* incrementalSync(config, previous, advancedRules, ctx) {
  const rules = compileRules(advancedRules);
  if (!previous || typeof previous !== "object" || previous.user_drives === undefined) {
    throw new SourceError("Unable to start incremental sync. Please perform a full sync to re-enable incremental syncs.");
  }
  if (previous.user_drives === null) {
    throw new SourceError(`the last full sync's ${previous.drives_left_out} delta links did not fit in a cursor (${CURSOR_BUDGET} bytes): ` +
      "this tenant has too many drives for incremental syncs; run full syncs");
  }
  const graph = new OneDriveGraph(config);
  // Links of users not seen this time are kept: a drive that is back later resumes from them.
  const cursor = { user_drives: { ...previous.user_drives }, cursor_timestamp: nowIso() };
  const dls = dlsEnabled(config);
  for (const { user, rules: applicable } of users(graph, rules)) {
    // A user without a link is new since the last sync: their whole drive is the change.
    const link = previous.user_drives[user.id] ?? graph.deltaUrl(user.id);
    yield* drive(graph, user, link, { rules: applicable, dls, incremental: true, cursor });
  }
  ctx.setCursor(finalCursor(cursor));
}

function* accessControlSync(config) {
  if (!dlsEnabled(config)) {
    log.warn("DLS is not enabled (use_document_level_security); no access-control documents");
    return;
  }
  const graph = new OneDriveGraph(config);
  for (const user of graph.allUsers()) {
    if (!user.mail && !user.userPrincipalName) continue;
    const inline = user.transitiveMemberOf ?? [];
    const groups = inline.length < EXPAND_LIMIT ? inline : [...graph.groupsOf(user.id)];
    yield userAccessDoc(user, groups.map((g) => g.id).filter(Boolean));
  }
}

export default defineConnector({
  configuration,

  validateConfig(config) {
    graphBase(config);
    retryCount(config);
    if (config.use_text_extraction_service) {
      log.warn("use_text_extraction_service: Inlet has no text extraction service; file contents are sent as _attachment " +
        "for the ingest pipeline (keep its binary content extraction on), and the 10 MiB file size limit stays");
    }
  },

  ping(config) {
    // Elastic's ping: Graph's `drives`.
    new OneDriveGraph(config).json(`${graphBase(config)}/drives`);
  },

  *getDocs(config, advancedRules) {
    yield* fullSync(config, advancedRules, this);
  },

  *getDocsIncrementally(config, cursor, advancedRules) {
    yield* incrementalSync(config, cursor, advancedRules, this);
  },

  *getAccessControl(config) {
    yield* accessControlSync(config);
  },

  // Kibana's advanced sync rules editor (through the host's Elastic protocol) asks this.
  validateAdvancedRules(config, rules) {
    return advancedRuleErrors(rules);
  },
});
