//! The per-connector pass, every `service.idling` seconds: describe the plugin into the
//! connector document, check in, check the configuration, validate sync-rule drafts, and create
//! jobs whose cron schedule is due.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::api::Versioned;
use super::model::{ConnectorDoc, FilteringRules};
use super::rules::{self, ValidationError};
use super::status::{self, ConnectorStatus};
use super::{Ctx, EsError, document, schedule};
use inlet_policy::config;
use inlet_policy::job::JobType;
use inlet_runtime::types::Features;

/// How often a version conflict is retried before giving up until the next pass.
const CAS_ATTEMPTS: usize = 3;

pub(super) async fn run(ctx: Arc<Ctx>) {
    // Schedules fire for instants after the previous wake-up (the first: the start).
    let mut since = Utc::now();
    while !ctx.stopping() {
        let now = Utc::now();
        let mut passes = tokio::task::JoinSet::new();
        for entry in ctx.connectors().iter().cloned() {
            let ctx = ctx.clone();
            passes.spawn(async move {
                if let Err(e) = pass(&ctx, &entry, since, now).await {
                    tracing::error!(connector_id = %entry.connector_id, "connector pass failed: {e}");
                }
            });
        }
        while passes.join_next().await.is_some() {}
        since = now;
        ctx.pause(ctx.idling).await;
    }
}

async fn pass(
    ctx: &Ctx,
    entry: &config::Connector,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), EsError> {
    let id = entry.connector_id.as_str();
    let Some(mut doc) = ctx.api.connector(id).await? else {
        tracing::warn!(
            connector_id = id,
            "no connector `{id}` in Elasticsearch: create it in Kibana (Search → Connectors → New connector → self-managed) and copy its id into config.yml"
        );
        return Ok(());
    };
    if let Some(msg) = type_mismatch(&doc.source, entry) {
        return set_error_if_changed(ctx, &doc, Some(msg)).await;
    }
    let info = match ctx.plugin_info(entry).await {
        Ok(i) => i,
        Err(e) => return set_error_if_changed(ctx, &doc, Some(e)).await,
    };
    doc = prepare(ctx, entry, doc, &info.schema, &info.features_doc).await?;

    if ctx.check_in_due(id) {
        ctx.api.check_in(id).await?;
    }

    let current = doc.source.status();
    if !current.is_configured() {
        tracing::info!(
            connector_id = id,
            "waiting for the configuration: fill in the connector's form in Kibana"
        );
        return Ok(());
    }
    let merged = document::merge(entry, &doc.source, None);
    let check = match &merged {
        Ok(c) => ctx.service.check(c).await,
        Err(e) => Err(e.clone()),
    };
    if let Some(change) = status::after_check(current, doc.source.error.as_deref(), &check) {
        match &change {
            None => tracing::info!(connector_id = id, "connected"),
            Some(e) => tracing::warn!(connector_id = id, "configuration check failed: {e}"),
        }
        ctx.api.set_error(id, change.as_deref()).await?;
    }
    let Ok(connector) = merged else {
        return Ok(());
    };
    if check.is_err() {
        return Ok(());
    }

    if let Some(draft) = rules::edited_draft(doc.source.filtering.as_ref()) {
        validate_draft(ctx, &connector, &info.features, draft).await?;
    }

    for due in due_syncs(&doc.source, &info.features, since, now) {
        match due.at {
            Ok(at) => schedule_at(ctx, &doc, due.kind, due.expression, at).await?,
            Err(e) => set_error_if_changed(ctx, &doc, Some(e)).await?,
        }
    }
    Ok(())
}

/// Why config.yml cannot serve this connector, if it cannot: Kibana recorded another service
/// type for it.
fn type_mismatch(doc: &ConnectorDoc, entry: &config::Connector) -> Option<String> {
    let recorded = doc.service_type()?;
    (recorded != entry.service_type).then(|| {
        format!(
            "the connector's service type is `{recorded}` but config.yml serves it as `{}`",
            entry.service_type
        )
    })
}

/// The job types a plugin's features allow, in the order Elastic's service schedules them:
/// access control, incremental, full.
fn schedulable(features: &Features) -> Vec<JobType> {
    let mut kinds = Vec::new();
    if features.document_level_security {
        kinds.push(JobType::AccessControl);
    }
    if features.incremental_sync {
        kinds.push(JobType::Incremental);
    }
    kinds.push(JobType::Full);
    kinds
}

/// A schedule that fired in the pass's window, or that cannot be read.
#[derive(Debug, PartialEq, Eq)]
struct Due<'a> {
    kind: JobType,
    expression: &'a str,
    /// The fire time to record, or why the expression is not a Quartz cron expression.
    at: Result<DateTime<Utc>, String>,
}

