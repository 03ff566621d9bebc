//! The Salesforce REST API through the host's HTTP broker: queries and their pages, describe
//! calls (which objects and fields this org lets the connector read), deleted records, SOSL
//! search and file downloads, with Salesforce's failure modes handled in one place.
//!
//! Authentication is the host's: an `oauth2_client_credentials` credential the operator declares
//! for the org's My Domain (README.md). This client sets no `Authorization`; a 401 means the
//! token was refused: the host drops it, and one retry carries a fresh one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use inlet_sdk::http::{self, HttpError, Response};
use inlet_sdk::{ConnectorError, ErrorKind, Result, error, log};
use serde_json::Value;

/// Elastic's API version (salesforce/constants.py).
pub const API_VERSION: &str = "v59.0";
/// Retries of a throttled (429, 503) request; Salesforce's Retry-After is honoured, capped.
const THROTTLE_RETRIES: u32 = 5;
/// Retries of a server error or a transient transport failure (Elastic: 3).
const SERVER_RETRIES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Elastic's RELEVANT_SOBJECTS: the standard objects (and their children) whose fields are
/// described once, filtered by [`RELEVANT_FIELDS`].
pub const RELEVANT_SOBJECTS: &[&str] = &[
    "Account",
    "Campaign",
    "Case",
    "CaseComment",
    "CaseFeed",
    "Contact",
    "ContentDocument",
    "ContentDocumentLink",
    "ContentVersion",
    "EmailMessage",
    "FeedComment",
    "Lead",
    "Opportunity",
    "User",
];

/// Elastic's RELEVANT_SOBJECT_FIELDS.
pub const RELEVANT_FIELDS: &[&str] = &[
    "AccountId",
    "BccAddress",
    "BillingAddress",
    "Body",
    "CaseNumber",
    "CcAddress",
    "CommentBody",
    "CommentCount",
    "Company",
    "ContentSize",
    "ConvertedAccountId",
    "ConvertedContactId",
    "ConvertedDate",
    "ConvertedOpportunityId",
    "Department",
    "Description",
    "Email",
    "EndDate",
    "FileExtension",
    "FirstOpenedDate",
    "FromAddress",
    "FromName",
    "IsActive",
    "IsClosed",
    "IsDeleted",
    "LastEditById",
    "LastEditDate",
    "LastModifiedById",
    "LatestPublishedVersionId",
    "LeadSource",
    "LinkUrl",
    "MessageDate",
    "Name",
    "OwnerId",
    "ParentId",
    "Phone",
    "PhotoUrl",
    "Rating",
    "StageName",
    "StartDate",
    "Status",
    "StatusParentId",
    "Subject",
    "TextBody",
    "Title",
    "ToAddress",
    "Type",
    "VersionDataUrl",
    "VersionNumber",
    "Website",
    "UserType",
];

/// One page of a query: its records and the URL of the next page.
pub struct Page {
    pub records: Vec<Value>,
    pub next: Option<String>,
}

/// An object of the org, from the global describe.
#[derive(Debug, Clone)]
pub struct SObject {
    pub name: String,
    pub queryable: bool,
    pub custom: bool,
    pub key_prefix: Option<String>,
}

pub struct Client {
    /// `https://<domain>.my.salesforce.com` (no trailing slash).
    pub base: String,
    sobjects: Option<Vec<SObject>>,
    /// Described field names per object.
    fields: BTreeMap<String, Vec<String>>,
}

fn sleep_for(wait: Duration) {
    http::sleep(wait.min(MAX_WAIT));
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(8))
}

/// Salesforce's error list (`[{"errorCode", "message"}]`) as `(codes, messages)`.
fn errors_of(r: &Response) -> (Vec<String>, Vec<String>) {
    let list = r.json().ok();
    let items = list
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| list.clone().map(|v| vec![v]))
        .unwrap_or_default();
    let mut codes = Vec::new();
    let mut messages = Vec::new();
    for e in items {
        if let Some(c) = e
            .get("errorCode")
            .or_else(|| e.get("error"))
            .and_then(Value::as_str)
        {
            codes.push(c.to_owned());
        }
        if let Some(m) = e
            .get("message")
            .or_else(|| e.get("error_description"))
            .and_then(Value::as_str)
        {
            messages.push(m.to_owned());
        }
    }
    if codes.is_empty() {
        codes.push("unknown".to_owned());
    }
    (codes, messages)
}

