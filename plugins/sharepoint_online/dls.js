// Document-level security for `sharepoint_online`, as Elastic's connector does it
// (connectors/sources/sharepoint/sharepoint_online/datasource.py and client.py):
//
// - each site's readers from its role assignments in the SharePoint REST API
//   (`<site>/_api/web/roleassignments?$expand=Member/users,RoleDefinitionBindings`), its
//   administrators from `SiteUsers?$filter=isSiteAdmin eq true`;
// - lists, list items and pages with unique role assignments (`HasUniqueRoleAssignments`) get
//   their own readers, the others the site's; lists, list items and pages also get the site's
//   administrators;
// - drive items' readers from their Graph permissions (`grantedToV2`, `grantedToIdentitiesV2`:
//   users, groups, site users, and site groups' users from the REST API);
// - identities as Elastic writes them: `user:<login or UPN>`, `email:<mail>`, `user_id:<Entra id>`,
//   `group:<Entra group id>`, `group:EveryoneExceptExternalUsers`;
// - the access-control sync: one document per enabled user (Graph `/users` with their
//   transitive groups), Elastic's `_id`, `identity` and query template.
//
// The SharePoint REST API accepts app-only tokens obtained with a certificate only; the host
// fetches them (plugin.toml `[credentials.sharepoint_rest]`, or a config.yml credential) and
// injects them into requests to the tenant's SharePoint host. No token reaches this code.
import { log, AuthError, SourceError } from "@inlet/sdk";
import { GraphClient, enc, graphMessage, query } from "../shared/graph/graph.js";

export const ACCESS_CONTROL = "_allow_access_control";

// Elastic's constants.py: the permission bits and role types that grant view access.
const VIEW_ITEM_MASK = 0x1;
const VIEW_PAGE_MASK = 0x20000;
const VIEW_ROLE_TYPES = new Set([2, 3, 4, 5, 6, 7, 0xff]); // reader … system; not none, guest, restricted
// `$expand=transitiveMemberOf` of a user: Elastic pages the groups separately from 20 on.
const SPO_MAX_EXPAND_SIZE = 20;
const ROLE_EXPAND = "Member/users,RoleDefinitionBindings";
const EVERYONE_EXCEPT_EXTERNAL = "c:0-.f|rolemanager|spo-grid-all-users";
const GROUP_LOGINS = ["c:0o.c|federateddirectoryclaimprovider|", "c:0t.c|tenant|"];
const LOGIN_PREFIXES = ["i:0#.f|membership|", ...GROUP_LOGINS];
// Elastic's access_control.py DLS_QUERY, byte for byte (Kibana's search applications read it).
export const DLS_QUERY = `{
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

// ---- identities (pure: unit-tested in test/dls.test.mjs) --------------------------------------

/** Elastic's `prefix_identity`: null stays null. */
export const prefixed = (prefix, v) => (v == null || v === "" ? null : `${prefix}:${v}`);

/** Elastic's `_get_login_name`: the name part of a claims login (`i:0#.f|membership|a@b` → `a@b`). */
export function loginName(raw) {
  if (typeof raw !== "string" || !LOGIN_PREFIXES.some((p) => raw.startsWith(p))) return null;
  const parts = raw.split("|");
  return parts.length > 2 ? parts[2] : null;
}

/** Elastic's `_access_control_for_user`: the user's UPN and login as `user:`, mail as
 * `email:`, Entra object id (Graph's lower-case `id`; SharePoint's `Id` is a site-local number)
 * as `user_id:`. */
export function userIdentities(user) {
  return [
    prefixed("user", user.UserPrincipalName ?? user.userPrincipalName),
    prefixed("user", loginName(user.LoginName ?? user.loginName)),
    prefixed("email", user.Email ?? user.mail),
    prefixed("user_id", user.id),
  ].filter((v) => v != null);
}

