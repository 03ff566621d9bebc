//! Table sync shared by the `postgresql` and `mysql` connectors: every row of every selected table as a document, streamed batch by batch from
//! the host's SQL broker; incremental syncs by an updated-at column; Elastic's advanced rules.
//!
//! The connection is the operator's: the plugin opens the granted database named by the
//! `connection` field and never sees a URL or password.

use inlet_sdk::sql::{Connection, Dialect, Rows, Value};
use inlet_sdk::{
    Config, DocStream, Document, ErrorKind, Result, RulesValidation, SyncRequest, error, log,
};
use serde_json::{Map, Value as Json};

pub mod render;
use render::Kind;

/// Documents handed to the host per batch.
const DOCS_PER_BATCH: usize = 500;

/// What differs between Elastic's PostgreSQL and MySQL connectors.
pub struct Flavor {
    pub service_type: &'static str,
    pub dialect: Dialect,
    /// PostgreSQL syncs one schema; MySQL the connection's database.
    pub has_schema: bool,
    pub default_fetch_size: i64,
}

/// Settings read from the configuration.
pub struct Settings {
    pub connection: String,
    pub tables: Vec<String>,
    pub schema: String,
    pub fetch_size: u32,
    pub retry_count: u32,
    pub incremental_column: String,
    pub database: Option<String>,
}

impl Settings {
    pub fn read(flavor: &Flavor, config: &Config) -> Result<Self> {
        let connection = config
            .str("connection")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| flavor.service_type.to_owned());
        let tables = match config.get("tables") {
            Some(Json::String(s)) => s
                .split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect(),
            _ => config.list("tables"),
        };
        let tables = if tables.is_empty() {
            vec!["*".to_owned()]
        } else {
            tables
        };
        let fetch_size = config
            .int("fetch_size")
            .unwrap_or(flavor.default_fetch_size);
        if !(1..=100_000).contains(&fetch_size) {
            return Err(error(
                ErrorKind::Config,
                "`fetch_size` must be between 1 and 100000",
            ));
        }
        let retry_count = config.int("retry_count").unwrap_or(3);
        if !(0..=10).contains(&retry_count) {
            return Err(error(
                ErrorKind::Config,
                "`retry_count` must be between 0 and 10",
            ));
        }
        let schema = config
            .str("schema")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "public".to_owned());
        let incremental_column = config
            .str("incremental_column")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "updated_at".to_owned());
        let database = config.str("database").ok().filter(|s| !s.trim().is_empty());
        Ok(Settings {
            connection,
            tables,
            schema,
            fetch_size: fetch_size as u32,
            retry_count: retry_count as u32,
            incremental_column,
            database,
        })
    }
}

/// Text of a value for metadata queries (some servers return identifiers as bytes).
fn text(v: &Value) -> String {
    match v {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_id_part(),
    }
}

/// An open database with what the sync needs to know about it.
pub struct Source {
    flavor: &'static Flavor,
    conn: Connection,
    settings: Settings,
    database: String,
}

impl Source {
    /// Opens the granted connection (retrying network failures) and checks the database.
    pub fn open(flavor: &'static Flavor, config: &Config) -> Result<Self> {
        let settings = Settings::read(flavor, config)?;
        let mut attempt = 0;
        let (conn, database) = loop {
            let tried = Connection::open(&settings.connection).and_then(|conn| {
                let q = match flavor.dialect {
                    Dialect::Postgres => "SELECT current_database()::text",
                    Dialect::Mysql => "SELECT DATABASE()",
                };
                let db = conn
                    .query_one(q, &[])?
                    .and_then(|r| r.first().map(text))
                    .unwrap_or_default();
                Ok((conn, db))
            });
            match tried {
                Err(e) if e.kind == ErrorKind::Network && attempt < settings.retry_count => {
                    attempt += 1;
                    log::warn(&format!("{} (retry {attempt})", e.message));
                    std::thread::sleep(std::time::Duration::from_millis(500 << attempt.min(4)));
                }
                other => break other?,
            }
        };
        if let Some(configured) = &settings.database
            && *configured != database
        {
            return Err(error(
                ErrorKind::Config,
                format!(
                    "`database` is {configured:?}, but connection `{}` opens database {database:?}; clear the field or fix `databases.{}.url` in config.yml",
                    settings.connection, settings.connection
                ),
            ));
        }
        Ok(Source {
            flavor,
            conn,
            settings,
            database,
        })
    }

