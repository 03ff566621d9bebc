//! Salesforce records and files as documents, as Elastic's `SalesforceDocMapper` builds them,
//! and the UTC times the connector reads and writes.

use std::collections::BTreeSet;

use inlet_sdk::{Document, ErrorKind, Result, error};
use serde_json::{Map, Value, json};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Elastic's `_timestamp` and Inlet's cursor format: `2024-01-02T03:04:05Z`.
const UTC_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
/// Salesforce's datetimes: `2024-01-02T03:04:05.000+0000`.
const SALESFORCE: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
);

fn utc_text(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(UTC_SECONDS)
        .unwrap_or_default()
}

/// Now, in UTC seconds.
pub fn now_utc() -> String {
    utc_text(OffsetDateTime::now_utc())
}

/// A Salesforce datetime (or one in our own format) as `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn salesforce_utc(text: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(text, SALESFORCE) {
        return Some(utc_text(t));
    }
    PrimitiveDateTime::parse(text, UTC_SECONDS)
        .ok()
        .map(|t| utc_text(t.assume_utc()))
}

/// `text` (our format) moved back by `seconds`.
pub fn earlier(text: &str, seconds: i64) -> Option<String> {
    let t = PrimitiveDateTime::parse(text, UTC_SECONDS)
        .ok()?
        .assume_utc();
    Some(utc_text(t - Duration::seconds(seconds)))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A record's Id: its `Id`, else the last segment of `attributes.url` (SOSL returns only the
/// fields a rule names).
fn record_id(record: &Value) -> Option<String> {
    str_of(record, "Id")
        .or_else(|| {
            record
                .get("attributes")
                .and_then(|a| str_of(a, "url"))
                .and_then(|u| u.rsplit('/').next())
        })
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// A record as Elastic indexes it (`map_salesforce_objects`): the record as Salesforce returned
/// it, plus `url` (the record's page on the org), `_timestamp` (its LastModifiedDate, else now)
/// and `id` = `_id` = the record's Id (as Elastic's framework writes it).
pub fn object_doc(mut record: Value, base: &str) -> Result<Document> {
    let id = record_id(&record).ok_or_else(|| {
        error(
            ErrorKind::Source,
            format!("a record without Id: {}", snippet(&record)),
        )
    })?;
    let timestamp = str_of(&record, "LastModifiedDate")
        .and_then(salesforce_utc)
        .unwrap_or_else(now_utc);
    let Value::Object(fields) = &mut record else {
        return Err(error(
            ErrorKind::Source,
            "a record that is not a JSON object",
        ));
    };
    fields.insert("url".into(), json!(format!("{base}/{id}")));
    fields.insert("id".into(), json!(id));
    Ok(Document::index_json(id, record.to_string()).at(timestamp))
}

fn snippet(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(120).collect()
}

/// A file (ContentDocument) linked to synced records, with the ids of those records.
#[derive(Debug, Clone)]
pub struct ContentDoc {
    /// The ContentDocument as Salesforce returned it (fields, `Owner`, `CreatedBy`,
    /// `LatestPublishedVersion`).
    pub record: Value,
    pub linked_ids: BTreeSet<String>,
}

impl ContentDoc {
    pub fn id(&self) -> Option<&str> {
        str_of(&self.record, "Id")
    }

    /// The id of its latest published version (what is downloaded).
    pub fn version_id(&self) -> Option<&str> {
        self.record
            .get("LatestPublishedVersion")
            .and_then(|v| str_of(v, "Id"))
    }

    pub fn size(&self) -> Option<u64> {
        self.record.get("ContentSize").and_then(Value::as_u64)
    }

    /// `Title.FileExtension`, as Elastic's title.
    pub fn title(&self) -> String {
        format!(
            "{}.{}",
            str_of(&self.record, "Title").unwrap_or("None"),
            str_of(&self.record, "FileExtension").unwrap_or("None")
        )
    }

    /// Elastic's document for a file (`map_content_document`), plus `id` = `_id`.
    pub fn body(&self, base: &str) -> Map<String, Value> {
        let r = &self.record;
        let nested = |k: &str, f: &str| {
            r.get(k)
                .and_then(|v| v.get(f))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let id = self.id().unwrap_or_default();
        let version = r
            .get("LatestPublishedVersion")
            .cloned()
            .unwrap_or(Value::Null);
        let mut out = Map::new();
        out.insert("id".into(), json!(id));
        out.insert(
            "content_size".into(),
            r.get("ContentSize").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "created_at".into(),
            r.get("CreatedDate").cloned().unwrap_or(Value::Null),
        );
        out.insert("created_by".into(), nested("CreatedBy", "Name"));
        out.insert("created_by_email".into(), nested("CreatedBy", "Email"));
        out.insert(
            "description".into(),
            r.get("Description").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "file_extension".into(),
            r.get("FileExtension").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "last_updated".into(),
            r.get("LastModifiedDate").cloned().unwrap_or(Value::Null),
        );
        out.insert("linked_ids".into(), json!(self.linked_ids));
        out.insert("owner".into(), nested("Owner", "Name"));
        out.insert("owner_email".into(), nested("Owner", "Email"));
        out.insert("title".into(), json!(self.title()));
        out.insert("type".into(), json!("content_document"));
        out.insert("url".into(), json!(format!("{base}/{id}")));
        out.insert(
            "version_number".into(),
            version.get("VersionNumber").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "version_url".into(),
            json!(format!(
                "{base}/{}",
                str_of(&version, "Id").unwrap_or("None")
            )),
        );
        out
    }
}

/// The files linked from a record (its `ContentDocumentLinks` subquery), each with the record's
/// id (Elastic's `_parse_content_documents`).
pub fn linked_files(record: &Value) -> Vec<(String, Value)> {
    let Some(owner) = str_of(record, "Id") else {
        return Vec::new();
    };
    record
        .get("ContentDocumentLinks")
        .and_then(|l| l.get("records"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|link| link.get("ContentDocument"))
        .filter(|d| d.is_object())
        .map(|d| (owner.to_owned(), d.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_seconds() {
        assert_eq!(
            salesforce_utc("2024-01-02T03:04:05.000+0000").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            salesforce_utc("2024-01-02T03:04:05.250-0130").as_deref(),
            Some("2024-01-02T04:34:05Z")
        );
        assert_eq!(
            salesforce_utc("2024-01-02T03:04:05Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(salesforce_utc("yesterday"), None);
        assert_eq!(
            earlier("2024-01-01T00:00:30Z", 60).as_deref(),
            Some("2023-12-31T23:59:30Z")
        );
        assert!(salesforce_utc(&now_utc()).is_some());
    }

    #[test]
    fn records_keep_their_fields_and_gain_url_id_and_timestamp() {
        let record = json!({
            "attributes": {"type": "Account", "url": "/services/data/v59.0/sobjects/Account/001A"},
            "Id": "001A", "Name": "Acme", "LastModifiedDate": "2024-03-04T05:06:07.000+0000",
            "Owner": {"attributes": {"type": "User"}, "Id": "005X", "Name": "Ann", "Email": "ann@x.co"},
        });
        let d = object_doc(record, "https://acme.my.salesforce.com").expect("a document");
        assert_eq!(d.id, "001A");
        assert_eq!(d.timestamp.as_deref(), Some("2024-03-04T05:06:07Z"));
        let body: Value = serde_json::from_str(&d.body).expect("JSON");
        assert_eq!(body["url"], "https://acme.my.salesforce.com/001A");
        assert_eq!(body["id"], "001A");
        assert_eq!(body["Owner"]["Name"], "Ann");
        assert_eq!(body["attributes"]["type"], "Account");
        assert!(object_doc(json!({"Name": "no id"}), "b").is_err());
        let sosl = json!({"attributes": {"type": "Contact", "url": "/services/data/v59.0/sobjects/Contact/003C"}, "Name": "Cy"});
        assert_eq!(
            object_doc(sosl, "b").expect("an id from attributes.url").id,
            "003C"
        );
        let sosl = json!({"attributes": {"type": "Contact", "url": "/services/data/v59.0/sobjects/Contact/003C"}, "Name": "Cy"});
        assert_eq!(
            object_doc(sosl, "b").expect("an id from attributes.url").id,
            "003C"
        );
    }

    #[test]
    fn files_are_elastic_content_documents() {
        let record = json!({
            "Id": "069A", "Title": "Q3 plan", "FileExtension": "pdf", "ContentSize": 1234,
            "Description": null, "CreatedDate": "2024-01-01T00:00:00.000+0000",
            "LastModifiedDate": "2024-01-02T00:00:00.000+0000",
            "Owner": {"Id": "005X", "Name": "Ann", "Email": "ann@x.co"},
            "CreatedBy": {"Id": "005Y", "Name": "Bob", "Email": "bob@x.co"},
            "LatestPublishedVersion": {"Id": "068V", "VersionNumber": "2"},
        });
        let doc = ContentDoc {
            record,
            linked_ids: ["006B".to_owned(), "001A".to_owned()].into_iter().collect(),
        };
        assert_eq!(doc.version_id(), Some("068V"));
        let body = Value::Object(doc.body("https://o"));
        assert_eq!(
            body,
            json!({
                "id": "069A", "content_size": 1234, "created_at": "2024-01-01T00:00:00.000+0000",
                "created_by": "Bob", "created_by_email": "bob@x.co", "description": null,
                "file_extension": "pdf", "last_updated": "2024-01-02T00:00:00.000+0000",
                "linked_ids": ["001A", "006B"], "owner": "Ann", "owner_email": "ann@x.co",
                "title": "Q3 plan.pdf", "type": "content_document", "url": "https://o/069A",
                "version_number": "2", "version_url": "https://o/068V",
            })
        );
    }

    #[test]
    fn linked_files_come_from_the_links_subquery() {
        let record = json!({"Id": "001A", "ContentDocumentLinks": {"totalSize": 2, "done": true, "records": [
            {"ContentDocument": {"Id": "069A"}}, {"ContentDocument": null}
        ]}});
        let files = linked_files(&record);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "001A");
        assert_eq!(files[0].1["Id"], "069A");
        assert!(linked_files(&json!({"Id": "001B", "ContentDocumentLinks": null})).is_empty());
    }
}