impl Client {
    pub fn new(base: String) -> Self {
        Client {
            base,
            sobjects: None,
            fields: BTreeMap::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// The error for a request the host refused or that failed for good.
    fn transport(&self, e: HttpError) -> ConnectorError {
        if e.is_denied() {
            error(
                ErrorKind::Network,
                format!(
                    "{}. Grant {} in this connector's grants.http (and bind the Salesforce credential's hosts to it)",
                    e.message, self.base
                ),
            )
        } else {
            e.into()
        }
    }

    /// A GET with Salesforce's failure modes handled: the response (2xx, or a status in `pass`).
    /// `label` names the request in messages.
    pub fn get(&self, path: &str, label: &str, pass: &[u16]) -> Result<Response> {
        let url = self.url(path);
        let headers = [("Accept", "application/json")];
        let mut throttled = 0;
        let mut failed = 0;
        let mut refused = false;
        loop {
            let r = match http::get(&url, &headers) {
                Ok(r) => r,
                Err(e) if e.is_transient() && failed < SERVER_RETRIES => {
                    let wait = backoff(failed);
                    failed += 1;
                    log::warn(&format!(
                        "{label}: {e}; retry {failed}/{SERVER_RETRIES} in {}s",
                        wait.as_secs()
                    ));
                    sleep_for(wait);
                    continue;
                }
                Err(e) => return Err(self.transport(e)),
            };
            if r.ok() || pass.contains(&r.status) {
                return Ok(r);
            }
            match r.status {
                // The host drops a refused token (at most once a minute); the retry carries a
                // fresh one. A second 401 is an answer.
                401 if !refused => {
                    refused = true;
                    log::warn(&format!(
                        "{label}: Salesforce refused the token (HTTP 401); retrying once with a fresh one"
                    ));
                }
                429 | 503 if throttled < THROTTLE_RETRIES => {
                    let wait = r.retry_after().unwrap_or_else(|| backoff(throttled));
                    throttled += 1;
                    log::warn(&format!(
                        "{label}: Salesforce answered {} (busy); retry {throttled}/{THROTTLE_RETRIES} in {}s",
                        r.status,
                        wait.min(MAX_WAIT).as_secs()
                    ));
                    sleep_for(wait);
                }
                500 | 502 | 504 if failed < SERVER_RETRIES => {
                    let wait = backoff(failed);
                    failed += 1;
                    log::warn(&format!(
                        "{label}: Salesforce answered {}; retry {failed}/{SERVER_RETRIES} in {}s",
                        r.status,
                        wait.as_secs()
                    ));
                    sleep_for(wait);
                }
                _ => return Err(self.refusal(&r, label)),
            }
        }
    }

    /// The error for a final answer, saying what to fix.
    fn refusal(&self, r: &Response, label: &str) -> ConnectorError {
        let (codes, messages) = errors_of(r);
        let details = format!(
            "HTTP {}, {}: {}",
            r.status,
            codes.join(", "),
            messages.join("; ")
        );
        let has = |c: &str| codes.iter().any(|x| x == c);
        if r.status == 401 {
            return error(
                ErrorKind::Auth,
                format!(
                    "{label}: Salesforce refused the request ({details}). Declare an oauth2_client_credentials credential in config.yml \
                     (credentials:) with token_url {base}/services/oauth2/token, your connected app's consumer key and secret and \
                     hosts [{base}], list it in this connector's grants.credentials, and grant {base} in grants.http (see the plugin's README)",
                    base = self.base
                ),
            );
        }
        if has("REQUEST_LIMIT_EXCEEDED") {
            return error(
                ErrorKind::Network,
                format!(
                    "{label}: Salesforce is rate limiting this org ({details}); the sync stops and nothing is deleted. \
                     The org's API request limit resets over 24 hours"
                ),
            );
        }
        if [
            "INVALID_FIELD",
            "INVALID_TERM",
            "MALFORMED_QUERY",
            "MALFORMED_SEARCH",
            "INVALID_TYPE",
        ]
        .iter()
        .any(|c| has(c))
        {
            return error(
                ErrorKind::Config,
                format!(
                    "{label}: Salesforce rejected the query ({details}); either the object or a field may be invalid"
                ),
            );
        }
        if r.status == 403 {
            return error(
                ErrorKind::Auth,
                format!(
                    "{label}: Salesforce denied it ({details}): the connected app's run-as user needs read access (API Enabled, View All Data or the objects' permissions)"
                ),
            );
        }
        let kind = if r.status >= 500 {
            ErrorKind::Network
        } else {
            ErrorKind::Source
        };
        error(kind, format!("{label}: {details}"))
    }

    pub fn get_json(&self, path: &str, label: &str) -> Result<Value> {
        self.get(path, label, &[])?.json()
    }

    fn query_path(soql: &str, endpoint: &str) -> String {
        format!(
            "/services/data/{API_VERSION}/{endpoint}?q={}",
            http::encode_component(soql)
        )
    }

    fn page(value: Value, label: &str) -> Result<Page> {
        let records = match value.get("records") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(error(
                    ErrorKind::Source,
                    format!("{label}: `records` is not a list"),
                ));
            }
        };
        let next = value
            .get("nextRecordsUrl")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(Page { records, next })
    }

