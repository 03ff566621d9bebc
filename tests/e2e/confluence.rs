//! The Confluence connector (`plugins/confluence`, Go), built from source with the Go SDK and
//! run by the real `inlet` binary against the Confluence-shaped test server
//! (`tests/ftest/fixtures/confluence/server.py`): REST API v1 lists capped at 5 results a page,
//! HTTP Basic auth that only the host can supply, a 429 + `Retry-After: 1` to ride out, CQL
//! `lastmodified` for incremental syncs, and a persistent 503 that must fail the sync without
//! deleting anything. A second test runs it as Confluence Cloud with document-level security:
//! identities from the access-control sync, `_allow_access_control` from space permissions and
//! read restrictions. A third syncs with advanced sync rules (CQL queries): exactly what they
//! find, each narrowed by `lastmodified` in an incremental sync, and a rule without `query`
//! refused before any request.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::*;
use serde_json::Value;

const MARK: &str = "TOPSECRET";
const PASSWORD: &str = "conf-TOPSECRET-71c2";
/// Pages and blog posts loaded (over 3 spaces; every 5th page, not a blog post, has an
/// attachment): with pages of 5, every list takes several requests.
const ITEMS: usize = 60;

/// The server's request log since the last `requests/clear`.
fn requests(server: &FixtureServer) -> Vec<Value> {
    let v = server.control("GET", "requests", None);
    v.as_array().expect("a list").clone()
}

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
}

impl Setup {
    fn new(origin: &str) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("confluence", &tmp.path().join("plugins"));
        Setup {
            tmp,
            origin: origin.to_owned(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-conf.ndjson")
    }

    fn configure(&self, grant_http: bool, retry_count: u32) {
        let origin = &self.origin;
        let http = if grant_http {
            format!("[\"{origin}\"]")
        } else {
            "[]".to_owned()
        };
        write_config(
            self.path(),
            &format!(
                "credentials:\n  confluence:\n    type: basic\n    username: inlet\n    password: {PASSWORD}\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: conf\n    service_type: confluence\n    configuration:\n\
                 \x20     data_source: confluence_server\n      confluence_url: {origin}\n\
                 \x20     spaces: [\"*\"]\n      retry_count: {retry_count}\n\
                 \x20   grants:\n      http: {http}\n      credentials: [confluence]\n"
            ),
        );
    }

    /// Confluence Cloud (the API under `/wiki`) with document-level security on.
    fn configure_cloud_dls(&self) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "credentials:\n  confluence:\n    type: basic\n    username: inlet\n    password: {PASSWORD}\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: conf\n    service_type: confluence\n    configuration:\n\
                 \x20     data_source: confluence_cloud\n      confluence_url: {origin}\n\
                 \x20     spaces: [\"*\"]\n      use_document_level_security: true\n\
                 \x20   grants:\n      http: [\"{origin}\"]\n      credentials: [confluence]\n"
            ),
        );
    }

    /// Confluence Server with advanced sync rules (`rules`: the YAML items under `advanced:`,
    /// indented for it), and a `spaces` the rules must override.
    fn configure_rules(&self, rules: &str) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "credentials:\n  confluence:\n    type: basic\n    username: inlet\n    password: {PASSWORD}\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: conf\n    service_type: confluence\n    configuration:\n\
                 \x20     data_source: confluence_server\n      confluence_url: {origin}\n\
                 \x20     spaces: [\"HR\"]\n\
                 \x20   grants:\n      http: [\"{origin}\"]\n      credentials: [confluence]\n\
                 \x20   sync_rules:\n      advanced:\n{rules}"
            ),
        );
    }

    /// The embedded sink's file for the identities of the access-control sync.
    fn acl_sink(&self) -> PathBuf {
        self.path()
            .join("data/sink/.search-acl-filter-search-conf.ndjson")
    }

    /// One sync; checks that the password reached neither inlet's output nor its data
    /// directory (the plugin's config, state and documents live there).
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let config = self.path().join("config.yml");
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "conf", "--json", "--type", kind, "--config"])
            .arg(&config)
            .env("RUST_LOG", "debug,wasmtime=warn,cranelift=warn,hyper=info")
            .output()
            .expect("run inlet");
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(
            !so.contains(MARK) && !se.contains(MARK),
            "the password reached inlet's output:\n{so}\n{se}"
        );
        assert_not_under(&self.path().join("data"), MARK);
        let report: Value = serde_json::from_str(&so)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {so}\n{se}"));
        (out.status.success(), report, se)
    }
}