    fn strings(&self, sql: &str, params: &[Value]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for row in self.conn.query(sql, params)? {
            if let Some(v) = row?.first() {
                out.push(text(v));
            }
        }
        Ok(out)
    }

    /// Every base table of the schema (PostgreSQL) or database (MySQL).
    pub fn all_tables(&self) -> Result<Vec<String>> {
        match self.flavor.dialect {
            Dialect::Postgres => self.strings(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1",
                &[Value::Text(self.settings.schema.clone())],
            ),
            Dialect::Mysql => self.strings(
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
                &[],
            ),
        }
    }

    fn selected_tables(&self) -> Result<Vec<String>> {
        if self.settings.tables.iter().any(|t| t == "*") {
            self.all_tables()
        } else {
            Ok(self.settings.tables.clone())
        }
    }

    fn primary_key(&self, table: &str) -> Result<Vec<String>> {
        match self.flavor.dialect {
            Dialect::Postgres => self.strings(
                "SELECT kcu.column_name::text FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu \
                   ON tc.constraint_name = kcu.constraint_name \
                  AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name \
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = $1 \
                   AND tc.table_name = $2 ORDER BY kcu.ordinal_position",
                &[
                    Value::Text(self.settings.schema.clone()),
                    Value::Text(table.to_owned()),
                ],
            ),
            Dialect::Mysql => self.strings(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = ? AND COLUMN_KEY = 'PRI' ORDER BY ORDINAL_POSITION",
                &[Value::Text(table.to_owned())],
            ),
        }
    }

    fn columns(&self, table: &str) -> Result<Vec<String>> {
        match self.flavor.dialect {
            Dialect::Postgres => self.strings(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[
                    Value::Text(self.settings.schema.clone()),
                    Value::Text(table.to_owned()),
                ],
            ),
            Dialect::Mysql => self.strings(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                &[Value::Text(table.to_owned())],
            ),
        }
    }

    /// MySQL: the columns of these tables declared with a binary type. The wire cannot tell
    /// them from text columns with a `_bin` collation, and Elastic's driver (PyMySQL) returns
    /// bytes for exactly these.
    fn binary_columns(&self, tables: &[String]) -> Result<std::collections::HashMap<String, bool>> {
        let mut out = std::collections::HashMap::new();
        if self.flavor.dialect != Dialect::Mysql {
            return Ok(out);
        }
        for table in tables {
            let rows = self.conn.query(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                &[Value::Text(table.clone())],
            )?;
            for row in rows {
                let row = row?;
                if let [name, ty] = row.as_slice() {
                    let binary = matches!(
                        text(ty).to_ascii_lowercase().as_str(),
                        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
                    );
                    out.insert(text(name), binary);
                }
            }
        }
        Ok(out)
    }

    fn qualified(&self, table: &str) -> String {
        let d = self.flavor.dialect;
        match d {
            Dialect::Postgres => format!("{}.{}", d.quote(&self.settings.schema), d.quote(table)),
            Dialect::Mysql => d.quote(table),
        }
    }

    /// Runs a query, retrying network failures before the first row.
    fn start(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let mut attempt = 0;
        loop {
            match self.conn.query(sql, params) {
                Err(e) if e.kind == ErrorKind::Network && attempt < self.settings.retry_count => {
                    attempt += 1;
                    log::warn(&format!("{} (retry {attempt})", e.message));
                    std::thread::sleep(std::time::Duration::from_millis(500 << attempt.min(4)));
                }
                other => return Ok(other?.batch_size(self.settings.fetch_size)),
            }
        }
    }
}

/// One query to turn into documents.
struct Job {
    /// Tables the rows come from (one, or an advanced rule's list).
    tables: Vec<String>,
    sql: String,
    params: Vec<Value>,
    /// Columns whose values make the id; empty means the tables' primary keys.
    id_columns: Vec<String>,
    /// Track the max of this column for the cursor (table syncs with the column).
    cursor_column: Option<String>,
}

