//! Downloading one file part: a link from `exports/download` (its 307), the
//! file streamed chunk by chunk through the [`Splitter`] into a [`Sink`].
//! A link that has expired (20 minutes) is asked for again; a download cut
//! or refused for a passing reason starts the part over after a backoff, the
//! sink first dropping what it got of it.

use super::request;
use super::split::{SplitError, Splitter};
use crate::service::{blocking, stopped};
use anyhow::{Context as _, Result};
use batchport_api::Endpoint;
use batchport_api::client::{Bytes, Class, Client, Outcome, classify, parse_retry_after};
use batchport_dispatch::retry::{Action, RetryLogic, Transient};
use batchport_dispatch::{Driver, Stop};
use serde_json::Value;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Fresh links asked for one part before giving up: a link refused right after
/// it was given is not an expiry but a broken server.
const MAX_RENEWALS: u32 = 5;

/// Where the records of a part go.
/// Records are handed to it on the blocking pool (it may write files), one
/// chunk of the download at a time.
pub trait Sink: Send + 'static {
    /// Take the part's next record.
    fn record(&mut self, record: &Value) -> Result<()>;
    /// Forget the records of the part so far: it is downloaded again.
    fn restart(&mut self) -> Result<()>;
}

/// How a part's download ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Every record of the part went to the sink; how many.
    Done(u64),
    /// Stopped by Ctrl-C or SIGTERM; the sink was restarted.
    Interrupted,
}

/// Why one attempt at a part failed.
enum Attempt {
    /// The link is no longer valid (410 from the emulator, 403 or 400 from a
    /// pre-signed storage link, 404 once forgotten).
    Expired(u16),
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        reason: String,
    },
    Fatal(anyhow::Error),
}

impl From<SplitError> for Attempt {
    fn from(e: SplitError) -> Self {
        match e {
            // A body that stops early is a cut connection, not a bad file.
            SplitError::Truncated { .. } | SplitError::Unclosed => {
                Attempt::Transient { status: None, retry_after: None, reason: e.to_string() }
            }
            SplitError::Unexpected { .. } => Attempt::Fatal(e.into()),
        }
    }
}

/// What one download attempt means (the download's [`RetryLogic`]).
struct PartLogic;

impl RetryLogic for PartLogic {
    type Input = Result<Fetched, Attempt>;
    /// `Err(status)`: the link expired; ask for a fresh one.
    type Output = Result<Fetched, u16>;
    type Error = anyhow::Error;

    fn classify(&self, input: Self::Input) -> Action<Self::Output, anyhow::Error> {
        match input {
            Ok(fetched) => Action::Done(Ok(fetched)),
            Err(Attempt::Expired(status)) => Action::Done(Err(status)),
            Err(Attempt::Transient { status, retry_after, reason }) => {
                Action::Retry(Transient { status, retry_after, reason, connect: false })
            }
            Err(Attempt::Fatal(e)) => Action::Fail(e),
        }
    }
}

/// Download part `file_id` into `sink`. `link` is one the caller already holds
/// (it may have expired); without it one is asked of `exports/download`.
/// Every request goes through `driver` (retries, 429s, cancellation).
pub async fn part<S: Sink>(
    client: &Client,
    file_id: &str,
    mut link: Option<String>,
    sink: &Arc<Mutex<S>>,
    driver: &Driver,
) -> Result<Fetched> {
    let mut renewals = 0u32;
    let mut tries = driver.attempts(1);
    loop {
        let url = match link.take() {
            Some(l) => l,
            None => ask_link(client, file_id, driver).await?,
        };
        tries.begin().await.map_err(|s: Stop<anyhow::Error>| stopped(s, "download"))?;
        let attempt = stream(client, &url, sink, driver.cancel_token()).await;
        if !matches!(attempt, Ok(Fetched::Done(_))) {
            let s = sink.clone();
            blocking(move || lock(&s).restart()).await?;
        }
        match tries.judge(PartLogic.classify(attempt)).await {
            Ok(Some(Ok(fetched))) => return Ok(fetched),
            Ok(Some(Err(status))) => {
                renewals += 1;
                driver.stats().renewals.fetch_add(1, Relaxed);
                if renewals > MAX_RENEWALS {
                    anyhow::bail!(
                        "part {file_id}: {renewals} download links in a row were refused (HTTP {status}) as soon as given"
                    );
                }
                tracing::info!(file_id, status, "download link expired; asking for a fresh one");
            }
            Ok(None) => tracing::debug!(file_id, "download failed; starting the part over"),
            Err(Stop::Fail(e)) => return Err(e.context(format!("part {file_id}"))),
            Err(stop) => return Err(stopped(stop, &format!("part {file_id}"))),
        }
    }
}

/// The 307's `Location` of `exports/download`, with the API's retries.
async fn ask_link(client: &Client, file_id: &str, driver: &Driver) -> Result<String> {
    let ep = Endpoint::ExportsDownload;
    let link = request::call(ep, driver, || async move {
        match client.download_link(file_id).await {
            Ok(link) => Outcome::Ok { status: 307, body: Bytes::from(link) },
            Err(outcome) => outcome,
        }
    })
    .await?;
    String::from_utf8(link.to_vec()).context("exports/download gave a link that is not text")
}

/// One attempt: GET the link and feed its body, chunk by chunk, to the sink.
async fn stream<S: Sink>(
    client: &Client,
    url: &str,
    sink: &Arc<Mutex<S>>,
    cancel: &CancellationToken,
) -> Result<Fetched, Attempt> {
    let transient = |reason: String| Attempt::Transient { status: None, retry_after: None, reason };
    let mut response = client.http().get(url).send().await.map_err(|e| transient(format!("no answer: {e}")))?;
    let status = response.status().as_u16();
    // Some signed-URL stores answer an expired link with 400 (e.g. "Request has
    // expired"): a fresh link is the cure for all of these, and MAX_RENEWALS
    // stops a store that refuses every link.
    if matches!(status, 400 | 403 | 404 | 410) {
        return Err(Attempt::Expired(status));
    }
    match classify(status) {
        Class::Success => {}
        Class::Retry => {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(Attempt::Transient { status: Some(status), retry_after, reason: format!("HTTP {status}") });
        }
        Class::Unauthorized | Class::Rejected => {
            let body = response.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(Attempt::Fatal(anyhow::anyhow!("the file link answered HTTP {status}: {body}")));
        }
    }
    let mut splitter = Splitter::new();
    let mut records = 0u64;
    loop {
        let chunk = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(Fetched::Interrupted),
            chunk = response.chunk() => chunk,
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(transient(format!("the download was cut: {e}"))),
        };
        // Parsing and writing happen on the blocking pool, a chunk at a time.
        let (s, mut sp) = (sink.clone(), splitter);
        let (sp, counted, fed) = tokio::task::spawn_blocking(move || {
            let mut sink = lock(&s);
            let mut n = records;
            let fed = sp.feed(&chunk, |bytes| {
                let record: Value = serde_json::from_slice(bytes)
                    .map_err(|e| Attempt::Fatal(anyhow::anyhow!("record {} is not valid JSON: {e}", n + 1)))?;
                sink.record(&record).map_err(Attempt::Fatal)?;
                n += 1;
                Ok::<(), Attempt>(())
            });
            (sp, n, fed)
        })
        .await
        .map_err(|e| Attempt::Fatal(anyhow::anyhow!("writing the part stopped: {e}")))?;
        fed?;
        (splitter, records) = (sp, counted);
    }
    splitter.finish()?;
    Ok(Fetched::Done(records))
}

fn lock<S>(sink: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    sink.lock().unwrap_or_else(|e| e.into_inner())
}
