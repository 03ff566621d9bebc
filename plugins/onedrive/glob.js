// Path patterns as Elastic's OneDrive connector matches them: wcmatch's `glob.globmatch(path,
// pattern, flags=GLOBSTAR)` (parentPathPattern), re-implemented because the plugin runs inside a
// component without Python, and no npm package reproduces wcmatch's rules (minimatch differs on
// hidden files and on `a/**` versus `a`). The rules, checked against wcmatch 12 in
// test/glob.test.mjs:
//
// - the path and the pattern are compared segment by segment (split on `/`), case-sensitively;
// - `*` matches any characters of one segment, `?` one character, `[abc]`, `[a-z]`, `[!a]` or
//   `[^a]` one character of (or not of) a set, `\x` the character x itself;
// - a segment that is exactly `**` matches zero or more whole segments in the middle of a
//   pattern, and one or more at its end (so `/drive/root:/a/**` matches `/drive/root:/a/b` and
//   `/drive/root:/a/`, but not `/drive/root:/a` itself);
// - runs of `/` count as one; a path's trailing `/` is optional (`a/` is matched by what matches `a`), and an empty
//   segment is matched only by an empty pattern segment or by `**`;
// - wildcards do not match a segment's leading `.` (hidden files and folders) unless the
//   pattern's segment starts with `.` itself, and `**` skips no hidden segment;
// - braces, extglobs and other wcmatch extras are off (as with GLOBSTAR alone): they match
//   themselves.

const GLOBSTAR = Symbol("**");

/** A pattern segment as a RegExp (anchored), or GLOBSTAR. */
function segment(text) {
  if (text === "**") return GLOBSTAR;
  let re = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length) {
      re += escape(text[++i]);
    } else if (c === "*") {
      re += "[^/]*";
    } else if (c === "?") {
      re += "[^/]";
    } else if (c === "[") {
      const end = classEnd(text, i);
      if (end < 0) { re += "\\["; continue; }
      let body = text.slice(i + 1, end);
      let negate = false;
      if (body[0] === "!" || body[0] === "^") { negate = true; body = body.slice(1); }
      re += `[${negate ? "^/" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else {
      re += escape(c);
    }
  }
  // Hidden files: a wildcard at the start of the segment may not match a leading dot.
  const hiddenGuard = /^[*?[]/.test(text) ? "(?!\\.)" : "";
  return new RegExp(`^${hiddenGuard}${re}$`, "s");
}

/** Index of the `]` closing the class opened at `start`, or -1 (then `[` is literal). A `]`
 * right after `[`, `[!` or `[^` belongs to the set. */
function classEnd(text, start) {
  let i = start + 1;
  if (text[i] === "!" || text[i] === "^") i++;
  if (text[i] === "]") i++;
  for (; i < text.length; i++) if (text[i] === "]") return i;
  return -1;
}

const escape = (c) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Runs of `/` count as one separator, as in wcmatch. */
const collapse = (text) => String(text).replace(/\/{2,}/g, "/");

/** A compiled pattern: `match(path)` → boolean. */
export function compile(pattern) {
  const texts = collapse(pattern).split("/");
  const parts = texts.map(segment);
  const match = (segs, p, s) => {
    if (p === parts.length) return s === segs.length;
    const part = parts[p];
    if (part === GLOBSTAR) {
      const last = p === parts.length - 1;
      // Zero segments (not at the end), or one more non-hidden segment each time.
      if (!last && match(segs, p + 1, s)) return true;
      for (let k = s; k < segs.length && !segs[k].startsWith("."); k++) {
        if (match(segs, p + 1, k + 1)) return true;
      }
      return false;
    }
    // An empty segment (`//`, or the end of `a/`) is matched by an empty pattern segment only.
    return s < segs.length && (segs[s] === "" ? texts[p] === "" : part.test(segs[s])) && match(segs, p + 1, s + 1);
  };
  const matchPath = (path) => {
    const text = collapse(path ?? "");
    // A trailing `/` marks a folder: `a/` is also matched by the patterns that match `a`.
    return match(text.split("/"), 0, 0) || (text.length > 1 && text.endsWith("/") && match(text.slice(0, -1).split("/"), 0, 0));
  };
  return { pattern: String(pattern), match: matchPath };
}

/** wcmatch's `globmatch(path, pattern, flags=GLOBSTAR)`. */
export const globmatch = (path, pattern) => compile(pattern).match(path);
