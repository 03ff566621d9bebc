// Unit tests of the OneDrive connector under plain Node, against a small in-memory Graph behind
// the SDK's replaceable HTTP transport (no component, no host). The end-to-end test with the
// real host is tests/e2e/onedrive.rs. Run: node --test plugins/onedrive/test/
import { test } from "node:test";
import assert from "node:assert/strict";

const { sdk, testing, importFromRoot } = await import("../../shared/graph/test/load.mjs");
const { http, Response, NetworkError } = sdk;
const { runSync, check } = testing;
const connector = await importFromRoot("plugins/onedrive/connector.js");
const od = connector.default;

const G = "https://graph.test";
const config = { client_id: "c", tenant_id: "t", graph_endpoint: G, retry_count: 3 };
const DL = "https://contoso-my.sharepoint.com/personal/x/_layouts/15/download.aspx";
const json = (status, obj, headers = []) => new Response(status, [["content-type", "application/json"], ...headers], JSON.stringify(obj));
const bytesOf = (s) => Uint8Array.from(Buffer.from(s, "latin1"));

const ALICE = { id: "u-alice", mail: "alice@contoso.com", userPrincipalName: "alice@contoso.com", createdDateTime: "2023-01-01T00:00:00Z" };
const BOB = { id: "u-bob", mail: "bob@contoso.com", userPrincipalName: "bob@contoso.com", createdDateTime: "2023-01-02T00:00:00Z" };
const root = (u) => ({ id: `${u}-root`, name: "root", root: {}, folder: { childCount: 2 }, parentReference: { driveId: `d-${u}` } });
const file = (id, name, size, path = "/drive/root:", extra = {}) => ({
  id, name, size, file: { mimeType: "text/plain" }, webUrl: `https://contoso-my.sharepoint.com/${id}`,
  createdDateTime: "2024-01-01T00:00:00Z", lastModifiedDateTime: "2024-02-01T00:00:00Z",
  parentReference: { driveId: "d", path }, "@microsoft.graph.downloadUrl": `${DL}?UniqueId=${id}&tempauth=tok-${id}`, ...extra,
});
const folder = (id, name, path = "/drive/root:") => ({ id, name, folder: { childCount: 1 }, size: 0, parentReference: { driveId: "d", path },
  createdDateTime: "2024-01-01T00:00:00Z", lastModifiedDateTime: "2024-01-05T00:00:00Z", webUrl: `https://x/${id}` });

/**
 * A tiny tenant: users (two pages) and each user's drive delta (`drives[user id]`: a list of
 * pages of items; the last page carries a delta link `.../delta?token=<user>-1`, and that link
 * answers `changes[user id]`). Files' bytes from `files`. `faults` maps a URL part to the
 * responses to give first. Records every request with its headers.
 */