    /// The first page of a SOQL query.
    pub fn query(&self, soql: &str, label: &str) -> Result<Page> {
        Self::page(
            self.get_json(&Self::query_path(soql, "query"), label)?,
            label,
        )
    }

    /// A following page (`nextRecordsUrl`, a path on the org).
    pub fn more(&self, next: &str, label: &str) -> Result<Page> {
        if !next.starts_with('/') {
            return Err(error(
                ErrorKind::Source,
                format!("{label}: nextRecordsUrl {next:?} is not a path on the org"),
            ));
        }
        Self::page(self.get_json(next, label)?, label)
    }

    /// Every record of a (small) query, all pages.
    pub fn query_all(&self, soql: &str, label: &str) -> Result<Vec<Value>> {
        let mut page = self.query(soql, label)?;
        let mut out = std::mem::take(&mut page.records);
        while let Some(next) = page.next.take() {
            page = self.more(&next, label)?;
            out.append(&mut page.records);
        }
        Ok(out)
    }

    /// A SOSL search's records.
    pub fn search(&self, sosl: &str, label: &str) -> Result<Vec<Value>> {
        let v = self.get_json(&Self::query_path(sosl, "search"), label)?;
        Ok(v.get("searchRecords")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// The org's objects (global describe), once per sync.
    pub fn sobjects(&mut self) -> Result<&[SObject]> {
        if self.sobjects.is_none() {
            let v = self.get_json(
                &format!("/services/data/{API_VERSION}/sobjects"),
                "describe (the org's objects)",
            )?;
            let list = v
                .get("sobjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| {
                    Some(SObject {
                        name: o.get("name")?.as_str()?.to_owned(),
                        queryable: o.get("queryable").and_then(Value::as_bool) == Some(true),
                        custom: o.get("custom").and_then(Value::as_bool) == Some(true),
                        key_prefix: o
                            .get("keyPrefix")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    })
                })
                .collect();
            self.sobjects = Some(list);
        }
        Ok(self.sobjects.as_deref().unwrap_or_default())
    }

    /// True when the org lets the connector query this object (Elastic's `_is_queryable`:
    /// relevant standard objects only).
    pub fn is_queryable(&mut self, sobject: &str) -> Result<bool> {
        let relevant = RELEVANT_SOBJECTS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(sobject));
        Ok(relevant
            && self
                .sobjects()?
                .iter()
                .any(|o| o.queryable && o.name.eq_ignore_ascii_case(sobject)))
    }

    /// The custom objects of the org (`...__c`).
    pub fn custom_objects(&mut self) -> Result<Vec<String>> {
        Ok(self
            .sobjects()?
            .iter()
            .filter(|o| o.custom && o.name.ends_with("__c"))
            .map(|o| o.name.clone())
            .collect())
    }

