//! Reading one object as a `Read + Seek` byte stream, with flat memory:
//! - each GET streams into a small bounded channel (read-ahead of a few
//!   network chunks), never into a buffer the size of the object;
//! - the first GET asks only for the head window ([`HEAD_WINDOW`]): what
//!   encoding and delimiter sniffing and the header row need. The rest is
//!   asked for only when the reader gets there, so a resume that seeks to the
//!   settled byte offset fetches the head window and then only the remaining
//!   range, never the part of the object already done;
//! - every GET sends `If-Match` with the ETag the run pinned, and every
//!   answer's ETag is checked too (some S3-compatible servers
//!   ignore `If-Match`): an object replaced mid-run fails the run, it is
//!   never read half old, half new;
//! - a failed GET or a connection lost mid-body is retried through the retry
//!   driver (`dispatch::retry`, backoff with jitter) with a range from the
//!   next byte not yet handed out.
//!
//! The reader blocks: it is used by the CSV parser on blocking threads (the
//! engine's blocking pool, `validate`, `init`), never on an async worker.

use std::io::{self, Read, Seek, SeekFrom};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{GetOptions, GetRange};
use tokio::sync::mpsc;

use super::{Object, Store, StoreError, io_err, permanent, stopped, transient};
use batchport_dispatch::retry::{Action, RetryLogic, Stop};

/// The first GET of an object: enough for the encoding sniff (64 KiB of
/// text) and the header row in all but odd files; more is fetched on demand.
pub(crate) const HEAD_WINDOW: u64 = 128 * 1024;
/// Network chunks read ahead of the parser.
const READ_AHEAD: usize = 4;

/// One object, read at the version the run pinned.
pub(crate) struct ObjectReader {
    store: Store,
    obj: Object,
    key: String,
    /// Offset of the next byte `read` hands out.
    pos: u64,
    /// The chunk being handed out and the offset of its first byte.
    chunk: Bytes,
    chunk_at: u64,
    /// The GET in progress: it delivers bytes from `next_at` on.
    body: Option<(mpsc::Receiver<Result<Bytes, StoreError>>, u64)>,
    /// Whether the first GET (the head window) was made.
    started: bool,
}

impl ObjectReader {
    /// A reader of `obj` (as listed or HEADed: its size and pinned ETag) in
    /// `store`; nothing is fetched before the first read.
    pub(crate) fn new(store: Store, obj: Object) -> Result<ObjectReader, StoreError> {
        let key = super::Location::parse(&obj.url)?.key;
        Ok(ObjectReader { store, obj, key, pos: 0, chunk: Bytes::new(), chunk_at: 0, body: None, started: false })
    }

    /// Start a GET of `[from, to)` (`to` = the end when `None`).
    fn start(&mut self, from: u64, to: Option<u64>) {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let get = Get { store: self.store.clone(), obj: self.obj.clone(), key: self.key.clone(), from, to };
        super::runtime().spawn(get.pump(tx));
        self.body = Some((rx, from));
    }

    /// The next chunk at `self.pos`, or `None` at the end of the object.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            if self.pos >= self.obj.size {
                return Ok(false);
            }
            let at = self.pos;
            match &mut self.body {
                Some((_, next)) if *next == at => {}
                _ => {
                    // First read: the head window only; later: the rest.
                    let to = (!self.started).then_some(HEAD_WINDOW.min(self.obj.size));
                    self.started = true;
                    self.start(at, to.filter(|&t| t > at));
                }
            }
            let (rx, next) = self.body.as_mut().expect("a GET was just started");
            match rx.blocking_recv() {
                Some(Ok(bytes)) => {
                    *next += bytes.len() as u64;
                    self.chunk_at = at;
                    self.chunk = bytes;
                    if !self.chunk.is_empty() {
                        return Ok(true);
                    }
                }
                Some(Err(e)) => {
                    self.body = None;
                    return Err(io::Error::other(e));
                }
                // This GET ended (its range is done): the next one starts at `pos`.
                None => self.body = None,
            }
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let in_chunk = self.pos.checked_sub(self.chunk_at).filter(|&o| o < self.chunk.len() as u64);
        let offset = match in_chunk {
            Some(o) => o as usize,
            None => {
                if !self.fill()? {
                    return Ok(0);
                }
                0
            }
        };
        let avail = &self.chunk[offset..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    /// Seeking within the chunk in hand is free; anywhere else, the next read
    /// starts a ranged GET there.
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.obj.size.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the object"))?;
        self.pos = target;
        Ok(target)
    }
}