function tenant({ users = [ALICE, BOB], drives = {}, changes = {}, files = {}, faults = {}, permissions = {} } = {}) {
  const calls = [];
  const route = (url, headers) => {
    const p = url.slice(G.length);
    if (p.startsWith("/v1.0/users?")) {
      const page = /skiptoken=(\d+)/.exec(p)?.[1];
      const consistency = headers.find(([k]) => k.toLowerCase() === "consistencylevel")?.[1];
      if (p.includes("assignedLicenses") && consistency !== "eventual") {
        return json(400, { error: { code: "Request_UnsupportedQuery", message: "needs ConsistencyLevel" } });
      }
      return page
        ? json(200, { value: users.slice(1) })
        : json(200, { value: users.slice(0, 1), "@odata.nextLink": `${G}/v1.0/users?$skiptoken=1` });
    }
    const delta = /^\/v1\.0\/users\/([^/]+)\/drive\/root\/delta\?(.*)$/.exec(p);
    if (delta) {
      const user = decodeURIComponent(delta[1]);
      if (delta[2].startsWith("token=")) {
        return json(200, { value: changes[user] ?? [], "@odata.deltaLink": `${G}/v1.0/users/${user}/drive/root/delta?token=${user}-2` });
      }
      const pages = drives[user];
      if (!pages) return json(404, { error: { code: "itemNotFound", message: "mysite not found" } });
      const n = Number(/page=(\d+)/.exec(delta[2])?.[1] ?? 0);
      const last = n === pages.length - 1;
      return json(200, {
        value: pages[n],
        ...(last ? { "@odata.deltaLink": `${G}/v1.0/users/${user}/drive/root/delta?token=${user}-1` }
          : { "@odata.nextLink": `${G}/v1.0/users/${user}/drive/root/delta?page=${n + 1}` }),
      });
    }
    const perms = /^\/v1\.0\/users\/([^/]+)\/drive\/items\/([^/]+)\/permissions/.exec(p);
    if (perms) return json(200, { value: permissions[decodeURIComponent(perms[2])] ?? [] });
    if (url.startsWith(DL)) {
      const id = /UniqueId=([^&]+)/.exec(url)[1];
      const f = files[id];
      return typeof f === "number" ? new Response(f, [], "") : new Response(200, [["content-type", "application/octet-stream"]], f ?? bytesOf("?"));
    }
    if (p === "/v1.0/drives") return json(200, { value: [] });
    return json(404, { error: { code: "itemNotFound", message: p } });
  };
  const transport = (method, url, headers) => {
    calls.push({ url, headers });
    const key = Object.keys(faults).find((k) => url.includes(k) && faults[k].length);
    return key ? faults[key].shift() : route(url, headers);
  };
  return { transport, calls };
}

function withGraph(g, fn) {
  const old = http.setTransport(g.transport);
  try { return fn(); } finally { http.setTransport(old); }
}

const standard = () => ({
  drives: {
    "u-alice": [[root("alice"), folder("fa", "Reports"), file("a1", "plan.txt", 4, "/drive/root:/Reports")],
      [file("a2", "photo.png", 10), file("a3", "notes.TXT", 3)]],
    "u-bob": [[root("bob"), file("b1", "b.pdf", 3)]],
  },
  files: { a1: bytesOf("plan"), a3: bytesOf("abc"), b1: bytesOf("%PD") },
});

test("full sync: Elastic's documents for every licensed user's drive, contents, delta links in the cursor", () => {
  const g = tenant(standard());
  const { docs, cursor } = withGraph(g, () => runSync(od, config));
  assert.deepEqual(docs.map((d) => d.id), ["fa", "a1", "a2", "a3", "b1"], "roots are not indexed");
  const a1 = docs.find((d) => d.id === "a1");
  assert.deepEqual(a1.body, {
    id: "a1", type: "file", title: "plan.txt", created_at: "2024-01-01T00:00:00Z", size: 4,
    url: "https://contoso-my.sharepoint.com/a1", mime_type: "text/plain",
  });
  assert.equal(a1.timestamp, "2024-02-01T00:00:00Z");
  assert.deepEqual(a1.attachment, { tag: "bytes", val: bytesOf("plan") });
  const fa = docs.find((d) => d.id === "fa");
  assert.deepEqual([fa.body.type, fa.body.mime_type, fa.attachment], ["folder", null, null]);
  assert.equal(docs.find((d) => d.id === "a2").attachment, null, ".png is not extracted");
  assert.deepEqual(docs.find((d) => d.id === "a3").attachment.val, bytesOf("abc"), "extensions compare without case");
  const c = JSON.parse(cursor);
  assert.deepEqual(c.user_drives, {
    "u-alice": `${G}/v1.0/users/u-alice/drive/root/delta?token=u-alice-1`, "u-bob": `${G}/v1.0/users/u-bob/drive/root/delta?token=u-bob-1`,
  });
  // Users: licensed and enabled, with the consistency header the $count filter needs.
  const userCall = g.calls.find((c) => c.url.includes("/users?"));
  assert.match(decodeURIComponent(userCall.url), /\$filter=accountEnabled eq true and assignedLicenses\/\$count ne 0&\$count=true/);
  assert.match(userCall.url, /\$top=999/);
  // Downloads carry no Authorization and the links stay out of the documents.
  assert.ok(g.calls.filter((c) => c.url.startsWith(DL)).every((c) => !c.headers.some(([k]) => k.toLowerCase() === "authorization")));
  assert.ok(docs.every((d) => !JSON.stringify(d.body).includes("tempauth")));
  assert.deepEqual(g.calls.filter((c) => c.url.startsWith(DL)).map((c) => /UniqueId=(\w+)/.exec(c.url)[1]), ["a1", "a3", "b1"]);
});

