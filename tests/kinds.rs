//! Events, audiences and catalogs end to end against the emulator: everything
//! arrives once, within each call's limits, with the summary saying what Batch holds.

use crate::common::{bin, json, write};
use batchport_emulator::{Emulator, EmulatorConfig};
use std::path::Path;
use std::process::Output;

fn emulator() -> Emulator {
    Emulator::start_background(EmulatorConfig {
        indexing_delay: std::time::Duration::from_millis(50),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn run(dir: &Path, job: &str) -> Output {
    bin()
        .args(["run", job, "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator")
        .env("BATCHPORT_POLL_MS", "20")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> serde_json::Value {
    assert!(matches!(out.status.code(), Some(0)), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    json(out)
}

#[test]
fn events_are_grouped_per_custom_id_at_most_fifteen_per_call_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let mut f = String::from("id,event,amount,when\n");
    for i in 0..3_000 {
        // Recent times: Batch refuses events older than 24 h.
        let at = chrono::Utc::now() - chrono::Duration::hours(1) + chrono::Duration::seconds(i);
        f.push_str(&format!("c{},purchase,{}.5,{}\n", i % 100, i, at.to_rfc3339()));
    }
    write(dir.path(), "events.csv", f);
    write(
        dir.path(),
        "events.toml",
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\nendpoint = \"update\"\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = {{ column = \"when\" }}\n[mapping.event_attributes]\namount = {{ column = \"amount\", type = \"float\" }}\n",
            emu.base_url()
        ),
    );
    let s = ok(&run(dir.path(), "events.toml"));
    assert_eq!(s["rows_sent"], 3_000, "{s}");
    assert_eq!(emu.stats().partial_errors, 0, "no call broke the 15-events rule");
    for id in ["c0", "c57", "c99"] {
        let p = emu.profile(id).unwrap();
        let amounts: Vec<f64> =
            p["events"].as_array().unwrap().iter().map(|e| e["attributes"]["amount"].as_f64().unwrap()).collect();
        assert_eq!(amounts.len(), 30, "{id}");
        assert!(amounts.windows(2).all(|w| w[0] < w[1]), "{id}: events keep their order");
    }
}

fn ids_file(dir: &Path, name: &str, ids: impl Iterator<Item = u32>) {
    let mut f = String::from("user,tier\n");
    for i in ids {
        f.push_str(&format!("u{i},{}\n", if i % 2 == 0 { "gold" } else { "silver" }));
    }
    write(dir, name, f);
}

fn audience_job(dir: &Path, emu: &Emulator, file: &str, csv: &str, mode: &str) {
    let attrs = if mode == "remove" { "" } else { "[mapping.attributes]\ntier = \"tier\"\n" };
    write(
        dir,
        file,
        format!(
            "[job]\nname = \"{file}\"\nkind = \"audience\"\n[api]\nbase_url = \"{}\"\n[audience]\nname = \"vip\"\ndisplay_name = \"VIP\"\ncreate = true\nmode = \"{mode}\"\n[source]\npath = \"{csv}\"\n[mapping]\ncustom_id = \"user\"\n{attrs}",
            emu.base_url()
        ),
    );
}

#[test]
fn audiences_are_created_added_to_replaced_and_removed_from() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    ids_file(dir.path(), "all.csv", 0..25_000);
    audience_job(dir.path(), &emu, "add.toml", "all.csv", "add");
    let s = ok(&run(dir.path(), "add.toml"));
    assert_eq!(s["rows_sent"], 25_000);
    assert_eq!(s["requests"], 3, "10,000 ids per call");
    assert!(s["note"].as_str().unwrap().contains("25000 ids"), "{s}");
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 25_000);

    // Replace: the first call replaces, the next ones add.
    ids_file(dir.path(), "new.csv", 100_000..112_000);
    audience_job(dir.path(), &emu, "replace.toml", "new.csv", "replace");
    let s = ok(&run(dir.path(), "replace.toml"));
    assert_eq!(s["rows_sent"], 12_000);
    let mut ids = emu.audience_ids("vip").unwrap();
    ids.sort();
    assert_eq!(ids.len(), 12_000, "nothing of the old content is left");
    assert!(ids.iter().all(|i| i.as_str() >= "u100000"));

    ids_file(dir.path(), "gone.csv", 100_000..100_500);
    audience_job(dir.path(), &emu, "remove.toml", "gone.csv", "remove");
    ok(&run(dir.path(), "remove.toml"));
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 11_500);
}

#[test]
fn a_missing_audience_without_create_is_a_clear_failure() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    ids_file(dir.path(), "all.csv", 0..10);
    audience_job(dir.path(), &emu, "add.toml", "all.csv", "add");
    let text = std::fs::read_to_string(dir.path().join("add.toml")).unwrap().replace("create = true", "create = false");
    write(dir.path(), "add.toml", text);
    let out = run(dir.path(), "add.toml");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("create = true"));
}

#[test]
fn catalog_items_arrive_within_the_call_and_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator();
    let mut f = String::from("sku,title,price,released\n");
    for i in 0..900 {
        f.push_str(&format!("sku-{i},Product {i},{}.99,2026-01-{:02}\n", i % 100, i % 28 + 1));
    }
    write(dir.path(), "items.csv", f);
    write(
        dir.path(),
        "catalog.toml",
        format!(
            "[job]\nname = \"cat\"\nkind = \"catalog\"\n[api]\nbase_url = \"{}\"\n[catalog]\nname = \"products\"\ncreate = true\n[source]\npath = \"items.csv\"\n[mapping]\nitem_id = \"sku\"\n[mapping.attributes]\ntitle = \"title\"\nprice = {{ column = \"price\", type = \"float\" }}\nreleased = {{ column = \"released\", type = \"date\" }}\n",
            emu.base_url()
        ),
    );
    let s = ok(&run(dir.path(), "catalog.toml"));
    assert_eq!(s["rows_sent"], 900);
    assert_eq!(s["http_429"], 0, "the limiter kept to 5 requests/s and 1,000 items/s");
    assert!(emu.stats().max_ops_in_call <= 200);
    let item = emu.catalog_item("products", "sku-42").unwrap();
    assert_eq!(item["price"], 42.99, "{item}");
    assert_eq!(item["date(released)"], "2026-01-15T00:00:00Z");
}
