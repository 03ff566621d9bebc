//! Before a sync writes: the index exists (created with the target's settings and mappings if not), and for
//! full syncs the stale field is a `keyword`. A `text` field would make the stale query's `term` match nothing
//! and delete every document, so this is checked up front, not hoped for.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::IndexerError;
use crate::indexer::Shared;
use crate::response::request_error;
use crate::sync::SyncTarget;
use crate::transport::{Reply, Request};

/// Elasticsearch/OpenSearch index-name rules; checked here so the name can go into URL paths unescaped.
pub(crate) fn check_index_name(index: &str) -> Result<(), IndexerError> {
    let bad = |why: &str| IndexerError::Config(format!("index name {index:?} is not valid: {why}"));
    if index.is_empty() || index.len() > 255 {
        return Err(bad("it must be 1 to 255 bytes long"));
    }
    if index == "." || index == ".." || index.starts_with(['-', '_', '+']) {
        return Err(bad(
            "it must not be `.`/`..` nor start with `-`, `_` or `+`",
        ));
    }
    if let Some(c) = index
        .chars()
        .find(|c| c.is_uppercase() || "\\/*?\"<>| ,#:%".contains(*c) || c.is_control())
    {
        return Err(bad(&format!(
            "it must be lowercase and must not contain {c:?}"
        )));
    }
    Ok(())
}

pub(crate) async fn prepare_index(
    shared: &Shared,
    target: &SyncTarget,
    auth: Option<&HeaderValue>,
) -> Result<(), IndexerError> {
    let index = &target.index;
    let head = call(shared, Method::HEAD, &format!("/{index}"), "", auth, None).await?;
    match head.status {
        200 => {
            if target.stale_deletion {
                map_stale_field(shared, target, auth).await?;
            }
            Ok(())
        }
        404 => create_index(shared, target, auth).await,
        status => Err(refusal(head, format!("HEAD /{index}"), status)),
    }
}

async fn create_index(
    shared: &Shared,
    target: &SyncTarget,
    auth: Option<&HeaderValue>,
) -> Result<(), IndexerError> {
    let index = &target.index;
    let mut body = serde_json::Map::new();
    if let Some(settings) = &target.index_settings {
        body.insert("settings".into(), settings.clone());
    }
    let mut mappings = target.index_mappings.clone().unwrap_or_else(|| json!({}));
    if target.stale_deletion {
        let Some(m) = mappings.as_object_mut() else {
            return Err(IndexerError::Config(format!(
                "index_mappings for {index} must be a JSON object"
            )));
        };
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.entry(shared.cfg.stale_field.clone())
                .or_insert_with(|| json!({"type": "keyword"}));
        }
    }
    if mappings.as_object().is_some_and(|m| !m.is_empty()) {
        body.insert("mappings".into(), mappings);
    }
    let body = Bytes::from(Value::Object(body).to_string());
    let reply = call(
        shared,
        Method::PUT,
        &format!("/{index}"),
        "",
        auth,
        Some(body),
    )
    .await?;
    match reply.status {
        200..=299 => {
            tracing::info!(index = %index, "created index");
            Ok(())
        }
        // Another sync created it between our HEAD and PUT.
        400 if request_error(400, &reply.body).kind == "resource_already_exists_exception" => {
            if target.stale_deletion {
                map_stale_field(shared, target, auth).await?;
            }
            Ok(())
        }
        status => Err(refusal(
            reply,
            format!("PUT /{index} (create index)"),
            status,
        )),
    }
}

/// Adding a `keyword` field is idempotent; if the field already exists with another type the cluster answers
/// 400, and we refuse the full sync rather than risk deleting the wrong documents.
async fn map_stale_field(
    shared: &Shared,
    target: &SyncTarget,
    auth: Option<&HeaderValue>,
) -> Result<(), IndexerError> {
    let index = &target.index;
    let field = &shared.cfg.stale_field;
    let body =
        Bytes::from(json!({"properties": {field.as_str(): {"type": "keyword"}}}).to_string());
    let reply = call(
        shared,
        Method::PUT,
        &format!("/{index}/_mapping"),
        "",
        auth,
        Some(body),
    )
    .await?;
    match reply.status {
        200..=299 => Ok(()),
        400 => Err(IndexerError::Config(format!(
            "index {index} maps `{field}` with a type other than keyword ({}); stale deletion needs it as keyword: \
             reindex, or set another `stale_field`",
            request_error(400, &reply.body).reason
        ))),
        status => Err(refusal(reply, format!("PUT /{index}/_mapping"), status)),
    }
}

pub(crate) async fn call(
    shared: &Shared,
    method: Method,
    path: &str,
    query: &str,
    auth: Option<&HeaderValue>,
    body: Option<Bytes>,
) -> Result<Reply, IndexerError> {
    let req = Request {
        method,
        path,
        query,
        auth,
        body: body.map(|b| (b, "application/json")),
        gzip: false,
        timeout: None,
    };
    shared
        .transport
        .send(req)
        .await
        .map_err(|e| IndexerError::Unreachable {
            url: e.url,
            reason: e.reason,
        })
}

/// Turns a non-success answer into the error that says what to check.
pub(crate) fn refusal(reply: Reply, what: String, status: u16) -> IndexerError {
    let info = request_error(status, &reply.body);
    if status == 401 || status == 403 {
        IndexerError::Unauthorized {
            url: reply.url,
            what,
            status,
            reason: info.reason,
            hint: " (a connector's api_key needs `create_index`, `index`, `delete` and `manage` on its index)".into(),
        }
    } else {
        IndexerError::Unexpected {
            url: reply.url,
            what,
            status,
            reason: format!("{}: {}", info.kind, info.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_follow_the_cluster_rules() {
        assert!(check_index_name("search-my_docs.v1+x").is_ok());
        for bad in [
            "", "Upper", "a b", "a/b", "_x", "-x", "a,b", "a#b", "a:b", "..", "a%2f",
        ] {
            assert!(check_index_name(bad).is_err(), "{bad}");
        }
    }
}
