//! Which statements read only, by each database's own lexical rules.
//!
//! This is the early, clear error, not the wall: on a `read_only` grant every statement also
//! runs inside a read-only transaction that is rolled back, on a session that is reset before it
//! goes back to the pool (see `stream`), and the operator should grant a SELECT-only database
//! role (docs/OPERATIONS.md). A lexer cannot see into functions, so the real defence is the
//! database's own; this check refuses what is plainly a write before it reaches the server and
//! says why.
//!
//! The lexer follows the server's scanner where the two could disagree about what is code:
//! - MySQL/MariaDB (with `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES` off, which the broker pins):
//!   `/*! … */`, `/*!NNNNN … */` and `/*M! … */` are code (always, whatever the version number:
//!   seeing more code than the server only refuses more); `--` starts a comment only before
//!   whitespace, a control character or the end; `#` comments; `'…'` and `"…"` are strings with
//!   backslash and doubled-quote escapes; `` `…` `` identifiers; block comments do not nest.
//! - PostgreSQL (with `standard_conforming_strings=on`, pinned): `--` comments; block comments
//!   nest; `'…'` with `''` (and `E'…'` with backslash escapes, continued across a newline in the
//!   same mode); `"…"` identifiers; `$tag$…$tag$` strings; `#` is an operator.

use std::fmt;

/// The SQL dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Postgres,
    Mysql,
}

/// Keywords a read-only statement may start with.
const READING: &[&str] = &[
    "SELECT", "WITH", "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "VALUES", "TABLE",
];

/// Words that make a reading statement write, lock or leave the database anyway: `SELECT … INTO`
/// (a table in PostgreSQL, a file or variables in MySQL), writable CTEs and `EXPLAIN ANALYZE
/// DELETE`, `FOR UPDATE`, `ON DUPLICATE KEY UPDATE`, `LOCK IN SHARE MODE`.
const WRITING: &[&str] = &[
    "INTO", "OUTFILE", "DUMPFILE", "INSERT", "UPDATE", "DELETE", "MERGE", "LOCK",
];

/// Functions with effects outside the statement's result: session settings and role, server
/// files, large objects, other sessions and servers, session-level locks, sequences, and
/// functions that run SQL text of their own. Matched as words and as quoted identifiers.
const PG_SIDE_EFFECTS: &[&str] = &[
    "SET_CONFIG",
    "PG_READ_FILE",
    "PG_READ_BINARY_FILE",
    "PG_LS_DIR",
    "PG_STAT_FILE",
    "PG_LS_LOGDIR",
    "PG_LS_WALDIR",
    "PG_LS_TMPDIR",
    "PG_LS_ARCHIVE_STATUSDIR",
    "PG_FILE_WRITE",
    "PG_FILE_RENAME",
    "PG_FILE_UNLINK",
    "LO_IMPORT",
    "LO_EXPORT",
    "LO_CREATE",
    "LO_UNLINK",
    "LO_FROM_BYTEA",
    "LO_PUT",
    "DBLINK",
    "DBLINK_EXEC",
    "DBLINK_CONNECT",
    "DBLINK_CONNECT_U",
    "DBLINK_SEND_QUERY",
    "PG_TERMINATE_BACKEND",
    "PG_CANCEL_BACKEND",
    "PG_RELOAD_CONF",
    "PG_ROTATE_LOGFILE",
    "PG_SWITCH_WAL",
    "PG_CREATE_RESTORE_POINT",
    "PG_PROMOTE",
    "PG_NOTIFY",
    "PG_LOGICAL_EMIT_MESSAGE",
    "PG_ADVISORY_LOCK",
    "PG_ADVISORY_LOCK_SHARED",
    "PG_TRY_ADVISORY_LOCK",
    "PG_TRY_ADVISORY_LOCK_SHARED",
    "NEXTVAL",
    "SETVAL",
    "QUERY_TO_XML",
    "QUERY_TO_XMLSCHEMA",
    "QUERY_TO_XML_AND_XMLSCHEMA",
    "TS_STAT",
    "TS_REWRITE",
];

