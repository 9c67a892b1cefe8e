//! The output file of an export: CSV (one column per identifier and requested
//! attribute) or NDJSON (each record as Batch sent it), written to
//! `<output>.tmp` and renamed over `<output>` only once every part is in.
//!
//! Parts are appended in order. After each part the file is synced and its
//! length goes to the state store; a resumed run truncates the temp file back
//! to that length, so a part cut by a kill or a failed download is never
//! written twice.

use batchport_transform::job::{ExportSettings, ExportType};
use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

impl Format {
    fn of(path: &Path) -> Format {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("ndjson")) { Format::Ndjson } else { Format::Csv }
    }
}

/// Where a CSV column's value comes from in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `identifiers.<name>`.
    Identifier(String),
    /// A top-level field of the record (`name`, `time`, `reachability`).
    Field(String),
    /// An attribute, matched flexibly (see [`attribute`]).
    Attribute(String),
    /// The whole `attributes` object, as JSON.
    AllAttributes,
}

/// The CSV columns of an export: `custom_id` and the other identifiers first,
/// then the fields of the export type, then the requested attributes in the
/// order the job gives them (or one `attributes` column when none is asked).
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    names: Vec<String>,
    sources: Vec<Source>,
    escape: bool,
}

impl Columns {
    pub(crate) fn of(s: &ExportSettings) -> Columns {
        let mut cols: Vec<(String, Source)> = Vec::new();
        for id in super::request::identifiers(s) {
            cols.push((id.clone(), Source::Identifier(id)));
        }
        if s.ty == ExportType::Events {
            for f in ["name", "time"] {
                cols.push((f.to_string(), Source::Field(f.to_string())));
            }
        }
        if s.attributes.is_empty() && s.ty != ExportType::Attributes {
            cols.push(("attributes".to_string(), Source::AllAttributes));
        }
        for a in &s.attributes {
            cols.push((a.clone(), Source::Attribute(a.clone())));
        }
        if s.ty == ExportType::Reachability {
            cols.push(("reachability".to_string(), Source::Field("reachability".to_string())));
        }
        let (names, sources) = cols.into_iter().unzip();
        Columns { names, sources, escape: s.escape_formulas }
    }

    fn names(&self) -> &[String] {
        &self.names
    }

    /// One CSV row for `record`.
    fn row(&self, record: &Value) -> Vec<String> {
        let empty = Map::new();
        let attrs = record.get("attributes").and_then(Value::as_object).unwrap_or(&empty);
        self.sources
            .iter()
            .map(|src| {
                let v = match src {
                    Source::Identifier(n) => record.get("identifiers").and_then(|i| i.get(n)),
                    Source::Field(n) => record.get(n),
                    Source::Attribute(n) => attribute(attrs, n),
                    Source::AllAttributes => record.get("attributes"),
                };
                match v {
                    Some(Value::String(s)) if self.escape => escape_formula(s),
                    _ => cell(v),
                }
            })
            .collect()
    }
}

/// A requested attribute in an exported record. Batch may key typed attributes
/// with their type (`date(birthdate)`, `url(website)`) or without it, and a job
/// may ask for either spelling: the exact name wins, then the bare name, then
/// the typed spellings; a native `$name` also matches `name`.
pub fn attribute<'a>(attrs: &'a Map<String, Value>, want: &str) -> Option<&'a Value> {
    if let Some(v) = attrs.get(want) {
        return Some(v);
    }
    let bare =
        ["date(", "url("].iter().find_map(|p| want.strip_prefix(p).and_then(|r| r.strip_suffix(')'))).unwrap_or(want);
    let mut candidates = vec![bare.to_string(), format!("date({bare})"), format!("url({bare})")];
    if let Some(native) = bare.strip_prefix('$') {
        candidates.push(native.to_string());
    }
    candidates.iter().find_map(|k| attrs.get(k))
}

/// A text cell a spreadsheet would run as a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a CR) gets a leading `'`, which spreadsheets show as
/// text; a number such as `-5` or `+33612345678` is left alone.
pub(crate) fn escape_formula(s: &str) -> String {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && s.trim().parse::<f64>().is_err() { format!("'{s}") } else { s.to_string() }
}

/// Strings as they are, numbers and booleans as JSON writes them, null or
/// missing as an empty cell, arrays and objects as JSON text.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The temp file being written.
pub(crate) struct Output {
    columns: Columns,
    tmp: PathBuf,
    target: PathBuf,
    /// CSV through the csv crate, NDJSON straight into the buffer.
    csv: Option<csv::Writer<BufWriter<File>>>,
    plain: Option<BufWriter<File>>,
    /// Length of the file when the current part began.
    part_start: u64,
}

