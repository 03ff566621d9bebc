//! Parsing `_bulk` answers and error bodies, in the shapes real clusters send
//! (see `shared/reference/es-bulk-responses/`): full item objects, or the subset `filter_path` keeps.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// What we ask the cluster to send back. Every item keeps its `status`, so the response still has one
/// entry per action, in action order; `filter_path=items.*.error` alone would drop successful items and
/// make the answer impossible to map back (example 03).
pub(crate) const FILTER_PATH: &str =
    "errors,items.*._id,items.*.status,items.*.result,items.*.error";

#[derive(Deserialize)]
pub(crate) struct BulkResponse<'a> {
    #[serde(default, borrow)]
    pub items: Vec<ItemWrapper<'a>>,
}

/// `{"index": {...}}` and friends: exactly serde's externally tagged enum.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ItemWrapper<'a> {
    Index(#[serde(borrow)] Item<'a>),
    Create(#[serde(borrow)] Item<'a>),
    Update(#[serde(borrow)] Item<'a>),
    Delete(#[serde(borrow)] Item<'a>),
}

impl<'a> ItemWrapper<'a> {
    pub(crate) fn item(&self) -> &Item<'a> {
        match self {
            ItemWrapper::Index(i)
            | ItemWrapper::Create(i)
            | ItemWrapper::Update(i)
            | ItemWrapper::Delete(i) => i,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Item<'a> {
    #[serde(default, borrow, rename = "_id")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default, borrow)]
    pub result: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
}

/// The `type` and `reason` of an error, as written to the dead-letter file.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErrorInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    caused_by: Option<Box<ErrorObject>>,
}

/// Reads an `error` value: an object `{type, reason, caused_by}` or (old clusters, proxies) a plain string.
/// The cause is appended to the reason because "failed to parse field [x]" alone does not say why.
pub(crate) fn error_info(raw: &RawValue) -> ErrorInfo {
    if let Ok(obj) = serde_json::from_str::<ErrorObject>(raw.get()) {
        let mut reason = obj.reason.unwrap_or_default();
        let mut cause = obj.caused_by.as_deref();
        while let Some(c) = cause {
            if let Some(r) = &c.reason {
                reason.push_str(" (caused by ");
                reason.push_str(c.kind.as_deref().unwrap_or("error"));
                reason.push_str(": ");
                reason.push_str(r);
                reason.push(')');
            }
            cause = c.caused_by.as_deref();
        }
        return ErrorInfo {
            kind: obj.kind.unwrap_or_else(|| "unknown".into()),
            reason,
        };
    }
    match serde_json::from_str::<String>(raw.get()) {
        Ok(s) => ErrorInfo {
            kind: "error".into(),
            reason: s,
        },
        Err(_) => ErrorInfo {
            kind: "unknown".into(),
            reason: raw.get().to_owned(),
        },
    }
}

/// The error of a whole-request failure body (`{"error": ..., "status": N}`), or the body's start if it is not JSON
/// (a proxy's HTML page, an empty 502).
pub(crate) fn request_error(status: u16, body: &[u8]) -> ErrorInfo {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        error: &'a RawValue,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
        return error_info(env.error);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)])
        .trim()
        .to_owned();
    let reason = if text.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        text
    };
    ErrorInfo {
        kind: format!("http_{status}"),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/es-bulk-responses/"
    );

    fn fixture(name: &str) -> Option<String> {
        // The reference files live in the shared folder beside the repo; CI has a copy of it, a fresh clone may not.
        std::fs::read_to_string(format!("{DIR}{name}")).ok()
    }

    #[test]
    fn parses_the_real_success_shape() {
        let Some(body) = fixture("01-success-index-delete404-create-update.json") else {
            return;
        };
        let resp: BulkResponse = serde_json::from_str(&body).unwrap();
        let got: Vec<_> = resp
            .items
            .iter()
            .map(|w| {
                (
                    w.item().status,
                    w.item().result.as_deref().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(201), Some("created".into())),
                (Some(404), Some("not_found".into())),
                (Some(201), Some("created".into())),
                (Some(200), Some("updated".into())),
            ]
        );
        assert!(resp.items[1].item().error.is_none());
        assert!(matches!(resp.items[1], ItemWrapper::Delete(_)));
    }

    #[test]
    fn parses_item_errors_and_whole_request_errors() {
        let Some(body) = fixture("05-per-item-429-es_rejected_execution_exception.json") else {
            return;
        };
        let resp: BulkResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(resp.items.len(), 3);
        let item = resp.items[0].item();
        assert_eq!(item.status, Some(429));
        assert_eq!(
            error_info(item.error.unwrap()).kind,
            "es_rejected_execution_exception"
        );

        let body = fixture("06-whole-request-429-indexing-pressure.json").unwrap();
        let err = request_error(429, body.as_bytes());
        assert_eq!(err.kind, "es_rejected_execution_exception");
        assert!(
            err.reason
                .starts_with("rejected execution of coordinating operation")
        );

        let body = fixture("07-per-item-400-mapping-error.json").unwrap();
        let resp: BulkResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(
            error_info(resp.items[0].item().error.unwrap()).kind,
            "mapper_parsing_exception"
        );
    }

    #[test]
    fn error_only_filter_drops_successful_items() {
        // Why FILTER_PATH keeps `status`: with `items.*.error` alone, 3 actions come back as 2 items.
        let Some(body) = fixture("03-filter_path-items.error-only.json") else {
            return;
        };
        let resp: BulkResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(resp.items.len(), 2);
        assert_eq!(resp.items[0].item().status, None);
    }

    #[test]
    fn error_reason_includes_the_cause_and_tolerates_strings_and_html() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"type":"document_parsing_exception","reason":"[1:10] failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}"#,
        )
        .unwrap();
        let info = error_info(&raw);
        assert_eq!(info.kind, "document_parsing_exception");
        assert!(
            info.reason
                .contains("caused by illegal_argument_exception: For input string")
        );
        let raw: Box<RawValue> =
            serde_json::from_str(r#""IndexMissingException[[x] missing]""#).unwrap();
        assert_eq!(
            error_info(&raw).reason,
            "IndexMissingException[[x] missing]"
        );
        let html = request_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(html.kind, "http_502");
        assert_eq!(
            request_error(503, b"").reason,
            "HTTP 503 with an empty body"
        );
    }
}
