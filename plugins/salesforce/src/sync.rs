//! Full and incremental syncs as a stream the host pulls: one query page at a time, the files
//! linked to the synced records last (each downloaded once, with every record it is linked to).
//!
//! Order and queries are Elastic's (`SalesforceDataSource.get_docs`): Account, Opportunity,
//! Contact, Lead, Campaign, Case (those configured), then custom objects, then the files. An
//! incremental sync runs the same queries for records whose `SystemModstamp` is at or after the
//! last sync's start (minus a minute, for commits in flight), asks Salesforce for the records
//! deleted since, and re-sends the files that changed or are linked to changed records.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use inlet_sdk::{DocStream, Document, ErrorKind, Result, error, log};
use serde_json::{Value, json};

use crate::client::{Client, Page};
use crate::docs::{self, ContentDoc};
use crate::rules::{Language, Rule};
use crate::soql::{self, Query};

/// Documents per batch, and the attachment bytes after which a batch is closed early.
const BATCH_DOCS: usize = 100;
const BATCH_BYTES: usize = 8 << 20;
/// Elastic downloads files up to this size (its framework's `max_file_size`).
pub const MAX_FILE_SIZE: u64 = 10_485_760;
/// The Tika extensions Elastic's query restricts files to (connectors_sdk content_extraction).
pub const EXTENSIONS: &[&str] = &[
    "txt", "py", "rst", "html", "markdown", "json", "xml", "csv", "md", "ppt", "rtf", "docx",
    "odt", "xls", "xlsx", "rb", "paper", "sh", "pptx", "pdf", "doc", "aspx", "xlsb", "xlsm", "tsv",
    "svg", "msg", "potx", "vsd", "vsdx", "vsdm",
];
/// Elastic's standard objects, in its order.
pub const STANDARD_OBJECTS: &[&str] = &[
    "Account",
    "Opportunity",
    "Contact",
    "Lead",
    "Campaign",
    "Case",
];
/// Ids per `IN (...)` list (Elastic chunks case ids by 800; SOQL text is limited to 100,000
/// characters).
const IN_CHUNK: usize = 200;
/// Elastic pages `FIELDS(...)` queries with OFFSET up to 2000.
const FIELDS_PAGE: u32 = 200;
const FIELDS_MAX_OFFSET: u32 = 2000;
/// An incremental sync starts this long before the last one started.
pub const OVERLAP_SECS: i64 = 60;

/// What a sync reads.
pub struct Plan {
    /// Standard objects, in Elastic's order.
    pub standard: Vec<String>,
    /// Custom objects (`..__c`); empty when not syncing them.
    pub custom: Vec<String>,
    /// Advanced rules: when present, only their records are synced.
    pub rules: Vec<Rule>,
    /// Incremental: the time from which changes are read.
    pub since: Option<String>,
}

enum Step {
    Object(String),
    Rule(Rule),
    Deleted(String),
    ChangedFiles,
    Files,
}

/// A query being paged.
enum Paging {
    Next(String),
    Offset { query: String, offset: u32 },
}

struct Running {
    object: Option<String>,
    label: String,
    paging: Paging,
}

/// Id → name (and e-mail) records of objects Contacts and Leads refer to (Elastic's
/// `sobjects_cache_by_type`).
type Lookups = BTreeMap<String, BTreeMap<String, Value>>;

pub struct Sync {
    client: Client,
    steps: VecDeque<Step>,
    running: Option<Running>,
    pending: VecDeque<Document>,
    files: BTreeMap<String, ContentDoc>,
    /// Files of changed records (incremental): their links are read again whole.
    changed_files: BTreeSet<String>,
    lookups: Option<Lookups>,
    /// Objects whose records are synced (for file links and deletions).
    synced: Vec<String>,
    since: Option<String>,
    now: String,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    records: usize,
    files: usize,
    bytes: usize,
    deleted: usize,
}

