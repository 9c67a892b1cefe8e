//! How many updates/s the emulator absorbs on `/profiles/mass-update`: 10,000
//! operations per call, 15 attributes each, validation on, no rate limit.
//!
//! `cargo run --release --example emulator_load -- [seconds] [concurrency]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use batchport_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

const OPS: usize = 10_000;
const BODIES: usize = 20;

fn body(b: usize) -> Vec<u8> {
    let ops: Vec<_> = (0..OPS)
        .map(|i| {
            let n = b * OPS + i;
            json!({"identifiers": {"custom_id": format!("user-{n:08}")},
                   "attributes": {
                       "$email_address": format!("user{n}@example.com"),
                       "$email_marketing": "subscribed",
                       "$phone_number": "+33639981337",
                       "$language": "fr", "$region": "FR", "$timezone": "Europe/Paris",
                       "first_name": "Jane", "last_name": format!("Doe{n}"),
                       "date(birthdate)": "1989-07-20T00:00:00Z",
                       "url(website)": "https://example.com/jane",
                       "orders": n % 50, "lifetime_value": 123.45, "is_premium": n % 2 == 0,
                       "interests": ["bikes", "cinema"], "city": "Paris"}})
        })
        .collect();
    serde_json::to_vec(&ops).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let config = EmulatorConfig { unlimited: true, ..EmulatorConfig::default() };
        let emu = Emulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let bodies: Arc<Vec<bytes_body::Body>> = Arc::new((0..BODIES).map(|b| body(b).into()).collect());
        let mb = bodies[0].len() as f64 / 1e6;
        println!("{BODIES} bodies of {OPS} ops, {mb:.1} MB each; {concurrency} in flight for {seconds} s");
        let url = format!("{}/2.11/profiles/mass-update", emu.base_url());
        let done = Arc::new(AtomicU64::new(0));
        let cpu0 = cpu_seconds();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..concurrency)
            .map(|t| {
                let (bodies, url, done) = (bodies.clone(), url.clone(), done.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut i = t;
                    while Instant::now() < deadline {
                        let r = client
                            .post(&url)
                            .bearer_auth("emulator_rest_key")
                            .header("X-Batch-Project", "project_emulator")
                            .header("Content-Type", "application/json")
                            .body(bodies[i % BODIES].clone())
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 202);
                        r.bytes().await.unwrap();
                        done.fetch_add(OPS as u64, Ordering::Relaxed);
                        i += concurrency;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let n = done.load(Ordering::Relaxed);
        let s = emu.stats();
        assert_eq!(s.operations, n);
        assert_eq!(s.partial_errors, 0);
        println!("{n} updates in {secs:.2} s: {:.0} updates/s wall ({} profiles stored)", n as f64 / secs, s.profiles);
        // The machine may be shared: CPU time says what 2 free cores would do.
        println!(
            "{cpu:.2} CPU-s used (client and server): {:.0} updates per CPU-second, \
             {:.0} updates/s on 2 dedicated cores",
            n as f64 / cpu,
            2.0 * n as f64 / cpu
        );
    });
}

/// User + system CPU time of this process (Linux), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    // utime and stime are fields 14 and 15; `after` starts at field 3.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

/// Bodies are sent as cheap clones of one buffer.
mod bytes_body {
    pub type Body = axum::body::Bytes;
}