test("a user without a OneDrive (404) is skipped; a 429 is ridden out with Retry-After", () => {
  const s = standard();
  delete s.drives["u-bob"];
  const g = tenant({ ...s, faults: { "delta?page=1": [json(429, { error: { code: "TooManyRequests", message: "slow" } }, [["Retry-After", "0"]])] } });
  const { docs, cursor } = withGraph(g, () => runSync(od, config));
  assert.deepEqual(docs.map((d) => d.id), ["fa", "a1", "a2", "a3"]);
  assert.equal(g.calls.filter((c) => c.url.includes("delta?page=1")).length, 2, "the throttled page is asked again");
  assert.deepEqual(Object.keys(JSON.parse(cursor).user_drives), ["u-alice"]);
});

test("throttling: retry_count bounds the retries; a persistent 503 fails the sync as a network error", () => {
  const busy = () => json(503, { error: { code: "serviceNotAvailable", message: "busy" } }, [["Retry-After", "0"]]);
  const g = tenant({ ...standard(), faults: { "/delta?": Array.from({ length: 10 }, busy) } });
  withGraph(g, () => assert.throws(() => runSync(od, { ...config, retry_count: 2 }),
    (e) => e.kind === "network" && /503 after 2 retries/.test(e.message)));
  assert.equal(g.calls.filter((c) => c.url.includes("/delta?")).length, 3);
  assert.throws(() => check(od, { ...config, retry_count: -1 }), (e) => e.kind === "config" && /retry_count/.test(e.message));
});

test("401 and 403 are auth errors that say what to fix", () => {
  const g401 = tenant({ ...standard(), faults: { "/users?": [json(401, { error: { code: "InvalidAuthenticationToken", message: "empty" } })] } });
  withGraph(g401, () => assert.throws(() => runSync(od, config),
    (e) => e.kind === "auth" && /client_secret/.test(e.message) && /grants\.credentials/.test(e.message)));
  const g403 = tenant({ ...standard(), faults: { "/delta?": [json(403, { error: { code: "accessDenied", message: "no" } })] } });
  withGraph(g403, () => assert.throws(() => runSync(od, config), (e) => e.kind === "auth" && /Files\.Read\.All/.test(e.message)));
});

test("incremental sync: each user's delta link; tombstones become deletions; a new user's drive comes whole", () => {
  const previous = JSON.stringify({ user_drives: { "u-alice": `${G}/v1.0/users/u-alice/drive/root/delta?token=u-alice-1` }, cursor_timestamp: "2024-06-01T00:00:00Z" });
  const g = tenant({ ...standard(), changes: { "u-alice": [{ id: "a2", deleted: { state: "deleted" } }, file("a1", "plan v2.txt", 2, "/drive/root:/Reports")] },
    files: { a1: bytesOf("v2"), b1: bytesOf("%PD") } });
  const { docs, cursor } = withGraph(g, () => runSync(od, config, { kind: "incremental", cursor: previous }));
  assert.deepEqual(docs.map((d) => [d.op, d.id]), [["delete", "a2"], ["index", "a1"], ["index", "b1"]]);
  assert.deepEqual(docs[1].attachment.val, bytesOf("v2"), "changed files are downloaded again");
  assert.deepEqual(JSON.parse(cursor).user_drives, {
    "u-alice": `${G}/v1.0/users/u-alice/drive/root/delta?token=u-alice-2`, "u-bob": `${G}/v1.0/users/u-bob/drive/root/delta?token=u-bob-1`,
  });
});

