//! The property of issue 14: for values generated at and around every limit of
//! the rule table, the emulator accepts exactly what the transform accepts.
//! The transform side is the library's `Transformer` on one CSV row; the
//! emulator side is the same value in a request, over HTTP.

use batchport_emulator::{Emulator, EmulatorConfig};
use batchport_source::{Position, RawRow};
use batchport_transform::Transformer;
use batchport_transform::job;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::OnceLock;

struct Server {
    emu: Emulator,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let emu = Emulator::start_background(EmulatorConfig { unlimited: true, ..EmulatorConfig::default() }).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let s = Server { emu, rt, http: reqwest::Client::new() };
        let fields = json!([{"name": "t", "type": "array"}, {"name": "s", "type": "string"}]);
        assert_eq!(s.post("/catalogs/create", &json!({"name": "c", "fields": fields})).0, 201);
        s
    })
}

impl Server {
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let req = self
            .http
            .post(format!("{}/2.11{path}", self.emu.base_url()))
            .bearer_auth("emulator_rest_key")
            .header("X-Batch-Project", "project_emulator")
            .json(body);
        self.rt.block_on(async {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        })
    }

    /// One profile operation: accepted whole, with no partial error.
    fn accepts_op(&self, op: Value) -> bool {
        let (status, answer) = self.post("/profiles/update", &json!([op]));
        status == 202 && answer["code"] == "SUCCESS"
    }
}

/// Does the transform of `job` accept the row `cells` (under `header`)?
fn transform_accepts(job_text: &str, header: &[&str], cells: &[&str]) -> bool {
    let job = job::parse(job_text, Path::new("t.toml")).unwrap();
    let headers: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    let t = Transformer::bind(&job, &headers, Path::new("x.csv")).unwrap();
    let mut record = csv::ByteRecord::new();
    for c in cells {
        record.push_field(c.as_bytes());
    }
    t.map_row(RawRow::new(Position { line: 2, byte: 0, record: 0 }, record)).is_ok()
}

const PROFILES: &str = "[job]\nname = \"p\"\nkind = \"profiles\"\n[source]\npath = \"x.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\n[mapping.attributes]\ns = \"s\"\nw = { column = \"w\", type = \"url\" }\nd = { column = \"d\", type = \"date\" }\n";
const EVENTS: &str = "[job]\nname = \"e\"\nkind = \"events\"\n[source]\npath = \"x.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\nevent_name = \"e\"\ntime = { column = \"time\" }\n[mapping.event_attributes]\n\"$label\" = \"label\"\n\"$tags\" = { column = \"tags\", type = \"array\", separator = \"|\" }\no = { column = \"o\", type = \"json\" }\n";
const CATALOG: &str = "[job]\nname = \"c\"\nkind = \"catalog\"\n[catalog]\nname = \"c\"\n[source]\npath = \"x.csv\"\n[mapping]\nitem_id = \"id\"\n[mapping.attributes]\nt = { column = \"t\", type = \"array\", separator = \"|\" }\n";

/// Text of `n` characters drawn from ASCII, 2-byte and 4-byte characters, so
/// that a byte count and a character count disagree.
fn text(n: usize, alphabet: &'static [char]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet), n).prop_map(|v| v.into_iter().collect())
}

const CHARS: &[char] = &['a', 'Z', '7', '_', 'é', 'ü', '€', '😀'];

/// Lengths at and around `limit`.
fn around(limit: usize) -> impl Strategy<Value = usize> {
    (limit.saturating_sub(2)..=limit + 2).boxed()
}

/// A Custom ID near the limit, sometimes with an edge space or a control character.
fn custom_id() -> impl Strategy<Value = String> {
    (around(511), 0..6u8).prop_flat_map(|(n, twist)| {
        text(n, CHARS).prop_map(move |s| match twist {
            0 => format!(" {s}"),
            1 => format!("{s} "),
            2 => format!("u\u{7}{s}"),
            _ => s,
        })
    })
}