/// Percent-decoding of a query string value (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(target: &str, key: &str) -> Option<String> {
    let (_, q) = target.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

fn target(r: &Value) -> &str {
    r["target"].as_str().unwrap_or_default()
}

/// The ids the fixture generates for `n` items: spaces by key, content `100000 + i`, and
/// `att<content id>` for every 5th page (blog posts are every 4th item).
fn expected_ids(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = ["ENG", "OPS", "HR"].map(String::from).to_vec();
    for i in 1..=n {
        ids.push(format!("{}", 100_000 + i));
        if i % 5 == 0 && i % 4 != 0 {
            ids.push(format!("att{}", 100_000 + i));
        }
    }
    ids.sort();
    ids
}

#[test]
fn confluence_connector_syncs_through_the_broker() {
    let started = Instant::now();
    let server = FixtureServer::start("confluence", &["--token", PASSWORD]);
    let setup = Setup::new(&server.origin);
    setup.configure(true, 3);

    // 1. Full sync, riding out one 429 (Retry-After: 1) on the first page of the search.
    let expected = server.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    assert_eq!(expected, expected_ids(ITEMS).len());
    server.control(
        "POST",
        "faults",
        Some(r#"{"throttle_once": "/rest/api/content/search?"}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["indexed"], expected as u64, "{report}");
    let docs = replay(&setup.sink());
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        expected_ids(ITEMS),
        "{report}"
    );
    let origin = &server.origin;
    let eng = &docs["ENG"];
    assert_eq!(eng["type"], "Space");
    assert_eq!(eng["title"], "Engineering");
    assert_eq!(eng["url"], format!("{origin}/spaces/ENG"));
    // Item 5: a page in HR under the space's first page (item 2), with one attachment.
    let page = &docs["100005"];
    assert_eq!(page["type"], "page");
    assert_eq!(page["title"], "Page 5 in HR");
    assert_eq!(page["space"], "People");
    assert_eq!(page["body"], "Content of Page 5 in HR.\nItem 5 & space HR.");
    assert_eq!(
        page["ancestors"],
        serde_json::json!([{"title": "Page 2 in HR"}])
    );
    assert_eq!(page["author"], "Author");
    assert_eq!(page["_timestamp"], "2024-01-01T00:05:00.000Z");
    assert_eq!(
        page["url"],
        format!("{origin}/pages/viewpage.action?pageId=100005")
    );
    let blog = &docs["100004"];
    assert_eq!(blog["type"], "blogpost");
    assert_eq!(blog["space"], "Operations");
    let att = &docs["att100005"];
    assert_eq!(att["type"], "attachment");
    assert_eq!(att["title"], "notes-5.txt");
    assert_eq!(att["page"], "Page 5 in HR");
    assert_eq!(att["size"], 40);
    assert_eq!(
        att["_attachment"], "QXR0YWNobWVudCBvZiBwYWdlIDU6IHBsYWluIHRleHQgbm90ZXMuCg==",
        "the attachment's bytes, base64"
    );

    let seen = requests(&server);
    // The host injected the operator's Basic credential into every request.
    assert!(
        seen.iter()
            .all(|r| r["authorization"] == true && r["auth_ok"] == true),
        "{seen:?}"
    );
    // Pagination: the search was followed through `_links.next` to its last page (60 items,
    // 5 a page), and the throttled page was fetched again after its 429.
    let search: Vec<&Value> = seen
        .iter()
        .filter(|r| target(r).starts_with("/rest/api/content/search?"))
        .collect();
    let mut starts: Vec<u64> = search
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| {
            query_param(target(r), "start").map_or(0, |s| s.parse().expect("start is a number"))
        })
        .collect();
    starts.sort();
    assert_eq!(starts, (0..ITEMS as u64).step_by(5).collect::<Vec<_>>());
    let throttled: Vec<&&Value> = search.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(throttled.len(), 1, "{search:?}");
    let retried: Vec<&&Value> = search
        .iter()
        .filter(|r| target(r) == target(throttled[0]) && r["status"] == 200)
        .collect();
    assert_eq!(retried.len(), 1, "the throttled page is fetched again");
    let waited = retried[0]["at"].as_f64().expect("at") - throttled[0]["at"].as_f64().expect("at");
    assert!(
        waited >= 0.95,
        "the retry waited {waited:.2}s, not the 1 s Retry-After asked for"
    );
    assert!(
        seen.iter()
            .any(|r| target(r).starts_with("/rest/api/content/100005/child/attachment?"))
    );
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON cursor");
    let since = cursor["since"].as_str().expect("since").to_owned();

    // 2. Incremental: two items changed at the source, and a file was uploaded to a third
    // (which itself did not change); CQL `lastmodified` asks for exactly these.
    server.control("POST", "requests/clear", None);
    let updated = server.control("POST", "update?n=2", None);
    assert_eq!(updated["updated"], serde_json::json!(["100001", "100002"]));
    let uploaded = server.control("POST", "attach?id=100003", None);
    assert_eq!(uploaded["id"], "att100003-1");
    let expected = expected + 1;
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["extracted"], 3, "{report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected);
    assert_eq!(docs["100001"]["title"], "Page 1 in OPS (edited)");
    assert_eq!(docs["100002"]["title"], "Page 2 in HR (edited)");
    let upload = &docs["att100003-1"];
    assert_eq!(upload["page"], "Page 3 in ENG");
    assert_eq!(upload["space"], "Engineering");
    assert_eq!(
        upload["_attachment"],
        "VXBsb2FkZWQgZmlsZSAxIG9mIDEwMDAwMy4K"
    );
    let seen = requests(&server);
    let cql: Vec<String> = seen
        .iter()
        .filter_map(|r| query_param(target(r), "cql"))
        .collect();
    // The cursor is the first sync's start; CQL takes it to the minute, in UTC.
    let minute = format!(
        "{}/{}/{} {}",
        &since[0..4],
        &since[5..7],
        &since[8..10],
        &since[11..16]
    );
    assert_eq!(
        cql,
        [
            format!("type in (page,blogpost) and lastmodified >= \"{minute}\""),
            format!("type = attachment and lastmodified >= \"{minute}\""),
        ],
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|r| target(r).starts_with("/rest/api/space")
                || target(r).contains("/child/attachment")),
        "an incremental sync lists neither spaces nor every page's attachments: {seen:?}"
    );

    // 3. Items removed at the source leave the index at the next full sync.
    // The newest 6 (items 55..=60): 55 is a page with an attachment.
    let expected = server.control("POST", "remove?n=6", None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "second full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    assert_eq!(expected, expected_ids(ITEMS).len() + 1 - 7);
    for gone in ["100055", "att100055", "100060"] {
        assert!(!docs.contains_key(gone), "{gone} was removed at the source");
    }

    // 4. A persistent 503 on the search: retried retry_count times, then the sync fails and
    // nothing is deleted.
    setup.configure(true, 1);
    server.control(
        "POST",
        "faults",
        Some(r#"{"fail": "/rest/api/content/search", "status": 503, "times": 99}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(
        !ok,
        "a sync against a failing Confluence must fail: {report}"
    );
    assert_eq!(report["status"], "error", "{report}");
    assert!(
        report["error"].as_str().unwrap_or_default().contains("503"),
        "{report}\n{stderr}"
    );
    assert_eq!(
        replay(&setup.sink()).len(),
        expected,
        "a failed sync deletes nothing"
    );
    server.control("POST", "faults", Some("{}"));

    // 5. Without the origin granted, the host refuses the request and says which grant to add.
    setup.configure(false, 3);
    server.control("POST", "requests/clear", None);
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "a sync without the http grant must fail: {report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("grants.http") && error.contains(origin.as_str()),
        "{report}\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("add \"{origin}\" to connectors[0].grants.http")),
        "the host's log names the grant to add:\n{stderr}"
    );
    assert!(
        requests(&server).is_empty(),
        "nothing reached the server without the grant"
    );
    assert_eq!(replay(&setup.sink()).len(), expected);

    eprintln!("confluence e2e: {:.1}s", started.elapsed().as_secs_f64());
}

