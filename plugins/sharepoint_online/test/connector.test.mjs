// Unit tests of the SharePoint Online connector under plain Node, against a small in-memory Graph
// behind the SDK's replaceable HTTP transport (no component, no host). The end-to-end test with
// the real host is tests/e2e/sharepoint.rs. Run: node --test plugins/sharepoint_online/test/
// (sdk/js's `npm test` includes it).
import { test } from "node:test";
import assert from "node:assert/strict";
// The connector imports "@inlet/sdk" and the shared Graph client; load.mjs resolves the former
// to the SDK's source (the same module instance as `http` below, so setTransport reaches it).
const { sdk, testing, importFromRoot } = await import("../../shared/graph/test/load.mjs");
const { http, Response } = sdk;
const { runSync, check } = testing;
const connector = await importFromRoot("plugins/sharepoint_online/connector.js");
const spo = connector.default;

const G = "https://graph.test";
const SITE = "contoso.sharepoint.com,s1,w1";
const DRIVE = "b!drive1";
const config = { tenant_id: "t", tenant_name: "contoso", client_id: "c", graph_endpoint: G };

const json = (status, obj, headers = []) => new Response(status, [["content-type", "application/json"], ...headers], JSON.stringify(obj));
const item = (id, extra = {}) => ({ id, name: `${id}.txt`, webUrl: `https://x/${id}`, lastModifiedDateTime: "2024-02-01T00:00:00Z",
  file: {}, "@microsoft.graph.downloadUrl": `https://x/dl/${id}?tempauth=abc`, ...extra });

/** A tiny Graph: one site collection, one site, one drive (3 items over 2 delta pages), one list
 * with one item, one page. `faults` maps a URL part to the responses to give first. */
