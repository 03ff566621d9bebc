// Unit tests of the DLS mapping (dls.js): SharePoint role assignments and Graph permissions to
// Elastic's identities, and the access-control documents; then a sync over a fake transport
// (Graph + the REST API) checking which documents get which readers. Run:
// node --test plugins/sharepoint_online/test/
import { test } from "node:test";
import assert from "node:assert/strict";
const { sdk, testing, importFromRoot } = await import("../../shared/graph/test/load.mjs");
const { http, Response } = sdk;
const { runSync } = testing;
const dls = await importFromRoot("plugins/sharepoint_online/dls.js");
const spo = (await importFromRoot("plugins/sharepoint_online/connector.js")).default;

const user = (name, extra = {}) => ({ "odata.type": "SP.User", Title: name, Email: `${name}@c.com`, UserPrincipalName: `${name}@c.com`,
  LoginName: `i:0#.f|membership|${name}@c.com`, ...extra });
const claim = (id) => ({ "odata.type": "SP.User", LoginName: `c:0o.c|federateddirectoryclaimprovider|${id}` });
const bind = (RoleTypeKind, Low = "0") => ({ RoleTypeKind, BasePermissions: { High: "0", Low } });
const noOwners = () => assert.fail("no owners lookup expected");

test("login names: Elastic's claims prefixes only", () => {
  assert.equal(dls.loginName("i:0#.f|membership|a@c.com"), "a@c.com");
  assert.equal(dls.loginName("c:0t.c|tenant|g1"), "g1");
  assert.equal(dls.loginName("c:0o.c|federateddirectoryclaimprovider|g2_o"), "g2_o");
  assert.equal(dls.loginName("SHAREPOINT\\system"), null);
  assert.equal(dls.loginName(null), null);
});

test("view access: the view bits or a reading role type; no bindings is no access", () => {
  assert.equal(dls.grantsView({ RoleDefinitionBindings: [bind(2)] }), true, "reader");
  assert.equal(dls.grantsView({ RoleDefinitionBindings: [bind(0xff)] }), true, "system");
  assert.equal(dls.grantsView({ RoleDefinitionBindings: [bind(1, "1")] }), true, "view items bit");
  assert.equal(dls.grantsView({ RoleDefinitionBindings: [bind(1, String(0x20000))] }), true, "view pages bit");
  for (const kind of [0, 1, 8, 9]) assert.equal(dls.grantsView({ RoleDefinitionBindings: [bind(kind)] }), false, `kind ${kind}`);
  assert.equal(dls.grantsView({ RoleDefinitionBindings: [] }), false);
  assert.equal(dls.grantsView({}), false);
});

test("role assignments: users, SharePoint groups' users, Entra groups, owners, everyone", () => {
  const owners = (id) => (id === "g9" ? [{ id: "u-o", mail: "o@c.com", userPrincipalName: "o@c.com" }] : []);
  assert.deepEqual(dls.roleAssignmentIdentities({ Member: user("a"), RoleDefinitionBindings: [bind(2)] }, noOwners),
    ["user:a@c.com", "user:a@c.com", "email:a@c.com"]);
  assert.deepEqual(dls.roleAssignmentIdentities({ Member: user("a"), RoleDefinitionBindings: [bind(1)] }, noOwners), [], "a guest reads nothing");
  const group = { "odata.type": "SP.Group", Users: [user("b"), claim("g1"), claim("g9_o")] };
  assert.deepEqual(dls.unique(dls.roleAssignmentIdentities({ Member: group, RoleDefinitionBindings: [bind(3)] }, owners)),
    ["email:b@c.com", "email:o@c.com", "group:g1", "user:b@c.com", "user:o@c.com", "user_id:u-o"]);
  const everyone = { "odata.type": "SP.User", LoginName: "c:0-.f|rolemanager|spo-grid-all-users/abc" };
  assert.deepEqual(dls.roleAssignmentIdentities({ Member: everyone, RoleDefinitionBindings: [bind(2)] }, noOwners),
    ["group:EveryoneExceptExternalUsers"]);
  assert.deepEqual(dls.roleAssignmentIdentities({ Member: { "odata.type": "SP.Principal" }, RoleDefinitionBindings: [bind(2)] }, noOwners), []);
});