/// A stream of documents over a list of jobs; one query open at a time.
pub struct TableSync {
    source: Source,
    jobs: std::collections::VecDeque<Job>,
    current: Option<Current>,
    cursor: Map<String, Json>,
    emit_cursor: bool,
}

struct Current {
    job: Job,
    rows: Rows,
    /// Each column's field name as a JSON string, or `None` for a column the document leaves
    /// out (see [`field_keys`]).
    fields: Vec<Option<String>>,
    /// How each column's values render (by position).
    kinds: Vec<Kind>,
    id_positions: Vec<usize>,
    ts_position: Option<usize>,
    cursor_position: Option<usize>,
    max: Option<Value>,
}

/// One advanced rule: its tables, its query, its id columns (empty: the tables' primary keys).
pub struct Rule {
    pub tables: Vec<String>,
    pub query: String,
    pub id_columns: Vec<String>,
}

/// Advanced rules: Elastic's `[{"tables": [...], "query": "...", "id_columns": [...]}]`.
pub fn parse_rules(rules: &str) -> std::result::Result<Vec<Rule>, Vec<String>> {
    let value: Json = serde_json::from_str(rules).map_err(|e| vec![format!("not JSON: {e}")])?;
    let Json::Array(items) = value else {
        return Err(vec![
            "advanced rules must be a JSON array of {tables, query, id_columns}".into(),
        ]);
    };
    let mut out = Vec::new();
    let mut messages = Vec::new();
    let strings = |v: Option<&Json>| -> Option<Vec<String>> {
        let a = v?.as_array()?;
        let s: Option<Vec<String>> = a.iter().map(|x| x.as_str().map(str::to_owned)).collect();
        s.filter(|s| !s.is_empty() && s.iter().all(|t| !t.trim().is_empty()))
    };
    for (i, item) in items.iter().enumerate() {
        let Json::Object(o) = item else {
            messages.push(format!("rule {i}: must be an object"));
            continue;
        };
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "tables" | "query" | "id_columns"))
        {
            messages.push(format!(
                "rule {i}: unknown key `{k}` (allowed: tables, query, id_columns)"
            ));
            continue;
        }
        let Some(tables) = strings(o.get("tables")) else {
            messages.push(format!(
                "rule {i}: `tables` must be a non-empty list of table names"
            ));
            continue;
        };
        let query = match o.get("query").and_then(Json::as_str) {
            Some(q) if !q.trim().is_empty() => q.trim().trim_end_matches(';').to_owned(),
            _ => {
                messages.push(format!("rule {i}: `query` must be a non-empty SQL string"));
                continue;
            }
        };
        let id_columns = match o.get("id_columns") {
            None => Vec::new(),
            v => match strings(v) {
                Some(c) => c,
                None => {
                    messages.push(format!(
                        "rule {i}: `id_columns` must be a non-empty list of column names"
                    ));
                    continue;
                }
            },
        };
        out.push(Rule {
            tables,
            query,
            id_columns,
        });
    }
    if messages.is_empty() {
        Ok(out)
    } else {
        Err(messages)
    }
}

/// `validate-advanced-rules`: the shape only (tables are checked when the sync runs).
pub fn validate_rules(rules: &str) -> RulesValidation {
    match parse_rules(rules) {
        Ok(_) => RulesValidation {
            valid: true,
            messages: Vec::new(),
        },
        Err(messages) => RulesValidation {
            valid: false,
            messages,
        },
    }
}

fn cursor_of(request: &SyncRequest) -> Map<String, Json> {
    request
        .cursor
        .as_deref()
        .and_then(|c| serde_json::from_str::<Json>(c).ok())
        .and_then(|v| v.get("tables").and_then(Json::as_object).cloned())
        .unwrap_or_default()
}

fn value_from_cursor(v: &Json) -> Option<Value> {
    let kind = v.get("kind")?.as_str()?;
    let value = v.get("value")?;
    Some(match kind {
        "int" => Value::Int(value.as_i64()?),
        "float" => Value::Float(value.as_f64()?),
        "decimal" => Value::Decimal(value.as_str()?.to_owned()),
        "date" => Value::Date(value.as_str()?.to_owned()),
        "timestamp" => Value::Timestamp(value.as_str()?.to_owned()),
        _ => Value::Text(value.as_str()?.to_owned()),
    })
}