/// MySQL/MariaDB: server files, named locks (they outlive the transaction), sequences, and the
/// shell-running UDFs of lib_mysqludf_sys.
const MY_SIDE_EFFECTS: &[&str] = &[
    "LOAD_FILE",
    "GET_LOCK",
    "NEXTVAL",
    "SETVAL",
    "SYS_EXEC",
    "SYS_EVAL",
];

/// Longest excerpt of plugin text a refusal repeats.
const EXCERPT_CHARS: usize = 64;

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    Empty,
    /// A NUL byte: neither server's protocol carries one inside a statement.
    Nul,
    Unterminated(&'static str),
    SecondStatement,
    /// The first keyword is not a reading one (an excerpt of it).
    NotReading(String),
    /// A word that writes or locks.
    Writes(String),
    /// `FOR SHARE` / `FOR KEY SHARE`.
    LockingRead,
    /// A function with effects outside the statement.
    SideEffect(String),
    /// PostgreSQL `U&"…"`: a name the check cannot read.
    EscapedIdentifier,
}

impl Refusal {
    /// Whether allowing writes (`read_only: false`) would let the statement through.
    pub(super) fn is_read_only_refusal(&self) -> bool {
        matches!(
            self,
            Refusal::NotReading(_)
                | Refusal::Writes(_)
                | Refusal::LockingRead
                | Refusal::SideEffect(_)
                | Refusal::EscapedIdentifier
        )
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Empty => write!(f, "the statement is empty"),
            Refusal::Nul => write!(f, "the statement contains a NUL character"),
            Refusal::Unterminated(what) => write!(f, "the statement has an unterminated {what}"),
            Refusal::SecondStatement => {
                write!(
                    f,
                    "only one statement per query: remove what follows the `;`"
                )
            }
            Refusal::NotReading(first) => write!(
                f,
                "`{first}` statements are not allowed on a read-only database grant (only {})",
                READING.join(", ")
            ),
            Refusal::Writes(word) => write!(
                f,
                "`{word}` writes or locks and is not allowed on a read-only database grant"
            ),
            Refusal::LockingRead => write!(
                f,
                "a locking read (FOR SHARE) is not allowed on a read-only database grant"
            ),
            Refusal::SideEffect(name) => write!(
                f,
                "`{name}` acts outside the query (settings, role, files, locks, other sessions) and is not allowed on a read-only database grant"
            ),
            Refusal::EscapedIdentifier => write!(
                f,
                "Unicode-escaped identifiers (U&\"...\") are not allowed on a read-only database grant: write the name plainly"
            ),
        }
    }
}

/// One statement only, lexically well formed (terminated strings and comments).
pub(super) fn check_single(dialect: Dialect, statement: &str) -> Result<(), Refusal> {
    lex(dialect, statement).map(drop)
}

/// `Ok` when `statement` is one statement that only reads; else the first reason found.
pub(super) fn check_read_only(dialect: Dialect, statement: &str) -> Result<(), Refusal> {
    let tokens = lex(dialect, statement)?;
    let first = tokens
        .iter()
        .find(|t| !matches!(t, Token::Punct(b'(')))
        .ok_or(Refusal::Empty)?;
    match first {
        Token::Word(w) if READING.contains(&w.as_str()) => {}
        Token::Word(w) | Token::Quoted(w) => return Err(Refusal::NotReading(excerpt(w))),
        Token::Literal => return Err(Refusal::NotReading("a literal".into())),
        Token::Punct(c) => return Err(Refusal::NotReading(excerpt(&char::from(*c).to_string()))),
        Token::EscapedIdentifier => return Err(Refusal::EscapedIdentifier),
    }
    let side_effects = match dialect {
        Dialect::Postgres => PG_SIDE_EFFECTS,
        Dialect::Mysql => MY_SIDE_EFFECTS,
    };
    let mut previous: Option<&str> = None;
    for t in &tokens {
        match t {
            Token::Word(w) => {
                if WRITING.contains(&w.as_str()) {
                    return Err(Refusal::Writes(w.clone()));
                }
                if previous == Some("FOR") && matches!(w.as_str(), "SHARE" | "KEY") {
                    return Err(Refusal::LockingRead);
                }
                if side_effects.contains(&w.as_str()) {
                    return Err(Refusal::SideEffect(w.to_ascii_lowercase()));
                }
                previous = Some(w);
                continue;
            }
            Token::Quoted(name) if side_effects.contains(&name.as_str()) => {
                return Err(Refusal::SideEffect(name.to_ascii_lowercase()));
            }
            Token::EscapedIdentifier => return Err(Refusal::EscapedIdentifier),
            _ => {}
        }
        previous = None;
    }
    Ok(())
}

