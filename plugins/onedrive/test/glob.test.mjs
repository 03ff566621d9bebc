// The parentPathPattern matcher against wcmatch 12.0.1's `glob.globmatch(path, pattern,
// flags=glob.GLOBSTAR)`, which Elastic's OneDrive connector calls: each row's expected value is
// what wcmatch answered (a generated comparison of ~9,000 pattern/path pairs agreed too).
// Run: node --test plugins/onedrive/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { globmatch } from "../glob.js";

const WCMATCH = [
  ["/drive/root:/hello/**", "/drive/root:/hello", false],
  ["/drive/root:/hello/**", "/drive/root:/hello/a", true],
  ["/drive/root:/hello/**", "/drive/root:/hello/a/b", true],
  ["/drive/root:/hello/**", "/drive/root:/hello/", true],
  ["/drive/root:/*", "/drive/root:/.x", false],
  ["/drive/root:/*", "/drive/root:/", false],
  ["/drive/root:/*", "/drive/root:/a/", true],
  ["/drive/root:/.h*", "/drive/root:/.hidden", true],
  ["/drive/root:/**/b", "/drive/root:/b", true],
  ["/drive/root:/**/b", "/drive/root:/a/x/b", true],
  ["/drive/root:/**/b", "/drive/root:/a/.h/b", false],
  ["/drive/root:/**/.h/**", "/drive/root:/a/.h/x", true],
  ["/drive/root:*", "/drive/root:", true],
  ["/drive/root:*", "/drive/root:/", true],
  ["/drive/root:/a*", "/drive/root:/A1", false],
  ["/drive/root:/a*", "/drive/root:/a1", true],
  ["/drive/root:/[ab]c", "/drive/root:/bc", true],
  ["/drive/root:/[!a]c", "/drive/root:/ac", false],
  ["/drive/root:/[^a]c", "/drive/root:/bc", true],
  ["/drive/root:/[]]x", "/drive/root:/]x", true],
  ["/drive/root:/[a-c]*", "/drive/root:/cx", true],
  ["/drive/root:/a[", "/drive/root:/a[", true],
  ["/drive/root:/hello/*", "/drive/root:/hello/a/b", false],
  ["**", "/drive/root:/x", true],
  ["/drive/root:/**", "/drive/root:", false],
  ["/drive/**", "/drive/root:/x", true],
  ["*/root:/x", "/drive/root:/x", false],
  ["/drive/root:/{a,b}", "/drive/root:/a", false],
  ["/drive/root:/{a,b}", "/drive/root:/{a,b}", true],
  ["/drive/root:/a?c", "/drive/root:/abc", true],
  ["/drive/root:/a?c", "/drive/root:/a/c", false],
  ["/drive/root:/a\\*", "/drive/root:/a*", true],
  ["/drive/root:/a\\*", "/drive/root:/ab", false],
  ["/drive/root:/a.b", "/drive/root:/axb", false],
  ["/drive/root:/**/*.txt", "/drive/root:/x.txt", true],
  ["/drive/root:/**/*.txt", "/drive/root:/f/g/x.txt", true],
  ["/drive/root://**", "/drive/root:/a/", true],
  ["/drive/root:/*b", "/drive/root:////b", true],
  ["/drive/root:/Reports/**/2024", "/drive/root:/Reports/2024", true],
  ["/drive/root:/Reports/**/2024", "/drive/root:/Reports/q/r/2024", true],
  ["/drive/root:/a b/**", "/drive/root:/a b/c", true],
  ["/drive/root:/Ünï/*", "/drive/root:/Ünï/x", true]
];

test("globmatch agrees with wcmatch's GLOBSTAR matching", () => {
  const wrong = WCMATCH.filter(([pattern, path, want]) => globmatch(path, pattern) !== want);
  assert.deepEqual(wrong, []);
});