fn value_to_cursor(v: &Value) -> Json {
    let (kind, value) = match v {
        Value::Int(i) => ("int", Json::from(*i)),
        Value::Float(f) => ("float", Json::from(*f)),
        Value::Decimal(s) => ("decimal", Json::from(s.clone())),
        Value::Date(s) => ("date", Json::from(s.clone())),
        Value::Timestamp(s) => ("timestamp", Json::from(s.clone())),
        other => ("text", Json::from(other.to_id_part())),
    };
    serde_json::json!({"kind": kind, "value": value})
}

/// Orders comparable cursor values; `None` when they are not comparable.
fn greater(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x > y,
        (Value::Float(x), Value::Float(y)) => x > y,
        (Value::Decimal(x), Value::Decimal(y)) => {
            x.parse::<f64>().unwrap_or(0.0) > y.parse::<f64>().unwrap_or(0.0)
        }
        // ISO 8601 text of one column has one format, so text order is time order.
        (Value::Timestamp(x), Value::Timestamp(y))
        | (Value::Date(x), Value::Date(y))
        | (Value::Text(x), Value::Text(y)) => x > y,
        _ => false,
    }
}

/// The JSON keys of a result's columns, `None` for those the document leaves out: a column
/// named `id` (Elastic's sink writes the `_id` string there, over the column; the host adds
/// `id` with the `_id` it indexes under when the body has none), a column named like a field
/// the connector adds (`table`, `database`, `schema`/`Table`: those win, as in Elastic's
/// `row.update(...)`), and all but the last of columns sharing a name (a join's `a.id, b.id`:
/// Python's `dict(zip(...))` keeps the last). A key twice would make the host refuse the
/// document.
fn field_keys(names: &[String], has_schema: bool) -> Vec<Option<String>> {
    let added: &[&str] = if has_schema {
        &["id", "table", "database", "schema"]
    } else {
        &["id", "table", "database", "Table"]
    };
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let later = names[i + 1..].contains(name);
            (!later && !added.contains(&name.as_str()))
                .then(|| Json::from(name.as_str()).to_string())
        })
        .collect()
}

/// A timestamp value as RFC 3339 (columns without a time zone are taken as UTC).
fn rfc3339(v: &Value) -> Option<String> {
    match v {
        // `infinity` and MySQL's zero dates are no instant.
        Value::Timestamp(s) if !s.starts_with(|c: char| c.is_ascii_digit()) => None,
        Value::Timestamp(s) => {
            let has_offset =
                s.ends_with('Z') || s[s.len().saturating_sub(6)..].contains(['+', '-']);
            Some(if has_offset {
                s.clone()
            } else {
                format!("{s}Z")
            })
        }
        Value::Date(s) => Some(format!("{s}T00:00:00Z")),
        _ => None,
    }
}