/**
 * Elastic's `_access_control_for_member`: "Everyone except external users" becomes
 * `group:EveryoneExceptExternalUsers`, an Entra group (claims login) `group:<id>`, a reference
 * to a group's owners (`<id>_o`) the owners themselves (`ownersOf(groupId)` → Graph users), any
 * other member a user.
 */
export function memberIdentities(member, ownersOf) {
  const login = member?.LoginName;
  if (typeof login === "string" && login.startsWith(EVERYONE_EXCEPT_EXTERNAL)) return ["group:EveryoneExceptExternalUsers"];
  if (typeof login === "string" && GROUP_LOGINS.some((p) => login.startsWith(p))) {
    const id = loginName(login);
    if (!id) return [];
    if (id.endsWith("_o")) return ownersOf(id.slice(0, -2)).flatMap(userIdentities);
    return [prefixed("group", id)];
  }
  return userIdentities(member ?? {});
}

/** Whether a role assignment gives its member at least read access (Elastic's
 * `_has_limited_access`, negated): a binding with the view-items or view-pages bit, or a role
 * type that reads. No bindings at all counts as no access. */
export function grantsView(roleAssignment) {
  const bindings = roleAssignment?.RoleDefinitionBindings;
  if (!Array.isArray(bindings) || bindings.length === 0) return false;
  return bindings.some((b) => {
    const low = Number.parseInt(b?.BasePermissions?.Low ?? "0", 10) || 0;
    return (low & VIEW_ITEM_MASK) !== 0 || (low & VIEW_PAGE_MASK) !== 0 || VIEW_ROLE_TYPES.has(b?.RoleTypeKind ?? 0);
  });
}

/** Elastic's `_get_access_control_from_role_assignment`: the identities a role assignment lets
 * read (a SharePoint group's users, or a user), none when it grants no view access. */
export function roleAssignmentIdentities(roleAssignment, ownersOf) {
  if (!grantsView(roleAssignment)) return [];
  const member = roleAssignment.Member ?? {};
  const type = member["odata.type"] ?? "";
  if (type === "SP.Group") return (member.Users ?? []).flatMap((u) => memberIdentities(u, ownersOf));
  if (type === "SP.User") return memberIdentities(member, ownersOf);
  log.debug(`role assignment member of type ${JSON.stringify(type)} skipped`);
  return [];
}

/**
 * Elastic's `_with_drive_item_permissions`: identities from each permission's `grantedToV2` and
 * `grantedToIdentitiesV2` — `user.id` → `user_id:`, `group.id` → `group:`, `siteUser.email` →
 * `email:`, a member `siteUser.loginName` → `user:`, and a `siteGroup`'s users (`siteGroupUsers(id)`,
 * from the REST API) as members.
 */
export function driveItemIdentities(permissions, siteGroupUsers, ownersOf) {
  const identities = [];
  for (const p of permissions) {
    if (p?.grantedToV2) identities.push(p.grantedToV2);
    for (const i of p?.grantedToIdentitiesV2 ?? []) if (i) identities.push(i);
  }
  const out = [];
  for (const i of identities) {
    out.push(prefixed("user_id", i.user?.id), prefixed("group", i.group?.id), prefixed("email", i.siteUser?.email));
    const login = i.siteUser?.loginName;
    if (typeof login === "string" && login.startsWith("i:0#.f|membership|")) out.push(prefixed("user", login.split("|").at(-1)));
    if (i.siteGroup?.id != null) {
      for (const u of siteGroupUsers(i.siteGroup.id)) out.push(...memberIdentities(u, ownersOf));
    }
  }
  return out.filter((v) => v != null);
}

/** Sorted and without duplicates: the same identities give the same document. */
export const unique = (ids) => [...new Set(ids)].sort();

/** A user's access-control document (Elastic's `_user_access_control_doc`); null for a user
 * with neither a user name nor a UPN, whom Elastic skips. */
