//! `/profiles/update` and `/profiles/mass-update`: merge, validation, limits per
//! version, auth and verbs, token buckets.

use batchport_emulator::EmulatorConfig;
use serde_json::json;

use super::*;

#[tokio::test]
async fn update_merges_profiles_like_batch() {
    let emu = start(EmulatorConfig::default()).await;
    let recent = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let first = json!([
        {"identifiers": {"custom_id": "u42"},
         "attributes": {"$email_address": "jane@example.com", "$email_marketing": "subscribed",
                        "firstname": "Jane", "date(birthdate)": "1989-07-20T00:00:00Z",
                        "url(website)": "https://example.com/jane", "interests": ["bikes", "cinema"],
                        "reward_programs": {"$add": ["premium"]}, "old_field": "x", "n": 3, "ok": true},
         "events": [{"name": "added_to_cart", "time": recent,
                     "attributes": {"$label": "pumpkin", "quantity": 5, "$tags": ["fruits"],
                                    "items": [{"sku": "a"}]}}]},
        {"identifiers": {"custom_id": "u7"}}
    ]);
    let got = post(&emu, "/profiles/update", &first).await;
    assert_eq!(got, (StatusCode::ACCEPTED, json!({"code": "SUCCESS"})));
    let second = json!([{"identifiers": {"custom_id": "u42"},
        "attributes": {"firstname": "Janet", "old_field": null, "interests": {"$remove": ["bikes"]},
                       "reward_programs": {"$add": ["gold", "premium"]}},
        "events": [{"name": "purchase"}]}]);
    assert_eq!(post(&emu, "/profiles/update", &second).await.0, StatusCode::ACCEPTED);

    let p = emu.profile("u42").unwrap();
    assert_eq!(p["custom_id"], "u42");
    let a = &p["attributes"];
    assert_eq!(a["firstname"], "Janet");
    assert!(a.get("old_field").is_none());
    assert_eq!(a["interests"], json!(["cinema"]));
    assert_eq!(a["reward_programs"], json!(["premium", "gold"]));
    assert_eq!(a["date(birthdate)"], "1989-07-20T00:00:00Z");
    assert_eq!(a["n"], 3);
    assert_eq!(p["events"].as_array().unwrap().len(), 2);
    assert_eq!(p["events"][0]["attributes"]["$label"], "pumpkin");
    assert_eq!(emu.profile("u7").unwrap()["attributes"], json!({}));
    assert!(emu.profile("nobody").is_none());
    assert_eq!((emu.received("u42"), emu.received("u7"), emu.received("nobody")), (2, 1, 0));

    let s = emu.stats();
    assert_eq!((s.requests, s.updates, s.operations, s.profiles), (2, 3, 3, 2));
    assert_eq!((s.duplicate_ids, s.max_ops_in_call), (1, 2));
    assert_eq!(s.per_endpoint["profiles/update"], 2);
}