impl TableSync {
    /// A full sync (or one driven by advanced rules); `incremental` limits tables to rows
    /// changed since the cursor.
    pub fn new(flavor: &'static Flavor, request: &SyncRequest, incremental: bool) -> Result<Self> {
        let config = Config::from(request);
        let source = Source::open(flavor, &config)?;
        let previous = cursor_of(request);
        let mut jobs = std::collections::VecDeque::new();
        let rules = request
            .advanced_rules
            .as_deref()
            .filter(|r| !r.trim().is_empty() && r.trim() != "[]" && r.trim() != "{}");
        let mut emit_cursor = false;
        if let Some(rules) = rules {
            let parsed = parse_rules(rules).map_err(|m| {
                error(
                    ErrorKind::Config,
                    format!("advanced rules: {}", m.join("; ")),
                )
            })?;
            for Rule {
                tables,
                query,
                id_columns,
            } in parsed
            {
                jobs.push_back(Job {
                    tables,
                    sql: query,
                    params: Vec::new(),
                    id_columns,
                    cursor_column: None,
                });
            }
        } else {
            emit_cursor = true;
            for table in source.selected_tables()? {
                let columns = source.columns(&table)?;
                if columns.is_empty() {
                    return Err(error(
                        ErrorKind::Config,
                        format!(
                            "table `{table}` does not exist or is not readable in database `{}`",
                            source.database
                        ),
                    ));
                }
                let col = &source.settings.incremental_column;
                let has_col = columns.iter().any(|c| c == col);
                let from = source.qualified(&table);
                let since = previous.get(&table).and_then(value_from_cursor);
                let (sql, params) = match (incremental && has_col, since) {
                    (true, Some(since)) => (
                        format!(
                            "SELECT * FROM {from} WHERE {} > {}",
                            flavor.dialect.quote(col),
                            flavor.dialect.placeholder(1)
                        ),
                        vec![since],
                    ),
                    _ => (format!("SELECT * FROM {from}"), Vec::new()),
                };
                jobs.push_back(Job {
                    tables: vec![table.clone()],
                    sql,
                    params,
                    id_columns: Vec::new(),
                    cursor_column: has_col.then(|| col.clone()),
                });
            }
        }
        Ok(TableSync {
            source,
            jobs,
            current: None,
            cursor: previous,
            emit_cursor,
        })
    }

    fn begin(&mut self, job: Job) -> Result<Option<Current>> {
        let flavor = self.source.flavor;
        let mut keys = job.id_columns.clone();
        if keys.is_empty() {
            for t in &job.tables {
                keys.extend(self.source.primary_key(t)?);
            }
            if job.tables.len() > 1 {
                keys.sort();
            }
        }
        if keys.is_empty() {
            log::warn(&format!(
                "skipping {} from database {}: no primary key (assign one, or give `id_columns` in an advanced rule)",
                job.tables.join(", "),
                self.source.database
            ));
            return Ok(None);
        }
        let binary = self.source.binary_columns(&job.tables)?;
        let rows = self.source.start(&job.sql, &job.params)?;
        let raw: Vec<String> = rows.columns().iter().map(|c| c.name.clone()).collect();
        let kinds: Vec<Kind> = rows
            .columns()
            .iter()
            .map(|c| Kind::new(flavor.dialect, &c.db_type, binary.get(&c.name).copied()))
            .collect();
        let mut sorted = job.tables.clone();
        sorted.sort();
        // Elastic's field names: PostgreSQL prefixes `<schema>_<tables>_` and lower-cases;
        // MySQL keeps the column names.
        let names: Vec<String> = if flavor.has_schema {
            raw.iter()
                .map(|c| {
                    format!("{}_{}_{c}", self.source.settings.schema, sorted.join("_"))
                        .to_lowercase()
                })
                .collect()
        } else {
            raw.clone()
        };
        let fields = field_keys(&names, flavor.has_schema);
        let mut id_positions = Vec::new();
        for k in &keys {
            match raw.iter().position(|c| c == k) {
                Some(p) => id_positions.push(p),
                None if raw.is_empty() => {}
                None => {
                    log::warn(&format!(
                        "skipping query for {}: id column `{k}` is not in its result",
                        job.tables.join(", ")
                    ));
                    return Ok(None);
                }
            }
        }
        let ts_position = raw
            .iter()
            .position(|c| *c == self.source.settings.incremental_column);
        let cursor_position = job
            .cursor_column
            .as_ref()
            .and_then(|c| raw.iter().position(|r| r == c));
        Ok(Some(Current {
            job,
            rows,
            fields,
            kinds,
            id_positions,
            ts_position,
            cursor_position,
            max: None,
        }))
    }

    fn finish(&mut self, cur: Current) {
        if let (Some(max), [table]) = (cur.max, cur.job.tables.as_slice()) {
            self.cursor.insert(table.clone(), value_to_cursor(&max));
        }
    }

