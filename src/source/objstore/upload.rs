//! Export output to an object store: the export is written to a local temp
//! file as usual (synced part by part, so a killed run resumes it), then sent
//! as one multipart upload. The object appears only when the upload is
//! completed, after the last part: a reader of `s3://.../users.csv` never
//! sees half an export, and a failed upload is aborted (no orphan parts
//! billed).

use std::io::Read;
use std::path::Path;

use object_store::{ObjectStoreExt, WriteMultipart};

use super::{Access, StoreError, connect, io_err};

/// Parts of 16 MiB: 10,000 parts (the S3 limit) reach 160 GB.
const PART: usize = 16 * 1024 * 1024;
/// Parts in flight at once; memory stays at about `PART * (IN_FLIGHT + 1)`.
const IN_FLIGHT: usize = 2;

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub(crate) url: String,
    pub(crate) bytes: u64,
    pub(crate) etag: Option<String>,
}

/// Upload the file at `local` to `url`, completing the upload only when every
/// byte is in.
pub fn upload(local: &Path, url: &str, access: &Access) -> Result<Upload, StoreError> {
    let store = connect(url, access)?;
    let key = super::Location::parse(url)?.key;
    if key.is_empty() || key.ends_with('/') {
        return Err(StoreError::BadUrl { url: url.to_string(), reason: "give the object's full name".into() });
    }
    let fail = |reason: String| StoreError::Io { url: url.to_string(), reason };
    let mut file = std::fs::File::open(local).map_err(|e| fail(format!("cannot read {}: {e}", local.display())))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(1);
    let owned_url = url.to_string();
    // The upload runs on the store runtime; this thread reads the file.
    let task = super::runtime().spawn(async move {
        let path = store.path(&key);
        let upload = store.inner.put_multipart(&path).await.map_err(|e| io_err(&owned_url, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut bytes = 0u64;
        while let Some(chunk) = rx.recv().await {
            bytes += chunk.len() as u64;
            if let Err(e) = w.wait_for_capacity(IN_FLIGHT).await {
                let _ = w.abort().await;
                return Err(io_err(&owned_url, e));
            }
            w.put(chunk);
        }
        let done = w.finish().await.map_err(|e| io_err(&owned_url, e))?;
        Ok(Upload { url: owned_url, bytes, etag: done.e_tag })
    });
    let mut buf = vec![0u8; 1024 * 1024];
    let mut read_err = None;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tx.blocking_send(bytes::Bytes::copy_from_slice(&buf[..n])).is_err() {
                    break; // the upload failed: its error is below
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                read_err = Some(e);
                break;
            }
        }
    }
    if let Some(e) = read_err {
        task.abort(); // dropping the upload unfinished never completes it
        return Err(fail(format!("cannot read {}: {e}", local.display())));
    }
    drop(tx);
    super::block_on(task).map_err(|e| fail(format!("the upload stopped: {e}")))?
}
