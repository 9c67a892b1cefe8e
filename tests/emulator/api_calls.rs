//! Audiences, catalogs and exports.

use std::time::Duration;

use batchport_emulator::EmulatorConfig;
use serde_json::json;

use super::*;

#[tokio::test]
async fn audiences_lifecycle() {
    // Indexing long enough that the view right after the create still sees
    // it under way on a loaded machine; the update's end is polled for.
    let emu = start(EmulatorConfig { indexing_delay: Duration::from_millis(1_500), ..quick() }).await;
    let create = json!({"name": "vip", "display_name": "VIP", "type": "custom_ids"});
    let (status, created) = post(&emu, "/audiences/create", &create).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = created["indexing_token"].as_str().unwrap().to_string();
    assert_error(&post(&emu, "/audiences/create", &create).await, 400, "BAD_REQUEST");
    let (_, view) = get(&emu, &format!("/audiences/view?name=vip&indexing_token={token}")).await;
    assert_eq!(view["indexing_state"], "IN_PROGRESS");
    assert_eq!((view["type"].as_str(), view["display_name"].as_str()), (Some("CUSTOM_ID"), Some("VIP")));

    let update = json!({"name": "vip", "ids": [
        {"action": "add", "id": "u1", "attributes": {"tier": "gold"}},
        {"action": "add", "id": "u2"}, {"action": "add", "id": "u3"},
        {"action": "remove", "id": "u2"}, {"action": "add", "id": "u3"}]});
    let (_, upd) = post(&emu, "/audiences/update", &update).await;
    assert_eq!(emu.audience_ids("vip").unwrap(), ["u1", "u3"]);
    let viewed = format!("/audiences/view?name=vip&indexing_token={}", upd["indexing_token"].as_str().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let view = loop {
        let (_, view) = get(&emu, &viewed).await;
        if view["indexing_state"] != "IN_PROGRESS" || std::time::Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((view["indexing_state"].as_str(), view["nb_ids"].as_u64()), (Some("APPLIED"), Some(2)));

    let replace = json!({"name": "vip", "ids": [{"id": "r1"}, {"id": "r2", "attributes": {"n": 1}}]});
    assert_eq!(post(&emu, "/audiences/replace", &replace).await.0, StatusCode::ACCEPTED);
    assert_eq!(emu.audience_ids("vip").unwrap(), ["r1", "r2"]);
    let (_, old) = get(&emu, &format!("/audiences/view?name=vip&indexing_token={token}")).await;
    assert_eq!(old["indexing_state"], "REPLACED");

    // Bad calls.
    let bad_name = json!({"name": "no spaces", "type": "custom_ids"});
    assert_error(&post(&emu, "/audiences/create", &bad_name).await, 400, "BAD_REQUEST");
    let attrs_on_remove = json!({"name": "vip", "ids": [{"action": "remove", "id": "r1", "attributes": {"a": 1}}]});
    assert_error(&post(&emu, "/audiences/update", &attrs_on_remove).await, 400, "BAD_REQUEST");
    let bad_attr =
        json!({"name": "vip", "ids": [{"action": "add", "id": "r1", "attributes": {"$email_address": "a@b.co"}}]});
    assert_error(&post(&emu, "/audiences/update", &bad_attr).await, 400, "BAD_REQUEST");
    let missing = json!({"name": "ghost", "ids": [{"action": "add", "id": "x"}]});
    assert_error(&post(&emu, "/audiences/update", &missing).await, 404, "AUDIENCE_NOT_FOUND");
    let ids: Vec<Value> = (0..10_001).map(|i| json!({"id": format!("i{i}")})).collect();
    assert_error(&post(&emu, "/audiences/replace", &json!({"name": "vip", "ids": ids})).await, 400, "BAD_REQUEST");

    // List pages by name, then remove.
    post(&emu, "/audiences/create", &json!({"name": "alpha", "display_name": "A", "type": "custom_ids"})).await;
    let (_, page) = get(&emu, "/audiences/list?limit=1").await;
    assert_eq!((page["audiences"][0]["name"].as_str(), page["has_more"].as_bool()), (Some("alpha"), Some(true)));
    let (_, page2) = get(&emu, &format!("/audiences/list?limit=1&from={}", page["next_from"].as_str().unwrap())).await;
    assert_eq!((page2["audiences"][0]["name"].as_str(), page2["has_more"].as_bool()), (Some("vip"), Some(false)));
    assert_error(&get(&emu, "/audiences/list?limit=101").await, 400, "BAD_REQUEST");
    assert_eq!(post(&emu, "/audiences/remove", &json!({"name": "vip"})).await.0, StatusCode::ACCEPTED);
    assert_error(&get(&emu, "/audiences/view?name=vip").await, 404, "AUDIENCE_NOT_FOUND");
}

#[tokio::test]
async fn audience_rate_is_enforced_only_when_configured() {
    let emu = start(EmulatorConfig { audience_rate: Some((1, 1)), ..EmulatorConfig::default() }).await;
    let create = |n: &str| json!({"name": n, "display_name": n, "type": "custom_ids"});
    assert_eq!(post(&emu, "/audiences/create", &create("a")).await.0, StatusCode::ACCEPTED);
    assert_error(&post(&emu, "/audiences/create", &create("b")).await, 429, "TOO_MANY_REQUESTS");
    let free = start(EmulatorConfig::default()).await;
    for n in ["a", "b", "c"] {
        assert_eq!(post(&free, "/audiences/create", &create(n)).await.0, StatusCode::ACCEPTED);
    }
}

#[tokio::test]
async fn catalog_items_edit() {
    let emu = start(EmulatorConfig::default()).await;
    let fields = json!([{"name": "price", "type": "float"}, {"name": "title", "type": "string"},
        {"name": "released", "type": "date"}, {"name": "page", "type": "url"}, {"name": "tags", "type": "array"}]);
    for name in ["products", "p"] {
        let (status, _) = post(&emu, "/catalogs/create", &json!({"name": name, "fields": fields})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let add = json!({"name": "products", "items": [
        {"id": "sku1", "action": "add", "attributes": {"price": 9.5, "title": "Pumpkin",
            "date(released)": 1700000000, "url(page)": "https://e.com/p", "tags": ["a", "b"]}},
        {"id": "sku2", "action": "add", "attributes": {"price": 1}}]});
    let (status, body) = post(&emu, "/catalogs/items/edit", &add).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(body["indexing_token"].is_string());
    let edit = json!({"name": "products", "items": [
        {"id": "sku1", "action": "update", "attributes": {"price": 8, "title": null}},
        {"id": "sku2", "action": "remove"}]});
    assert_eq!(post(&emu, "/catalogs/items/edit", &edit).await.0, StatusCode::ACCEPTED);
    let item = emu.catalog_item("products", "sku1").unwrap();
    assert_eq!((item["price"].as_i64(), item.get("title")), (Some(8), None));
    assert!(emu.catalog_item("products", "sku2").is_none());

    for bad in [
        json!({"name": "products", "items": [{"id": "x", "action": "add", "attributes": {"Bad": 1}}]}),
        json!({"name": "products", "items": [{"id": "x", "action": "add", "attributes": {"t": vec!["x"; 16]}}]}),
        json!({"name": "products", "items": [{"id": "x", "action": "explode", "attributes": {}}]}),
        json!({"name": "products", "items": []}),
    ] {
        assert_error(&post(&emu, "/catalogs/items/edit", &bad).await, 400, "BAD_REQUEST");
    }
    let items: Vec<Value> =
        (0..201).map(|i| json!({"id": format!("s{i}"), "action": "add", "attributes": {}})).collect();
    assert_error(&post(&emu, "/catalogs/items/edit", &json!({"name": "p", "items": items})).await, 400, "BAD_REQUEST");
    // 5 requests/s, burst 5: refused calls took nothing, so after the first two
    // accepted calls three more fit, then 429.
    let one = json!({"name": "p", "items": [{"id": "s", "action": "add", "attributes": {}}]});
    for _ in 0..3 {
        assert_eq!(post(&emu, "/catalogs/items/edit", &one).await.0, StatusCode::ACCEPTED);
    }
    assert_error(&post(&emu, "/catalogs/items/edit", &one).await, 429, "TOO_MANY_REQUESTS");
}

async fn fetch_records(emu: &Emulator, files: &[Value]) -> (Vec<Value>, Vec<bool>) {
    let mut records = Vec::new();
    let mut arrays = Vec::new();
    for f in files {
        let r =
            authed(client().get(format!("{}/{V}/exports/download?id={}", emu.base_url(), f["id"].as_str().unwrap())))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let text = client().get(&location).send().await.unwrap().text().await.unwrap();
        assert_eq!(text.len() as u64, f["size"].as_u64().unwrap());
        if text.trim_start().starts_with('[') {
            arrays.push(true);
            records.extend(serde_json::from_str::<Vec<Value>>(&text).unwrap());
        } else {
            arrays.push(false);
            records.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
        }
    }
    (records, arrays)
}

#[tokio::test]
async fn exports_run_and_produce_multi_part_files() {
    let emu = start(EmulatorConfig { export_part_size: 2, ..quick() }).await;
    let body = ops(
        "e",
        5,
        json!({"$email_address": "a@b.co", "firstname": "Jo", "date(birth)": "2000-01-01T00:00:00Z", "secret": 1}),
    );
    post(&emu, "/profiles/update", &body).await;
    let request = json!({"export_type": "ATTRIBUTES", "attributes": ["$email_address", "firstname", "birth"],
                         "identifiers": ["custom_id"], "filter": {"segment": "ALL"}});
    let (status, created) = post(&emu, "/profiles/export", &request).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("export_"));
    let (_, view) = get(&emu, &format!("/exports/view?id={id}")).await;
    assert_eq!((view["status"].as_str(), view["files"].as_array().map(Vec::len)), (Some("CREATED"), Some(0)));
    assert_eq!(view["request"], request);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, view) = get(&emu, &format!("/exports/view?id={id}")).await;
    assert_eq!(view["status"], "SUCCESS");
    let files = view["files"].as_array().unwrap().clone();
    assert_eq!(files.iter().map(|f| f["part"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    let (records, arrays) = fetch_records(&emu, &files).await;
    assert_eq!(records.len(), 5);
    assert!(arrays.contains(&true) && arrays.contains(&false), "{arrays:?}");
    for r in &records {
        assert!(r["identifiers"]["custom_id"].as_str().unwrap().starts_with('e'));
        assert_eq!(
            r["attributes"],
            json!({"$email_address": "a@b.co", "firstname": "Jo", "birth": "2000-01-01T00:00:00Z"})
        );
    }
    let (_, list) = get(&emu, "/exports/list?limit=10").await;
    assert_eq!((list["count"].as_u64(), list["exports"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
    assert_error(&get(&emu, "/exports/view?id=export_nope").await, 404, "EXPORT_NOT_FOUND");
    assert_error(&get(&emu, "/exports/download?id=file_nope").await, 404, "FILE_NOT_FOUND");
}

#[tokio::test]
async fn export_requests_are_checked_and_can_fail_or_expire() {
    let emu = start(EmulatorConfig { export_duration: Duration::ZERO, link_ttl: Duration::ZERO, ..quick() }).await;
    let old = (chrono::Utc::now() - chrono::Duration::days(100)).format("%Y-%m-%d").to_string();
    for bad in [
        json!({"export_type": "ATTRIBUTES"}),
        json!({"export_type": "NOPE", "attributes": ["a"]}),
        json!({"export_type": "ATTRIBUTES", "identifiers": ["email"]}),
        json!({"export_type": "EVENTS"}),
        json!({"export_type": "REACHABILITY", "from": old}),
    ] {
        assert_error(&post(&emu, "/profiles/export", &bad).await, 400, "BAD_REQUEST");
    }
    post(
        &emu,
        "/profiles/update",
        &json!([{"identifiers": {"custom_id": "r1"},
        "attributes": {"$email_address": "a@b.co", "$email_marketing": "unsubscribed", "$phone_number": "+33639981337"},
        "events": [{"name": "buy", "time": chrono::Utc::now().to_rfc3339()}, {"name": "view"}]}]),
    )
    .await;
    let from = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, reach) = post(&emu, "/profiles/export", &json!({"export_type": "REACHABILITY", "from": from})).await;
    let (_, view) = get(&emu, &format!("/exports/view?id={}", reach["id"].as_str().unwrap())).await;
    assert_eq!(view["status"], "SUCCESS");
    // Links live 0 s here: the file answers 410 with an error body.
    let r = client().get(view["files"][0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_error(&answer(r).await, 410, "LINK_EXPIRED");

    let emu = start(EmulatorConfig { export_duration: Duration::ZERO, ..quick() }).await;
    post(
        &emu,
        "/profiles/update",
        &json!([{"identifiers": {"custom_id": "r1"},
        "attributes": {"$email_address": "a@b.co", "$email_marketing": "unsubscribed", "$phone_number": "+33639981337"},
        "events": [{"name": "buy", "time": chrono::Utc::now().to_rfc3339()}, {"name": "view"}]}]),
    )
    .await;
    let (_, reach) = post(&emu, "/profiles/export", &json!({"export_type": "REACHABILITY", "from": from})).await;
    let (_, view) = get(&emu, &format!("/exports/view?id={}", reach["id"].as_str().unwrap())).await;
    let (records, _) = fetch_records(&emu, view["files"].as_array().unwrap()).await;
    assert_eq!(records[0]["reachability"], json!({"email": false, "sms": true}));
    let (_, events) = post(&emu, "/profiles/export", &json!({"export_type": "EVENTS", "from": from})).await;
    let (_, view) = get(&emu, &format!("/exports/view?id={}", events["id"].as_str().unwrap())).await;
    let (records, _) = fetch_records(&emu, view["files"].as_array().unwrap()).await;
    assert_eq!(records.iter().map(|r| r["name"].as_str().unwrap()).collect::<Vec<_>>(), ["buy", "view"]);

    let failing = start(EmulatorConfig { export_fail: true, export_duration: Duration::ZERO, ..quick() }).await;
    let (_, e) =
        post(&failing, "/profiles/export", &json!({"export_type": "ATTRIBUTES", "identifiers": ["custom_id"]})).await;
    let (_, view) = get(&failing, &format!("/exports/view?id={}", e["id"].as_str().unwrap())).await;
    assert_eq!((view["status"].as_str(), view["files"].as_array().map(Vec::len)), (Some("ERROR"), Some(0)));
}