    /// Key prefixes (the first three characters of record ids) of these objects.
    pub fn key_prefixes(&mut self, objects: &[String]) -> Result<BTreeSet<String>> {
        Ok(self
            .sobjects()?
            .iter()
            .filter(|o| objects.iter().any(|n| n.eq_ignore_ascii_case(&o.name)))
            .filter_map(|o| o.key_prefix.clone())
            .collect())
    }

    /// The fields of `sobject` as its describe spells them (cached; none for an object the org
    /// does not have or lets no one query).
    fn described(&mut self, sobject: &str) -> Result<Vec<String>> {
        if let Some(names) = self.fields.get(sobject) {
            return Ok(names.clone());
        }
        let known = self
            .sobjects()?
            .iter()
            .any(|s| s.queryable && s.name.eq_ignore_ascii_case(sobject));
        let names: Vec<String> = if known {
            let v = self.get_json(
                &format!("/services/data/{API_VERSION}/sobjects/{sobject}/describe"),
                &format!("describe {sobject}"),
            )?;
            v.get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        self.fields.insert(sobject.to_owned(), names.clone());
        Ok(names)
    }

    /// The fields of `sobject` the connector may select (Elastic's `_select_queryable_fields`):
    /// those of `wanted` the describe lists, in `wanted`'s order, or when `wanted` is empty every
    /// described field (of the relevant standard objects: those of [`RELEVANT_FIELDS`]).
    pub fn queryable_fields(&mut self, sobject: &str, wanted: &[&str]) -> Result<Vec<String>> {
        let described = self.described(sobject)?;
        let relevant = RELEVANT_SOBJECTS.contains(&sobject);
        if wanted.is_empty() {
            return Ok(described
                .into_iter()
                .filter(|f| !relevant || RELEVANT_FIELDS.contains(&f.as_str()))
                .collect());
        }
        Ok(wanted
            .iter()
            .filter(|w| {
                (!relevant || RELEVANT_FIELDS.contains(w))
                    && described.iter().any(|f| f.eq_ignore_ascii_case(w))
            })
            .map(|w| (*w).to_owned())
            .collect())
    }

    /// True when `sobject` has the field (any case), per the describe.
    pub fn has_field(&mut self, sobject: &str, field: &str) -> Result<bool> {
        Ok(self
            .described(sobject)?
            .iter()
            .any(|f| f.eq_ignore_ascii_case(field)))
    }

    /// Ids of `sobject`'s records deleted between `start` and `end` (Salesforce keeps them about
    /// 15 days): `Err` asks for a full sync when the window starts before what is kept.
    pub fn deleted(&self, sobject: &str, start: &str, end: &str) -> Result<Vec<String>> {
        let path = format!(
            "/services/data/{API_VERSION}/sobjects/{sobject}/deleted/?start={}&end={}",
            http::encode_component(start),
            http::encode_component(end)
        );
        let v = self.get_json(&path, &format!("deleted {sobject} records"))?;
        if let Some(earliest) = v.get("earliestDateAvailable").and_then(Value::as_str)
            && crate::docs::salesforce_utc(earliest).as_deref() > Some(start)
        {
            return Err(error(
                ErrorKind::Source,
                format!(
                    "Salesforce keeps deleted {sobject} records only since {earliest}, after the last sync ({start}): run a full sync"
                ),
            ));
        }
        Ok(v.get("deletedRecords")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// A file version's bytes (ContentVersion VersionData), or `None` when Salesforce does not
    /// serve it (Elastic indexes the file's document without content then).
    pub fn download(&self, version_id: &str, label: &str) -> Result<Option<Vec<u8>>> {
        let path = format!(
            "/services/data/{API_VERSION}/sobjects/ContentVersion/{version_id}/VersionData"
        );
        let r = self.get(&path, label, &[400, 403, 404])?;
        if r.ok() {
            Ok(Some(r.body))
        } else {
            log::warn(&format!(
                "{label}: Salesforce answered HTTP {} for its content; indexed without it",
                r.status
            ));
            Ok(None)
        }
    }
}