#[tokio::test]
async fn update_reports_partial_errors_by_bulk_index() {
    let emu = start(EmulatorConfig::default()).await;
    let many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("a{i}"), json!(i))).collect();
    let sixteen: Vec<Value> = (0..16).map(|_| json!({"name": "e"})).collect();
    let body = json!([
        {"identifiers": {"custom_id": "good"}, "attributes": {"name": "ok"}},
        {"identifiers": {"custom_id": "b1"}, "attributes": {"$email_address": "not-an-email"}},
        {"identifiers": {"custom_id": "b2"}, "attributes": {"FirstName": "x"}},
        {"identifiers": {"custom_id": "b3"}, "attributes": many},
        {"identifiers": {"custom_id": "b4"}, "events": sixteen},
        {"identifiers": {"custom_id": "b5", "installation": "i1"}},
        {"identifiers": {"custom_id": "b6"}, "attributes": {"date(d)": "2020-01-01"}},
        {"identifiers": {"custom_id": "b7"}, "attributes": {"$phone_number": "0639981337"}},
        {"identifiers": {"custom_id": "b8"}, "attributes": {"s": "x".repeat(301)}},
        {"identifiers": {"custom_id": "b9"}, "events": [{"name": "e", "time": "yesterday"}]},
        {"identifiers": {"installation": "inst-1"}, "attributes": {"$language": "fr", "$region": "FR",
                                                                    "$timezone": "Europe/Paris"}},
        "not an object"
    ]);
    let (status, answer) = post(&emu, "/profiles/update", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["code"], "SUCCESS_WITH_PARTIAL_ERRORS");
    let errors = answer["errors"].as_array().unwrap();
    let idx: Vec<u64> = errors.iter().map(|e| e["bulk_index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);
    assert_eq!(errors[0]["attribute"], "$email_address");
    assert_eq!(errors[0]["category"], "attributes");
    assert_eq!(errors[1]["attribute"], "FirstName");
    assert_eq!(errors[3]["category"], "events");
    assert_eq!(errors[4]["category"], "identifiers");
    assert!(errors.iter().all(|e| e["reason"].as_str().is_some_and(|r| !r.is_empty())));
    // Operations refused whole (shape: 51 attributes, 16 events, two
    // identifiers, not an object) are not applied; a refused attribute or event
    // is dropped and the rest of its operation applied (API.md).
    assert!(emu.profile("good").is_some());
    assert!(emu.profile("b3").is_none() && emu.profile("b4").is_none() && emu.profile("b5").is_none());
    assert_eq!(emu.profile("b1").unwrap()["attributes"], json!({}));
    assert_eq!(emu.profile("b9").unwrap()["events"], json!([]));
    assert_eq!(errors[8]["attribute"], "events[0]");
    let s = emu.stats();
    assert_eq!((s.operations, s.partial_errors), (8, 10));
}

#[tokio::test]
async fn mass_update_drops_bad_attributes_silently() {
    let emu = start(EmulatorConfig::default()).await;
    let body = json!([
        {"identifiers": {"custom_id": "m1"}, "attributes": {"x": 1}},
        {"identifiers": {"custom_id": "m2"}, "attributes": {"$email_marketing": "maybe", "y": 2}},
    ]);
    let got = post(&emu, "/profiles/mass-update", &body).await;
    assert_eq!(got, (StatusCode::ACCEPTED, json!({"code": "SUCCESS"})));
    assert!(emu.profile("m1").is_some());
    assert_eq!(emu.profile("m2").unwrap()["attributes"], json!({"y": 2}), "the rest of the operation is applied");
    assert_eq!(emu.stats().partial_errors, 1);
}

#[tokio::test]
async fn malformed_and_oversized_calls_are_400() {
    let emu = start(EmulatorConfig::default()).await;
    let url = format!("{}/{V}/profiles/update", emu.base_url());
    let raw = client()
        .post(&url)
        .bearer_auth("emulator_rest_key")
        .header("X-Batch-Project", "project_emulator")
        .body("[{\"identifiers\":")
        .send()
        .await
        .unwrap();
    assert_error(&answer(raw).await, 400, "BAD_REQUEST");
    assert_error(&post(&emu, "/profiles/update", &json!({"not": "an array"})).await, 400, "BAD_REQUEST");
    assert_error(&post(&emu, "/profiles/update", &json!([])).await, 400, "BAD_REQUEST");
    let too_many = ops("u", 201, json!({"a": 1}));
    assert_error(&post(&emu, "/profiles/update", &too_many).await, 400, "TOO_MANY_OPERATIONS");
    let mass_too_many = ops("u", 10_001, json!({}));
    assert_error(&post(&emu, "/profiles/mass-update", &mass_too_many).await, 400, "TOO_MANY_OPERATIONS");
    assert_eq!(emu.stats().operations, 0);
    assert_eq!(emu.stats().http_400, 5);
}

#[tokio::test]
async fn limits_follow_the_api_version() {
    let emu = start(EmulatorConfig::default()).await;
    // 2.3: no mass-update, 10,000 ops on update (more than the burst: allowed
    // from a full bucket, which is then in debt).
    let got = post_v(&emu, "2.3", "/profiles/mass-update", &ops("u", 1, json!({}))).await;
    assert_error(&got, 404, "NOT_FOUND");
    let big = ops("old", 10_000, json!({"a": 1}));
    assert_eq!(post_v(&emu, "2.3", "/profiles/update", &big).await.0, StatusCode::ACCEPTED);
    assert_error(&post_v(&emu, "2.3", "/profiles/update", &ops("x", 1, json!({}))).await, 429, "TOO_MANY_REQUESTS");
    assert_eq!(emu.received("old9999"), 1);
    assert_error(&post_v(&emu, "2.0", "/profiles/update", &ops("u", 1, json!({}))).await, 404, "NOT_FOUND");
    assert_error(&post_v(&emu, "2.11", "/profiles/nope", &ops("u", 1, json!({}))).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn keys_and_verbs_are_checked() {
    let emu = start(EmulatorConfig::default()).await;
    let url = format!("{}/{V}/profiles/update", emu.base_url());
    let body = ops("u", 1, json!({}));
    for (key, project) in [("wrong", "project_emulator"), ("emulator_rest_key", "project_other")] {
        let r = client().post(&url).bearer_auth(key).header("X-Batch-Project", project).json(&body);
        assert_error(&answer(r.send().await.unwrap()).await, 401, "AUTHENTICATION_INVALID");
    }
    let r = client().post(&url).json(&body).send().await.unwrap();
    assert_error(&answer(r).await, 401, "AUTHENTICATION_INVALID");
    assert_error(&get(&emu, "/profiles/update").await, 405, "METHOD_NOT_ALLOWED");
    assert_error(&post(&emu, "/audiences/view?name=x", &json!({})).await, 405, "METHOD_NOT_ALLOWED");
    let put = authed(client().put(&url)).json(&body).send().await.unwrap();
    assert_error(&answer(put).await, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(emu.stats().http_401, 3);
    assert_eq!(emu.stats().operations, 0);
}

#[tokio::test]
async fn bucket_counts_distinct_ids_and_refuses_whole_calls() {
    let config = EmulatorConfig { update_rate: Some((10, 20)), ..EmulatorConfig::default() };
    let emu = start(config).await;
    // 30 operations on 15 distinct ids cost 15.
    let mut body = ops("a", 15, json!({"x": 1}));
    body.as_array_mut().unwrap().extend(ops("a", 15, json!({"y": 2})).as_array().unwrap().iter().cloned());
    assert_eq!(post(&emu, "/profiles/update", &body).await.0, StatusCode::ACCEPTED);
    // About 5 left: 10 distinct ids are refused whole and consume nothing...
    let got = post(&emu, "/profiles/update", &ops("b", 10, json!({}))).await;
    assert_error(&got, 429, "TOO_MANY_REQUESTS");
    assert!(emu.profile("b0").is_none());
    // ...so 4 still fit.
    assert_eq!(post(&emu, "/profiles/update", &ops("c", 4, json!({}))).await.0, StatusCode::ACCEPTED);
    let s = emu.stats();
    assert_eq!((s.updates, s.operations, s.http_429), (19, 34, 1));
    // Unlimited: no bucket at all.
    let free = start(EmulatorConfig { unlimited: true, ..EmulatorConfig::default() }).await;
    for _ in 0..3 {
        let got = post(&free, "/profiles/mass-update", &ops("m", 10_000, json!({}))).await;
        assert_eq!(got.0, StatusCode::ACCEPTED);
    }
    assert_eq!(free.received("m0"), 3);
    assert_eq!(free.stats().duplicate_ids, 10_000);
}
