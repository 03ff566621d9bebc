//! SOQL text: the queries the connector builds (Elastic's `SalesforceSoqlBuilder`), and the
//! rewrites Elastic applies to the SOQL of advanced rules (adding `Id` and `LastModifiedDate`,
//! `LIMIT`/`OFFSET` paging for queries using `FIELDS(...)`).

/// A `SELECT ... FROM ...` under construction. Fields keep their first position; repeats are
/// dropped (Elastic builds from a set).
#[derive(Debug, Clone)]
pub struct Query {
    table: String,
    fields: Vec<String>,
    conditions: Vec<String>,
    order_by: Option<String>,
    limit: Option<u32>,
}

impl Query {
    pub fn from(table: &str) -> Self {
        Query {
            table: table.to_owned(),
            fields: Vec::new(),
            conditions: Vec::new(),
            order_by: None,
            limit: None,
        }
    }

    pub fn field(mut self, name: &str) -> Self {
        if !self.fields.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            self.fields.push(name.to_owned());
        }
        self
    }

    pub fn fields<S: AsRef<str>>(self, names: &[S]) -> Self {
        names.iter().fold(self, |q, n| q.field(n.as_ref()))
    }

    /// `Id`.
    pub fn with_id(self) -> Self {
        self.field("Id")
    }

    /// `CreatedDate, LastModifiedDate` (Elastic's `with_default_metafields`).
    pub fn with_default_metafields(self) -> Self {
        self.field("CreatedDate").field("LastModifiedDate")
    }

    /// A relationship subquery as a field (`(SELECT ... FROM Children ...)`).
    pub fn join(mut self, sub: Option<&Query>) -> Self {
        if let Some(sub) = sub {
            self.fields.push(format!("({})", sub.build()));
        }
        self
    }

    /// One more `WHERE` condition (conditions are joined with AND).
    pub fn filter(mut self, condition: impl Into<String>) -> Self {
        self.conditions.push(condition.into());
        self
    }

    pub fn order_by(mut self, clause: &str) -> Self {
        self.order_by = Some(clause.to_owned());
        self
    }

    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    pub fn build(&self) -> String {
        let mut q = format!("SELECT {} FROM {}", self.fields.join(", "), self.table);
        if !self.conditions.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&self.conditions.join(" AND "));
        }
        if let Some(o) = &self.order_by {
            q.push_str(" ORDER BY ");
            q.push_str(o);
        }
        if let Some(n) = self.limit {
            q.push_str(&format!(" LIMIT {n}"));
        }
        q
    }
}

