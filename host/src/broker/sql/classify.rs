//! Which statements read only. A read-only grant runs only these; the database session is
//! read-only as well (defence in depth: this check is lexical and cannot see into functions).

/// Keywords a read-only statement may start with.
const READING: &[&str] = &[
    "SELECT", "WITH", "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "VALUES", "TABLE",
];

/// Words that make a reading statement write or lock anyway (MySQL's `SELECT … INTO OUTFILE`
/// writes a file on the server; a read-only session does not stop it).
const FORBIDDEN_INSIDE: &[&str] = &["OUTFILE", "DUMPFILE"];

/// `Ok` when `statement` only reads; else the reason, naming the first keyword.
pub fn check_read_only(statement: &str) -> Result<(), String> {
    let words = words_outside_literals(statement)?;
    let Some(first) = words.first() else {
        return Err("the statement is empty".into());
    };
    if !READING.contains(&first.as_str()) {
        return Err(format!(
            "`{first}` statements are not allowed on a read-only database grant (only {})",
            READING.join(", ")
        ));
    }
    if let Some(w) = words
        .iter()
        .find(|w| FORBIDDEN_INSIDE.contains(&w.as_str()))
    {
        return Err(format!(
            "`{w}` writes on the server and is not allowed on a read-only database grant"
        ));
    }
    Ok(())
}

/// One statement only: a `;` followed by anything but whitespace or comments is refused, so a
/// reading statement cannot smuggle a second one.
pub fn check_single(statement: &str) -> Result<(), String> {
    words_outside_literals(statement).map(|_| ())
}

/// Upper-cased keywords outside string literals, quoted identifiers and comments; an error for
/// a second statement after `;` or an unterminated literal.
fn words_outside_literals(s: &str) -> Result<Vec<String>, String> {
    let b = s.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    let mut ended = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_until(b, i + 2, b"\n"),
            b'#' => i = skip_until(b, i + 1, b"\n"),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_until(b, i + 2, b"*/");
                if i > b.len() {
                    return Err("the statement has an unterminated /* comment".into());
                }
            }
            b'\'' | b'"' | b'`' => {
                i = skip_quoted(b, i + 1, c).ok_or_else(|| {
                    format!("the statement has an unterminated {} literal", c as char)
                })?;
                if ended {
                    return Err(second());
                }
            }
            b'$' => {
                if ended {
                    return Err(second());
                }
                i = dollar_quote_end(b, i).unwrap_or(i + 1);
            }
            b';' => {
                ended = true;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if ended {
                    return Err(second());
                }
                words.push(s[start..i].to_ascii_uppercase());
            }
            c if c.is_ascii_whitespace() || c == b'(' => i += 1,
            _ => {
                if ended {
                    return Err(second());
                }
                i += 1;
            }
        }
    }
    Ok(words)
}

fn second() -> String {
    "only one statement per query: remove what follows the `;`".into()
}

/// Index just past `end` (or past the input when it never comes).
fn skip_until(b: &[u8], from: usize, end: &[u8]) -> usize {
    let mut i = from;
    while i + end.len() <= b.len() {
        if &b[i..i + end.len()] == end {
            return i + end.len();
        }
        i += 1;
    }
    if end == b"\n" { b.len() } else { b.len() + 1 }
}

/// Index just past the closing quote; a doubled quote or a backslash escapes it.
fn skip_quoted(b: &[u8], from: usize, q: u8) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'\\' && q == b'\'' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// PostgreSQL's `$tag$ … $tag$` strings: the index past the closing tag. `$1` is a parameter.
fn dollar_quote_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    if j >= b.len() || b[j] != b'$' || b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &b[i..=j];
    let body = j + 1;
    let end = skip_until(b, body, tag);
    (end <= b.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_statements_pass() {
        for s in [
            "SELECT 1",
            "  select * from t where a = 'x;y'",
            "-- note\nWITH a AS (SELECT 1) SELECT * FROM a;",
            "(SELECT 1) UNION (SELECT 2)",
            "/* c */ EXPLAIN SELECT 1",
            "show tables",
            "SELECT $$ ; DELETE $$, $1",
            "SELECT `odd;name` FROM t",
        ] {
            assert_eq!(check_read_only(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn writing_statements_are_refused() {
        for (s, word) in [
            ("DELETE FROM t", "DELETE"),
            ("insert into t values (1)", "INSERT"),
            ("  UPDATE t SET a = 1", "UPDATE"),
            ("DROP TABLE t", "DROP"),
            ("SELECT 1 INTO OUTFILE '/tmp/x'", "OUTFILE"),
            ("SET SESSION TRANSACTION READ WRITE", "SET"),
        ] {
            let e = check_read_only(s).unwrap_err();
            assert!(e.contains(word), "{s}: {e}");
        }
        assert!(check_read_only("").is_err());
        assert!(check_read_only("-- only a comment").is_err());
    }

    #[test]
    fn a_second_statement_is_refused() {
        let e = check_read_only("SELECT 1; DELETE FROM t").unwrap_err();
        assert!(e.contains("one statement"), "{e}");
        assert!(check_single("SELECT 1; -- trailing comment\n").is_ok());
        assert!(check_single("SELECT 'unterminated").is_err());
    }
}
