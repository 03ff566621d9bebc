//! The per-connector pass, every `service.idling` seconds: describe the plugin into the
//! connector document, check in, check the configuration, validate sync-rule drafts, and create
//! jobs whose cron schedule is due.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::api::Versioned;
use super::status::{self, ConnectorStatus};
use super::{Ctx, EsError, document, rules, schedule};
use crate::config;
use crate::runtime::SyncKind;

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
    let configured_type = doc.source["service_type"].as_str().unwrap_or_default();
    if !configured_type.is_empty() && configured_type != entry.service_type {
        let msg = format!(
            "the connector's service type is `{configured_type}` but config.yml serves it as `{}`",
            entry.service_type
        );
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

    let current = ConnectorStatus::parse(doc.source["status"].as_str());
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
    if let Some(change) = status::after_check(current, doc.source["error"].as_str(), &check) {
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

    if let Some(draft) = rules::edited_draft(&doc.source["filtering"]) {
        validate_draft(ctx, &connector, &info.features, draft).await?;
    }

    // Elastic's order: access control, incremental, full.
    let mut kinds = Vec::new();
    if info.features.document_level_security {
        kinds.push(SyncKind::AccessControl);
    }
    if info.features.incremental_sync {
        kinds.push(SyncKind::Incremental);
    }
    kinds.push(SyncKind::Full);
    for kind in kinds {
        schedule_if_due(ctx, &doc, kind, since, now).await?;
    }
    Ok(())
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
        match ctx.api.update_connector(id, &update, Some(&doc)).await {
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

async fn set_error_if_changed(
    ctx: &Ctx,
    doc: &Versioned,
    error: Option<String>,
) -> Result<(), EsError> {
    if let Some(e) = &error {
        tracing::error!(connector_id = %doc.id, "{e}");
    }
    if doc.source["error"].as_str() != error.as_deref() || doc.source["status"] != "error" {
        ctx.api.set_error(&doc.id, error.as_deref()).await?;
    }
    Ok(())
}

/// Validates an edited draft, writes the result, activates it when valid.
async fn validate_draft(
    ctx: &Ctx,
    connector: &config::Connector,
    features: &crate::runtime::types::Features,
    draft: &Value,
) -> Result<(), EsError> {
    let id = connector.connector_id.as_str();
    let mut errors = rules::basic_errors(draft);
    if let Some(advanced) = rules::advanced(draft) {
        if !features.advanced_rules {
            errors.push(json!({"ids": ["advanced_snippet"], "messages": [format!("`{}` does not support advanced sync rules", connector.service_type)]}));
        } else {
            match ctx
                .service
                .validate_advanced_rules(connector, &advanced)
                .await
            {
                Ok(v) if v.valid => {}
                Ok(v) => errors.push(json!({"ids": ["advanced_snippet"], "messages": v.messages})),
                Err(e) => errors.push(json!({"ids": ["advanced_snippet"], "messages": [e]})),
            }
        }
    }
    let result = rules::validation(errors);
    tracing::info!(connector_id = id, state = %result["state"], "validated the draft sync rules");
    let valid = result["state"] == "valid";
    ctx.api.record_draft_validation(id, &result, valid).await
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

/// Creates a `scheduled` job if `kind`'s schedule fired since the last pass, once across all
/// processes: the fire time is recorded in `last_*_scheduled_at` under the document's version
/// first, and a process that finds it recorded (or loses the race) leaves it.
async fn schedule_if_due(
    ctx: &Ctx,
    doc: &Versioned,
    kind: SyncKind,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), EsError> {
    let id = doc.id.as_str();
    let Some(expression) = schedule::interval(&doc.source, kind) else {
        return Ok(());
    };
    let cron = match schedule::parse(expression) {
        Ok(c) => c,
        Err(e) => {
            return set_error_if_changed(ctx, doc, Some(e)).await;
        }
    };
    let Some(at) = schedule::due(&cron, since, now) else {
        return Ok(());
    };
    if kind == SyncKind::AccessControl && !licence_allows_access_control(ctx, id).await {
        return Ok(());
    }
    let field = schedule::scheduled_at_field(kind);
    let job_type = crate::sync::job_type_name(kind);
    for _ in 0..CAS_ATTEMPTS {
        let Some(fresh) = ctx.api.connector(id).await? else {
            return Ok(());
        };
        if schedule::already_scheduled(&fresh.source[field], at) {
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
            .update_connector(id, &json!({ field: stamp }), Some(&fresh))
            .await
        {
            Ok(()) => {
                let job = ctx.api.create_job(id, job_type, "scheduled").await?;
                tracing::info!(connector_id = id, sync_job_id = %job, job_type, schedule = expression, "created a scheduled sync job");
                return Ok(());
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