/// A quoted SOQL string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `'a','b',...` for an `IN (...)` list.
pub fn in_list<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(|v| quote(v.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Byte offset of the first case-insensitive occurrence of `needle` (ASCII) in `haystack`.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The byte range of the select list: after the first `SELECT ` and before the first ` FROM`
/// that follows it (Elastic's `(?i)SELECT (.*) FROM`, which is greedy: the last ` FROM`).
fn select_list(query: &str) -> Option<(usize, usize)> {
    let start = find_ci(query, "SELECT ")? + "SELECT ".len();
    let rest = &query[start..];
    let lower = rest.to_ascii_lowercase();
    let end = lower.rfind(" from")?;
    Some((start, start + end))
}

fn insert_field(query: &str, field: &str) -> String {
    match select_list(query) {
        Some((_, end)) => format!("{}, {field}{}", &query[..end], &query[end..]),
        None => query.to_owned(),
    }
}

fn uses_fields_all_or_standard(lowered: &str) -> bool {
    lowered.contains("fields(all)") || lowered.contains("fields(standard)")
}

/// Elastic's `_add_id`: `Id` is added to the select list unless the query already names `id`
/// (as a word) or uses `FIELDS(ALL)` / `FIELDS(STANDARD)`.
pub fn add_id(query: &str) -> String {
    let lowered = query.to_ascii_lowercase();
    let has_id = lowered
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == "id");
    if uses_fields_all_or_standard(&lowered) || has_id {
        query.to_owned()
    } else {
        insert_field(query, "Id")
    }
}

/// Elastic's `_add_last_modified_date`: `LastModifiedDate` is added unless the query names it
/// or uses `FIELDS(ALL)` / `FIELDS(STANDARD)` (documents need it for `_timestamp`).
pub fn add_last_modified_date(query: &str) -> String {
    let lowered = query.to_ascii_lowercase();
    if uses_fields_all_or_standard(&lowered) || lowered.contains("lastmodifieddate") {
        query.to_owned()
    } else {
        insert_field(query, "LastModifiedDate")
    }
}

/// True when the query uses `FIELDS(...)`: Salesforce then wants a `LIMIT` of at most 200 and
/// pages with `OFFSET` (Elastic tests for "fields" anywhere in the query).
pub fn uses_fields_function(query: &str) -> bool {
    query.to_ascii_lowercase().contains("fields")
}

/// Elastic's `modify_soql_query`: for queries with `FIELDS(...)`, add `LIMIT 200 OFFSET 0`, or
/// `OFFSET 0` after an existing `LIMIT`.
pub fn with_paging(query: &str) -> String {
    let lowered = query.to_ascii_lowercase();
    if !lowered.contains("fields") {
        return query.to_owned();
    }
    let after_from = find_ci(query, "FROM").map(|i| lowered[i..].to_owned());
    let has = |word: &str| after_from.as_deref().is_some_and(|t| t.contains(word));
    match (has("limit"), has("offset")) {
        (false, _) => format!("{query} LIMIT 200 OFFSET 0"),
        (true, false) => format!("{query} OFFSET 0"),
        (true, true) => query.to_owned(),
    }
}

/// The query with its (first) `OFFSET n` replaced by `OFFSET offset`.
pub fn with_offset(query: &str, offset: u32) -> String {
    let Some(at) = find_ci(query, "OFFSET ") else {
        return query.to_owned();
    };
    let digits_at = at + "OFFSET ".len();
    let digits = query[digits_at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 {
        return query.to_owned();
    }
    format!(
        "{}OFFSET {offset}{}",
        &query[..at],
        &query[digits_at + digits..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_keeps_order_drops_repeats_and_nests_joins() {
        let links = Query::from("ContentDocumentLinks")
            .fields(&["ContentDocument.Id", "ContentDocument.Title"]);
        let q = Query::from("Account")
            .with_id()
            .with_default_metafields()
            .fields(&["Name", "id", "Owner.Name"])
            .join(Some(&links))
            .join(None)
            .filter("SystemModstamp > 2024-01-01T00:00:00Z")
            .filter(format!("Id IN ({})", in_list(&["001A", "0'1"])))
            .order_by("CreatedDate DESC")
            .limit(1);
        assert_eq!(
            q.build(),
            "SELECT Id, CreatedDate, LastModifiedDate, Name, Owner.Name, (SELECT ContentDocument.Id, ContentDocument.Title FROM ContentDocumentLinks) FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z AND Id IN ('001A','0\\'1') ORDER BY CreatedDate DESC LIMIT 1"
        );
    }

    #[test]
    fn advanced_rule_queries_get_id_and_last_modified_date_as_in_elastic() {
        assert_eq!(
            add_last_modified_date(&add_id("SELECT Name FROM Account")),
            "SELECT Name, Id, LastModifiedDate FROM Account"
        );
        assert_eq!(
            add_id("select id, Name from Account"),
            "select id, Name from Account"
        );
        assert_eq!(
            add_id("SELECT FIELDS(ALL) FROM Account"),
            "SELECT FIELDS(ALL) FROM Account"
        );
        // `Identifier__c` is not `id`: Id is added.
        assert_eq!(
            add_id("SELECT Identifier__c FROM Thing__c WHERE Name != ''"),
            "SELECT Identifier__c, Id FROM Thing__c WHERE Name != ''"
        );
        assert_eq!(
            add_last_modified_date("SELECT Id, LastModifiedDate FROM Lead"),
            "SELECT Id, LastModifiedDate FROM Lead"
        );
        // A subquery's FROM: the greedy match inserts before the last FROM, as Elastic's regex.
        assert_eq!(
            add_id("SELECT Name, (SELECT Subject FROM Cases) FROM Account"),
            "SELECT Name, (SELECT Subject FROM Cases), Id FROM Account"
        );
    }

    #[test]
    fn fields_queries_page_with_limit_and_offset() {
        assert_eq!(
            with_paging("SELECT FIELDS(ALL) FROM Account"),
            "SELECT FIELDS(ALL) FROM Account LIMIT 200 OFFSET 0"
        );
        assert_eq!(
            with_paging("SELECT FIELDS(STANDARD) FROM Account LIMIT 50"),
            "SELECT FIELDS(STANDARD) FROM Account LIMIT 50 OFFSET 0"
        );
        assert_eq!(
            with_paging("SELECT FIELDS(ALL) FROM Account LIMIT 50 OFFSET 10"),
            "SELECT FIELDS(ALL) FROM Account LIMIT 50 OFFSET 10"
        );
        assert_eq!(
            with_paging("SELECT Id FROM Account"),
            "SELECT Id FROM Account"
        );
        assert_eq!(
            with_offset("SELECT FIELDS(ALL) FROM Account LIMIT 200 OFFSET 0", 400),
            "SELECT FIELDS(ALL) FROM Account LIMIT 200 OFFSET 400"
        );
        assert!(uses_fields_function("SELECT FIELDS(CUSTOM) FROM X__c"));
    }

    #[test]
    fn quotes_escape_what_soql_needs() {
        assert_eq!(quote("a\\b'c\n"), "'a\\\\b\\'c\\n'");
    }
}