test("drive item permissions: grantedToV2 and grantedToIdentitiesV2, site groups expanded", () => {
  const perms = [
    { grantedToV2: { user: { id: "u1" }, siteUser: { email: "a@c.com", loginName: "i:0#.f|membership|a@c.com" } } },
    { grantedToIdentitiesV2: [{ group: { id: "g1" } }, { user: { id: "u2" } }] },
    { grantedToV2: { siteGroup: { id: "7" } } },
    { link: { scope: "anonymous" } }, // a sharing link names nobody
  ];
  const siteGroups = (id) => (id === "7" ? [user("h")] : assert.fail(id));
  assert.deepEqual(dls.unique(dls.driveItemIdentities(perms, siteGroups, noOwners)),
    ["email:a@c.com", "email:h@c.com", "group:g1", "user:a@c.com", "user:h@c.com", "user_id:u1", "user_id:u2"]);
  assert.deepEqual(dls.driveItemIdentities([], siteGroups, noOwners), []);
});

test("access-control documents: Elastic's _id, identity and query", () => {
  const d = dls.userAccessDoc({ id: "u1", userPrincipalName: "a@c.com", mail: "A@c.com", createdDateTime: "2024-01-01T00:00:00Z" }, ["g1"]);
  assert.equal(d._id, "A@c.com");
  assert.deepEqual(d.identity, { email: "email:A@c.com", username: "user:a@c.com", user_id: "user_id:u1" });
  assert.deepEqual(d.query.template.params.access_control, ["email:A@c.com", "user:a@c.com", "user_id:u1", "group:g1"]);
  assert.equal(d.query.template.source, dls.DLS_QUERY);
  assert.equal(dls.userAccessDoc({ id: "u2", mail: "x@c.com" }, []), null, "no user name: skipped, as Elastic");
  assert.equal(dls.userAccessDoc({ id: "u3", userPrincipalName: "n@c.com", mail: null }, [])._id, "n@c.com");
});

// ---- a sync with DLS over a fake Graph and REST API ---------------------------------------------

const G = "https://graph.test";
const WEB = "https://contoso.sharepoint.com/sites/eng";
const SITE = "contoso.sharepoint.com,s1,w1";
const json = (status, obj) => new Response(status, [["content-type", "application/json"]], JSON.stringify(obj));
const config = { tenant_id: "t", tenant_name: "contoso", client_id: "c", graph_endpoint: G, auth_method: "certificate",
  use_document_level_security: true };

