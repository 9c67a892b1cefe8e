//! Injected faults, storms, latency, introspection over HTTP, and the
//! background-thread start.

use std::time::{Duration, Instant};

use batchport_emulator::{EmulatorConfig, Faults, Stats};
use serde_json::json;

use super::*;

fn faulty(f: Faults) -> EmulatorConfig {
    EmulatorConfig { faults: f, ..EmulatorConfig::default() }
}

#[tokio::test]
async fn errors_are_not_applied() {
    let emu = start(faulty(Faults { error_rate: 1.0, seed: 1, ..Faults::default() })).await;
    let mut seen = Vec::new();
    for i in 0..20 {
        let got = post(&emu, "/profiles/update", &ops(&format!("f{i}-"), 1, json!({}))).await;
        assert!(got.1["error_code"].is_string());
        seen.push(got.0.as_u16());
    }
    assert!(seen.contains(&500) && seen.contains(&503), "{seen:?}");
    assert_eq!((emu.stats().faults_5xx, emu.stats().operations), (20, 0));
    // Reads are not faulted.
    assert_error(&get(&emu, "/exports/view?id=x").await, 404, "EXPORT_NOT_FOUND");
}

#[tokio::test]
async fn lost_answers_are_applied_but_never_answered() {
    let emu = start(faulty(Faults { lost_answer_rate: 1.0, seed: 1, ..Faults::default() })).await;
    let url = format!("{}/{V}/profiles/update", emu.base_url());
    let sent = authed(client().post(&url)).json(&ops("lost", 1, json!({"a": 1}))).send().await;
    // Either no response at all, or (never expected) a body that fails: no status to trust.
    match sent {
        Err(e) => assert!(!e.is_status(), "{e}"),
        Ok(r) => panic!("got a status {} for a lost answer", r.status()),
    }
    assert_eq!(emu.received("lost0"), 1);
    assert_eq!(emu.stats().lost_answers, 1);
}

#[tokio::test]
async fn seeded_faults_repeat() {
    let run = || async {
        let f = Faults { error_rate: 0.3, lost_answer_rate: 0.2, seed: 42, ..Faults::default() };
        let emu = start(faulty(f)).await;
        let url = format!("{}/{V}/profiles/update", emu.base_url());
        let mut outcomes = Vec::new();
        for i in 0..30 {
            let r = authed(client().post(&url)).json(&ops(&format!("s{i}-"), 1, json!({}))).send().await;
            outcomes.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
        }
        outcomes
    };
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&0) && a.contains(&202) && a.iter().any(|s| *s >= 500), "{a:?}");
}

#[tokio::test]
async fn storms_latency_and_introspection() {
    let emu = start(faulty(Faults { storm_429: Some(Duration::from_secs(3600)), ..Faults::default() })).await;
    assert_error(&post(&emu, "/profiles/update", &ops("s", 1, json!({}))).await, 429, "TOO_MANY_REQUESTS");
    assert_error(&get(&emu, "/audiences/list").await, 429, "TOO_MANY_REQUESTS");
    let http = client();
    let base = emu.base_url();
    let r = http.post(format!("{base}/_emulator/storm?seconds=0")).send().await.unwrap();
    assert!(r.status().is_success());
    assert_eq!(post(&emu, "/profiles/update", &ops("s", 2, json!({"a": 1}))).await.0, StatusCode::ACCEPTED);
    post(&emu, "/profiles/update", &ops("s", 1, json!({}))).await;
    emu.trigger_storm(Duration::from_secs(60));
    assert_eq!(post(&emu, "/profiles/update", &ops("s", 1, json!({}))).await.0, StatusCode::TOO_MANY_REQUESTS);

    let stats: Stats = http.get(format!("{base}/_emulator/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!((stats.http_429, stats.operations, stats.duplicate_ids), (3, 3, 1));
    let p: Value = http.get(format!("{base}/_emulator/profiles/s0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(p["attributes"]["a"], 1);
    let missing = http.get(format!("{base}/_emulator/profiles/zz")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let one: Value = http.get(format!("{base}/_emulator/received/s0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(one, json!({"count": 2}));
    let all: Value = http.get(format!("{base}/_emulator/received")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all, json!({"s0": 2, "s1": 1}));
    let r = http.post(format!("{base}/_emulator/reset")).send().await.unwrap();
    assert!(r.status().is_success());
    assert_eq!(emu.stats().requests, 0);
    assert!(emu.profile("s0").is_none());
    // The reset also ended the storm.
    assert_eq!(post(&emu, "/profiles/update", &ops("s", 1, json!({}))).await.0, StatusCode::ACCEPTED);

    let slow = start(faulty(Faults { latency: Duration::from_millis(40), ..Faults::default() })).await;
    let t = Instant::now();
    get(&slow, "/audiences/list").await;
    assert!(t.elapsed() >= Duration::from_millis(40));
}

#[test]
fn background_start_serves_sync_callers() {
    let emu = Emulator::start_background(EmulatorConfig::default()).unwrap();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let got = rt.block_on(post(&emu, "/profiles/mass-update", &ops("bg", 3, json!({"a": 1}))));
    assert_eq!(got.0, StatusCode::ACCEPTED);
    assert_eq!(emu.received("bg2"), 1);
    emu.shutdown();
}

#[tokio::test]
async fn jitter_delays_every_call_and_a_shared_bucket_refills_at_what_is_left() {
    // 1,000/s with another client taking 900/s: 100/s left to us.
    let config = EmulatorConfig {
        mass_update_rate: Some((1_000, 1_000)),
        shared_rate: 900,
        faults: Faults { jitter: Duration::from_millis(60), seed: 5, ..Faults::default() },
        ..EmulatorConfig::default()
    };
    let emu = start(config).await;
    let t = Instant::now();
    assert_eq!(post(&emu, "/profiles/mass-update", &ops("a", 1_000, json!({}))).await.0.as_u16(), 202);
    assert_eq!(post(&emu, "/profiles/mass-update", &ops("b", 50, json!({}))).await.0.as_u16(), 429);
    // Each call waited 30–90 ms before reaching the bucket.
    let two = t.elapsed();
    assert!(two >= Duration::from_millis(60) && two < Duration::from_secs(1), "{two:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    // About 60 more tokens (not 600): 50 pass, another 50 do not.
    assert_eq!(post(&emu, "/profiles/mass-update", &ops("c", 50, json!({}))).await.0.as_u16(), 202);
    assert_eq!(post(&emu, "/profiles/mass-update", &ops("d", 50, json!({}))).await.0.as_u16(), 429);
    assert_eq!(emu.stats().http_429, 2);
}