test("incremental sync without a cursor, or whose links did not fit, asks for full syncs", () => {
  withGraph(tenant(), () => assert.throws(() => runSync(od, config, { kind: "incremental" }),
    (e) => e.kind === "source" && /full sync/.test(e.message)));
  const dropped = JSON.stringify({ user_drives: null, drives_left_out: 900, cursor_timestamp: "2024-06-01T00:00:00Z" });
  withGraph(tenant(), () => assert.throws(() => runSync(od, config, { kind: "incremental", cursor: dropped }),
    (e) => e.kind === "source" && /900 delta links/.test(e.message)));
});

test("a cursor that would exceed the host's limit leaves the links out instead of failing the sync", () => {
  const many = Array.from({ length: 400 }, (_, i) => ({ id: `u-${String(i).padStart(4, "0")}-${"x".repeat(100)}`, mail: `u${i}@contoso.com` }));
  const drives = Object.fromEntries(many.map((u) => [u.id, [[root(u.id)]]]));
  const { cursor } = withGraph(tenant({ users: many, drives }), () => runSync(od, config));
  const c = JSON.parse(cursor);
  assert.equal(c.user_drives, null);
  assert.equal(c.drives_left_out, 400);
  assert.ok(cursor.length < connector.CURSOR_BUDGET);
});

test("contents: a file gone meanwhile is indexed without content; a denied download origin names the grant", () => {
  const s = standard();
  const g = tenant({ ...s, files: { ...s.files, a1: 404 } });
  const { docs } = withGraph(g, () => runSync(od, config));
  assert.equal(docs.find((d) => d.id === "a1").attachment, null);
  const denied = tenant(standard());
  const transport = (m, url, h) => {
    if (url.startsWith(DL)) throw Object.assign(new NetworkError("the host denied the request to https://contoso-my.sharepoint.com"), { code: "HTTP-request-denied" });
    return denied.transport(m, url, h);
  };
  withGraph({ transport }, () => assert.throws(() => runSync(od, config),
    (e) => e.kind === "network" && /grants\.http/.test(e.message) && !/tok-a1/.test(e.message)));
});

test("skipContent: Elastic's extensions, a non-zero size within 10 MiB, files only", () => {
  const max = 10485760;
  assert.equal(connector.skipContent(file("x", "a.docx", max)), null);
  assert.match(connector.skipContent(file("x", "a.docx", max + 1)), /above 10485760/);
  assert.equal(connector.skipContent(file("x", "a.txt", 0)), "empty");
  assert.equal(connector.skipContent(file("x", "Makefile", 3)), "file type is not supported");
  assert.equal(connector.skipContent(folder("f", "x.txt")), "not a file");
  assert.equal(connector.skipContent(file("x", "a.txt", 3, "/", { "@microsoft.graph.downloadUrl": undefined })), "no @microsoft.graph.downloadUrl");
});

// ---- advanced rules ----------------------------------------------------------------------------

test("advanced rules: Elastic's schema (plus notParentPathPattern), each problem reported", () => {
  const validate = (rules) => od.validateAdvancedRules(config, rules);
  for (const ok of [null, [], [{ owners: ["a@b.co"] }], [{ skipFilesWithExtensions: [".txt"], parentPathPattern: "/drive/root:/x/**" }],
    [{ notParentPathPattern: "/drive/root:/Private/**" }]]) {
    assert.deepEqual(validate(ok), [], JSON.stringify(ok));
  }
  const bad = [
    [{ owners: ["a@b.co"] }, /JSON list.*got an object/],
    [[{}], /rule 1 is empty/],
    [[{ owner: ["a@b.co"] }], /unknown key "owner"/],
    [[{ owners: [] }], /owners must be a non-empty list/],
    [[{ owners: ["not-a-mail"] }], /"not-a-mail" is not an e-mail address/],
    [[{ skipFilesWithExtensions: ".txt" }], /skipFilesWithExtensions must be a non-empty list/],
    [[{ parentPathPattern: "" }], /parentPathPattern must be a non-empty string/],
    [[{ notParentPathPattern: 3 }], /notParentPathPattern must be a non-empty string/],
    [["x"], /rule 1 must be an object/],
  ];
  for (const [rules, message] of bad) {
    const errors = validate(rules);
    assert.equal(errors.length, 1, `${JSON.stringify(rules)}: ${errors}`);
    assert.match(errors[0], message);
  }
  const { metadata } = withGraph(tenant(), () => check(od, config));
  assert.deepEqual([metadata.features.advancedRules, metadata.features.incrementalSync, metadata.features.documentLevelSecurity], [true, true, true]);
});