fn json_object(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![Just(json!(1)), Just(json!("x")), Just(json!(true))].boxed();
    if depth == 0 {
        return leaf.prop_map(|v| json!({ "k": v })).boxed();
    }
    prop_oneof![
        json_object(depth - 1).prop_map(|o| json!({ "k": o })),
        json_object(depth - 1).prop_map(|o| json!({ "list": [o, {"n": 1}] })),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn profile_values_agree(id in custom_id(), s in around(300).prop_flat_map(|n| text(n, CHARS)),
                            w in around(2_048 - 14), year in -2i32..=10_001) {
        let w = format!("https://e.com/{}", "a".repeat(w));
        let d = format!("{year:04}-01-01");
        let server = server();
        let header = ["id", "s", "w", "d"];
        // Each value alone, so that a refusal is pinned on it.
        let cases: [([&str; 4], Value); 4] = [
            ([&id, "x", "", ""], json!({"identifiers": {"custom_id": id}})),
            (["u1", &s, "", ""], json!({"identifiers": {"custom_id": "u1"}, "attributes": {"s": s}})),
            (["u1", "x", &w, ""], json!({"identifiers": {"custom_id": "u1"}, "attributes": {"url(w)": w}})),
            (["u1", "x", "", &d], json!({"identifiers": {"custom_id": "u1"}, "attributes": {"date(d)": format!("{d}T00:00:00Z")}})),
        ];
        for (cells, op) in cases {
            let client = transform_accepts(PROFILES, &header, &cells);
            prop_assert_eq!(client, server.accepts_op(op.clone()), "{}", op);
        }
    }

    #[test]
    fn event_values_agree(label in around(200).prop_flat_map(|n| text(n, CHARS)),
                          tags in (around(10), around(64)).prop_map(|(n, len)| vec!["t".repeat(len); n]),
                          minutes in -(24 * 60 + 90)..90i64, obj in (0u32..5).prop_flat_map(json_object)) {
        // Not within two minutes of an edge: the two sides read the clock apart.
        prop_assume!((minutes + 24 * 60).abs() > 2 && (minutes - 1).abs() > 2);
        let server = server();
        let header = ["id", "time", "label", "tags", "o"];
        let time = (chrono::Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let obj_text = obj.to_string();
        let joined = tags.join("|");
        let event = |attrs: Value, time: Option<&str>| {
            let mut e = json!({"name": "e", "attributes": attrs});
            if let Some(t) = time { e["time"] = json!(t); }
            json!({"identifiers": {"custom_id": "u1"}, "events": [e]})
        };
        let cases: [([&str; 5], Value); 4] = [
            (["u1", "", &label, "", ""], event(json!({"$label": label}), None)),
            (["u1", "", "x", &joined, ""], event(json!({"$tags": tags}), None)),
            (["u1", &time, "x", "", ""], event(json!({"$label": "x"}), Some(&time))),
            (["u1", "", "x", "", &obj_text], event(json!({"o": obj}), None)),
        ];
        for (cells, op) in cases {
            let client = transform_accepts(EVENTS, &header, &cells);
            prop_assert_eq!(client, server.accepts_op(op.clone()), "{}", op);
        }
    }

    #[test]
    fn catalog_values_agree(n in around(15), len in around(64)) {
        let items = vec!["t".repeat(len); n];
        let client = transform_accepts(CATALOG, &["id", "t"], &["sku", &items.join("|")]);
        let edit = json!({"name": "c", "items": [{"id": "sku", "action": "add", "attributes": {"t": items}}]});
        prop_assert_eq!(client, server().post("/catalogs/items/edit", &edit).0 == 202);
    }

    #[test]
    fn catalog_field_names_agree(len in around(250)) {
        let name = "f".repeat(len);
        let text = CATALOG.replace("t = { column", &format!("{name} = {{ column"));
        let client = job::parse(&text, Path::new("t.toml")).is_ok();
        let create = json!({"name": format!("n{len}"), "fields": [{"name": name, "type": "array"}]});
        let (status, _) = server().post("/catalogs/create", &create);
        // The project holds at most 5 catalogs: remove what the case created.
        if status == 201 {
            server().post("/catalogs/remove", &json!({"name": format!("n{len}")}));
        }
        prop_assert_eq!(client, status == 201);
    }
}

/// The property above is not vacuous: at each boundary both sides flip
/// together, from accepted to refused.
#[test]
fn both_sides_flip_at_the_same_boundaries() {
    let server = server();
    let header = ["id", "s", "w", "d"];
    for (n, ok) in [(511, true), (512, false)] {
        let id = "é".repeat(n);
        assert_eq!(transform_accepts(PROFILES, &header, &[&id, "x", "", ""]), ok, "{n} chars");
        assert_eq!(server.accepts_op(json!({"identifiers": {"custom_id": id}})), ok, "{n} chars");
    }
    for (n, ok) in [(300, true), (301, false)] {
        let s = "😀".repeat(n);
        assert_eq!(transform_accepts(PROFILES, &header, &["u1", &s, "", ""]), ok);
        assert_eq!(server.accepts_op(json!({"identifiers": {"custom_id": "u1"}, "attributes": {"s": s}})), ok);
    }
}