export function userAccessDoc(user, groupIds) {
  const username = user.UserName ?? user.userPrincipalName;
  if (username == null) return null;
  const mail = user.EMail ?? user.mail ?? null;
  const email = prefixed("email", mail);
  const name = prefixed("user", username);
  const userId = prefixed("user_id", user.id);
  const access = [...new Set([email, name, userId, ...groupIds.map((g) => prefixed("group", g))])].filter((v) => v != null);
  return {
    _id: mail || username,
    identity: { email, username: name, user_id: userId },
    created_at: user.createdDateTime ?? null,
    query: { template: { params: { access_control: access }, source: DLS_QUERY } },
  };
}

// ---- the SharePoint REST API ----------------------------------------------------------------

/** The REST API of the tenant's SharePoint host, with Graph's throttling rules (the shared
 * client's `get`); collections page with `odata.nextLink`. */
export class SharePointRest extends GraphClient {
  constructor(maxRetries) {
    super({ base: "", maxRetries });
  }

  refusal(r, url) {
    if (r.status === 401) {
      return new AuthError(`the SharePoint REST API refused ${url} (HTTP 401, ${graphMessage(r)}): document-level security needs ` +
        "an app-only token from a certificate (SharePoint refuses tokens obtained with a client secret): choose auth_method " +
        "\"certificate\", fill in certificate and private_key, and grant the tenant's SharePoint origin (https://<tenant_name>.sharepoint.com) " +
        "and https://login.microsoftonline.com in this connector's grants.http");
    }
    if (r.status === 403) {
      return new AuthError(`the SharePoint REST API denied ${url} (HTTP 403, ${graphMessage(r)}): reading role assignments needs the ` +
        "Sites.FullControl.All SharePoint application permission; grant it, or turn document-level security off");
    }
    return new SourceError(`GET ${url}: SharePoint answered HTTP ${r.status} (${graphMessage(r)})`);
  }

  *scroll(url, opts) {
    for (let next = url; next;) {
      const page = this.json(next, opts);
      if (page == null) return;
      if (!Array.isArray(page.value)) throw new SourceError(`GET ${next}: no \`value\` list in SharePoint's answer`);
      yield* page.value;
      next = page["odata.nextLink"];
    }
  }

  /** `HasUniqueRoleAssignments` of an object (false when it is not found, as in Elastic). */
  unique(url) {
    return this.json(`${url}/HasUniqueRoleAssignments`, { missingOk: true })?.value === true;
  }

  roleAssignments(url) {
    return this.scroll(`${url}/roleassignments?${query({ $expand: ROLE_EXPAND })}`, { missingOk: true });
  }
}

const web = (site) => `${String(site.webUrl ?? "").replace(/\/+$/, "")}/_api/web`;

/**
 * What a sync needs for DLS: the site's readers and administrators, and each object's readers,
 * with SharePoint site groups' users and Entra groups' owners cached for the sync.
 */
export class AccessControl {
  /** `graph`: the connector's Graph client; `config`: the connector's configuration. */
  constructor(graph, config, maxRetries) {
    this.graph = graph;
    this.rest = new SharePointRest(maxRetries);
    this.config = config;
    this.owners = new Map();
    this.siteGroups = new Map();
    this.ownersOf = (groupId) => {
      if (!this.owners.has(groupId)) {
        const url = graph.url(`/groups/${enc(groupId)}/owners`, { $select: "id,mail,userPrincipalName" });
        this.owners.set(groupId, [...graph.scroll(url, { missingOk: true })]);
      }
      return this.owners.get(groupId);
    };
  }

  /** `{ readers, admins }` of a site (Elastic's `_site_access_control`). */
  site(site) {
    const readers = [];
    const admins = [];
    for (const ra of this.rest.roleAssignments(web(site))) {
      const ids = roleAssignmentIdentities(ra, this.ownersOf);
      readers.push(...ids);
      if (ra.Member?.IsSiteAdmin) admins.push(...ids);
    }
    const filter = query({ $filter: "isSiteAdmin eq true" });
    for (const member of this.rest.scroll(`${web(site)}/SiteUsers?${filter}`, { missingOk: true })) {
      admins.push(...memberIdentities(member, this.ownersOf));
    }
    return { readers: unique(readers), admins: unique(admins) };
  }