test("advanced rules: owners, skipped extensions and path patterns; the union of the rules", () => {
  const s = standard();
  s.drives["u-alice"][0].push(file("a4", "deep.txt", 1, "/drive/root:/Reports/2024"), file("a5", "secret.txt", 1, "/drive/root:/Reports/Private"));
  const run = (rules) => withGraph(tenant(s), () => runSync(od, config, { advancedRules: rules })).docs.map((d) => d.id);
  assert.deepEqual(run([{ owners: ["bob@contoso.com"] }]), ["b1"]);
  assert.deepEqual(run([{ owners: ["alice@contoso.com"], skipFilesWithExtensions: [".png", ".TXT"] }]), ["fa", "a1", "a4", "a5"],
    "extensions compare exactly, as Python's splitext");
  // `/Reports/**` matches what is under a folder of Reports, not Reports' own files (wcmatch).
  assert.deepEqual(run([{ parentPathPattern: "/drive/root:/Reports/**" }]), ["a4", "a5"]);
  assert.deepEqual(run([{ parentPathPattern: "/drive/root:/Reports*" }]), ["a1"]);
  assert.deepEqual(run([{ parentPathPattern: "/drive/root:/Reports/**", notParentPathPattern: "**/Private" }]), ["a4"]);
  assert.deepEqual(run([{ owners: ["bob@contoso.com"] }, { owners: ["alice@contoso.com"], parentPathPattern: "/drive/root:" }]),
    ["fa", "a2", "a3", "b1"], "each user's drive is read once; what any rule keeps is indexed");
  // A drive no rule applies to is not read at all.
  const g = tenant(s);
  withGraph(g, () => runSync(od, config, { advancedRules: [{ owners: ["bob@contoso.com"] }] }));
  assert.ok(!g.calls.some((c) => c.url.includes("u-alice/drive")));
});

test("advanced rules: incremental syncs delete changed items the rules now leave out", () => {
  const previous = JSON.stringify({ user_drives: { "u-alice": `${G}/v1.0/users/u-alice/drive/root/delta?token=u-alice-1` }, cursor_timestamp: "2024-06-01T00:00:00Z" });
  const g = tenant({ ...standard(), changes: { "u-alice": [file("a1", "moved.txt", 1, "/drive/root:/Other"), file("a6", "new.txt", 1, "/drive/root:/Reports/q")] } });
  const { docs } = withGraph(g, () => runSync(od, config, {
    kind: "incremental", cursor: previous, advancedRules: [{ owners: ["alice@contoso.com"], parentPathPattern: "/drive/root:/Reports/**" }],
  }));
  assert.deepEqual(docs.map((d) => [d.op, d.id]), [["delete", "a1"], ["index", "a6"]]);
});

test("advanced rules: an invalid rule fails the sync as a config error before any request", () => {
  for (const kind of ["full", "incremental"]) {
    const g = tenant(standard());
    const cursor = JSON.stringify({ user_drives: {}, cursor_timestamp: "2024-06-01T00:00:00Z" });
    withGraph(g, () => assert.throws(() => runSync(od, config, { kind, cursor, advancedRules: [{ owners: "alice" }] }),
      (e) => e.kind === "config" && /owners must be a non-empty list/.test(e.message)));
    assert.equal(g.calls.length, 0, `${kind}: nothing was requested`);
  }
});

// ---- document-level security -------------------------------------------------------------------

