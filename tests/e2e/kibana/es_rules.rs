//! The fake cluster's rules, endpoint by endpoint, as Elasticsearch 8.15 parses requests
//! (`tests/e2e/fake_es/declarations.rs` cites each parser): a table of request bodies — the
//! shapes Inlet sends and shapes Elasticsearch refuses — with the answer each gets, then Inlet's
//! own `Api` driven against the fake at 8.13, 8.14, 8.15 and serverless, which must be refused
//! nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_es::FakeEs;
use inlet::protocol::api::Api;
use inlet::protocol::cluster::Cluster;
use inlet::protocol::{EsClient, EsError, EsSettings};

/// One request and what Elasticsearch answers it: the status and a part of the reason.
struct Row {
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    status: u16,
    reason: &'static str,
}

fn row(
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    status: u16,
    reason: &'static str,
) -> Row {
    Row {
        what,
        method,
        path,
        body,
        status,
        reason,
    }
}

async fn send(fake: &FakeEs, method: Method, path: &str, body: Option<&Value>) -> (u16, String) {
    let client = EsClient::new(&EsSettings::plain(&fake.url())).expect("client");
    match client.send(method, path, body).await {
        Ok(_) => (200, String::new()),
        Err(e @ EsError::Status { .. }) => (e.status().unwrap_or(0), e.to_string()),
        Err(e) => panic!("{e}"),
    }
}

/// A connector `c` as Kibana creates it, a `pending` job `j-pending` and an `in_progress` job
/// `j-running` of it.
async fn seed(fake: &FakeEs) -> (String, String) {
    let put = json!({"index_name": "search-c", "name": "c", "service_type": "loadgen", "is_native": false});
    assert_eq!(
        send(fake, Method::PUT, "/_connector/c", Some(&put)).await.0,
        200
    );
    let job = json!({"id": "c", "job_type": "full"});
    let client = EsClient::new(&EsSettings::plain(&fake.url())).expect("client");
    let pending = client
        .send(Method::POST, "/_connector/_sync_job", Some(&job))
        .await
        .expect("job")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let running = client
        .send(Method::POST, "/_connector/_sync_job", Some(&job))
        .await
        .expect("job")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    fake.patch_job(&running, json!({"status": "in_progress"}));
    (pending, running)
}

