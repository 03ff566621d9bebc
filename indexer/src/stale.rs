//! Stale-document deletion after a successful full sync: every document this sync indexed carries
//! `stale_field = sync_id`, so everything else in the index is gone from the source. No id set is held in
//! memory, whatever the size of the sync.

use bytes::Bytes;
use reqwest::Method;
use serde_json::json;

use crate::IndexerError;
use crate::indexer::Shared;
use crate::response::request_error;
use crate::stats::Stat;
use crate::sync::SyncCtx;
use crate::transport::Request;

/// Dead-lettered index actions are still in the source; their old copies are spared by id. Past this many the
/// query would be unreasonably large and the sync is suspect anyway, so deletion is skipped.
pub(crate) const MAX_SPARED_IDS: usize = 10_000;

#[derive(serde::Deserialize)]
struct DbqResponse {
    #[serde(default)]
    deleted: u64,
    #[serde(default)]
    failures: Vec<serde_json::Value>,
}

pub(crate) async fn delete_stale(shared: &Shared, ctx: &SyncCtx) -> Result<u64, IndexerError> {
    let index = &ctx.target.index;
    let fail = |reason: String| IndexerError::StaleDeletion {
        index: index.clone(),
        reason,
    };
    let spared = ctx.dead_index_ids();
    let Some(spared) = spared else {
        tracing::warn!(index = %index, "more than {MAX_SPARED_IDS} documents were dead-lettered: stale deletion skipped");
        return Ok(0);
    };
    let mut must_not =
        vec![json!({"term": {shared.cfg.stale_field.as_str(): ctx.target.sync_id.as_str()}})];
    if !spared.is_empty() {
        must_not.push(json!({"ids": {"values": spared}}));
    }
    let body = json!({"query": {"bool": {"must_not": must_not}}}).to_string();
    let send = |path: String, query: &'static str, body: Option<Bytes>| {
        let path_owned = path;
        async move {
            let req = Request {
                method: Method::POST,
                path: &path_owned,
                query,
                auth: ctx.auth.as_ref(),
                body: body.map(|b| (b, "application/json")),
                gzip: false,
                timeout: Some(shared.cfg.delete_by_query_timeout),
            };
            shared.transport.send(req).await
        }
    };
    // Make this sync's writes visible to the query's search, so freshly re-stamped documents are not matched
    // in their old version (conflicts=proceed would save them anyway, but this keeps the count honest).
    let refresh = send(format!("/{index}/_refresh"), "", None)
        .await
        .map_err(|e| fail(format!("{}: {}", e.url, e.reason)))?;
    if !(200..300).contains(&refresh.status) {
        return Err(fail(format!(
            "refresh answered HTTP {}: {}",
            refresh.status,
            request_error(refresh.status, &refresh.body).reason
        )));
    }
    let reply = send(
        format!("/{index}/_delete_by_query"),
        "conflicts=proceed&refresh=true&wait_for_completion=true",
        Some(Bytes::from(body)),
    )
    .await
    .map_err(|e| fail(format!("{}: {}", e.url, e.reason)))?;
    if !(200..300).contains(&reply.status) {
        let info = request_error(reply.status, &reply.body);
        return Err(fail(format!(
            "HTTP {}: {}: {}",
            reply.status, info.kind, info.reason
        )));
    }
    let parsed: DbqResponse = serde_json::from_slice(&reply.body)
        .map_err(|e| fail(format!("unreadable _delete_by_query answer: {e}")))?;
    ctx.stats.add(Stat::StaleDeleted, parsed.deleted);
    tracing::info!(index = %index, sync_id = %ctx.target.sync_id, deleted = parsed.deleted, "deleted stale documents");
    if let Some(first) = parsed.failures.first() {
        return Err(fail(format!(
            "{} deleted, {} failures, first: {first}",
            parsed.deleted,
            parsed.failures.len()
        )));
    }
    Ok(parsed.deleted)
}
