//! `[notify]`: a webhook told how an unattended run ended. The URL comes from
//! the environment variable the job names (it is a secret, like the keys);
//! the body is plain JSON (a one-line message, the events and the summary)
//! or Slack's `{"text": ...}`. It goes through the retry driver (the same
//! backoff as every call, 429 and 5xx retried) with a short timeout and few
//! attempts: a webhook that cannot be reached costs the run seconds at most,
//! never its status; what happened is in the summary's `notifications`.
//! The keys never leave: the summary holds none (the project is a hash), and
//! the body is scrubbed of them all the same.

use crate::report::Summary;
use crate::report::guards::{Notified, Verdict};
use crate::status::Status;
use batchport_dispatch::retry::{Action, RetryLogic, Transient};
use batchport_dispatch::{Driver, Limiter, RetryPolicy, Stop};
use batchport_state::RunStatus;
use batchport_transform::job::{NotifyEvent, NotifyFormat, NotifySettings};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One attempt's wait for an answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Everything a notification may cost the run.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(12);
const POLICY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base: Duration::from_millis(200), cap: Duration::from_secs(1) };

/// The events a run's ending is: what it ended as, and `recovered` for the
/// first success after a failed or refused run (`prior`: the status of the
/// job's run before this attempt).
pub(crate) fn events_of(s: &Summary, prior: Option<RunStatus>) -> Vec<NotifyEvent> {
    if s.nothing_to_do {
        return Vec::new();
    }
    let mut out = Vec::new();
    match s.status {
        Status::Failed => out.push(NotifyEvent::Failed),
        Status::Refused => out.push(NotifyEvent::Refused),
        Status::Interrupted => {}
        Status::Done | Status::DoneWithRejects | Status::DoneWithUncertain => {
            if matches!(prior, Some(RunStatus::Failed | RunStatus::Refused)) {
                out.push(NotifyEvent::Recovered);
            }
            if s.rows_rejected > 0 || s.rows_partial > 0 || s.values_dropped > 0 {
                out.push(NotifyEvent::Rejects);
            }
            if s.rows_uncertain > 0 {
                out.push(NotifyEvent::Uncertain);
            }
        }
    }
    out
}

/// The one line a person reads first.
pub(crate) fn message(s: &Summary, events: &[NotifyEvent]) -> String {
    let status = serde_json::to_value(s.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    let mut m = format!(
        "batchport: {} [{}] {status} ({}): read {}, sent {}, rejected {}, uncertain {}",
        s.job,
        s.run_id,
        names.join(", "),
        s.rows_read,
        s.rows_sent,
        s.rows_rejected,
        s.rows_uncertain
    );
    if let Some(g) = s.guards.iter().find(|g| g.verdict == Verdict::Tripped) {
        m.push_str(&format!("; guard {} tripped: {}", g.name, g.detail));
    } else if let Some(e) = &s.error {
        m.push_str(&format!("; {e}"));
    }
    if let Some(r) = &s.rejects_file {
        m.push_str(&format!("; rejects: {}", r.display()));
    }
    m
}

/// The request body, scrubbed of every secret in `secrets`.
pub(crate) fn body(s: &Summary, events: &[NotifyEvent], format: NotifyFormat, secrets: &[String]) -> String {
    let text = message(s, events);
    let v = match format {
        NotifyFormat::Slack => serde_json::json!({ "text": text }),
        NotifyFormat::Json => serde_json::json!({
            "message": text,
            "events": events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            "summary": s,
        }),
    };
    let mut out = v.to_string();
    for k in secrets.iter().filter(|k| k.len() >= 4) {
        out = out.replace(k.as_str(), "***");
    }
    out
}

/// Tell the webhook of `settings` about `s`, if its ending is an event the
/// job asked for. `None`: nothing to tell.
pub(crate) async fn send(
    settings: &NotifySettings,
    s: &Summary,
    prior: Option<RunStatus>,
    secrets: &[String],
) -> Option<Notified> {
    let events: Vec<NotifyEvent> = events_of(s, prior).into_iter().filter(|e| settings.events.contains(e)).collect();
    if events.is_empty() {
        return None;
    }
    let names: Vec<&'static str> = events.iter().map(|e| e.as_str()).collect();
    let failed =
        |attempts, error: String| Notified { events: names.clone(), delivered: false, attempts, error: Some(error) };
    let Some(url) = std::env::var(&settings.url_env).ok().filter(|u| !u.trim().is_empty()) else {
        return Some(failed(0, format!("notify.url_env {} is not set in the environment", settings.url_env)));
    };
    let url = match reqwest::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        // Never the URL itself in a message: it is a secret.
        _ => return Some(failed(0, format!("{} does not hold an http(s) URL", settings.url_env))),
    };
    let loopback = url.host_str().is_some_and(|h| {
        h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) || h == "[::1]"
    });
    let mut builder = reqwest::Client::builder().timeout(ATTEMPT_TIMEOUT).connect_timeout(Duration::from_secs(3));
    if loopback {
        builder = builder.no_proxy();
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return Some(failed(0, format!("cannot build the webhook client: {}", e.without_url()))),
    };
    let payload = body(s, &events, settings.format, secrets);
    // Its own driver: not the run's limiter, counts or cancellation (the
    // run may have been stopped; its ending is still told).
    let driver = Driver::new(POLICY, Limiter::unlimited(), CancellationToken::new());
    let attempt = || {
        client.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone()).send()
    };
    let outcome = tokio::time::timeout(TOTAL_TIMEOUT, driver.call(&Webhook, 1, attempt)).await;
    let attempts = driver.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
    Some(match outcome {
        Ok(Ok(())) => Notified { events: names, delivered: true, attempts, error: None },
        Ok(Err(Stop::Fail(e))) => failed(attempts, e),
        Ok(Err(stop)) => failed(attempts, format!("the webhook {stop}")),
        Err(_) => failed(attempts, format!("no answer within {} s", TOTAL_TIMEOUT.as_secs())),
    })
}