fn job_path(path: &str, pending: &str, running: &str) -> String {
    path.replace("{pending}", pending)
        .replace("{running}", running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_8_15_accepts_what_inlet_sends_and_refuses_the_rest() {
    let fake = FakeEs::start().await;
    let (pending, running) = seed(&fake).await;
    use Method as M;
    let stats = json!({"indexed_document_count": 3, "indexed_document_volume": 0, "deleted_document_count": 0});
    let mut with_metadata = stats.clone();
    with_metadata["metadata"] = json!({"inlet": {"extracted": 3}});
    let rows = vec![
        // `_error` on a pending job: refused by the state machine (first: the claims below take
        // the job out of `pending`).
        row(
            "job error from pending",
            M::PUT,
            "/_connector/_sync_job/{pending}/_error",
            Some(json!({"error": "boom"})),
            400,
            "Invalid transition attempt from [pending] to [error]",
        ),
        // PUT _connector/_sync_job/{id}/_claim — ClaimConnectorSyncJobAction (8.15).
        row(
            "claim, no cursor (Inlet)",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({"worker_hostname": "w"})),
            200,
            "",
        ),
        row(
            "claim with a cursor object (Inlet)",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({"worker_hostname": "w", "sync_cursor": {"inlet_cursor": "7"}})),
            200,
            "",
        ),
        row(
            "claim, cursor null",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({"worker_hostname": "w", "sync_cursor": null})),
            400,
            "sync_cursor doesn't support values of type: VALUE_NULL",
        ),
        row(
            "claim, cursor not an object",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({"worker_hostname": "w", "sync_cursor": "7"})),
            400,
            "sync_cursor doesn't support values of type: VALUE_STRING",
        ),
        row(
            "claim without a worker",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({})),
            400,
            "Required [worker_hostname]",
        ),
        row(
            "claim, unknown field",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            Some(json!({"worker_hostname": "w", "hostname": "w"})),
            400,
            "unknown field [hostname]",
        ),
        row(
            "claim without a body",
            M::PUT,
            "/_connector/_sync_job/{pending}/_claim",
            None,
            400,
            "request body is required",
        ),
        row(
            "claim with GET",
            M::GET,
            "/_connector/_sync_job/{pending}/_claim",
            None,
            405,
            "Incorrect HTTP method",
        ),
        // PUT _connector/_sync_job/{id}/_stats — UpdateConnectorSyncJobIngestionStatsAction.
        row(
            "stats (Inlet)",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(stats.clone()),
            200,
            "",
        ),
        row(
            "stats with metadata (Inlet, 8.15)",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(with_metadata),
            200,
            "",
        ),
        row(
            "stats, metadata null",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(
                json!({"indexed_document_count": 1, "indexed_document_volume": 0, "deleted_document_count": 0, "metadata": null}),
            ),
            400,
            "metadata doesn't support values of type: VALUE_NULL",
        ),
        row(
            "stats, a count missing",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(json!({"indexed_document_count": 1, "indexed_document_volume": 0})),
            400,
            "Required [deleted_document_count]",
        ),
        row(
            "stats, negative",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(
                json!({"indexed_document_count": -1, "indexed_document_volume": 0, "deleted_document_count": 0}),
            ),
            400,
            "[indexed_document_count] cannot be negative",
        ),
        row(
            "stats, not a number",
            M::PUT,
            "/_connector/_sync_job/{running}/_stats",
            Some(
                json!({"indexed_document_count": "many", "indexed_document_volume": 0, "deleted_document_count": 0}),
            ),
            400,
            "failed to parse field [indexed_document_count]",
        ),
        // PUT _connector/_sync_job/{id}/_error — UpdateConnectorSyncJobErrorAction + state machine.
        row(
            "job error, null",
            M::PUT,
            "/_connector/_sync_job/{running}/_error",
            Some(json!({"error": null})),
            400,
            "error doesn't support values of type: VALUE_NULL",
        ),
        row(
            "job error, empty",
            M::PUT,
            "/_connector/_sync_job/{running}/_error",
            Some(json!({"error": ""})),
            400,
            "cannot be [null] or [\"\"]",
        ),
        // PUT _connector/{id}/_error — UpdateConnectorErrorAction: a string or null.
        row(
            "connector error (Inlet)",
            M::PUT,
            "/_connector/c/_error",
            Some(json!({"error": "cannot reach"})),
            200,
            "",
        ),
        row(
            "connector error cleared (Inlet)",
            M::PUT,
            "/_connector/c/_error",
            Some(json!({"error": null})),
            200,
            "",
        ),
        row(
            "connector error, not a string",
            M::PUT,
            "/_connector/c/_error",
            Some(json!({"error": 3})),
            400,
            "error doesn't support values of type: VALUE_NUMBER",
        ),
        row(
            "connector error, unknown field",
            M::PUT,
            "/_connector/c/_error",
            Some(json!({"message": "x"})),
            400,
            "unknown field [message]",
        ),
        // PUT _connector/{id}/_check_in — no body.
        row(
            "check-in (Inlet)",
            M::PUT,
            "/_connector/c/_check_in",
            None,
            200,
            "",
        ),
        row(
            "check-in with a body",
            M::PUT,
            "/_connector/c/_check_in",
            Some(json!({})),
            400,
            "does not support having a body",
        ),
        // PUT _connector/{id}/_filtering/_validation — UpdateConnectorFilteringValidationAction (8.14).
        row(
            "draft validation (Inlet)",
            M::PUT,
            "/_connector/c/_filtering/_validation",
            Some(
                json!({"validation": {"state": "invalid", "errors": [{"ids": ["r1"], "messages": ["bad"]}]}}),
            ),
            200,
            "",
        ),
        row(
            "draft validation, unknown state",
            M::PUT,
            "/_connector/c/_filtering/_validation",
            Some(json!({"validation": {"state": "ok", "errors": []}})),
            400,
            "failed to parse field [validation]",
        ),
        row(
            "draft validation, not wrapped",
            M::PUT,
            "/_connector/c/_filtering/_validation",
            Some(json!({"state": "valid", "errors": []})),
            400,
            "[connector_update_filtering_validation] unknown field [",
        ),
        row(
            "activate an invalid draft",
            M::PUT,
            "/_connector/c/_filtering/_activate",
            None,
            400,
            "needs to be validated",
        ),
        row(
            "draft validation valid (Inlet)",
            M::PUT,
            "/_connector/c/_filtering/_validation",
            Some(json!({"validation": {"state": "valid", "errors": []}})),
            200,
            "",
        ),
        row(
            "activate (Inlet)",
            M::PUT,
            "/_connector/c/_filtering/_activate",
            None,
            200,
            "",
        ),
        // POST _connector/_sync_job — PostConnectorSyncJobAction.
        row(
            "scheduled job (Inlet)",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c", "job_type": "incremental", "trigger_method": "scheduled"})),
            200,
            "",
        ),
        row(
            "job, unknown type",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c", "job_type": "partial"})),
            400,
            "failed to parse field [job_type]",
        ),
        row(
            "job without connector",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"job_type": "full"})),
            400,
            "Required [id]",
        ),
        row(
            "job of no connector",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "nope"})),
            404,
            "does not exist",
        ),
        // GET _connector/_sync_job — the list's parameters.
        row(
            "list (Inlet)",
            M::GET,
            "/_connector/_sync_job?connector_id=c&status=pending&from=0&size=100",
            None,
            200,
            "",
        ),
        row(
            "list, unknown status",
            M::GET,
            "/_connector/_sync_job?status=running",
            None,
            400,
            "Unknown ConnectorSyncStatus",
        ),
        row(
            "list, unknown parameter",
            M::GET,
            "/_connector/_sync_job?state=pending",
            None,
            400,
            "unrecognized parameter: [state]",
        ),
        // POST .elastic-connectors/_update/{id} — UpdateRequest.
        row(
            "update (Inlet)",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(json!({"doc": {"status": "needs_configuration"}})),
            200,
            "",
        ),
        row(
            "update, unknown field",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(json!({"doc": {}, "version": 2})),
            400,
            "unknown field [version]",
        ),
        // The stored connector document, parsed by POST _connector/_sync_job (Connector,
        // ConnectorConfiguration, ConfigurationSelectOption, ConfigurationValidation).
        row(
            "a numeric option value",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"configuration": {"size": {"label": "Size", "display": "dropdown", "options": [{"label": "Ten", "value": 10}], "value": "10"}}}}),
            ),
            200,
            "",
        ),
        row(
            "… fails every sync job",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            400,
            "failed to parse configuration field [size]",
        ),
        row(
            "a list value",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"configuration": {"size": {"options": [{"label": "Ten", "value": "10"}], "value": ["a"]}}}}),
            ),
            200,
            "",
        ),
        row(
            "… fails every sync job",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            400,
            "failed to parse configuration field [size]",
        ),
        row(
            "a list default",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"configuration": {"size": {"value": "a", "default_value": ["a"]}}}}),
            ),
            200,
            "",
        ),
        row(
            "… fails every sync job",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            400,
            "failed to parse configuration field [size]",
        ),
        row(
            "a boolean constraint",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"configuration": {"size": {"default_value": "a", "validations": [{"type": "regex", "constraint": true}]}}}}),
            ),
            200,
            "",
        ),
        row(
            "… fails every sync job",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            400,
            "failed to parse configuration field [size]",
        ),
        row(
            "what Inlet writes now",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"configuration": {"size": {"validations": [{"type": "regex", "constraint": "true"}]}}}}),
            ),
            200,
            "",
        ),
        row(
            "… syncs",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            200,
            "",
        ),
        row(
            "a null cursor in the document is fine",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(
                json!({"doc": {"sync_cursor": null, "last_sync_status": "completed", "error": null}}),
            ),
            200,
            "",
        ),
        row(
            "… syncs",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            200,
            "",
        ),
        row(
            "a status outside the protocol",
            M::POST,
            "/.elastic-connectors/_update/c",
            Some(json!({"doc": {"last_sync_status": "done"}})),
            200,
            "",
        ),
        row(
            "… fails every sync job",
            M::POST,
            "/_connector/_sync_job",
            Some(json!({"id": "c"})),
            400,
            "failed to parse field [last_sync_status]",
        ),
    ];
    let mut wrong = Vec::new();
    for r in &rows {
        let path = job_path(r.path, &pending, &running);
        let before = fake.refusals().len();
        let (status, mut reason) = send(&fake, r.method.clone(), &path, r.body.as_ref()).await;
        // The refusal as recorded carries the nested cause (`caused_by`) too.
        if let Some(recorded) = fake.refusals().get(before) {
            reason.push_str(" | ");
            reason.push_str(recorded);
        }
        if status != r.status || !reason.contains(r.reason) {
            wrong.push(format!(
                "{}: expected {} ({}), got {status}: {reason}",
                r.what, r.status, r.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_a_release_lacks_answer_no_handler() {
    let fake = FakeEs::start().await;
    let (pending, _) = seed(&fake).await;
    let claim = format!("/_connector/_sync_job/{pending}/_claim");
    let body = json!({"worker_hostname": "w"});
    let validation = json!({"validation": {"state": "valid", "errors": []}});
    let stats = json!({"indexed_document_count": 1, "indexed_document_volume": 0, "deleted_document_count": 0, "metadata": {}});
    for (version, claim_status, validation_status, metadata_status) in [
        ("8.13.4", 400, 400, 400),
        ("8.14.3", 400, 200, 400),
        ("8.15.0", 200, 200, 200),
    ] {
        fake.set_version(version);
        let (s, reason) = send(&fake, Method::PUT, &claim, Some(&body)).await;
        assert_eq!(s, claim_status, "{version} claim: {reason}");
        if s == 400 {
            assert!(reason.contains("no handler found for uri"), "{reason}");
        }
        let (s, reason) = send(
            &fake,
            Method::PUT,
            "/_connector/c/_filtering/_validation",
            Some(&validation),
        )
        .await;
        assert_eq!(s, validation_status, "{version} validation: {reason}");
        let path = format!("/_connector/_sync_job/{pending}/_stats");
        let (s, reason) = send(&fake, Method::PUT, &path, Some(&stats)).await;
        assert_eq!(
            s, metadata_status,
            "{version} stats with metadata: {reason}"
        );
    }
}

/// Inlet's own calls, through its `Api`, at each release it serves: nothing refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inlets_calls_are_accepted_by_every_release_it_serves() {
    for version in ["8.13.4", "8.14.3", "8.15.3", "serverless"] {
        let fake = FakeEs::start().await;
        let (pending, running) = seed(&fake).await;
        if version == "serverless" {
            fake.set_serverless();
        } else {
            fake.set_version(version);
        }
        let client = EsClient::new(&EsSettings::plain(&fake.url())).expect("client");
        let api = Api::new(client.clone());
        let info = api.info().await.expect("info");
        let api = api.with_cluster(Cluster::from_info(&info, &fake.url()).expect("served"));
        api.check_in("c").await.expect("check in");
        api.set_error("c", Some("cannot reach"))
            .await
            .expect("error");
        api.set_error("c", None).await.expect("connected");
        // A draft edited in Kibana, validated and activated by Inlet.
        client
            .send(
                Method::PUT,
                "/_connector/c/_filtering",
                Some(&json!({"rules": []})),
            )
            .await
            .expect("draft");
        let valid = json!({"state": "valid", "errors": []});
        api.record_draft_validation("c", &valid, true)
            .await
            .expect("validate and activate");
        let f = &fake.connector("c")["filtering"][0];
        assert_eq!(f["draft"]["validation"]["state"], "valid", "{version}: {f}");
        assert_eq!(
            f["active"]["validation"]["state"], "valid",
            "{version}: {f}"
        );
        let scheduled = api
            .create_job("c", "incremental", "scheduled")
            .await
            .expect("create");
        assert!(!scheduled.is_empty());
        api.claim_job(&pending, "worker-a", None)
            .await
            .expect("claim without cursor");
        api.claim_job(&scheduled, "worker-a", Some(&json!({"inlet_cursor": "9"})))
            .await
            .expect("claim with cursor");
        assert_eq!(fake.job(&pending)["status"], "in_progress", "{version}");
        assert_eq!(
            fake.job(&scheduled)["connector"]["sync_cursor"],
            json!({"inlet_cursor": "9"}),
            "{version}"
        );
        api.job_stats(
            &running,
            &json!({"indexed_document_count": 5, "indexed_document_volume": 0, "deleted_document_count": 0}),
            Some(&json!({"inlet": {"extracted": 5}})),
        )
        .await
        .expect("stats");
        api.update_job(&running, &json!({"status": "completed"}))
            .await
            .expect("end");
        let jobs = api.jobs(Some("c"), "in_progress").await.expect("list");
        assert_eq!(jobs.len(), 2, "{version}");
        assert!(api.jobs(None, "pending").await.expect("all").is_empty());
        api.document_count("search-c").await.expect("count");
        let refused = fake.refusals();
        assert!(refused.is_empty(), "{version}: {refused:#?}");
        let calls = fake.requests();
        if version == "serverless" {
            assert!(
                !calls.iter().any(|c| c.contains("_refresh")),
                "no _refresh on serverless: {calls:?}"
            );
        }
    }
}