    fn document(&self, cur: &mut Current, row: Vec<Value>) -> Document {
        let src = &self.source;
        let mut sorted = cur.job.tables.clone();
        sorted.sort();
        // Elastic's `_id`: `str()` of each non-NULL key value, joined by `_`
        // (generic_database.py::hash_id, mysql/client.py::generate_id).
        let pk: Vec<String> = cur
            .id_positions
            .iter()
            .filter_map(|&p| Some((row.get(p)?, cur.kinds.get(p)?)))
            .filter(|(v, _)| !v.is_null())
            .map(|(v, k)| k.id_part(v))
            .collect();
        let id = if src.flavor.has_schema {
            format!(
                "{}_{}_{}_{}",
                src.database,
                src.settings.schema,
                sorted.join("_"),
                pk.join("_")
            )
        } else {
            format!("{}_{}", sorted.join("_"), pk.join("_"))
        };
        let timestamp = cur.ts_position.and_then(|p| row.get(p)).and_then(rfc3339);
        if let Some(v) = cur.cursor_position.and_then(|p| row.get(p))
            && !v.is_null()
            && cur.max.as_ref().is_none_or(|m| greater(v, m))
        {
            cur.max = Some(v.clone());
        }
        // The body is written as text so each value keeps the exact JSON the renderer chose
        // (a decimal's digits would not survive a serde_json number).
        let mut body = String::with_capacity(64 * row.len() + 64);
        body.push('{');
        let mut member = |quoted_key: &str, json: &str| {
            if body.len() > 1 {
                body.push(',');
            }
            body.push_str(quoted_key);
            body.push(':');
            body.push_str(json);
        };
        for ((key, value), kind) in cur.fields.iter().zip(&row).zip(&cur.kinds) {
            if let Some(key) = key {
                member(key, &kind.json(value));
            }
        }
        let mut field = |key: &str, json: &str| member(&Json::from(key).to_string(), json);
        let table = if sorted.len() == 1 {
            Json::from(sorted[0].clone())
        } else {
            Json::from(sorted.clone())
        };
        field("table", &table.to_string());
        field("database", &Json::from(src.database.clone()).to_string());
        if src.flavor.has_schema {
            field(
                "schema",
                &Json::from(src.settings.schema.clone()).to_string(),
            );
        } else {
            // Elastic's MySQL connector names the field `Table`.
            field("Table", &table.to_string());
        }
        body.push('}');
        let doc = Document::index_json(id, body);
        match timestamp {
            Some(t) => doc.at(t),
            None => doc,
        }
    }
}

impl DocStream for TableSync {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut docs = Vec::new();
        let mut bytes = 0;
        // Rows may be large (a row may reach the database's `max_row_bytes`): the batch closes
        // at the SDK's batch bytes as well as at DOCS_PER_BATCH.
        while docs.len() < DOCS_PER_BATCH && bytes < inlet_sdk::MAX_BATCH_BYTES {
            let Some(mut cur) = self.current.take() else {
                let Some(job) = self.jobs.pop_front() else {
                    break;
                };
                self.current = self.begin(job)?;
                continue;
            };
            match cur.rows.next_batch()? {
                Some(rows) => {
                    for row in rows {
                        let d = self.document(&mut cur, row);
                        bytes += inlet_sdk::document_bytes(&d);
                        docs.push(d);
                    }
                    self.current = Some(cur);
                }
                None => self.finish(cur),
            }
        }
        Ok((!docs.is_empty()).then_some(docs))
    }

    fn cursor(&self) -> Option<String> {
        self.emit_cursor
            .then(|| serde_json::json!({"tables": self.cursor}).to_string())
    }
}

/// `ping`: opens the connection and runs `SELECT 1`.
pub fn ping(flavor: &'static Flavor, config: &Config) -> Result<()> {
    let source = Source::open(flavor, config)?;
    source.conn.query_one("SELECT 1", &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_named_like_added_fields_or_twice_are_left_out() {
        let names: Vec<String> = ["id", "title", "Table", "n", "n", "database"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            field_keys(&names, false),
            vec![
                None,
                Some("\"title\"".into()),
                None,
                None,
                Some("\"n\"".into()),
                None
            ]
        );
        let pg = vec!["public_t_id".to_owned(), "public_t_table".to_owned()];
        assert_eq!(
            field_keys(&pg, true),
            vec![
                Some("\"public_t_id\"".into()),
                Some("\"public_t_table\"".into())
            ]
        );
    }
}