/// `_allow_access_control` of a synced document, as a list of strings (panics without one).
fn acl_of(doc: &Value) -> Vec<String> {
    doc["_allow_access_control"]
        .as_array()
        .unwrap_or_else(|| panic!("no _allow_access_control in {doc}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn confluence_cloud_document_level_security() {
    const N: usize = 20;
    let server = FixtureServer::start("confluence", &["--token", PASSWORD]);
    let setup = Setup::new(&server.origin);
    setup.configure_cloud_dls();
    server.control("POST", &format!("load?n={N}"), None);

    // 1. Access-control sync: one identity per active Atlassian account (not the app, the
    // service-desk customer or the deactivated account), in Elastic's shape.
    let (ok, report, stderr) = setup.sync("access-control");
    assert!(ok, "access-control sync failed: {report}\n{stderr}");
    let ids = replay(&setup.acl_sink());
    assert_eq!(
        ids.keys().cloned().collect::<Vec<_>>(),
        strings(&["acc-alice", "acc-bob", "acc-carol"]),
        "{report}"
    );
    let alice = &ids["acc-alice"];
    assert_eq!(
        alice["identity"],
        serde_json::json!({
            "account_id": "account_id:acc-alice",
            "display_name": "name:Alice-Adams",
            "email_address": "email_address:alice@example.com",
            "locale": "locale:en_US",
        })
    );
    assert_eq!(
        alice["query"]["template"]["params"]["access_control"],
        serde_json::json!([
            "account_id:acc-alice",
            "group_id:grp-eng",
            "group_id:grp-users",
            "role_key:confluence"
        ])
    );
    let source = alice["query"]["template"]["source"]
        .as_str()
        .expect("a template");
    assert!(
        source.contains("_allow_access_control.keyword")
            && source.contains("{{#toJson}}access_control{{/toJson}}"),
        "{source}"
    );
    assert!(
        alice["created_at"].as_str().is_some_and(|t| t.len() >= 20),
        "{alice}"
    );
    let carol = &ids["acc-carol"];
    assert_eq!(
        carol["identity"]["email_address"],
        Value::Null,
        "a hidden email"
    );
    assert_eq!(
        carol["query"]["template"]["params"]["access_control"],
        serde_json::json!([
            "account_id:acc-carol",
            "group_id:grp-hr",
            "group_id:grp-users",
            "role_key:confluence",
            "role_key:jira-software"
        ])
    );
    assert!(
        !setup.sink().exists() || replay(&setup.sink()).is_empty(),
        "an access-control sync writes no content"
    );
    let seen = requests(&server);
    assert!(
        seen.iter().all(|r| r["auth_ok"] == true
            && (target(r).starts_with("/rest/api/3/users/search?")
                || target(r).starts_with("/rest/api/3/user?"))),
        "users are read from the site's root: {seen:?}"
    );

    // 2. Full sync: spaces get their readers, unrestricted content its space's, restricted
    // content the intersection of its own and its ancestors' read restrictions.
    server.control("POST", "requests/clear", None);
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    // Item 19 is restricted to carol under item 1 (alice and operations): nobody may read it,
    // and an empty list would make it public, so it is not indexed.
    let mut want_ids = expected_ids(N);
    want_ids.retain(|id| id != "100019");
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        want_ids,
        "{report}"
    );
    let space_acl = |key: &str| match key {
        // The app among OPS's readers has no identity: it is left out.
        "ENG" => strings(&[
            "account_id:acc-alice",
            "account_id:acc-carol",
            "group_id:grp-eng",
        ]),
        "OPS" => strings(&["group_id:grp-ops"]),
        "HR" => strings(&["account_id:acc-alice", "group_id:grp-hr"]),
        other => panic!("no space {other}"),
    };
    let key_of = |name: &str| match name {
        "Engineering" => "ENG",
        "Operations" => "OPS",
        "People" => "HR",
        other => panic!("no space named {other}"),
    };
    let under_page_1 = strings(&["account_id:acc-alice", "group_id:grp-ops"]);
    let mut restricted = 0;
    for (id, doc) in &docs {
        let got = acl_of(doc);
        let item: Option<usize> = id
            .trim_start_matches("att")
            .parse::<usize>()
            .ok()
            .map(|n| n - 100_000);
        let want = match item {
            None => space_acl(id),
            Some(9) => strings(&["account_id:acc-bob", "group_id:grp-eng"]),
            Some(8) => strings(&["account_id:acc-carol"]),
            Some(13) => strings(&["account_id:acc-alice"]),
            // Page 1 and the OPS pages under it (blog posts have no parent); attachments (10)
            // inherit their page's.
            Some(i) if i % 3 == 1 && i % 4 != 0 => under_page_1.clone(),
            Some(_) => space_acl(key_of(doc["space"].as_str().expect("space"))),
        };
        let own_space = match item {
            None => space_acl(id),
            Some(_) => space_acl(key_of(doc["space"].as_str().expect("space"))),
        };
        if want != own_space {
            restricted += 1;
        }
        assert_eq!(got, want, "_allow_access_control of {id}");
    }
    // 1, 7, 8, 9, 10, att100010, 13 differ from their space's.
    assert_eq!(restricted, 7, "{docs:?}");
    let seen = requests(&server);
    assert!(
        seen.iter().any(|r| target(r)
            == "/wiki/rest/api/content/100001/restriction/byOperation/read?expand=restrictions.user%2Crestrictions.group"),
        "the ancestor's restrictions are read: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|r| target(r).contains("/content/100001/restriction/"))
            .count(),
        1,
        "once per sync, however many pages it is the ancestor of"
    );

    // 3. Incremental: a file uploaded to page 13 gets page 13's list.
    server.control("POST", "requests/clear", None);
    let uploaded = server.control("POST", "attach?id=100013", None);
    assert_eq!(uploaded["id"], "att100013-1");
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(
        acl_of(&docs["att100013-1"]),
        strings(&["account_id:acc-alice"]),
        "{report}"
    );
}

#[test]
fn confluence_advanced_rules_index_what_the_cql_finds() {
    let server = FixtureServer::start("confluence", &["--token", PASSWORD]);
    let setup = Setup::new(&server.origin);
    server.control("POST", &format!("load?n={ITEMS}"), None);

    // Two rules: ENG's pages (not its blog posts, not the attachments of those pages: like
    // Elastic's, a rule indexes what its query returns), and one attachment in HR by title.
    // `spaces: ["HR"]` is ignored.
    setup.configure_rules(
        "        - query: \"space = ENG and type = page\"\n        - query: 'type = attachment and title ~ \"notes-5.txt\"'\n",
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "rules sync failed: {report}\n{stderr}");
    let mut want: Vec<String> = (1..=ITEMS)
        .filter(|i| i % 3 == 0 && i % 4 != 0)
        .map(|i| format!("{}", 100_000 + i))
        .collect();
    want.push("att100005".to_owned());
    want.sort();
    let docs = replay(&setup.sink());
    assert_eq!(docs.keys().cloned().collect::<Vec<_>>(), want, "{report}");
    assert_eq!(report["stats"]["indexed"], want.len() as u64, "{report}");
    assert_eq!(docs["100003"]["space"], "Engineering");
    assert_eq!(docs["100003"]["type"], "page");
    let att = &docs["att100005"];
    assert_eq!(att["page"], "Page 5 in HR");
    assert_eq!(
        att["_attachment"], "QXR0YWNobWVudCBvZiBwYWdlIDU6IHBsYWluIHRleHQgbm90ZXMuCg==",
        "{att}"
    );
    // Only the rules' searches (followed through their pages) and the one download.
    let seen = requests(&server);
    let mut cqls: Vec<String> = seen
        .iter()
        .filter(|r| target(r).starts_with("/rest/api/content/search?"))
        .filter_map(|r| query_param(target(r), "cql"))
        .collect();
    cqls.dedup();
    assert_eq!(
        cqls,
        [
            "space = ENG and type = page",
            "type = attachment and title ~ \"notes-5.txt\""
        ],
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|r| {
            let t = target(r);
            t.starts_with("/rest/api/content/search?") || t.starts_with("/download/attachments/")
        }),
        "{seen:?}"
    );

    // An incremental sync runs each rule for what changed since the full sync.
    server.control("POST", "requests/clear", None);
    let updated = server.control("POST", "update?n=3", None);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental rules sync failed: {report}\n{stderr}");
    let seen = requests(&server);
    let cql = seen
        .iter()
        .find_map(|r| query_param(target(r), "cql"))
        .expect("a search");
    assert!(
        cql.starts_with("(space = ENG and type = page) and lastmodified >= \""),
        "{cql}"
    );
    // Items 1-3 were edited: only 3 is an ENG page.
    assert_eq!(report["stats"]["indexed"], 1, "{report} {updated}");
    assert!(
        replay(&setup.sink())["100003"]["title"]
            .as_str()
            .unwrap_or_default()
            .ends_with("(edited)")
    );

    // Rules of the wrong shape are refused before the sync asks Confluence anything.
    server.control("POST", "requests/clear", None);
    setup.configure_rules("        - cql: \"space = ENG\"\n");
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "an invalid rule must fail the sync: {report}");
    let err = report["error"].as_str().unwrap_or_default();
    assert!(err.contains("\"query\""), "{report}\n{stderr}");
    assert!(requests(&server).is_empty(), "{:?}", requests(&server));
    assert_eq!(replay(&setup.sink()).len(), want.len(), "nothing deleted");
}