test("DLS: items carry _allow_access_control from their permissions; access-control documents per user", () => {
  const permissions = {
    a1: [{ grantedToV2: { user: { id: "u-alice" } } }, { grantedToIdentitiesV2: [{ user: { id: "u-bob" } }, { group: { id: "g-1" } }] }],
    b1: [{ grantedToV2: { user: { id: "u-bob" } } }],
  };
  const g = tenant({ ...standard(), permissions });
  const dls = { ...config, use_document_level_security: true };
  const { docs } = withGraph(g, () => runSync(od, dls));
  const acl = Object.fromEntries(docs.map((d) => [d.id, d.body._allow_access_control]));
  assert.deepEqual(acl.a1, ["user_id:u-alice", "user_id:u-bob", "group:g-1"]);
  assert.deepEqual(acl.b1, ["user_id:u-bob"]);
  assert.deepEqual(acl.fa, [], "an item without permissions is visible to no one");
  // Without DLS, no permission is fetched and no field is set.
  const plain = tenant({ ...standard(), permissions });
  const r = withGraph(plain, () => runSync(od, config));
  assert.ok(r.docs.every((d) => !("_allow_access_control" in d.body)));
  assert.ok(!plain.calls.some((c) => c.url.includes("/permissions")));

  const users = [{ ...ALICE, transitiveMemberOf: [{ id: "g-1" }, { id: "g-2" }] }, { ...BOB, mail: null, transitiveMemberOf: [] }];
  const ga = tenant({ users });
  const acls = withGraph(ga, () => runSync(od, dls, { kind: "access_control" })).docs;
  assert.deepEqual(acls.map((d) => d.id), ["alice@contoso.com", "bob@contoso.com"], "_id: mail, else the user principal name");
  assert.deepEqual(acls[0].body.identity, { email: "email:alice@contoso.com", username: "user:alice@contoso.com", user_id: "user_id:u-alice" });
  assert.deepEqual(acls[0].body.query.template.params.access_control,
    ["email:alice@contoso.com", "user:alice@contoso.com", "user_id:u-alice", "group:g-1", "group:g-2"]);
  assert.match(acls[0].body.query.template.source, /_allow_access_control\.keyword/);
  assert.deepEqual(acls[1].body.query.template.params.access_control, ["user:bob@contoso.com", "user_id:u-bob"]);
  const aclCall = ga.calls.find((c) => c.url.includes("/users?"));
  assert.match(decodeURIComponent(aclCall.url), /\$expand=transitiveMemberOf\(\$select=id\)/);
  assert.ok(!decodeURIComponent(aclCall.url).includes("assignedLicenses"), "every enabled user, licensed or not");
  // DLS off: no access-control documents.
  assert.deepEqual(withGraph(tenant({ users }), () => runSync(od, config, { kind: "access_control" })).docs, []);
});

test("configuration: Elastic's keys, labels and order; the secret sensitive and optional", () => {
  const { schema } = withGraph(tenant(), () => check(od, config));
  assert.deepEqual(schema.map((f) => [f.key, f.order]), [
    ["client_id", 1], ["client_secret", 2], ["tenant_id", 3], ["retry_count", 4], ["concurrent_downloads", 5],
    ["use_document_level_security", 6], ["use_text_extraction_service", 7], ["graph_endpoint", 8],
  ]);
  const byKey = Object.fromEntries(schema.map((f) => [f.key, f]));
  assert.deepEqual([byKey.client_id.label, byKey.client_secret.label, byKey.tenant_id.label],
    ["Azure application Client ID", "Azure application Client Secret", "Azure application Tenant ID"]);
  assert.deepEqual([byKey.client_secret.sensitive, byKey.client_secret.required], [true, false]);
  assert.deepEqual(schema.filter((f) => f.sensitive).map((f) => f.key), ["client_secret"]);
  assert.deepEqual([byKey.retry_count.defaultValue, byKey.retry_count.type, byKey.retry_count.uiRestrictions], [3, "int", ["advanced"]]);
  assert.equal(byKey.concurrent_downloads.defaultValue, 15);
  assert.throws(() => check(od, { ...config, graph_endpoint: "graph.microsoft.com/v1.0" }), (e) => e.kind === "config");
});