/// An excerpt of plugin text safe to put in a message: cut to [`EXCERPT_CHARS`] characters,
/// control and invisible characters escaped.
fn excerpt(text: &str) -> String {
    crate::sql::excerpt(text, EXCERPT_CHARS)
}

/// What the check looks at; everything else (whitespace, comments) is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, upper-cased.
    Word(String),
    /// A quoted identifier's content, upper-cased (for function names only: a quoted
    /// identifier is never a keyword).
    Quoted(String),
    /// PostgreSQL `U&"…"`.
    EscapedIdentifier,
    /// A string, number or parameter.
    Literal,
    Punct(u8),
}

/// How a string literal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// `''` escapes the quote (PostgreSQL standard strings, quoted identifiers).
    Doubled,
    /// `\` escapes any byte and `''` the quote (MySQL strings, PostgreSQL `E'…'`).
    Backslash,
    /// The first quote ends it (PostgreSQL `B'…'`, `X'…'`).
    FirstQuote,
}

struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    dialect: Dialect,
    /// Inside a MySQL `/*! … */` (its content is code; the next `*/` closes it).
    executable_comment: bool,
    tokens: Vec<Token>,
    ended: bool,
}

/// The statement's tokens; an error for a second statement, an unterminated literal or comment.
fn lex(dialect: Dialect, s: &str) -> Result<Vec<Token>, Refusal> {
    if s.as_bytes().contains(&0) {
        return Err(Refusal::Nul);
    }
    let mut lx = Lexer {
        b: s.as_bytes(),
        i: 0,
        dialect,
        executable_comment: false,
        tokens: Vec::new(),
        ended: false,
    };
    lx.run()?;
    if lx.executable_comment {
        return Err(Refusal::Unterminated("/*! comment"));
    }
    if lx.tokens.is_empty() {
        return Err(Refusal::Empty);
    }
    Ok(lx.tokens)
}