function tenant() {
  const calls = [];
  const rest = {
    "/roleassignments?$expand=Member%2Fusers%2CRoleDefinitionBindings": { value: [
      { Member: user("a"), RoleDefinitionBindings: [bind(2)] }, { Member: user("boss", { IsSiteAdmin: true }), RoleDefinitionBindings: [bind(5)] }],
    "odata.nextLink": `${WEB}/_api/web/roleassignments?page=2` },
    "/roleassignments?page=2": { value: [{ Member: user("guest"), RoleDefinitionBindings: [bind(1)] }] },
    "/SiteUsers?$filter=isSiteAdmin%20eq%20true": { value: [user("sca")] },
    "/lists(guid'L1')/HasUniqueRoleAssignments": { value: true },
    "/lists(guid'L1')/roleassignments?$expand=Member%2Fusers%2CRoleDefinitionBindings": { value: [{ Member: user("l"), RoleDefinitionBindings: [bind(2)] }] },
    "/lists(guid'L1')/items(7)/HasUniqueRoleAssignments": { value: false },
    "/lists/GetByTitle('Site%20Pages')/GetItemByUniqueId('P1')/HasUniqueRoleAssignments": { value: false },
  };
  const transport = (method, url) => {
    calls.push(url);
    if (url.startsWith(`${WEB}/_api/web`)) {
      const body = rest[url.slice(`${WEB}/_api/web`.length)];
      return body ? json(200, body) : json(404, { "odata.error": { message: { value: url } } });
    }
    const p = url.slice(G.length);
    if (p.startsWith("/v1.0/sites?")) return json(200, { value: [{ webUrl: "https://contoso.sharepoint.com", siteCollection: { hostname: "contoso.sharepoint.com" } }] });
    if (p.startsWith("/v1.0/sites/contoso.sharepoint.com/sites?")) return json(200, { value: [{ id: SITE, name: "eng", webUrl: WEB }] });
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/drives?`)) return json(200, { value: [{ id: "D", name: "Documents" }] });
    if (p.startsWith("/v1.0/drives/D/root/delta?")) {
      return json(200, { value: [{ id: "i1", name: "x.png", file: {}, parentReference: { driveId: "D" } },
        { id: "i2", name: "y.png", file: {}, parentReference: { driveId: "D" } }], "@odata.deltaLink": `${G}/v1.0/drives/D/root/delta?token=1` });
    }
    if (p === "/v1.0/drives/D/items/i1/permissions") return json(200, { value: [{ grantedToV2: { user: { id: "u1" } } }] });
    if (p === "/v1.0/drives/D/items/i2/permissions") return json(200, { value: [] });
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/lists?`)) return json(200, { value: [{ id: "L1", name: "Ann" }] });
    if (p.startsWith(`/v1.0/sites/${encodeURIComponent(SITE)}/lists/L1/items?`)) return json(200, { value: [{ id: "7", contentType: { name: "Item" }, fields: {} }] });
    if (p === `/v1.0/sites/${encodeURIComponent(SITE)}/pages`) return json(200, { value: [{ id: "P1", title: "Home" }] });
    return json(404, { error: { code: "itemNotFound", message: p } });
  };
  return { transport, calls };
}

test("a full sync with DLS: each document's readers, nobody's documents left out", () => {
  const t = tenant();
  http.setTransport(t.transport);
  let docs;
  try {
    docs = runSync(spo, config).docs;
  } finally {
    http.setTransport(null);
  }
  const acl = Object.fromEntries(docs.map((d) => [d.id, d.body._allow_access_control]));
  const site = ["email:a@c.com", "email:boss@c.com", "user:a@c.com", "user:boss@c.com"];
  const admins = ["email:boss@c.com", "email:sca@c.com", "user:boss@c.com", "user:sca@c.com"];
  assert.equal(acl["https://contoso.sharepoint.com"], undefined, "site collections carry none, as in Elastic");
  assert.deepEqual(acl[SITE], site);
  assert.deepEqual(acl.D, site);
  assert.deepEqual(acl.i1, ["user_id:u1"]);
  assert.ok(!("i2" in acl), "a drive item nobody may read is left out, not public");
  assert.deepEqual(acl.L1, [...new Set(["email:l@c.com", "user:l@c.com", ...admins])].sort());
  assert.deepEqual(acl["L1-7"], [...new Set([...site, ...admins])].sort(), "not unique: the site's readers and admins");
  assert.deepEqual(acl[`${SITE}-site_page-P1`], [...new Set([...site, ...admins])].sort());
});

test("DLS needs the certificate; without DLS no permission is read", () => {
  assert.throws(() => spo.validateConfig({ ...config, site_collections: ["*"], auth_method: "secret" }), /auth_method "certificate"/);
  const t = tenant();
  http.setTransport(t.transport);
  try {
    const { docs } = runSync(spo, { ...config, use_document_level_security: false });
    assert.ok(docs.every((d) => !("_allow_access_control" in d.body)));
  } finally {
    http.setTransport(null);
  }
  assert.ok(!t.calls.some((u) => u.includes("/_api/") || u.includes("/permissions")), t.calls.join("\n"));
});