/// A webhook's answers: 2xx done; 408, 429 and 5xx retried; other 4xx final.
struct Webhook;

impl RetryLogic for Webhook {
    type Input = reqwest::Result<reqwest::Response>;
    type Output = ();
    type Error = String;

    fn classify(&self, input: Self::Input) -> Action<(), String> {
        match input {
            Ok(r) if r.status().is_success() => Action::Done(()),
            Ok(r) if matches!(r.status().as_u16(), 408 | 429) || r.status().is_server_error() => {
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Action::Retry(Transient {
                    status: Some(r.status().as_u16()),
                    retry_after,
                    reason: format!("the webhook answered {}", r.status()),
                    connect: false,
                })
            }
            Ok(r) => Action::Fail(format!("the webhook answered {}", r.status())),
            // `without_url`: the URL is a secret, reqwest's messages name it.
            Err(e) => Action::Retry(Transient {
                status: None,
                retry_after: None,
                connect: e.is_connect(),
                reason: e.without_url().to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: Status) -> Summary {
        let mut s = Summary::new("nightly", "nightly-1");
        s.status = status;
        s
    }

    #[test]
    fn a_run_is_the_events_of_its_ending() {
        assert_eq!(events_of(&summary(Status::Failed), None), [NotifyEvent::Failed]);
        assert_eq!(events_of(&summary(Status::Refused), Some(RunStatus::Done)), [NotifyEvent::Refused]);
        assert!(events_of(&summary(Status::Done), Some(RunStatus::Done)).is_empty());
        assert!(events_of(&summary(Status::Interrupted), Some(RunStatus::Failed)).is_empty());
        assert_eq!(events_of(&summary(Status::Done), Some(RunStatus::Failed)), [NotifyEvent::Recovered]);
        let mut s = summary(Status::DoneWithUncertain);
        (s.rows_rejected, s.rows_uncertain) = (1, 2);
        assert_eq!(
            events_of(&s, Some(RunStatus::Refused)),
            [NotifyEvent::Recovered, NotifyEvent::Rejects, NotifyEvent::Uncertain]
        );
        s.nothing_to_do = true;
        assert!(events_of(&s, Some(RunStatus::Failed)).is_empty(), "an input already imported tells nothing new");
    }

    #[test]
    fn the_body_never_holds_a_key() {
        let mut s = summary(Status::Failed);
        s.error = Some("the server said: bad key sk_live_123456".into());
        for format in [NotifyFormat::Json, NotifyFormat::Slack] {
            let b = body(&s, &[NotifyEvent::Failed], format, &["sk_live_123456".into()]);
            assert!(!b.contains("sk_live_123456") && b.contains("***"), "{b}");
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            let text = v.get("text").or(v.get("message")).and_then(|t| t.as_str()).unwrap();
            assert!(text.starts_with("batchport: nightly [nightly-1] failed (failed)"), "{text}");
        }
    }
}
