// Elastic's rules for which files' contents a connector downloads and sends for extraction, as
// its framework applies them to every source (connectors_sdk `BaseDataSource`:
// `get_file_extension`, `can_file_be_downloaded`, and content_extraction.py's
// TIKA_SUPPORTED_FILETYPES). One copy for every JavaScript connector that downloads files
// (`sharepoint_online` and `onedrive` through plugins/shared/graph, `google_cloud_storage`);
// `node sdk/js/build.mjs` bundles it into each component.

// Elastic downloads files up to this many bytes (its framework's `max_file_size`).
export const MAX_DOCUMENT_SIZE = 10485760;
export const SUPPORTED_EXTENSIONS = new Set([".txt", ".py", ".rst", ".html", ".markdown", ".json", ".xml", ".csv",
  ".md", ".ppt", ".rtf", ".docx", ".odt", ".xls", ".xlsx", ".rb", ".paper", ".sh", ".pptx", ".pdf", ".doc", ".aspx",
  ".xlsb", ".xlsm", ".tsv", ".svg", ".msg", ".potx", ".vsd", ".vsdx", ".vsdm"]);

/**
 * A file name's extension as Python's os.path.splitext gives it (Elastic's
 * `get_file_extension`): from the last dot, leading dots belonging to the name (".profile" has
 * none); "" when there is none. Case is kept.
 */
export function fileExtension(name) {
  const base = String(name ?? "").replace(/^\.+/, "");
  const dot = base.lastIndexOf(".");
  return dot < 0 ? "" : base.slice(dot);
}

/** True when Elastic's extraction handles this file name's extension (any case). */
export const extractable = (name) => SUPPORTED_EXTENSIONS.has(fileExtension(name).toLowerCase());

/** Why a file of `size` bytes is not downloaded for its size (Elastic's rules), or null. A
 * missing size counts as empty, which Elastic does not download either. */
export function sizeSkipReason(size) {
  const n = Number(size ?? 0);
  if (!(n > 0)) return "empty";
  // Elastic lifts the limit with use_text_extraction_service, whose service takes big files;
  // Inlet has no such service (the bytes go to the host as `_attachment`), so it stays.
  if (n > MAX_DOCUMENT_SIZE) return `size ${n} is above ${MAX_DOCUMENT_SIZE} bytes`;
  return null;
}
