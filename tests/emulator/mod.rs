//! The emulator over real HTTP (reqwest): every endpoint's success and failure
//! paths, the token buckets, faults and introspection.

mod api_calls;
mod faults;
mod profiles;

use std::time::Duration;

use batchport_emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub const V: &str = "2.11";

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Short transitions so tests stay fast.
pub fn quick() -> EmulatorConfig {
    EmulatorConfig {
        export_duration: Duration::from_millis(90),
        indexing_delay: Duration::from_millis(40),
        ..EmulatorConfig::default()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn authed(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.bearer_auth("emulator_rest_key").header("X-Batch-Project", "project_emulator")
}

async fn answer(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POST a JSON body to `/{version}{path}` with the emulator's keys.
pub async fn post_v(emu: &Emulator, version: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let url = format!("{}/{version}{path}", emu.base_url());
    answer(authed(client().post(url)).json(body).send().await.unwrap()).await
}

pub async fn post(emu: &Emulator, path: &str, body: &Value) -> (StatusCode, Value) {
    post_v(emu, V, path, body).await
}

/// GET `/{V}{path_and_query}` with the emulator's keys.
pub async fn get(emu: &Emulator, path_and_query: &str) -> (StatusCode, Value) {
    let url = format!("{}/{V}{path_and_query}", emu.base_url());
    answer(authed(client().get(url)).send().await.unwrap()).await
}

/// An error answer has API.md's body and the given code.
pub fn assert_error(got: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(got.0.as_u16(), status, "{got:?}");
    assert_eq!(got.1["error_code"], code, "{got:?}");
    assert!(got.1["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{got:?}");
}

/// `n` operations on ids `{prefix}{i}`, each with `attrs`.
pub fn ops(prefix: &str, n: usize, attrs: Value) -> Value {
    (0..n)
        .map(|i| serde_json::json!({"identifiers": {"custom_id": format!("{prefix}{i}")}, "attributes": attrs}))
        .collect()
}