/// The enabled schedules of the connector that fired in `(since, now]`, or do not parse, in
/// Elastic's order.
fn due_syncs<'a>(
    doc: &'a ConnectorDoc,
    features: &Features,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Due<'a>> {
    schedulable(features)
        .into_iter()
        .filter_map(|kind| {
            let expression = schedule::interval(doc, kind)?;
            let at = match schedule::parse(expression) {
                Ok(cron) => Ok(schedule::due(&cron, since, now)?),
                Err(e) => Err(e),
            };
            Some(Due {
                kind,
                expression,
                at,
            })
        })
        .collect()
}

/// Writes the form and features when the document lacks them, guarded by the document's
/// version (two processes may be starting at once); returns the document as it now is.
async fn prepare(
    ctx: &Ctx,
    entry: &config::Connector,
    mut doc: Versioned,
    schema: &serde_json::Map<String, Value>,
    features: &Value,
) -> Result<Versioned, EsError> {
    let id = entry.connector_id.as_str();
    for _ in 0..CAS_ATTEMPTS {
        let Some(update) =
            document::prepare_update(&doc.source, &entry.service_type, schema, features)
        else {
            return Ok(doc);
        };
        match ctx
            .api
            .update_connector(id, &update, Some(doc.version))
            .await
        {
            Ok(()) => {
                tracing::info!(
                    connector_id = id,
                    first_contact = update.get("status").is_some(),
                    "wrote the plugin's configuration form and features into the connector"
                );
            }
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err(e),
        }
        match ctx.api.connector(id).await? {
            Some(d) => doc = d,
            None => return Ok(doc),
        }
    }
    Ok(doc)
}

/// Whether writing `error` changes the document: it is not yet in `error` with that message.
fn error_changes(doc: &ConnectorDoc, error: Option<&str>) -> bool {
    doc.error.as_deref() != error || doc.status() != ConnectorStatus::Error
}

async fn set_error_if_changed(
    ctx: &Ctx,
    doc: &Versioned,
    error: Option<String>,
) -> Result<(), EsError> {
    if let Some(e) = &error {
        tracing::error!(connector_id = %doc.id, "{e}");
    }
    if error_changes(&doc.source, error.as_deref()) {
        ctx.api.set_error(&doc.id, error.as_deref()).await?;
    }
    Ok(())
}

/// Validates an edited draft, writes the result, activates it when valid.
async fn validate_draft(
    ctx: &Ctx,
    connector: &config::Connector,
    features: &Features,
    draft: &FilteringRules,
) -> Result<(), EsError> {
    let id = connector.connector_id.as_str();
    let mut errors = rules::basic_errors(draft);
    if let Some(advanced) = rules::advanced(draft) {
        if !features.advanced_rules {
            errors.push(ValidationError::advanced(vec![format!(
                "`{}` does not support advanced sync rules",
                connector.service_type
            )]));
        } else {
            match ctx
                .service
                .validate_advanced_rules(connector, &advanced)
                .await
            {
                Ok(v) if v.valid => {}
                Ok(v) => errors.push(ValidationError::advanced(v.messages)),
                Err(e) => errors.push(ValidationError::advanced(vec![e])),
            }
        }
    }
    let result = rules::validation(errors);
    tracing::info!(
        connector_id = id,
        state = result.state.as_str(),
        "validated the draft sync rules"
    );
    ctx.api
        .record_draft_validation(id, &result, result.is_valid())
        .await
}

/// Elastic's service schedules access-control syncs only on a Platinum (or better) licence and
/// logs why it skips them otherwise.
async fn licence_allows_access_control(ctx: &Ctx, connector_id: &str) -> bool {
    match ctx.api.licence().await {
        Ok(l) if l.allows_document_level_security() => true,
        Ok(l) => {
            tracing::error!(
                connector_id,
                "{}; the access-control schedule is skipped",
                l.refusal()
            );
            false
        }
        Err(e) => {
            tracing::error!(
                connector_id,
                "cannot read the cluster's licence (GET /_license), so the access-control schedule is skipped: {e}"
            );
            false
        }
    }
}