impl Sync {
    pub fn new(client: Client, plan: Plan) -> Self {
        let now = docs::now_utc();
        let mut steps = VecDeque::new();
        let mut synced: Vec<String> = Vec::new();
        if plan.rules.is_empty() {
            for o in plan.standard.iter().chain(&plan.custom) {
                steps.push_back(Step::Object(o.clone()));
                synced.push(o.clone());
            }
        } else {
            steps.extend(plan.rules.iter().cloned().map(Step::Rule));
        }
        if plan.since.is_some() && plan.rules.is_empty() {
            for o in &synced {
                steps.push_back(Step::Deleted(o.clone()));
            }
            steps.push_back(Step::ChangedFiles);
        } else {
            steps.push_back(Step::Files);
        }
        Sync {
            client,
            steps,
            running: None,
            pending: VecDeque::new(),
            files: BTreeMap::new(),
            changed_files: BTreeSet::new(),
            lookups: None,
            synced,
            since: plan.since,
            now,
            stats: Stats::default(),
        }
    }

    /// The cursor for the next incremental sync: when this one started.
    pub fn cursor_value(&self) -> String {
        json!({ "cursor_timestamp": self.now }).to_string()
    }

    /// One step of work: a page, a file, or the start of the next step. False when done.
    fn advance(&mut self) -> Result<bool> {
        if let Some(running) = self.running.take() {
            self.continue_query(running)?;
            return Ok(true);
        }
        let Some(step) = self.steps.pop_front() else {
            return Ok(false);
        };
        match step {
            Step::Object(name) => self.start_object(&name)?,
            Step::Rule(rule) => self.start_rule(rule)?,
            Step::Deleted(name) => self.deleted(&name)?,
            Step::ChangedFiles => self.changed_files()?,
            Step::Files => {
                // One file per step: downloads are the large part of a batch.
                if let Some((_, file)) = self.files.pop_first() {
                    self.emit_file(file)?;
                    self.steps.push_front(Step::Files);
                }
            }
        }
        Ok(true)
    }

    // ---- records ------------------------------------------------------------------------------

    fn start_object(&mut self, name: &str) -> Result<()> {
        let standard = STANDARD_OBJECTS.contains(&name);
        if standard && !self.client.is_queryable(name)? {
            log::warn(&format!(
                "Object {name} is not queryable, so they won't be ingested."
            ));
            return Ok(());
        }
        let mut query = self.object_query(name)?;
        if let Some(since) = &self.since {
            let field = if self.client.has_field(name, "SystemModstamp")? {
                "SystemModstamp"
            } else {
                "LastModifiedDate"
            };
            query = query.filter(format!("{field} >= {since}"));
        }
        let label = format!("query {name}");
        let page = self.client.query(&query.build(), &label)?;
        self.take_page(Some(name.to_owned()), label, page)
    }

    fn start_rule(&mut self, rule: Rule) -> Result<()> {
        let label = format!("advanced rule {:?}", rule.query);
        match rule.language {
            Language::Sosl => {
                let records = self.client.search(&rule.query, &label)?;
                self.records(None, records)
            }
            Language::Soql => {
                let query = soql::add_last_modified_date(&soql::add_id(&rule.query));
                if soql::uses_fields_function(&query) {
                    let query = soql::with_paging(&query);
                    let page = self.client.query(&query, &label)?;
                    let more = (!page.records.is_empty()).then_some(Paging::Offset {
                        query,
                        offset: FIELDS_PAGE,
                    });
                    self.records(None, page.records)?;
                    if let Some(paging) = more {
                        self.running = Some(Running {
                            object: None,
                            label,
                            paging,
                        });
                    }
                    Ok(())
                } else {
                    let page = self.client.query(&query, &label)?;
                    self.take_page(None, label, page)
                }
            }
        }
    }

    fn continue_query(&mut self, running: Running) -> Result<()> {
        let Running {
            object,
            label,
            paging,
        } = running;
        match paging {
            Paging::Next(next) => {
                let page = self.client.more(&next, &label)?;
                self.take_page(object, label, page)
            }
            Paging::Offset { query, offset } => {
                let page = self
                    .client
                    .query(&soql::with_offset(&query, offset), &label)?;
                let more = !page.records.is_empty() && offset + FIELDS_PAGE <= FIELDS_MAX_OFFSET;
                self.records(object.as_deref(), page.records)?;
                if more {
                    self.running = Some(Running {
                        object,
                        label,
                        paging: Paging::Offset {
                            query,
                            offset: offset + FIELDS_PAGE,
                        },
                    });
                }
                Ok(())
            }
        }
    }