  /** The readers of an object at `url` when it has unique role assignments and `fetch` is on,
   * else `inherited`. */
  scoped(url, fetch, inherited) {
    if (!fetch || !this.rest.unique(url)) return inherited;
    log.debug(`${url} has unique role assignments; the site's do not apply`);
    return unique([...this.rest.roleAssignments(url)].flatMap((ra) => roleAssignmentIdentities(ra, this.ownersOf)));
  }

  list(site, list, acl) {
    const url = `${web(site)}/lists(guid'${list.id}')`;
    return unique([...this.scoped(url, this.config.fetch_unique_list_permissions, acl.readers), ...acl.admins]);
  }

  listItem(site, list, item, acl) {
    const url = `${web(site)}/lists(guid'${list.id}')/items(${Number.parseInt(item.id, 10)})`;
    return unique([...this.scoped(url, this.config.fetch_unique_list_item_permissions, acl.readers), ...acl.admins]);
  }

  /** Graph's page id is the "Site Pages" list item's UniqueId. */
  page(site, page, acl) {
    const url = `${web(site)}/lists/GetByTitle('Site%20Pages')/GetItemByUniqueId('${page.id}')`;
    return unique([...this.scoped(url, this.config.fetch_unique_page_permissions, acl.readers), ...acl.admins]);
  }

  /** A drive item's readers: its own permissions, or the site's readers when
   * `fetch_drive_item_permissions` is off. */
  driveItem(site, item, acl) {
    if (!this.config.fetch_drive_item_permissions) return acl.readers;
    const driveId = item.parentReference?.driveId;
    if (!driveId) throw new SourceError(`drive item ${item.id}: no parentReference.driveId in Graph's answer`);
    const perms = this.graph.scroll(this.graph.url(`/drives/${enc(driveId)}/items/${enc(item.id)}/permissions`), { missingOk: true });
    return unique(driveItemIdentities([...perms], (id) => this.siteGroupUsers(site, id), this.ownersOf));
  }

  siteGroupUsers(site, groupId) {
    const key = `${site.webUrl} ${groupId}`;
    if (!this.siteGroups.has(key)) {
      const url = `${web(site)}/sitegroups/getbyid(${Number.parseInt(groupId, 10)})/users?${query({ $select: "Email,Id,UserPrincipalName,LoginName,Title" })}`;
      this.siteGroups.set(key, [...this.rest.scroll(url, { missingOk: true })]);
    }
    return this.siteGroups.get(key);
  }
}

/** The access-control sync: every enabled user, once (by mail or user name), with their
 * transitive groups (paged separately past `$expand`'s limit, as in Elastic). */
export function* accessControlDocs(graph) {
  const url = graph.url("/users", {
    $expand: "transitiveMemberOf($select=id)", $top: 999, $filter: "accountEnabled eq true",
    $select: "UserName,userPrincipalName,Email,mail,transitiveMemberOf,id,createdDateTime",
  });
  const seen = new Set();
  let n = 0;
  for (const user of graph.scroll(url)) {
    const mail = user.EMail ?? user.mail ?? null;
    const username = user.UserName ?? user.userPrincipalName ?? null;
    if ([mail, username].some((v) => v != null && seen.has(v))) continue;
    for (const v of [mail, username]) if (v != null) seen.add(v);
    const inline = user.transitiveMemberOf ?? [];
    const groups = inline.length < SPO_MAX_EXPAND_SIZE ? inline
      : [...graph.scroll(graph.url(`/users/${enc(user.id)}/transitiveMemberOf`), { missingOk: true })];
    const doc = userAccessDoc(user, groups.map((g) => g?.id).filter((id) => id != null));
    if (doc) { n++; yield doc; }
  }
  log.info(`access control: ${n} users`);
}
