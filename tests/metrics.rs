//! `run --metrics-file` and `[job] metrics_file` (issue 28): Prometheus text
//! for node_exporter's textfile collector, read back with a Prometheus parser.

use crate::common::write;
use crate::run::{emulator, run};
use batchport_emulator::Faults;
use std::collections::HashMap;
use std::path::Path;

/// Samples by (name, sorted labels).
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// Every sample of the file: (name, sorted labels) → value, through
/// `prometheus-parse`, with each family's `# TYPE` checked to be a gauge.
fn scrape(path: &Path) -> Samples {
    let text = std::fs::read_to_string(path).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    assert!(!scrape.samples.is_empty(), "{text}");
    let mut out = HashMap::new();
    for s in scrape.samples {
        let prometheus_parse::Value::Gauge(v) = s.value else { panic!("{} is not a gauge: {text}", s.metric) };
        let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.sort();
        assert!(labels.contains(&("job".into(), "it".into())), "{labels:?}");
        assert!(scrape.docs.contains_key(&s.metric), "every family has its HELP: {}", s.metric);
        out.insert((s.metric, labels), v);
    }
    out
}

fn get(m: &Samples, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let mut labels = vec![("job".to_string(), "it".to_string())];
    if let Some((k, v)) = label {
        labels.push((k.to_string(), v.to_string()));
    }
    labels.sort();
    m.get(&(name.to_string(), labels)).copied()
}

#[test]
fn a_run_writes_its_figures_and_a_refused_one_keeps_the_last_success() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    let mut csv = Vec::new();
    batchport_testdata::write_profiles(&mut csv, 400, 11, 0).unwrap();
    write(dir.path(), "users.csv", &csv);
    let api = format!("base_url = \"{}\"\nbatch_size = 100\n", emu.base_url());
    write(dir.path(), "job.toml", batchport_testdata::profiles_job("it", "users.csv", &api));
    let prom = dir.path().join("textfile").join("batchport_it.prom");
    let before = chrono::Utc::now().timestamp() as f64;
    let s = crate::common::json(&run(dir.path(), &["--metrics-file", prom.to_str().unwrap()]));
    assert_eq!(s["metrics_file"].as_str(), prom.to_str(), "{s}");
    let m = scrape(&prom);
    let rows = |o| get(&m, "batchport_rows", Some(("outcome", o)));
    assert_eq!(rows("read"), s["rows_read"].as_f64());
    assert_eq!(rows("sent"), s["rows_sent"].as_f64());
    assert_eq!(rows("rejected"), s["rows_rejected"].as_f64());
    assert_eq!(rows("unchanged"), Some(0.0));
    assert_eq!(get(&m, "batchport_requests", None), s["requests"].as_f64());
    assert_eq!(get(&m, "batchport_requests", None), Some(4.0), "400 rows in calls of 100");
    assert_eq!(get(&m, "batchport_retries", None), Some(0.0));
    assert_eq!(get(&m, "batchport_http_429", None), Some(0.0));
    assert!(get(&m, "batchport_run_duration_seconds", None).unwrap() > 0.0);
    // Under a second of sending is no rate: 0, as the summary's null.
    assert_eq!(
        get(&m, "batchport_rate_achieved_updates_per_second", None),
        Some(s["rate_achieved"].as_f64().unwrap_or(0.0))
    );
    let status = s["status"].as_str().unwrap();
    assert_eq!(get(&m, "batchport_run_status", Some(("status", status))), Some(1.0));
    assert_eq!(get(&m, "batchport_run_status", Some(("status", "refused"))), Some(0.0));
    let success = get(&m, "batchport_last_success_timestamp_seconds", None).unwrap();
    assert!(success >= before - 1.0, "{success} vs {before}");
    let leftovers: Vec<_> =
        std::fs::read_dir(prom.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left beside it: {leftovers:?}");

    // Tomorrow's dump is a tenth: refused. The file says so, and still
    // holds the last success (what an alert on staleness reads).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut small = Vec::new();
    batchport_testdata::write_profiles(&mut small, 40, 12, 0).unwrap();
    write(dir.path(), "users.csv", &small);
    let job = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    let job = job.replacen("[job]\n", "[job]\nmetrics_file = \"textfile/batchport_it.prom\"\n", 1);
    write(dir.path(), "job.toml", job);
    let s = crate::common::json(&run(dir.path(), &[]));
    assert_eq!(s["status"], "refused", "{s}");
    let m = scrape(&prom);
    assert_eq!(get(&m, "batchport_run_status", Some(("status", "refused"))), Some(1.0));
    assert_eq!(get(&m, "batchport_guard_tripped", Some(("guard", "min_rows_share"))), Some(1.0));
    assert_eq!(get(&m, "batchport_guard_tripped", Some(("guard", "refuse_empty"))), Some(0.0));
    assert_eq!(get(&m, "batchport_rows", Some(("outcome", "sent"))), Some(0.0));
    assert_eq!(get(&m, "batchport_last_success_timestamp_seconds", None), Some(success));
    assert!(get(&m, "batchport_last_run_timestamp_seconds", None).unwrap() > success);
}