    fn take_page(&mut self, object: Option<String>, label: String, page: Page) -> Result<()> {
        let Page { records, next } = page;
        self.records(object.as_deref(), records)?;
        if let Some(next) = next {
            self.running = Some(Running {
                object,
                label,
                paging: Paging::Next(next),
            });
        }
        Ok(())
    }

    /// Documents for a page of records of `object` (None: an advanced rule's).
    fn records(&mut self, object: Option<&str>, mut records: Vec<Value>) -> Result<()> {
        match object {
            Some("Contact") => {
                let l = self.lookups()?;
                for r in &mut records {
                    r["Account"] = lookup(l, "Account", r.get("AccountId"));
                    r["Owner"] = lookup(l, "User", r.get("OwnerId"));
                }
            }
            Some("Lead") => {
                let l = self.lookups()?;
                for r in &mut records {
                    r["Owner"] = lookup(l, "User", r.get("OwnerId"));
                    r["ConvertedAccount"] = lookup(l, "Account", r.get("ConvertedAccountId"));
                    r["ConvertedContact"] = lookup(l, "Contact", r.get("ConvertedContactId"));
                    r["ConvertedOpportunity"] =
                        lookup(l, "Opportunity", r.get("ConvertedOpportunityId"));
                }
            }
            Some("Case") => self.case_feeds(&mut records)?,
            _ => {}
        }
        for record in records {
            for (owner, file) in docs::linked_files(&record) {
                self.link_file(owner, file);
            }
            self.stats.records += 1;
            self.pending
                .push_back(docs::object_doc(record, &self.client.base)?);
        }
        Ok(())
    }

    fn link_file(&mut self, owner: String, file: Value) {
        let Some(id) = file.get("Id").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        if self.since.is_some() {
            self.changed_files.insert(id);
            return;
        }
        self.files
            .entry(id)
            .or_insert_with(|| ContentDoc {
                record: file,
                linked_ids: BTreeSet::new(),
            })
            .linked_ids
            .insert(owner);
    }

    /// Elastic's lookups for Contacts and Leads: Id → {Id, Name[, Email]} of Accounts,
    /// Contacts, Opportunities and Users, read once per sync.
    fn lookups(&mut self) -> Result<&Lookups> {
        if self.lookups.is_none() {
            let mut all = Lookups::new();
            for (object, with_email) in [
                ("Account", false),
                ("Contact", true),
                ("Opportunity", false),
                ("User", true),
            ] {
                let mut by_id = BTreeMap::new();
                if self.client.is_queryable(object)? {
                    let mut q = Query::from(object).with_id().field("Name");
                    if with_email {
                        q = q.field("Email");
                    }
                    for r in self
                        .client
                        .query_all(&q.build(), &format!("{object} names"))?
                    {
                        if let Some(id) = r.get("Id").and_then(Value::as_str) {
                            by_id.insert(id.to_owned(), r.clone());
                        }
                    }
                } else {
                    log::warn(&format!(
                        "{object} is not queryable, so they won't be cached."
                    ));
                }
                all.insert(object.to_owned(), by_id);
            }
            self.lookups = Some(all);
        }
        Ok(self.lookups.get_or_insert_with(Lookups::new))
    }