/// `<output>.tmp`, next to the output so the final rename stays on one file system.
/// For an object URL, a file in the temp folder named after the URL (see
/// `batchport_source::objstore::upload`).
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    if let Some(url) = target.to_str().filter(|t| batchport_source::objstore::is_url(t)) {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return std::env::temp_dir()
            .join(format!("batchport-{:016x}-{name}.tmp", xxhash_rust::xxh3::xxh3_64(url.as_bytes())));
    }
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    target.with_file_name(name)
}

impl Output {
    /// Open the temp file, keeping its first `keep` bytes (the parts already
    /// finished); `None` starts it afresh with the CSV header. `Ok(None)` when
    /// the temp file is shorter than `keep`: it was lost, start over.
    /// `mode`: the permissions the output gets (the temp file has them from
    /// the start, the rename keeps them); `None`: as created (private).
    pub(crate) fn open(
        target: &Path,
        columns: Columns,
        keep: Option<u64>,
        mode: Option<u32>,
    ) -> io::Result<Option<Output>> {
        let tmp = temp_path(target);
        if let Some(dir) = tmp.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // Append mode: after a truncation (rewind), writes land at the new end.
        let file = OpenOptions::new().create(true).append(true).open(&tmp)?;
        #[cfg(unix)]
        if let Some(bits) = mode.filter(|_| !batchport_source::objstore::is_url(&target.to_string_lossy())) {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(bits))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        let len = file.metadata()?.len();
        let keep = match keep {
            Some(k) if k > len => return Ok(None),
            Some(k) => k,
            None => 0,
        };
        file.set_len(keep)?;
        let format = Format::of(target);
        let buf = BufWriter::with_capacity(256 * 1024, file);
        let (csv, plain) = match format {
            Format::Csv => (Some(csv::WriterBuilder::new().flexible(false).from_writer(buf)), None),
            Format::Ndjson => (None, Some(buf)),
        };
        let mut out = Output { columns, tmp, target: target.to_path_buf(), csv, plain, part_start: keep };
        if let (0, Some(w)) = (keep, out.csv.as_mut()) {
            w.write_record(out.columns.names()).map_err(io::Error::other)?;
            out.part_start = out.sync()?;
        }
        Ok(Some(out))
    }

    pub(crate) fn write(&mut self, record: &Value) -> io::Result<()> {
        match (self.csv.as_mut(), self.plain.as_mut()) {
            (Some(w), _) => w.write_record(self.columns.row(record)).map_err(io::Error::other),
            (None, Some(w)) => {
                serde_json::to_writer(&mut *w, record)?;
                w.write_all(b"\n")
            }
            (None, None) => Ok(()),
        }
    }

    /// Flush the open writer and return its file (none before the first write).
    fn flushed_file(&mut self) -> io::Result<Option<&File>> {
        Ok(match (self.csv.as_mut(), self.plain.as_mut()) {
            (Some(w), _) => {
                w.flush()?;
                Some(w.get_ref().get_ref())
            }
            (None, Some(w)) => {
                w.flush()?;
                Some(w.get_ref())
            }
            (None, None) => None,
        })
    }

    /// Write everything, sync it, and return the file's length.
    fn sync(&mut self) -> io::Result<u64> {
        let Some(file) = self.flushed_file()? else { return Ok(self.part_start) };
        file.sync_data()?;
        file.metadata().map(|m| m.len())
    }

    /// The part written since the last commit is durable: returns where it ends.
    pub(crate) fn commit_part(&mut self) -> io::Result<u64> {
        self.part_start = self.sync()?;
        Ok(self.part_start)
    }

    /// Drop what was written since the last commit (a download that failed midway).
    pub(crate) fn rewind_part(&mut self) -> io::Result<()> {
        let start = self.part_start;
        let Some(file) = self.flushed_file()? else { return Ok(()) };
        file.set_len(start)
    }

    /// Sync and rename the temp file over the output (or upload it).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.sync()?;
        drop((self.csv.take(), self.plain.take()));
        rename_into_place(&self.tmp, &self.target)
    }
}