fn is_word_start(c: u8, dialect: Dialect) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 || (c == b'$' && dialect == Dialect::Mysql)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// PostgreSQL's `space` (with `\v`, as from version 16; version 15 refuses it as a character).
fn is_pg_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b)
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    fn push(&mut self, t: Token) -> Result<(), Refusal> {
        if self.ended {
            return Err(Refusal::SecondStatement);
        }
        self.tokens.push(t);
        Ok(())
    }

    fn run(&mut self) -> Result<(), Refusal> {
        let pg = self.dialect == Dialect::Postgres;
        while let Some(c) = self.peek(0) {
            let next = self.peek(1);
            match c {
                b'-' if next == Some(b'-') && (pg || self.mysql_dash_comment()) => {
                    self.skip_line_comment();
                }
                b'#' if !pg => self.skip_line_comment(),
                b'/' if next == Some(b'*') => self.block_comment()?,
                b'*' if next == Some(b'/') && self.executable_comment => {
                    self.executable_comment = false;
                    self.i += 2;
                }
                b'\'' => {
                    self.i += 1;
                    let quoting = if pg {
                        Quoting::Doubled
                    } else {
                        Quoting::Backslash
                    };
                    self.string(quoting, b'\'', "' string")?;
                    self.push(Token::Literal)?;
                }
                b'"' if pg => {
                    self.i += 1;
                    let name = self.string(Quoting::Doubled, b'"', "\" identifier")?;
                    self.push(Token::Quoted(name))?;
                }
                b'"' => {
                    self.i += 1;
                    self.string(Quoting::Backslash, b'"', "\" string")?;
                    self.push(Token::Literal)?;
                }
                b'`' if !pg => {
                    self.i += 1;
                    let name = self.string(Quoting::Doubled, b'`', "` identifier")?;
                    self.push(Token::Quoted(name))?;
                }
                b'$' if pg => self.dollar()?,
                b';' => {
                    self.i += 1;
                    self.ended = true;
                }
                c if c.is_ascii_digit() => {
                    self.number();
                    self.push(Token::Literal)?;
                }
                c if is_word_start(c, self.dialect) => self.word()?,
                c if c.is_ascii_whitespace() || c == 0x0b => self.i += 1,
                c => {
                    self.i += 1;
                    self.push(Token::Punct(c))?;
                }
            }
        }
        Ok(())
    }

    /// MySQL: `--` is a comment only before whitespace, a control character or the end.
    fn mysql_dash_comment(&self) -> bool {
        self.peek(2).is_none_or(|c| c <= b' ' || c == 0x7f)
    }

    /// To the end of the line (MySQL: `\n`; PostgreSQL: `\n` or `\r`).
    fn skip_line_comment(&mut self) {
        let pg = self.dialect == Dialect::Postgres;
        while let Some(c) = self.peek(0) {
            if c == b'\n' || (pg && c == b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    fn block_comment(&mut self) -> Result<(), Refusal> {
        match self.dialect {
            Dialect::Mysql => {
                // `/*!`, `/*!NNNNN`, `/*M!`, `/*M!NNNNNN`: the content is code.
                let marker = match (self.peek(2), self.peek(3)) {
                    (Some(b'!'), _) => Some(3),
                    (Some(b'M'), Some(b'!')) => Some(4),
                    _ => None,
                };
                if let Some(len) = marker {
                    self.i += len;
                    while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                        self.i += 1;
                    }
                    self.executable_comment = true;
                    return Ok(());
                }
                // Regular comments end at the first `*/`: they do not nest.
                self.i += 2;
                loop {
                    match (self.peek(0), self.peek(1)) {
                        (None, _) => return Err(Refusal::Unterminated("/* comment")),
                        (Some(b'*'), Some(b'/')) => {
                            self.i += 2;
                            return Ok(());
                        }
                        _ => self.i += 1,
                    }
                }
            }
            Dialect::Postgres => {
                // Block comments nest.
                self.i += 2;
                let mut depth = 1usize;
                loop {
                    match (self.peek(0), self.peek(1)) {
                        (None, _) => return Err(Refusal::Unterminated("/* comment")),
                        (Some(b'/'), Some(b'*')) => {
                            depth += 1;
                            self.i += 2;
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            self.i += 2;
                            if depth == 0 {
                                return Ok(());
                            }
                        }
                        _ => self.i += 1,
                    }
                }
            }
        }
    }

    /// A quoted run after its opening quote; returns its content (upper-cased, for names).
    /// PostgreSQL strings continue past `'…'<newline>'…'` in the same quoting.
    fn string(&mut self, quoting: Quoting, q: u8, what: &'static str) -> Result<String, Refusal> {
        let mut content = Vec::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(Refusal::Unterminated(what));
            };
            if c == b'\\' && quoting == Quoting::Backslash {
                if let Some(n) = self.peek(1) {
                    content.push(n);
                }
                self.i += 2;
                continue;
            }
            if c == q {
                if quoting != Quoting::FirstQuote && self.peek(1) == Some(q) {
                    content.push(q);
                    self.i += 2;
                    continue;
                }
                self.i += 1;
                if q == b'\'' && self.dialect == Dialect::Postgres && self.pg_continuation() {
                    continue;
                }
                break;
            }
            content.push(c);
            self.i += 1;
        }
        Ok(String::from_utf8_lossy(&content).to_ascii_uppercase())
    }

    /// PostgreSQL's `quotecontinue`: whitespace holding a newline (and `--` comments ending in
    /// one) between two quoted parts makes them one string. Moves past the second quote if so.
    fn pg_continuation(&mut self) -> bool {
        let b = self.b;
        let mut j = self.i;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | 0x0c | 0x0b) {
            j += 1;
        }
        if j >= b.len() || !matches!(b[j], b'\n' | b'\r') {
            return false;
        }
        loop {
            if j < b.len() && is_pg_space(b[j]) {
                j += 1;
            } else if b.get(j..j + 2) == Some(b"--") {
                let mut k = j + 2;
                while k < b.len() && !matches!(b[k], b'\n' | b'\r') {
                    k += 1;
                }
                if k >= b.len() {
                    return false;
                }
                j = k + 1;
            } else {
                break;
            }
        }
        if b.get(j) == Some(&b'\'') {
            self.i = j + 1;
            true
        } else {
            false
        }
    }

    /// PostgreSQL `$1` parameters and `$tag$ … $tag$` strings; a lone `$` is punctuation.
    fn dollar(&mut self) -> Result<(), Refusal> {
        let b = self.b;
        let start = self.i;
        let mut j = start + 1;
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            self.i = j;
            return self.push(Token::Literal);
        }
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
            j += 1;
        }
        if b.get(j) != Some(&b'$') {
            self.i += 1;
            return self.push(Token::Punct(b'$'));
        }
        let tag = &b[start..=j];
        let body = j + 1;
        let end = b[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .ok_or(Refusal::Unterminated("$ string"))?;
        self.i = body + end + tag.len();
        self.push(Token::Literal)
    }

    /// Digits, an optional fraction and exponent. Letters after it start a new word, so
    /// `1e5DELETE` shows `DELETE` (as both servers read it).
    fn number(&mut self) {
        let b = self.b;
        let digits = |j: &mut usize| {
            while b.get(*j).is_some_and(u8::is_ascii_digit) {
                *j += 1;
            }
        };
        let mut j = self.i;
        digits(&mut j);
        if b.get(j) == Some(&b'.') {
            j += 1;
            digits(&mut j);
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            if matches!(b.get(k), Some(b'+' | b'-')) {
                k += 1;
            }
            if b.get(k).is_some_and(u8::is_ascii_digit) {
                digits(&mut k);
                j = k;
            }
        }
        self.i = j;
    }

    /// A word, or the prefix of a PostgreSQL string or identifier (`E'`, `B'`, `X'`, `U&'`,
    /// `U&"`).
    fn word(&mut self) -> Result<(), Refusal> {
        let start = self.i;
        while self.peek(0).is_some_and(is_word_byte) {
            self.i += 1;
        }
        let word = &self.b[start..self.i];
        if self.dialect == Dialect::Postgres && word.len() == 1 {
            let prefix = word[0].to_ascii_uppercase();
            match (prefix, self.peek(0), self.peek(1)) {
                (b'E', Some(b'\''), _) => {
                    self.i += 1;
                    self.string(Quoting::Backslash, b'\'', "E' string")?;
                    return self.push(Token::Literal);
                }
                (b'B' | b'X', Some(b'\''), _) => {
                    self.i += 1;
                    self.string(Quoting::FirstQuote, b'\'', "bit string")?;
                    return self.push(Token::Literal);
                }
                (b'U', Some(b'&'), Some(b'\'')) => {
                    self.i += 2;
                    self.string(Quoting::Doubled, b'\'', "U&' string")?;
                    return self.push(Token::Literal);
                }
                (b'U', Some(b'&'), Some(b'"')) => {
                    self.i += 2;
                    self.string(Quoting::Doubled, b'"', "U&\" identifier")?;
                    return self.push(Token::EscapedIdentifier);
                }
                _ => {}
            }
        }
        let word = String::from_utf8_lossy(word).to_ascii_uppercase();
        self.push(Token::Word(word))
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect::{Mysql, Postgres};
    use super::*;

    fn both(s: &str) -> [Result<(), Refusal>; 2] {
        [check_read_only(Postgres, s), check_read_only(Mysql, s)]
    }

    #[test]
    fn reading_statements_pass() {
        for s in [
            "SELECT 1",
            "  select * from t where a = 'x;y'",
            "-- note\nWITH a AS (SELECT 1) SELECT * FROM a;",
            "(SELECT 1) UNION (SELECT 2)",
            "/* c */ EXPLAIN SELECT 1",
            "show tables",
            "SELECT 1; -- trailing comment\n",
            "SELECT updated_at, deleted FROM t WHERE note = 'please DELETE me'",
            "SELECT CAST(x AS CHAR CHARACTER SET utf8mb4) FROM t",
        ] {
            assert_eq!(both(s), [Ok(()), Ok(())], "{s}");
        }
        for s in [
            "SELECT $$ ; DELETE $$, $1",
            "SELECT $tag$ it's $$ DELETE $tag$",
            "SELECT 1 /* outer /* nested DELETE */ still a comment */",
            "SELECT 'it''s', \"a\"\"b\" FROM t",
            "SELECT E'\\' DELETE ' AS x",
            "SELECT 'a\\' AS x",
            "SELECT 1 # 2",
        ] {
            assert_eq!(check_read_only(Postgres, s), Ok(()), "{s}");
        }
        for s in [
            "SELECT `odd;name` FROM t",
            "SELECT 'it\\'s; DELETE', \"\\\"\" FROM t",
            "SELECT 1 -- DELETE",
            "SELECT 1 --\tDELETE",
            "SELECT 1 --",
            "SELECT 1 # DELETE\n",
            "SELECT 1 /*+ hint DELETE */",
            "SELECT `DELETE` FROM t",
        ] {
            assert_eq!(check_read_only(Mysql, s), Ok(()), "{s}");
        }
    }

    #[test]
    fn writing_statements_are_refused() {
        for (s, word) in [
            ("DELETE FROM t", "DELETE"),
            ("insert into t values (1)", "INSERT"),
            ("  UPDATE t SET a = 1", "UPDATE"),
            ("DROP TABLE t", "DROP"),
            ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO"),
            ("SET SESSION TRANSACTION READ WRITE", "SET"),
            (
                "WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d",
                "DELETE",
            ),
            ("SELECT * FROM t FOR UPDATE", "UPDATE"),
            ("SELECT * FROM t LOCK IN SHARE MODE", "LOCK"),
            ("EXPLAIN ANALYZE DELETE FROM t", "DELETE"),
            ("COMMIT", "COMMIT"),
        ] {
            for r in both(s) {
                let e = r.expect_err(s).to_string();
                assert!(e.contains(word), "{s}: {e}");
            }
        }
        assert_eq!(
            check_read_only(Postgres, "SELECT * FROM t FOR KEY SHARE"),
            Err(Refusal::LockingRead)
        );
        assert_eq!(check_read_only(Postgres, ""), Err(Refusal::Empty));
        assert_eq!(
            check_read_only(Mysql, "-- only a comment"),
            Err(Refusal::Empty)
        );
        assert_eq!(check_read_only(Mysql, "SELECT 1\0"), Err(Refusal::Nul));
    }

    #[test]
    fn side_effect_functions_are_refused_also_when_quoted() {
        for s in [
            "SELECT set_config('default_transaction_read_only','off',false)",
            "SELECT pg_catalog.set_config('role', 'x', false)",
            "SELECT \"set_config\"('role', 'x', false)",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT query_to_xml('delete from t returning 1', true, false, '')",
        ] {
            assert!(
                matches!(check_read_only(Postgres, s), Err(Refusal::SideEffect(_))),
                "{s}"
            );
        }
        assert_eq!(
            check_read_only(Postgres, "SELECT U&\"\\0073et_config\"('role', 'x', false)"),
            Err(Refusal::EscapedIdentifier)
        );
        for s in [
            "SELECT LOAD_FILE('/etc/passwd')",
            "SELECT `load_file`('/etc/passwd')",
            "SELECT GET_LOCK('x', 0)",
        ] {
            assert!(
                matches!(check_read_only(Mysql, s), Err(Refusal::SideEffect(_))),
                "{s}"
            );
        }
    }

    /// The measured attacks of issue 12: MySQL's lexer reads these as code.
    #[test]
    fn mysql_executable_comments_and_dashes_are_code() {
        for s in [
            "SELECT 1 /*!INTO OUTFILE '/tmp/x'*/",
            "/*!SET SESSION tx_read_only = 0, @x = */ (SELECT 1)",
            "/*!DELETE FROM t WHERE 1 <> */ (SELECT 0)",
            "SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */",
            "SELECT 1 /*!80000DELETE*/",
            "SELECT 1 /*M!100100 INTO @x */",
            "SELECT 1 --x\n, 2 INTO @x",
            "SELECT 1 --DELETE",
            "SELECT \"\\\"\" /* \" */ INTO @x",
            "SELECT 1e5DELETE FROM t",
            "SELECT 1 /* a /* b */ DELETE */",
            "SELECT 1 # x\n; DELETE FROM t",
        ] {
            assert!(check_read_only(Mysql, s).is_err(), "{s}");
        }
        // PostgreSQL reads the same text differently: `#` is an operator, `/*` nests.
        assert!(check_read_only(Postgres, "SELECT 1 /* a /* b */ DELETE */").is_ok());
        assert!(check_read_only(Postgres, "SELECT 1 # 1, 2 INTO x").is_err());
    }

    #[test]
    fn postgres_string_rules() {
        // A continued E-string keeps its backslash escapes: `\'` is a quote, the next one
        // ends the string and INTO is code (read as a standard string, it would be hidden).
        assert_eq!(
            check_read_only(Postgres, "SELECT E'a'\n'\\'' INTO x --'"),
            Err(Refusal::Writes("INTO".into()))
        );
        // Without a newline between them the second part is a standard string of its own.
        assert_eq!(
            check_read_only(Postgres, "SELECT E'a' '\\'' INTO x --'"),
            Ok(())
        );
        // A standard string ends at the quote after a backslash.
        assert!(check_read_only(Postgres, "SELECT '\\' , 1 INTO x").is_err());
        // B'' and X'' end at the first quote.
        assert_eq!(
            check_read_only(Postgres, "SELECT X'' , 1 INTO x"),
            Err(Refusal::Writes("INTO".into()))
        );
        assert_eq!(
            check_single(Postgres, "SELECT $a$ unterminated"),
            Err(Refusal::Unterminated("$ string"))
        );
        assert_eq!(
            check_single(Postgres, "SELECT /* /* */"),
            Err(Refusal::Unterminated("/* comment"))
        );
        assert!(check_read_only(Postgres, "SELECT a$b$ FROM t").is_ok());
    }

    #[test]
    fn a_second_statement_is_refused() {
        for d in [Postgres, Mysql] {
            assert_eq!(
                check_read_only(d, "SELECT 1; DELETE FROM t"),
                Err(Refusal::SecondStatement)
            );
            assert_eq!(check_single(d, "SELECT 1; -- trailing comment\n"), Ok(()));
            assert!(check_single(d, "SELECT 'unterminated").is_err());
        }
        assert_eq!(
            check_single(Mysql, "SELECT 1 /*!; DROP TABLE t */"),
            Err(Refusal::SecondStatement)
        );
    }

    #[test]
    fn refusals_do_not_echo_unbounded_text() {
        let long = format!("{}\n\u{1b}[31mforged", "X".repeat(10_000));
        let e = check_read_only(Mysql, &long)
            .expect_err("not reading")
            .to_string();
        assert!(e.len() < 400, "{} bytes", e.len());
        let e = check_read_only(Postgres, &format!("\"{}\u{202e}\"", "y".repeat(5000)))
            .expect_err("not reading")
            .to_string();
        assert!(e.len() < 400 && !e.contains('\u{202e}'), "{e}");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn reading_prefix() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "SELECT 1",
                "SELECT a, b FROM t WHERE c = 'x'",
                "WITH x AS (SELECT 1) SELECT * FROM x",
                "(SELECT 1)",
                "SHOW TABLES",
                "EXPLAIN SELECT * FROM t",
            ])
        }

        fn writing_part() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "INTO OUTFILE '/tmp/x'",
                "INTO DUMPFILE '/tmp/x'",
                "INTO @x",
                "DELETE FROM t",
                "UPDATE t SET a = 1",
                "INSERT INTO t VALUES (1)",
                "FOR UPDATE",
                "LOCK IN SHARE MODE",
                "; DROP TABLE t",
                "LOAD_FILE('/etc/passwd')",
                "GET_LOCK('x', 0)",
            ])
        }

        fn executable_comment() -> impl Strategy<Value = String> {
            (
                prop::sample::select(vec!["/*!", "/*M!"]),
                prop::option::of(10_000u32..999_999),
                prop::sample::select(vec!["", " ", "\n", "\t"]),
            )
                .prop_map(|(open, version, space)| {
                    format!(
                        "{open}{}{space}",
                        version.map(|v| v.to_string()).unwrap_or_default()
                    )
                })
        }

        /// What a server-side quoting function produces for `s`.
        fn quote(dialect: Dialect, s: &str) -> String {
            match dialect {
                Dialect::Postgres => format!("'{}'", s.replace('\'', "''")),
                Dialect::Mysql => {
                    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
                }
            }
        }

        fn dialect() -> impl Strategy<Value = Dialect> {
            prop::sample::select(vec![Dialect::Postgres, Dialect::Mysql])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// A writing part hidden in a MySQL executable comment is refused, whatever the
            /// version number and spacing.
            #[test]
            fn writes_in_executable_comments_are_refused(
                prefix in reading_prefix(),
                open in executable_comment(),
                write in writing_part(),
                close in prop::sample::select(vec!["*/", " */", "*/ (SELECT 0)"]),
            ) {
                let s = format!("{prefix} {open}{write}{close}");
                prop_assert!(check_read_only(Dialect::Mysql, &s).is_err(), "{}", s);
            }

            /// A statement that starts in an executable comment starts with its content.
            #[test]
            fn executable_comment_content_is_the_first_word(
                open in executable_comment(),
                write in prop::sample::select(vec![
                    "SET SESSION tx_read_only = 0, @x = ",
                    "DELETE FROM t WHERE 1 <> ",
                    "UPDATE t SET a = 1 WHERE 1 <> ",
                    "DO SLEEP(1) OR ",
                ]),
            ) {
                let s = format!("{open}{write}*/ (SELECT 0)");
                prop_assert!(check_read_only(Dialect::Mysql, &s).is_err(), "{}", s);
            }

            /// `--` followed by anything but whitespace is an operator in MySQL, not a comment.
            #[test]
            fn mysql_double_dash_needs_a_space(
                prefix in reading_prefix(),
                glue in "[A-Za-z0-9(@]",
                write in writing_part(),
            ) {
                let s = format!("{prefix} --{glue}1 {write}");
                prop_assert!(check_read_only(Dialect::Mysql, &s).is_err(), "{}", s);
            }

            /// Any text, quoted as the server quotes it, is one literal: the statement around
            /// it still reads, and a write after it is still seen.
            #[test]
            fn quoting_round_trips(d in dialect(), text in "[^\\x00]{0,80}", write in writing_part()) {
                let lit = quote(d, &text);
                let reading = format!("SELECT {lit} AS v FROM t");
                prop_assert_eq!(lex(d, &reading).map(|t| t.iter().filter(|t| **t == Token::Literal).count()), Ok(1));
                prop_assert_eq!(check_read_only(d, &reading), Ok(()));
                let mysql_only = write.starts_with("LOAD_FILE") || write.starts_with("GET_LOCK");
                prop_assume!(d == Dialect::Mysql || !mysql_only);
                let writing = format!("SELECT {lit} {write}");
                prop_assert!(check_read_only(d, &writing).is_err(), "{}", writing);
            }

            /// Quoted identifiers (as the SDK quotes them) round-trip too.
            #[test]
            fn identifiers_round_trip(d in dialect(), name in "[^\\x00]{1,40}") {
                let quoted = match d {
                    Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
                    Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
                };
                let tokens = lex(d, &format!("SELECT {quoted} FROM t")).expect("lexes");
                prop_assert_eq!(&tokens[1], &Token::Quoted(name.to_ascii_uppercase()));
            }

            /// Random input never panics, in either dialect, and refusals stay short.
            #[test]
            fn random_text_never_panics(d in dialect(), s in "(?s).{0,300}") {
                if let Err(e) = check_read_only(d, &s) {
                    prop_assert!(e.to_string().len() < 400);
                }
                let _ = check_single(d, &s);
            }

            /// SQL-shaped noise: quotes, comments, dollars and dashes in any order.
            #[test]
            fn sql_shaped_noise_never_panics(d in dialect(), s in "[ a-zA-Z0-9'\"`$#/*!;\\\\\n\r-]{0,200}") {
                let _ = check_read_only(d, &s);
            }
        }
    }
}