    /// A page of cases gets its feed items (with their comments) as `Feeds` (null: none).
    fn case_feeds(&mut self, cases: &mut [Value]) -> Result<()> {
        if cases.is_empty() || !self.client.is_queryable("CaseFeed")? {
            return Ok(());
        }
        let ids: Vec<String> = cases
            .iter()
            .filter_map(|c| c.get("Id").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let fields = self.client.queryable_fields(
            "CaseFeed",
            &[
                "ParentId",
                "Type",
                "IsDeleted",
                "CommentCount",
                "Title",
                "Body",
                "LinkUrl",
            ],
        )?;
        let comments = self.client.queryable_fields(
            "FeedComment",
            &[
                "ParentId",
                "CreatedDate",
                "LastEditById",
                "LastEditDate",
                "CommentBody",
                "IsDeleted",
                "StatusParentId",
            ],
        )?;
        let comments = Query::from("FeedComments")
            .with_id()
            .fields(&comments)
            .fields(&["CreatedBy.Id", "CreatedBy.Name", "CreatedBy.Email"])
            .limit(500);
        let mut by_case: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let q = Query::from("CaseFeed")
                .with_id()
                .with_default_metafields()
                .fields(&fields)
                .fields(&["CreatedBy.Id", "CreatedBy.Name", "CreatedBy.Email"])
                .join(
                    self.client
                        .is_queryable("FeedComment")?
                        .then_some(&comments),
                )
                .filter(format!("ParentId IN ({})", soql::in_list(chunk)));
            for feed in self.client.query_all(&q.build(), "query CaseFeed")? {
                let parent = feed
                    .get("ParentId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                by_case.entry(parent).or_default().push(feed);
            }
        }
        for case in cases {
            let id = case.get("Id").and_then(Value::as_str).unwrap_or_default();
            case["Feeds"] = by_case.remove(id).map(Value::Array).unwrap_or(Value::Null);
        }
        Ok(())
    }

    /// Elastic's query for each object.
    fn object_query(&mut self, name: &str) -> Result<Query> {
        let owner = ["Owner.Id", "Owner.Name", "Owner.Email"];
        let created_by = ["CreatedBy.Id", "CreatedBy.Name", "CreatedBy.Email"];
        let links = self.links_join()?;
        let c = &mut self.client;
        let q = match name {
            "Account" => {
                let fields = c.queryable_fields(
                    "Account",
                    &[
                        "Name",
                        "Description",
                        "BillingAddress",
                        "Type",
                        "Website",
                        "Rating",
                        "Department",
                    ],
                )?;
                let opportunities = if c.is_queryable("Opportunity")? {
                    let f = c.queryable_fields("Opportunity", &["Name", "StageName"])?;
                    Some(
                        Query::from("Opportunities")
                            .with_id()
                            .fields(&f)
                            .order_by("CreatedDate DESC")
                            .limit(1),
                    )
                } else {
                    None
                };
                Query::from("Account")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .fields(&owner)
                    .fields(&["Parent.Id", "Parent.Name"])
                    .join(opportunities.as_ref())
                    .join(links.as_ref())
            }
            "Opportunity" => {
                let fields =
                    c.queryable_fields("Opportunity", &["Name", "Description", "StageName"])?;
                Query::from("Opportunity")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .fields(&owner)
                    .join(links.as_ref())
            }
            "Contact" => {
                let fields = c.queryable_fields(
                    "Contact",
                    &[
                        "Name",
                        "Description",
                        "Email",
                        "Phone",
                        "Title",
                        "PhotoUrl",
                        "LeadSource",
                        "AccountId",
                        "OwnerId",
                    ],
                )?;
                Query::from("Contact")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .join(links.as_ref())
            }
            "Lead" => {
                let fields = c.queryable_fields(
                    "Lead",
                    &[
                        "Company",
                        "ConvertedAccountId",
                        "ConvertedContactId",
                        "ConvertedDate",
                        "ConvertedOpportunityId",
                        "Description",
                        "Email",
                        "LeadSource",
                        "Name",
                        "OwnerId",
                        "Phone",
                        "PhotoUrl",
                        "Rating",
                        "Status",
                        "Title",
                    ],
                )?;
                Query::from("Lead")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .join(links.as_ref())
            }
            "Campaign" => {
                let fields = c.queryable_fields(
                    "Campaign",
                    &[
                        "Name",
                        "IsActive",
                        "Type",
                        "Description",
                        "Status",
                        "StartDate",
                        "EndDate",
                    ],
                )?;
                Query::from("Campaign")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .fields(&owner)
                    .fields(&["Parent.Id", "Parent.Name"])
                    .join(links.as_ref())
            }
            "Case" => {
                let fields = c.queryable_fields(
                    "Case",
                    &[
                        "Subject",
                        "Description",
                        "CaseNumber",
                        "Status",
                        "AccountId",
                        "ParentId",
                        "IsClosed",
                        "IsDeleted",
                    ],
                )?;
                let emails = if c.is_queryable("EmailMessage")? {
                    let f = c.queryable_fields(
                        "EmailMessage",
                        &[
                            "ParentId",
                            "MessageDate",
                            "LastModifiedById",
                            "TextBody",
                            "Subject",
                            "FromName",
                            "FromAddress",
                            "ToAddress",
                            "CcAddress",
                            "BccAddress",
                            "Status",
                            "IsDeleted",
                            "FirstOpenedDate",
                        ],
                    )?;
                    Some(
                        Query::from("EmailMessages")
                            .with_id()
                            .fields(&f)
                            .fields(&created_by)
                            .limit(500),
                    )
                } else {
                    None
                };
                let comments = if c.is_queryable("CaseComment")? {
                    let f = c.queryable_fields(
                        "CaseComment",
                        &["ParentId", "CommentBody", "LastModifiedById"],
                    )?;
                    Some(
                        Query::from("CaseComments")
                            .with_id()
                            .with_default_metafields()
                            .fields(&f)
                            .fields(&created_by)
                            .limit(500),
                    )
                } else {
                    None
                };
                Query::from("Case")
                    .with_id()
                    .with_default_metafields()
                    .fields(&fields)
                    .fields(&owner)
                    .fields(&created_by)
                    .join(emails.as_ref())
                    .join(comments.as_ref())
                    .join(links.as_ref())
            }
            custom => {
                let fields = c.queryable_fields(custom, &[])?;
                if fields.is_empty() {
                    return Err(error(
                        ErrorKind::Config,
                        format!("custom_objects_to_sync: the org has no queryable object {custom}"),
                    ));
                }
                Query::from(custom).fields(&fields).join(links.as_ref())
            }
        };
        Ok(q)
    }

    /// The files-of-a-record subquery (Elastic's `content_document_links_join`), or None when
    /// the org does not let the connector read files.
    fn links_join(&mut self) -> Result<Option<Query>> {
        let c = &mut self.client;
        for o in ["ContentDocumentLink", "ContentDocument", "ContentVersion"] {
            if !c.is_queryable(o)? {
                log::warn(
                    "ContentDocuments, ContentVersions, or ContentDocumentLinks were not queryable, so not including in any queries.",
                );
                return Ok(None);
            }
        }
        let doc_fields = c.queryable_fields(
            "ContentDocument",
            &["Title", "FileExtension", "ContentSize", "Description"],
        )?;
        let version_fields =
            c.queryable_fields("ContentVersion", &["VersionDataUrl", "VersionNumber"])?;
        let prefixed =
            |p: &str, f: &[String]| f.iter().map(|x| format!("{p}{x}")).collect::<Vec<_>>();
        Ok(Some(
            Query::from("ContentDocumentLinks")
                .fields(&prefixed("ContentDocument.", &doc_fields))
                .fields(&prefixed(
                    "ContentDocument.LatestPublishedVersion.",
                    &version_fields,
                ))
                .fields(&file_meta("ContentDocument."))
                .filter(format!(
                    "ContentDocument.FileExtension IN ({})",
                    soql::in_list(EXTENSIONS)
                )),
        ))
    }

    // ---- incremental ------------------------------------------------------------------------

    fn deleted(&mut self, object: &str) -> Result<()> {
        let Some(since) = self.since.clone() else {
            return Ok(());
        };
        if STANDARD_OBJECTS.contains(&object) && !self.client.is_queryable(object)? {
            return Ok(());
        }
        for id in self.client.deleted(object, &since, &self.now)? {
            self.stats.deleted += 1;
            self.pending.push_back(Document::delete(id));
        }
        Ok(())
    }

    /// Files that changed since the last sync or are linked to changed records: each is read
    /// again with all its links, and indexed with the synced records among them (deleted when
    /// none is left).
    fn changed_files(&mut self) -> Result<()> {
        let Some(since) = self.since.clone() else {
            return Ok(());
        };
        if self.links_join()?.is_none() {
            return Ok(());
        }
        let changed = Query::from("ContentDocument")
            .with_id()
            .filter(format!("SystemModstamp >= {since}"))
            .filter(format!("FileExtension IN ({})", soql::in_list(EXTENSIONS)));
        for r in self.client.query_all(&changed.build(), "changed files")? {
            if let Some(id) = r.get("Id").and_then(Value::as_str) {
                self.changed_files.insert(id.to_owned());
            }
        }
        let synced = self.synced.clone();
        let prefixes = self.client.key_prefixes(&synced)?;
        let c = &mut self.client;
        let doc_fields = c.queryable_fields(
            "ContentDocument",
            &["Title", "FileExtension", "ContentSize", "Description"],
        )?;
        let version_fields =
            c.queryable_fields("ContentVersion", &["VersionDataUrl", "VersionNumber"])?;
        let versioned: Vec<String> = version_fields
            .iter()
            .map(|f| format!("LatestPublishedVersion.{f}"))
            .collect();
        let ids: Vec<String> = std::mem::take(&mut self.changed_files)
            .into_iter()
            .collect();
        for chunk in ids.chunks(IN_CHUNK) {
            let q = Query::from("ContentDocument")
                .fields(&doc_fields)
                .fields(&versioned)
                .fields(&file_meta(""))
                .join(Some(
                    &Query::from("ContentDocumentLinks").field("LinkedEntityId"),
                ))
                .filter(format!("Id IN ({})", soql::in_list(chunk)));
            for record in self.client.query_all(&q.build(), "changed files")? {
                let linked_ids: BTreeSet<String> = record
                    .get("ContentDocumentLinks")
                    .and_then(|l| l.get("records"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.get("LinkedEntityId").and_then(Value::as_str))
                    .filter(|id| id.get(..3).is_some_and(|p| prefixes.contains(p)))
                    .map(str::to_owned)
                    .collect();
                let file = ContentDoc { record, linked_ids };
                let Some(id) = file.id().map(str::to_owned) else {
                    continue;
                };
                if file.linked_ids.is_empty() {
                    self.pending.push_back(Document::delete(id));
                } else {
                    self.files.insert(id, file);
                }
            }
        }
        self.steps.push_back(Step::Files);
        Ok(())
    }

    // ---- files ------------------------------------------------------------------------------

    /// A file's document, with its bytes as `_attachment` when Elastic would extract them.
    fn emit_file(&mut self, file: ContentDoc) -> Result<()> {
        let Some(version) = file.version_id().map(str::to_owned) else {
            log::debug(&format!(
                "Couldn't find the latest content version for {}, skipping.",
                file.title()
            ));
            return Ok(());
        };
        let id = file.id().unwrap_or_default().to_owned();
        let body = Value::Object(file.body(&self.client.base)).to_string();
        let mut doc = Document::index_json(id, body);
        let title = file.title();
        let extension = title
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let size = file.size().unwrap_or(0);
        if !EXTENSIONS.contains(&extension.as_str()) {
            log::debug(&format!(
                "Files with the extension {extension} are not supported, skipping {title}."
            ));
        } else if size > MAX_FILE_SIZE {
            log::warn(&format!(
                "File size {size} of file {title} is larger than {MAX_FILE_SIZE} bytes. Discarding file content."
            ));
        } else if let Some(bytes) = self.client.download(&version, &format!("file {title}"))? {
            self.stats.files += 1;
            self.stats.bytes += bytes.len();
            doc = doc.with_bytes(bytes);
        }
        self.pending.push_back(doc);
        Ok(())
    }
}

/// The ContentDocument fields every file query selects, under `prefix`.
fn file_meta(prefix: &str) -> Vec<String> {
    [
        "Id",
        "LatestPublishedVersion.Id",
        "CreatedDate",
        "LastModifiedDate",
        "LatestPublishedVersion.CreatedDate",
        "Owner.Id",
        "Owner.Name",
        "Owner.Email",
        "CreatedBy.Id",
        "CreatedBy.Name",
        "CreatedBy.Email",
    ]
    .iter()
    .map(|f| format!("{prefix}{f}"))
    .collect()
}

fn lookup(lookups: &Lookups, object: &str, id: Option<&Value>) -> Value {
    id.and_then(Value::as_str)
        .and_then(|id| lookups.get(object)?.get(id))
        .cloned()
        .unwrap_or_else(|| json!({}))
}

impl DocStream for Sync {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        loop {
            while let Some(d) = self.pending.pop_front() {
                bytes += d.body.len()
                    + match &d.attachment {
                        Some(inlet_sdk::Attachment::Bytes(b)) => b.len(),
                        Some(inlet_sdk::Attachment::Text(t)) => t.len(),
                        None => 0,
                    };
                batch.push(d);
                if batch.len() >= BATCH_DOCS || bytes >= BATCH_BYTES {
                    return Ok(Some(batch));
                }
            }
            if !self.advance()? {
                log::info(&format!(
                    "{} records, {} deletions, {} files downloaded ({} bytes)",
                    self.stats.records, self.stats.deleted, self.stats.files, self.stats.bytes
                ));
                return Ok((!batch.is_empty()).then_some(batch));
            }
        }
    }

    fn cursor(&self) -> Option<String> {
        Some(self.cursor_value())
    }
}
