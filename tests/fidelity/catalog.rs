//! Catalog jobs end to end: created from the mapping, 5,000 items edited, 100
//! removed, indexing followed; a schema that does not fit and a missing
//! catalog are clear job-level failures, with no storm of split calls.

use super::{cmd, emulator, job, summary};
use crate::common::write;
use batchport_emulator::EmulatorConfig;

const MAPPING: &str = "[mapping]\nitem_id = \"sku\"\n[mapping.attributes]\ntitle = \"title\"\nprice = { column = \"price\", type = \"float\" }\ntags = { column = \"tags\", type = \"array\", separator = \"|\" }\n";

fn items(dir: &std::path::Path, name: &str, range: std::ops::Range<u32>) {
    let mut f = String::from("sku,title,price,tags\n");
    for i in range {
        f.push_str(&format!("sku-{i},Product {i},{}.5,a|b\n", i % 50));
    }
    write(dir, name, f);
}

#[test]
fn a_catalog_is_created_filled_pruned_and_its_indexing_followed() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    items(dir.path(), "all.csv", 0..5_000);
    let create = format!("[catalog]\nname = \"products\"\ncreate = true\n{MAPPING}");
    job(dir.path(), "add.toml", "catalog", &emu.base_url(), "", "all.csv", &create);
    let s = summary(&cmd(dir.path(), "run", "add.toml"), 0);
    // (The rate limits are the limiter's tests; a rare 429 on a loaded machine is retried.)
    assert_eq!(s["rows_sent"].as_u64(), Some(5_000), "{s}");
    let note = s["note"].as_str().unwrap_or_default();
    assert!(note.contains("5000 items") && note.contains("APPLIED"), "indexing observed: {note}");
    assert_eq!(emu.catalog_len("products"), Some(5_000));
    assert_eq!(emu.catalog_item("products", "sku-7").unwrap()["tags"], serde_json::json!(["a", "b"]));

    items(dir.path(), "gone.csv", 0..100);
    let remove = "[catalog]\nname = \"products\"\nmode = \"remove\"\n[mapping]\nitem_id = \"sku\"\n";
    job(dir.path(), "remove.toml", "catalog", &emu.base_url(), "", "gone.csv", remove);
    let s = summary(&cmd(dir.path(), "run", "remove.toml"), 0);
    assert_eq!(s["rows_sent"], 100);
    assert!(s["note"].as_str().unwrap_or_default().contains("4900 items"), "{s}");
    assert!(emu.catalog_item("products", "sku-99").is_none() && emu.catalog_item("products", "sku-100").is_some());
    let views = emu.stats().per_endpoint.get("catalogs/view").copied().unwrap_or(0);
    assert!(views >= 4, "looked up and followed through catalogs/view ({views} calls)");
}

#[test]
fn a_catalog_whose_schema_does_not_fit_is_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    items(dir.path(), "all.csv", 0..10);
    let create = format!("[catalog]\nname = \"products\"\ncreate = true\n{MAPPING}");
    job(dir.path(), "a.toml", "catalog", &emu.base_url(), "", "all.csv", &create);
    summary(&cmd(dir.path(), "run", "a.toml"), 0);
    // The same catalog, mapped with price as a string and a new field.
    let other =
        create.replace("type = \"float\"", "type = \"string\"").replace("title = \"title\"", "name = \"title\"");
    job(dir.path(), "b.toml", "catalog", &emu.base_url(), "", "all.csv", &other);
    let before = emu.stats().per_endpoint.get("catalogs/items/edit").copied();
    let out = cmd(dir.path(), "run", "b.toml");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`price` is mapped as string but the catalog's field is float"), "{err}");
    assert!(err.contains("`name` (column `title`) is not a field"), "{err}");
    assert_eq!(emu.stats().per_endpoint.get("catalogs/items/edit").copied(), before, "nothing sent");
}

#[test]
fn a_missing_catalog_fails_the_job_without_a_storm_of_calls() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default());
    items(dir.path(), "all.csv", 0..600);
    let plain = format!("[catalog]\nname = \"products\"\n{MAPPING}");
    job(dir.path(), "a.toml", "catalog", &emu.base_url(), "", "all.csv", &plain);
    let out = cmd(dir.path(), "run", "a.toml");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("create = true"));
    assert_eq!(emu.stats().requests, 1, "one look-up, no item sent");
}

#[test]
fn the_emulator_creates_no_catalog_on_first_edit_and_answers_not_found() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let emu = emulator(EmulatorConfig::default());
    let c = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        let req = c
            .post(format!("{}/2.11{path}", emu.base_url()))
            .bearer_auth("emulator_rest_key")
            .header("X-Batch-Project", "project_emulator")
            .json(&body);
        rt.block_on(async { req.send().await.unwrap().status().as_u16() })
    };
    let edit = serde_json::json!({"name": "p", "items": [{"id": "a", "action": "add", "attributes": {"x": 1}}]});
    assert_eq!(post("/catalogs/items/edit", edit.clone()), 404);
    assert!(emu.catalog_len("p").is_none());
    let field = |n: String| serde_json::json!({"name": n, "type": "integer"});
    let too_many: Vec<_> = (0..26).map(|i| field(format!("f{i}"))).collect();
    assert_eq!(post("/catalogs/create", serde_json::json!({"name": "p", "fields": too_many})), 400);
    assert_eq!(post("/catalogs/create", serde_json::json!({"name": "p", "fields": [field("x".into())]})), 201);
    let long = serde_json::json!({"name": "q", "fields": [field("a".repeat(250))]});
    assert_eq!(post("/catalogs/create", long), 201, "field names up to 250 characters");
    for n in ["r", "s", "t"] {
        assert_eq!(post("/catalogs/create", serde_json::json!({"name": n, "fields": [field("x".into())]})), 201);
    }
    assert_eq!(post("/catalogs/create", serde_json::json!({"name": "u", "fields": [field("x".into())]})), 400, "<= 5");
    assert_eq!(post("/catalogs/items/edit", edit), 202);
    assert_eq!(post("/catalogs/remove", serde_json::json!({"name": "p"})), 202);
    assert!(emu.catalog_len("p").is_none());
}