/// Rename, then sync the folder so the rename itself survives a crash. An
/// object URL gets the temp file as a multipart upload, completed only once
/// the whole file is in; the temp file goes after that.
pub(crate) fn rename_into_place(tmp: &Path, target: &Path) -> io::Result<()> {
    if let Some(url) = target.to_str().filter(|t| batchport_source::objstore::is_url(t)) {
        let uploaded = batchport_source::objstore::upload::upload(tmp, url, &Default::default());
        // The temp file holds people's profiles in the shared temp folder:
        // gone whether the upload worked or not (a failed one costs the next
        // run a new download, never a copy of the rows left lying around).
        let removed = std::fs::remove_file(tmp);
        uploaded.map_err(io::Error::other)?;
        return removed;
    }
    std::fs::rename(tmp, target)?;
    #[cfg(unix)]
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Whether the output is in place: the file, or the object.
pub(crate) fn exists(target: &Path) -> bool {
    match target.to_str().filter(|t| batchport_source::objstore::is_url(t)) {
        Some(url) => batchport_source::objstore::head(url, &Default::default()).is_ok(),
        None => target.exists(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(ty: ExportType, attributes: &[&str], identifiers: &[&str]) -> ExportSettings {
        ExportSettings {
            mode: None,
            escape_formulas: true,
            ty,
            attributes: attributes.iter().map(|s| s.to_string()).collect(),
            identifiers: identifiers.iter().map(|s| s.to_string()).collect(),
            segment: None,
            from: None,
            output: "out.csv".into(),
        }
    }

    #[test]
    fn columns_put_identifiers_first_then_attributes_in_order() {
        let c = Columns::of(&settings(ExportType::Attributes, &["b", "$a"], &["installation_ids"]));
        assert_eq!(c.names(), ["custom_id", "installation_ids", "b", "$a"]);
        let e = Columns::of(&settings(ExportType::Events, &[], &[]));
        assert_eq!(e.names(), ["custom_id", "name", "time", "attributes"]);
    }

    #[test]
    fn formula_cells_are_escaped_unless_switched_off() {
        let rec = json!({"identifiers": {"custom_id": "=HYPERLINK(\"http://x\")"},
            "attributes": {"a": "@SUM(A1)", "b": "+33612345678", "c": "-5", "d": "-x", "e": "ok", "f": -3}});
        let mut s = settings(ExportType::Attributes, &["a", "b", "c", "d", "e", "f"], &["custom_id"]);
        let c = Columns::of(&s);
        assert_eq!(c.row(&rec), ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "+33612345678", "-5", "'-x", "ok", "-3"]);
        s.escape_formulas = false;
        assert_eq!(Columns::of(&s).row(&rec)[..2], ["=HYPERLINK(\"http://x\")", "@SUM(A1)"]);
    }

    #[test]
    fn cells_keep_strings_and_write_the_rest_as_json() {
        let c = Columns::of(&settings(ExportType::Attributes, &["s", "n", "b", "arr", "o", "none"], &["custom_id"]));
        let rec = json!({"identifiers": {"custom_id": "u1"},
            "attributes": {"s": "a,\"b\"", "n": 1.5, "b": true, "arr": ["x", "y"], "o": {"k": 1}, "none": null}});
        assert_eq!(c.row(&rec), ["u1", "a,\"b\"", "1.5", "true", r#"["x","y"]"#, r#"{"k":1}"#, ""]);
    }

    #[test]
    fn attribute_names_match_with_or_without_their_type() {
        let attrs = json!({"date(birthdate)": "1990-01-02T00:00:00Z", "website": "https://x", "email_address": "a@b"});
        let attrs = attrs.as_object().unwrap();
        assert_eq!(attribute(attrs, "birthdate"), Some(&json!("1990-01-02T00:00:00Z")));
        assert_eq!(attribute(attrs, "date(birthdate)"), Some(&json!("1990-01-02T00:00:00Z")));
        assert_eq!(attribute(attrs, "url(website)"), Some(&json!("https://x")));
        assert_eq!(attribute(attrs, "$email_address"), Some(&json!("a@b")));
        assert_eq!(attribute(attrs, "missing"), None);
    }

    #[test]
    fn a_rewound_part_leaves_no_trace_and_a_resume_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.csv");
        let cols = || Columns::of(&settings(ExportType::Attributes, &["a"], &[]));
        let rec = |id: &str| json!({"identifiers": {"custom_id": id}, "attributes": {"a": 1}});
        let mut out = Output::open(&target, cols(), None, None).unwrap().unwrap();
        out.write(&rec("u1")).unwrap();
        let end = out.commit_part().unwrap();
        out.write(&rec("junk")).unwrap();
        out.rewind_part().unwrap();
        out.write(&rec("u2")).unwrap();
        out.commit_part().unwrap();
        out.write(&rec("cut")).unwrap();
        drop(out);
        // Resume after the first part: u2 and the cut record go.
        assert!(Output::open(&target, cols(), Some(u64::MAX), None).unwrap().is_none());
        let mut out = Output::open(&target, cols(), Some(end), None).unwrap().unwrap();
        out.write(&rec("u3")).unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "custom_id,a\nu1,1\nu3,1\n");
        assert!(!temp_path(&target).exists());
    }
}