/// One GET of a range, retried by the driver from the first byte not sent on.
struct Get {
    store: Store,
    obj: Object,
    key: String,
    from: u64,
    to: Option<u64>,
}

struct ReadLogic<'a> {
    url: &'a str,
    pinned: Option<&'a str>,
}

impl RetryLogic for ReadLogic<'_> {
    type Input = Result<object_store::GetResult, object_store::Error>;
    type Output = object_store::GetResult;
    type Error = StoreError;

    fn classify(&self, input: Self::Input) -> Action<Self::Output, StoreError> {
        match input {
            Ok(got) => match (self.pinned, got.meta.e_tag.as_deref()) {
                (Some(p), Some(now)) if p != now => Action::Fail(StoreError::Changed {
                    url: self.url.to_string(),
                    pinned: p.to_string(),
                    now: now.to_string(),
                }),
                _ => Action::Done(got),
            },
            Err(object_store::Error::Precondition { .. }) => Action::Fail(StoreError::Changed {
                url: self.url.to_string(),
                pinned: self.pinned.unwrap_or("?").to_string(),
                now: "another".to_string(),
            }),
            Err(e) if permanent(&e) => Action::Fail(io_err(self.url, e)),
            Err(e) => Action::Retry(transient(e.to_string())),
        }
    }
}

impl Get {
    /// Send the range's bytes in order; stop when the reader is gone.
    async fn pump(self, tx: mpsc::Sender<Result<Bytes, StoreError>>) {
        let driver = super::driver();
        let url = self.obj.url.clone();
        let logic = ReadLogic { url: &url, pinned: self.obj.etag.as_deref() };
        let mut at = self.from;
        let mut tries = driver.attempts(1);
        let result: Result<(), Stop<StoreError>> = async {
            loop {
                if self.to.is_some_and(|to| at >= to) || at >= self.obj.size {
                    return Ok(());
                }
                tries.begin().await?;
                let range = match self.to {
                    Some(to) => GetRange::Bounded(at..to),
                    None => GetRange::Offset(at),
                };
                let opts = GetOptions { if_match: self.obj.etag.clone(), range: Some(range), ..Default::default() };
                let got = self.store.inner.get_opts(&self.store.path(&self.key), opts).await;
                let Some(got) = tries.judge(logic.classify(got)).await? else { continue };
                let started_at = at;
                let mut stream = got.into_stream();
                let mut failed = None;
                while let Some(next) = stream.next().await {
                    match next {
                        Ok(bytes) => {
                            at += bytes.len() as u64;
                            if tx.send(Ok(bytes)).await.is_err() {
                                return Ok(()); // the reader moved on
                            }
                        }
                        Err(e) => {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
                let end = self.to.unwrap_or(self.obj.size);
                match failed {
                    None if at >= end => return Ok(()),
                    None => failed = Some(format!("the body ended at byte {at} of {end}")),
                    Some(_) => {}
                }
                let reason = failed.unwrap_or_default();
                // A connection that delivered bytes before it broke is not
                // one more failure of the same attempt: the retry budget is
                // for a store that gives nothing, not for a long read over a
                // network that drops now and then.
                if at > started_at {
                    tries = driver.attempts(1);
                }
                tries.judge::<(), StoreError>(Action::Retry(transient(reason))).await?;
            }
        }
        .await;
        if let Err(stop) = result {
            let _ = tx.send(Err(stopped(&url, stop))).await;
        }
    }
}