function graph(faults = {}) {
  const calls = [];
  const route = (url) => {
    const p = url.slice(G.length);
    if (p === "/v1.0/sites/root?$select=id") return json(200, { id: "root" });
    if (p.startsWith("/v1.0/sites?")) return json(200, { value: [{ webUrl: "https://contoso.sharepoint.com", siteCollection: { hostname: "contoso.sharepoint.com" } }] });
    if (p.startsWith("/v1.0/sites/contoso.sharepoint.com/sites?search=*")) {
      return json(200, { value: [{ id: SITE, name: "eng", displayName: "Eng", webUrl: "https://contoso.sharepoint.com/sites/eng", lastModifiedDateTime: "2024-01-01T00:00:00Z" }] });
    }
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/drives?`)) return json(200, { value: [{ id: DRIVE, name: "Documents", webUrl: "https://x/d" }] });
    if (p.startsWith(`/v1.0/drives/${encodeURIComponent(DRIVE)}/root/delta?$select=`)) {
      return json(200, { value: [item("a"), item("b")], "@odata.nextLink": `${G}/v1.0/drives/${DRIVE}/root/delta?$skiptoken=2` });
    }
    if (p === `/v1.0/drives/${DRIVE}/root/delta?$skiptoken=2`) {
      return json(200, { value: [item("c")], "@odata.deltaLink": `${G}/v1.0/drives/${DRIVE}/root/delta?token=t1` });
    }
    if (p === `/v1.0/drives/${DRIVE}/root/delta?token=t1`) {
      return json(200, { value: [{ id: "a", deleted: { state: "deleted" } }, item("b", { name: "renamed.txt" })],
        "@odata.deltaLink": `${G}/v1.0/drives/${DRIVE}/root/delta?token=t2` });
    }
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/lists?`)) {
      return json(200, { value: [{ id: "L1", name: "Announcements", lastModifiedDateTime: "2024-01-01T00:00:00Z" }, { id: "L0", name: "SharePointHomeCacheList" }] });
    }
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/lists/L1/items?`)) {
      return json(200, { value: [{ id: "7", contentType: { name: "Item" }, fields: { Title: "Hello" }, lastModifiedDateTime: "2024-01-01T00:00:00Z" }] });
    }
    if (p === `/v1.0/sites/${encodeURIComponent(SITE)}/pages`) return json(200, { value: [{ id: "P1", title: "Home", lastModifiedDateTime: "2024-01-01T00:00:00Z" }] });
    return json(404, { error: { code: "itemNotFound", message: p } });
  };
  const transport = (method, url) => {
    calls.push(url);
    const key = Object.keys(faults).find((k) => url.includes(k) && faults[k].length);
    return key ? faults[key].shift() : route(url);
  };
  return { transport, calls };
}

function withGraph(g, fn) {
  const old = http.setTransport(g.transport);
  try { return fn(); } finally { http.setTransport(old); }
}

test("full sync: Elastic's ids and object types, pagination, delta link in the cursor, a 429 ridden out", () => {
  const g = graph({ "skiptoken=2": [json(429, { error: { code: "TooManyRequests", message: "slow down" } }, [["Retry-After", "0"]])] });
  const { docs, cursor } = withGraph(g, () => runSync(spo, config));
  const ids = docs.map((d) => `${d.body.object_type}:${d.id}`);
  assert.deepEqual(ids, [
    "site_collection:https://contoso.sharepoint.com", `site:${SITE}`, `site_drive:${DRIVE}`,
    "drive_item:a", "drive_item:b", "drive_item:c", "site_list:L1", "list_item:L1-7", `site_page:${SITE}-site_page-P1`,
  ]);
  const a = docs[3];
  assert.equal(a.timestamp, "2024-02-01T00:00:00Z");
  assert.equal(a.body.id, "a");
  assert.equal(a.body.title, "a.txt");
  assert.equal(a.body.url, "https://x/a");
  assert.equal(a.body["@microsoft.graph.downloadUrl"], undefined, "pre-authenticated links are dropped");
  assert.equal(docs[7].body.title, "Hello");
  assert.equal(g.calls.filter((u) => u.includes("skiptoken=2")).length, 2, "the throttled page is asked again");
  assert.deepEqual(JSON.parse(cursor).site_drives, { [DRIVE]: `${G}/v1.0/drives/${DRIVE}/root/delta?token=t1` });
});

test("incremental sync: follows the delta link; deleted facet → delete, changes → upsert", () => {
  const previous = JSON.stringify({ site_drives: { [DRIVE]: `${G}/v1.0/drives/${DRIVE}/root/delta?token=t1` }, cursor_timestamp: "2024-06-01T00:00:00Z" });
  const g = graph();
  const { docs, cursor } = withGraph(g, () => runSync(spo, config, { kind: "incremental", cursor: previous }));
  const items = docs.filter((d) => d.op === "delete" || d.body.object_type === "drive_item");
  assert.deepEqual(items.map((d) => [d.op, d.id]), [["delete", "a"], ["index", "b"]]);
  assert.equal(items[1].body.title, "renamed.txt");
  assert.ok(!docs.some((d) => ["site", "site_list", "list_item", "site_page"].includes(d.body.object_type)),
    "unchanged sites, lists, list items and pages are not re-sent");
  assert.ok(!g.calls.some((u) => u.includes("root/delta?$select")), "no full delta");
  assert.equal(JSON.parse(cursor).site_drives[DRIVE], `${G}/v1.0/drives/${DRIVE}/root/delta?token=t2`);
});

test("incremental sync without a cursor asks for a full sync", () => {
  withGraph(graph(), () => assert.throws(() => runSync(spo, config, { kind: "incremental" }),
    (e) => e.kind === "source" && /full sync/.test(e.message)));
});

test("a persistent 503 fails the sync as a network error after bounded retries", () => {
  const busy = () => json(503, { error: { code: "serviceNotAvailable", message: "busy" } }, [["Retry-After", "0"]]);
  const g = graph({ "/lists?": Array.from({ length: 10 }, busy) });
  withGraph(g, () => assert.throws(() => runSync(spo, config), (e) => e.kind === "network" && /503 after 5 retries/.test(e.message)));
  assert.equal(g.calls.filter((u) => u.includes("/lists?")).length, 6);
});

test("401 and 403 are auth errors that say what to fix", () => {
  const g401 = graph({ "/v1.0/sites?": [json(401, { error: { code: "InvalidAuthenticationToken", message: "Access token is empty." } })] });
  withGraph(g401, () => assert.throws(() => runSync(spo, config),
    (e) => e.kind === "auth" && /grants\.credentials/.test(e.message) && /secret_value/.test(e.message)));
  const g403 = graph({ "/drives?": [json(403, { error: { code: "accessDenied", message: "no" } })] });
  withGraph(g403, () => assert.throws(() => runSync(spo, config), (e) => e.kind === "auth" && /Sites\.Read\.All/.test(e.message)));
});

test("retryDelay: Retry-After seconds, capped; exponential without it", () => {
  const r = (v) => new Response(429, v == null ? [] : [["Retry-After", v]], "");
  assert.equal(connector.retryDelay(r("7"), 0), 7);
  assert.equal(connector.retryDelay(r("99999"), 0), 300);
  assert.equal(connector.retryDelay(r(null), 3), 8);
  assert.equal(connector.retryDelay(r("Wed, 21 Oct 2015 07:28:00 GMT"), 1), 2);
});

test("configuration: Elastic's keys in Elastic's order, the secrets sensitive, DLS with the certificate only", () => {
  const { schema } = withGraph(graph(), () => check(spo, config));
  assert.deepEqual(schema.map((f) => f.key), [
    "tenant_id", "tenant_name", "client_id", "auth_method", "secret_value", "certificate", "private_key", "site_collections",
    "enumerate_all_sites", "fetch_subsites", "use_text_extraction_service", "use_document_level_security", "fetch_drive_item_permissions",
    "fetch_unique_page_permissions", "fetch_unique_list_permissions", "fetch_unique_list_item_permissions", "graph_endpoint",
  ]);
  assert.deepEqual(schema.map((f) => f.order), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  // Elastic's "Secret value", certificate and key: sensitive (the host withholds them and forms
  // credentials from them, see plugin.toml), each shown for its authentication method.
  const secret = schema.find((f) => f.key === "secret_value");
  assert.deepEqual([secret.label, secret.sensitive, secret.required], ["Secret value", true, false]);
  assert.deepEqual(secret.dependsOn, [{ field: "auth_method", value: "secret" }]);
  for (const key of ["certificate", "private_key"]) {
    const f = schema.find((x) => x.key === key);
    assert.deepEqual([f.sensitive, f.required, f.display], [true, false, "textarea"], key);
    assert.deepEqual(f.dependsOn, [{ field: "auth_method", value: "certificate" }], key);
  }
  assert.deepEqual(schema.filter((f) => f.sensitive).map((f) => f.key), ["secret_value", "certificate", "private_key"]);
  assert.deepEqual(schema.find((f) => f.key === "auth_method").options.map((o) => o.value), ["secret", "certificate"]);
  assert.equal(schema.find((f) => f.key === "auth_method").defaultValue, "secret");
  assert.equal(schema.find((f) => f.key === "site_collections").defaultValue, "*");
  assert.throws(() => check(spo, { ...config, auth_method: "password" }), (e) => e.kind === "config" && /auth_method/.test(e.message));
  assert.throws(() => check(spo, { ...config, use_document_level_security: true }),
    (e) => e.kind === "config" && /auth_method "certificate"/.test(e.message), "DLS with the secret");
  assert.throws(() => check(spo, { ...config, graph_endpoint: "graph.microsoft.com/v1.0" }), (e) => e.kind === "config");
});

// ---- file contents ---------------------------------------------------------------------------

const { NetworkError } = sdk;
const DL = "https://contoso.sharepoint.com/sites/eng/_layouts/15/download.aspx";
const bytesOf = (s) => Uint8Array.from(Buffer.from(s, "latin1"));
const file = (id, name, size, extra = {}) => ({ id, name, size, file: { mimeType: "x" }, lastModifiedDateTime: "2024-02-01T00:00:00Z",
  parentReference: { driveId: DRIVE }, "@microsoft.graph.downloadUrl": `${DL}?UniqueId=${id}&tempauth=tok-${id}`, ...extra });

/** A drive whose one delta page holds `items`; download links and Graph's /content answer from
 * `files` (id → bytes, or a status number). Records every call with its headers. */
function drive(items, files, { expired = new Set() } = {}) {
  const calls = [];
  const transport = (method, url, headers) => {
    calls.push({ url, headers });
    if (url.startsWith(`${G}/v1.0/sites?`)) return json(200, { value: [{ webUrl: "https://contoso.sharepoint.com", siteCollection: { hostname: "contoso.sharepoint.com" } }] });
    if (url.startsWith(`${G}/v1.0/sites/contoso.sharepoint.com/sites?`)) return json(200, { value: [{ id: SITE, name: "eng", webUrl: "https://contoso.sharepoint.com/sites/eng" }] });
    if (url.startsWith(`${G}/v1.0/sites/${encodeURIComponent(SITE)}/drives?`)) return json(200, { value: [{ id: DRIVE, name: "Documents" }] });
    if (url.includes("/root/delta")) return json(200, { value: items, "@odata.deltaLink": `${G}/v1.0/drives/${DRIVE}/root/delta?token=t9` });
    const content = /\/items\/([^/]+)\/content$/.exec(url);
    if (content) return new Response(302, [["location", `${DL}?UniqueId=${content[1]}&tempauth=fresh`]], "");
    if (url.startsWith(DL)) {
      const id = /UniqueId=([^&]+)/.exec(url)[1];
      if (expired.has(id) && !url.includes("tempauth=fresh")) return new Response(401, [], "expired");
      const f = files[id];
      return typeof f === "number" ? new Response(f, [["Retry-After", "0"]], "") : new Response(200, [["content-type", "application/octet-stream"]], f);
    }
    return json(200, { value: [] });
  };
  return { transport, calls };
}

test("contents: supported files within Elastic's limit carry their bytes; others, folders and empty files none", () => {
  const bin = bytesOf("%PDF\x00\x01\xfe\xff");
  const items = [
    file("t", "notes.TXT", 5), file("p", "scan.pdf", bin.length), file("png", "photo.png", 10),
    file("big", "huge.docx", connector.MAX_DOCUMENT_SIZE + 1), file("max", "edge.docx", connector.MAX_DOCUMENT_SIZE),
    file("empty", "empty.txt", 0), file("noext", "Makefile", 3), file("dot", ".txt", 3),
    { id: "f", name: "Folder.txt", folder: { childCount: 0 }, size: 0 },
  ];
  const g = drive(items, { t: bytesOf("hello"), p: bin, max: bytesOf("m") });
  const { docs } = withGraph(g, () => runSync(spo, config));
  const att = Object.fromEntries(docs.filter((d) => d.body.object_type === "drive_item").map((d) => [d.id, d.attachment]));
  assert.deepEqual(att.t, { tag: "bytes", val: bytesOf("hello") });
  assert.deepEqual(att.p, { tag: "bytes", val: bin });
  assert.deepEqual(att.max, { tag: "bytes", val: bytesOf("m") }, "exactly the limit is still downloaded");
  for (const id of ["png", "big", "empty", "noext", "dot", "f"]) assert.equal(att[id], null, id);
  const downloads = g.calls.filter((c) => c.url.startsWith(DL));
  assert.deepEqual(downloads.map((c) => /UniqueId=(\w+)/.exec(c.url)[1]), ["t", "p", "max"]);
  assert.ok(!g.calls.some((c) => c.url.includes("/content")), "the delta's download links are used as they are");
  assert.ok(downloads.every((c) => !c.headers.some(([k]) => k.toLowerCase() === "authorization")));
  assert.ok(docs.every((d) => d.body["@microsoft.graph.downloadUrl"] === undefined), "links stay out of the index");
});

test("contents: a file gone meanwhile (404/410) is indexed without content; a 429 is retried", () => {
  const g = drive([file("a", "a.txt", 1), file("b", "b.txt", 1), file("c", "c.txt", 1)], { a: 404, b: 410, c: bytesOf("c") });
  const throttled = [new Response(429, [["Retry-After", "0"]], "")];
  const inner = g.transport;
  const transport = (m, url, h) => (url.includes("UniqueId=c") && throttled.length ? (g.calls.push({ url, headers: h }), throttled.shift()) : inner(m, url, h));
  const { docs } = withGraph({ transport }, () => runSync(spo, config));
  const items = docs.filter((d) => d.body.object_type === "drive_item");
  assert.deepEqual(items.map((d) => [d.id, d.attachment?.val.length ?? null]), [["a", null], ["b", null], ["c", 1]]);
  assert.equal(g.calls.filter((c) => c.url.includes("UniqueId=c")).length, 2);
});

test("contents: persistent download failures fail the sync without leaking the link's token", () => {
  const g = drive([file("a", "a.txt", 1)], { a: 503 });
  withGraph(g, () => assert.throws(() => runSync(spo, config), (e) => e.kind === "network" && /503 after 5 retries/.test(e.message) && !/tok-a/.test(e.message)));
  const g500 = drive([file("a", "a.txt", 1)], { a: 400 });
  withGraph(g500, () => assert.throws(() => runSync(spo, config), (e) => e.kind === "source" && /HTTP 400/.test(e.message) && !/tok-a/.test(e.message)));
});

test("contents: an expired link is replaced through Graph's /content, its 302 followed without the bearer", () => {
  const g = drive([file("a", "a.txt", 3)], { a: bytesOf("new") }, { expired: new Set(["a"]) });
  const { docs } = withGraph(g, () => runSync(spo, config));
  assert.deepEqual(docs.find((d) => d.id === "a").attachment.val, bytesOf("new"));
  assert.deepEqual(g.calls.filter((c) => c.url.includes("UniqueId=a") || c.url.includes("/content")).map((c) => c.url), [
    `${DL}?UniqueId=a&tempauth=tok-a`, `${G}/v1.0/drives/${encodeURIComponent(DRIVE)}/items/a/content`, `${DL}?UniqueId=a&tempauth=fresh`,
  ]);
});

test("contents: a download origin the operator did not grant fails the sync and names the grant", () => {
  const g = drive([file("a", "a.txt", 1)], {});
  const denied = (m, url, h) => {
    if (!url.startsWith(DL)) return g.transport(m, url, h);
    // What the SDK's transport throws when the broker refuses an origin.
    throw Object.assign(new NetworkError("the host denied the request to https://contoso.sharepoint.com"), { code: "HTTP-request-denied" });
  };
  withGraph({ transport: denied }, () => assert.throws(() => runSync(spo, config),
    (e) => e.kind === "network" && /grants\.http/.test(e.message) && /https:\/\/contoso\.sharepoint\.com/.test(e.message) && !/tok-a/.test(e.message)));
});

test("contents: incremental syncs download the changed files again", () => {
  const previous = JSON.stringify({ site_drives: { [DRIVE]: `${G}/v1.0/drives/${DRIVE}/root/delta?token=t1` }, cursor_timestamp: "2024-06-01T00:00:00Z" });
  const g = drive([file("a", "a.txt", 2), { id: "gone", deleted: { state: "deleted" } }], { a: bytesOf("v2") });
  const { docs } = withGraph(g, () => runSync(spo, config, { kind: "incremental", cursor: previous }));
  assert.deepEqual(docs.filter((d) => d.id === "a" || d.id === "gone").map((d) => [d.op, d.id, d.attachment?.val ?? null]),
    [["index", "a", bytesOf("v2")], ["delete", "gone", null]]);
});

// ---- advanced rules ----------------------------------------------------------------------------

const DAY = 86400000;
const daysAgo = (n) => new Date(Date.now() - n * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");

test("advanced rules: Elastic's schema (an object, only skipExtractingDriveItemsOlderThan, an integer), negatives refused", () => {
  const validate = (rules) => spo.validateAdvancedRules(config, rules);
  for (const ok of [null, {}, { skipExtractingDriveItemsOlderThan: 30 }, { skipExtractingDriveItemsOlderThan: 0 }]) {
    assert.deepEqual(validate(ok), [], JSON.stringify(ok));
  }
  const bad = [
    [{ skipExtractingDriveItemsOlderThan: -1 }, /0 or more days.*-1/],
    [{ skipExtractingDriveItemsOlderThan: 1.5 }, /whole number of days; got 1\.5/],
    [{ skipExtractingDriveItemsOlderThan: "30" }, /whole number of days; got "30"/],
    [{ skipExtractingDriveItemsOlderThan: true }, /whole number of days; got true/],
    [{ skipExtractingDriveItemsOlderThan: null }, /whole number of days; got null/],
    [{ skipExtractingDriveItemsOlderThen: 30 }, /unknown advanced rule "skipExtractingDriveItemsOlderThen".*skipExtractingDriveItemsOlderThan/],
    [[{ skipExtractingDriveItemsOlderThan: 30 }], /JSON object.*got an array/],
    [30, /JSON object.*got 30/],
  ];
  for (const [rules, message] of bad) {
    const errors = validate(rules);
    assert.equal(errors.length, 1, JSON.stringify(rules));
    assert.match(errors[0], message);
  }
  // Both problems at once are both reported.
  assert.equal(validate({ x: 1, skipExtractingDriveItemsOlderThan: -2 }).length, 2);
  // The SDK turns the messages into the host's validation result; the feature is advertised.
  const { metadata } = withGraph(graph(), () => check(spo, config));
  assert.equal(metadata.features.advancedRules, true);
});

test("advanced rules: files older than N days are indexed without content and not downloaded (full sync)", () => {
  const items = [
    file("old", "old.txt", 3, { lastModifiedDateTime: daysAgo(31) }),
    file("new", "new.txt", 3, { lastModifiedDateTime: daysAgo(29) }),
    file("nodate", "nodate.txt", 3, { lastModifiedDateTime: undefined }),
    { id: "f", name: "Old folder", folder: { childCount: 0 }, size: 0, lastModifiedDateTime: daysAgo(400) },
  ];
  const files = { old: bytesOf("old"), new: bytesOf("new"), nodate: bytesOf("nod") };
  const g = drive(items, files);
  const { docs } = withGraph(g, () => runSync(spo, config, { advancedRules: { skipExtractingDriveItemsOlderThan: 30 } }));
  const byId = Object.fromEntries(docs.map((d) => [d.id, d]));
  assert.deepEqual(byId.new.attachment, { tag: "bytes", val: bytesOf("new") });
  for (const id of ["old", "nodate", "f"]) {
    assert.ok(byId[id], `${id} is still indexed`);
    assert.equal(byId[id].attachment, null, id);
  }
  assert.equal(byId.old.body.name, "old.txt", "its metadata is intact");
  assert.deepEqual(g.calls.filter((c) => c.url.startsWith(DL)).map((c) => /UniqueId=(\w+)/.exec(c.url)[1]), ["new"]);

  // 0 days is no rule (as in Elastic), and so is {}: everything eligible is downloaded.
  for (const rules of [{ skipExtractingDriveItemsOlderThan: 0 }, {}]) {
    const g0 = drive(items, files);
    const r = withGraph(g0, () => runSync(spo, config, { advancedRules: rules }));
    assert.deepEqual(r.docs.filter((d) => d.attachment).map((d) => d.id), ["old", "new", "nodate"], JSON.stringify(rules));
  }
});

test("advanced rules: incremental syncs apply the rule to changed files", () => {
  const previous = JSON.stringify({ site_drives: { [DRIVE]: `${G}/v1.0/drives/${DRIVE}/root/delta?token=t1` }, cursor_timestamp: daysAgo(1) });
  const items = [file("a", "a.txt", 2, { lastModifiedDateTime: daysAgo(8) }), file("b", "b.txt", 2, { lastModifiedDateTime: daysAgo(6) })];
  const g = drive(items, { a: bytesOf("aa"), b: bytesOf("bb") });
  const { docs } = withGraph(g, () => runSync(spo, config, { kind: "incremental", cursor: previous, advancedRules: { skipExtractingDriveItemsOlderThan: 7 } }));
  assert.deepEqual(docs.filter((d) => d.body.object_type === "drive_item").map((d) => [d.id, d.attachment?.val ?? null]),
    [["a", null], ["b", bytesOf("bb")]]);
  assert.deepEqual(g.calls.filter((c) => c.url.startsWith(DL)).map((c) => /UniqueId=(\w+)/.exec(c.url)[1]), ["b"]);
});

test("advanced rules: an invalid rule fails the sync as a config error before any request", () => {
  for (const kind of ["full", "incremental"]) {
    const g = drive([file("a", "a.txt", 1)], { a: bytesOf("a") });
    const cursor = JSON.stringify({ site_drives: {}, cursor_timestamp: daysAgo(1) });
    withGraph(g, () => assert.throws(() => runSync(spo, config, { kind, cursor, advancedRules: { skipExtractingDriveItemsOlderThan: -5 } }),
      (e) => e.kind === "config" && /skipExtractingDriveItemsOlderThan.*0 or more days/.test(e.message)));
    assert.equal(g.calls.length, 0, `${kind}: nothing was requested`);
  }
});

test("skipContent: the cutoff compares lastModifiedDateTime; files exactly at it are kept", () => {
  const cutoff = Date.parse("2024-03-01T00:00:00Z");
  assert.equal(connector.skipContent(file("a", "a.txt", 1, { lastModifiedDateTime: "2024-03-01T00:00:00Z" }), cutoff), null);
  assert.match(connector.skipContent(file("a", "a.txt", 1, { lastModifiedDateTime: "2024-02-29T23:59:59Z" }), cutoff), /last modified before 2024-03-01/);
  assert.equal(connector.skipContent(file("a", "a.txt", 1, { lastModifiedDateTime: "2020-01-01T00:00:00Z" })), null, "no cutoff, no age limit");
  assert.equal(connector.contentCutoff({ skipExtractingDriveItemsOlderThan: 2 }, cutoff), cutoff - 2 * DAY);
});
