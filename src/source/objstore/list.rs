//! Globs over object listings: `s3://bucket/exports/users-*.csv.gz` lists
//! the objects under `exports/`, keeps the keys the glob matches (`*` and
//! `?` never cross a `/`, as for files), sorted by key, each with what
//! fingerprints it: ETag, size, last-modified.

use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};

use super::{Access, Store, StoreError, connect};

/// One object, as the run records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub(crate) url: String,
    pub(crate) size: u64,
    /// Some stores list without it (then it is asked for with a HEAD); a
    /// store that never gives one is read without the change check.
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: DateTime<Utc>,
}

/// The objects `pattern` names: a glob matches at least one object, a plain
/// URL must exist.
pub(crate) fn expand(pattern: &str, access: &Access) -> Result<Vec<Object>, StoreError> {
    let store = connect(pattern, access)?;
    let key = store.loc.key.clone();
    let Some(first_glob) = key.find(['*', '?', '[']) else {
        return Ok(vec![head(pattern, access)?]);
    };
    let glob = glob::Pattern::new(&key)
        .map_err(|e| StoreError::BadUrl { url: pattern.to_string(), reason: format!("bad glob: {}", e.msg) })?;
    // List the folder the glob starts in (object_store prefixes are whole segments).
    let dir = key[..first_glob].rsplit_once('/').map(|(d, _)| d.to_string());
    let url = pattern.to_string();
    let mut objects = super::block_on({
        let store = store.clone();
        async move {
            let prefix = dir.map(|d| store.path(&d));
            // A listing cut midway is asked for again whole.
            let metas = super::retried(&url, || {
                let listing = store.inner.list(prefix.as_ref());
                listing.collect::<Vec<_>>().map(|all| all.into_iter().collect::<Result<Vec<_>, _>>())
            })
            .await?;
            let opts = glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: false,
            };
            let mut found = Vec::new();
            for meta in metas {
                if glob.matches_with(meta.location.as_ref(), opts) {
                    found.push(Object {
                        url: store.loc.url(meta.location.as_ref()),
                        size: meta.size,
                        etag: meta.e_tag,
                        last_modified: meta.last_modified,
                    });
                }
            }
            Ok::<_, StoreError>(found)
        }
    })?;
    if objects.is_empty() {
        return Err(StoreError::NoMatch { pattern: pattern.to_string() });
    }
    objects.sort_by(|a, b| a.url.cmp(&b.url));
    for o in &mut objects {
        if o.etag.is_none() {
            *o = head_in(&store, &o.url)?;
        }
    }
    Ok(objects)
}

/// One object's metadata.
pub fn head(url: &str, access: &Access) -> Result<Object, StoreError> {
    let store = connect(url, access)?;
    head_in(&store, url)
}

fn head_in(store: &Store, url: &str) -> Result<Object, StoreError> {
    let loc = super::Location::parse(url)?;
    let (store, url) = (store.clone(), url.to_string());
    super::block_on(async move {
        let path = store.path(&loc.key);
        let meta = super::retried(&url, || object_store::ObjectStoreExt::head(store.inner.as_ref(), &path)).await?;
        Ok(Object { url, size: meta.size, etag: meta.e_tag, last_modified: meta.last_modified })
    })
}