/// Creates a `scheduled` job for `kind`'s fire time `at`, once across all processes: the fire
/// time is recorded in `last_*_scheduled_at` under the document's version first, and a process
/// that finds it recorded (or loses the race) leaves it.
async fn schedule_at(
    ctx: &Ctx,
    doc: &Versioned,
    kind: JobType,
    expression: &str,
    at: DateTime<Utc>,
) -> Result<(), EsError> {
    let id = doc.id.as_str();
    if kind == JobType::AccessControl && !licence_allows_access_control(ctx, id).await {
        return Ok(());
    }
    let field = schedule::scheduled_at_field(kind);
    let job_type = kind.as_str();
    for _ in 0..CAS_ATTEMPTS {
        let Some(fresh) = ctx.api.connector(id).await? else {
            return Ok(());
        };
        if schedule::already_scheduled(fresh.source.scheduled_at(kind), at) {
            tracing::debug!(
                connector_id = id,
                job_type,
                "another process scheduled this sync"
            );
            return Ok(());
        }
        let stamp = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match ctx
            .api
            .update_connector(id, &json!({ field: stamp }), Some(fresh.version))
            .await
        {
            Ok(()) => {
                let job = ctx.api.create_job(id, kind, "scheduled").await?;
                tracing::info!(connector_id = id, sync_job_id = %job, job_type, schedule = expression, "created a scheduled sync job");
                return Ok(());
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 7, h, m, s)
            .single()
            .expect("valid time")
    }

    fn connector(v: Value) -> ConnectorDoc {
        serde_json::from_value(v).expect("a connector document")
    }

    fn features(dls: bool, incremental: bool) -> Features {
        Features {
            incremental_sync: incremental,
            document_level_security: dls,
            advanced_rules: false,
            basic_rules: true,
        }
    }

    fn entry(service_type: &str) -> config::Connector {
        serde_yaml_ng::from_str(&format!("connector_id: c1\nservice_type: {service_type}\n"))
            .expect("entry")
    }

    /// Every schedule enabled, hourly.
    fn hourly_everything() -> ConnectorDoc {
        let hourly = json!({"enabled": true, "interval": "0 0 * * * ?"});
        connector(json!({"scheduling": {
            "full": hourly, "incremental": hourly, "access_control": hourly,
        }}))
    }

    #[test]
    fn the_plugins_features_say_which_job_types_are_scheduled_in_elastics_order() {
        use JobType::*;
        assert_eq!(schedulable(&features(false, false)), [Full]);
        assert_eq!(schedulable(&features(false, true)), [Incremental, Full]);
        assert_eq!(
            schedulable(&features(true, true)),
            [AccessControl, Incremental, Full]
        );
    }

    #[test]
    fn only_enabled_schedules_that_fired_in_the_window_are_due() {
        let doc = hourly_everything();
        let kinds = |since, now| -> Vec<(JobType, Result<DateTime<Utc>, String>)> {
            due_syncs(&doc, &features(true, true), since, now)
                .into_iter()
                .map(|d| (d.kind, d.at))
                .collect()
        };
        use JobType::*;
        assert_eq!(
            kinds(at(9, 59, 0), at(10, 0, 0)),
            [
                (AccessControl, Ok(at(10, 0, 0))),
                (Incremental, Ok(at(10, 0, 0))),
                (Full, Ok(at(10, 0, 0)))
            ]
        );
        assert!(
            kinds(at(10, 0, 0), at(10, 59, 59)).is_empty(),
            "(since, now]"
        );
        // A job type the plugin cannot run is not scheduled, whatever Kibana's schedule says.
        let due = due_syncs(&doc, &features(false, false), at(9, 59, 0), at(10, 0, 0));
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].kind, due[0].expression), (Full, "0 0 * * * ?"));
    }

    #[test]
    fn disabled_blank_and_missing_schedules_are_not_due_and_bad_ones_are_reported() {
        let doc = connector(json!({"scheduling": {
            "full": {"enabled": true, "interval": "every hour"},
            "incremental": {"enabled": false, "interval": "0 0 * * * ?"},
            "access_control": {"enabled": true, "interval": ""},
        }}));
        let due = due_syncs(&doc, &features(true, true), at(9, 0, 0), at(11, 0, 0));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].kind, JobType::Full);
        let err = due[0].at.clone().expect_err("not Quartz");
        assert!(
            err.contains("every hour") && err.contains("Quartz"),
            "{err}"
        );
        let none = connector(json!({"scheduling": null}));
        assert!(due_syncs(&none, &features(true, true), at(9, 0, 0), at(11, 0, 0)).is_empty());
    }

    #[test]
    fn a_connector_kibana_gave_another_service_type_is_refused() {
        let loadgen = entry("loadgen");
        assert_eq!(type_mismatch(&connector(json!({})), &loadgen), None);
        assert_eq!(
            type_mismatch(&connector(json!({"service_type": ""})), &loadgen),
            None,
            "not chosen yet: Inlet writes it"
        );
        assert_eq!(
            type_mismatch(&connector(json!({"service_type": "loadgen"})), &loadgen),
            None
        );
        let msg = type_mismatch(&connector(json!({"service_type": "dir"})), &loadgen)
            .expect("a mismatch");
        assert!(msg.contains("`dir`") && msg.contains("`loadgen`"), "{msg}");
    }

    #[test]
    fn an_error_is_written_only_when_it_changes_the_document() {
        let failing = connector(json!({"status": "error", "error": "bad"}));
        assert!(!error_changes(&failing, Some("bad")));
        assert!(error_changes(&failing, Some("worse")));
        assert!(error_changes(&failing, None));
        let connected = connector(json!({"status": "connected", "error": null}));
        assert!(error_changes(&connected, Some("bad")));
        // Same message, but the status says otherwise (someone reset it).
        let reset = connector(json!({"status": "configured", "error": "bad"}));
        assert!(error_changes(&reset, Some("bad")));
    }
}
