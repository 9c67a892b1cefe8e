//! Per-file import records: which input file, as it was (its fingerprint),
//! each destination has received whole, and from which run. A glob run skips
//! the files already imported unchanged and reads the new or changed ones.
//!
//! Keys in the `runs` tree: `f`+scope (job and destination)+path → JSON
//! [`Imported`]. One key per input file, never per row.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Fingerprint, StateError, Store, name_key};

const FILE: u8 = b'f';

/// A file a destination has received whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    /// The file as it was read.
    pub(crate) print: Fingerprint,
    /// The run that read it to its end.
    pub run_id: String,
    /// The mapping print of that run (absent: a batchport that did not keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mapping: Option<String>,
}

impl Imported {
    /// Imported as `print` is now, under the mapping `mapping` (a record
    /// without a mapping print is taken to be).
    pub fn is(&self, print: &Fingerprint, mapping: &str) -> bool {
        self.print == *print && self.mapping.as_deref().is_none_or(|m| m == mapping)
    }
}

fn file_key(scope: &str, path: &Path) -> Vec<u8> {
    let mut k = name_key(FILE, scope, None);
    k.extend_from_slice(path.to_string_lossy().as_bytes());
    k
}

impl Store {
    /// What `scope` last imported of the file at `path`, if anything.
    pub fn imported(&self, scope: &str, path: &Path) -> Result<Option<Imported>, StateError> {
        let inner = &self.inner;
        let key = file_key(scope, path);
        match inner.runs.get(&key).map_err(|e| inner.err(e))? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| inner.bad_record(&key, e)),
        }
    }

    /// Record that run `run_id` read `print`'s file to its end, every batch
    /// of it settled. Not flushed: the run's next save is.
    pub fn record_imported(
        &self,
        scope: &str,
        print: &Fingerprint,
        run_id: &str,
        mapping: Option<&str>,
    ) -> Result<(), StateError> {
        let inner = &self.inner;
        let rec = Imported { print: print.clone(), run_id: run_id.to_string(), mapping: mapping.map(str::to_string) };
        let value = serde_json::to_vec(&rec).expect("a record always serialises");
        inner.runs.insert(file_key(scope, &print.path), value).map_err(|e| inner.err(e))?;
        Ok(())
    }

    /// Forget every file record of `job`, at every destination (`reset`).
    pub fn forget_imported(&self, job: &str) -> Result<bool, StateError> {
        let inner = &self.inner;
        let mut batch = sled::Batch::default();
        let mut had = false;
        for k in inner.runs.scan_prefix(super::scopes_prefix(FILE, job)).keys() {
            batch.remove(k.map_err(|e| inner.err(e))?);
            had = true;
        }
        inner.runs.apply_batch(batch).map_err(|e| inner.err(e))?;
        Ok(had)
    }
}
