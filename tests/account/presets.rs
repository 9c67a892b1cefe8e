//! Consent per preset, as a property through the real binary against the
//! emulator (issues 34/37): each preset's real-format export, its rows
//! shuffled and some people repeated (a copy of one of their rows, its consent
//! cell perhaps changed to another value of the same column), goes through
//! `batchport init --preset P` then `batchport run`. For every Custom ID, what
//! Batch holds in `$email_marketing` / `$sms_marketing` is what a hand-written
//! oracle of the tool's documented semantics gives, folded over that person's
//! rows in file order: every explicit opt-out stored as unsubscribed, every
//! documented opt-in (with an address for the channel) as subscribed, nobody
//! subscribed without one. The oracles read the exports' columns by their
//! documented meaning, never batchport's code.

use super::{emulator, run};
use crate::common::{json, run_in, write};
use batchport::EmulatorConfig;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Cases per run: `BATCHPORT_PROPTEST_CASES`, else a number that keeps the
/// debug build well under 30 s.
fn cases() -> u32 {
    std::env::var("BATCHPORT_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(6)
}

/// What one row says of one channel, in the tool's own documented words.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Says {
    /// An explicit opt-out (unsubscribed, blacklisted, bounced, suppressed...).
    Out,
    /// A documented opt-in, with an address for the channel (or the Custom ID
    /// is the email).
    In,
    /// Neither: Batch keeps what it had.
    Nothing,
}

/// One row: column → value (a CSV row's cells are strings; a JSON line keeps
/// its values).
type Rec = Map<String, Value>;

/// The oracle of a preset: (email, SMS) for a row; `id_is_email` when the
/// Custom ID picked for the row is its email column.
type Oracle = fn(&Rec, bool) -> (Says, Says);

struct Preset {
    preset: &'static str,
    /// Under tests/data/.
    file: &'static str,
    /// The consent columns a repeated row may take another value of.
    consent_columns: &'static [&'static str],
    oracle: Oracle,
}

/// A cell as text: blank for a missing or null value.
fn cell<'a>(r: &'a Rec, col: &str) -> &'a str {
    match r.get(col) {
        Some(Value::String(s)) => s.as_str(),
        _ => "",
    }
}

fn is(r: &Rec, col: &str, words: &[&str]) -> bool {
    let v = cell(r, col).trim();
    words.iter().any(|w| v.eq_ignore_ascii_case(w))
}

fn set(r: &Rec, col: &str) -> bool {
    !cell(r, col).trim().is_empty()
}

/// An address Batch can take for email.
fn email_ok(s: &str) -> bool {
    let s = s.trim();
    matches!(s.split_once('@'), Some((a, b)) if !a.is_empty() && b.contains('.') && !b.contains('@'))
}

/// A phone number Batch can take: international, digits only (spreadsheet
/// apostrophe, spaces, dashes and parentheses aside), no extension.
fn phone_ok(s: &str) -> bool {
    let s = s.trim().trim_start_matches('\'');
    let Some(rest) = s.strip_prefix('+') else { return false };
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    rest.chars().all(|c| c.is_ascii_digit() || " -()".contains(c)) && (8..=15).contains(&digits)
}

/// An opt-out wins in its row; an opt-in needs its evidence.
fn says(out: bool, opt_in: bool, evidence: bool) -> Says {
    if out {
        Says::Out
    } else if opt_in && evidence {
        Says::In
    } else {
        Says::Nothing
    }
}

/// Klaviyo profiles: `Email Marketing Consent` / `SMS Marketing Consent` are
/// SUBSCRIBED, UNSUBSCRIBED (or SUPPRESSED) or NEVER_SUBSCRIBED (never asked:
/// no consent either way); `Email Suppressions` (HARD_BOUNCE,
/// SPAM_COMPLAINT...) means Klaviyo does not mail the address.
fn klaviyo(r: &Rec, id_is_email: bool) -> (Says, Says) {
    let email = says(
        is(r, "Email Marketing Consent", &["UNSUBSCRIBED", "SUPPRESSED"]) || set(r, "Email Suppressions"),
        is(r, "Email Marketing Consent", &["SUBSCRIBED"]),
        id_is_email || email_ok(cell(r, "Email")),
    );
    let sms = says(
        is(r, "SMS Marketing Consent", &["UNSUBSCRIBED", "SUPPRESSED"]),
        is(r, "SMS Marketing Consent", &["SUBSCRIBED"]),
        phone_ok(cell(r, "Phone Number")),
    );
    (email, sms)
}

/// Klaviyo with Shopify's `Accepts Marketing` synced in: FALSE is an email
/// opt-out too (the consent state column still decides who opted in).
fn klaviyo_accepts(r: &Rec, id_is_email: bool) -> (Says, Says) {
    let (email, sms) = klaviyo(r, id_is_email);
    let refused = set(r, "Accepts Marketing") && !is(r, "Accepts Marketing", &["TRUE"]);
    (if refused { Says::Out } else { email }, sms)
}

/// Brevo: `EMAIL_BLACKLISTED` / `SMS_BLACKLISTED` = Yes are the opt-outs; not
/// blacklisted is no opt-in.
fn brevo(r: &Rec, _: bool) -> (Says, Says) {
    (says(is(r, "EMAIL_BLACKLISTED", &["Yes"]), false, false), says(is(r, "SMS_BLACKLISTED", &["Yes"]), false, false))
}

/// Brevo with an `OPT_IN` attribute stating the email opt-in (Yes / No).
fn brevo_opt_in(r: &Rec, id_is_email: bool) -> (Says, Says) {
    let email = says(
        is(r, "EMAIL_BLACKLISTED", &["Yes"]) || is(r, "OPT_IN", &["No"]),
        is(r, "OPT_IN", &["Yes"]),
        id_is_email || email_ok(cell(r, "EMAIL")),
    );
    (email, brevo(r, id_is_email).1)
}

/// HubSpot: unsubscribed from all email, opted out of a marketing
/// subscription type, or a hard bounce: email opt-outs. Nothing says opt-in;
/// no SMS consent in the export.
fn hubspot(r: &Rec, _: bool) -> (Says, Says) {
    let out = is(r, "Unsubscribed from all email", &["true"])
        || is(r, "Opted out of email: Marketing Information", &["true"])
        || set(r, "Email hard bounce reason");
    (says(out, false, false), Says::Nothing)
}

/// Customer.io: the person's `unsubscribed` attribute: true = unsubscribed
/// from all messages (email and SMS), false = subscribed (the email channel).
fn customerio(r: &Rec, id_is_email: bool) -> (Says, Says) {
    let out = is(r, "unsubscribed", &["true"]);
    (says(out, is(r, "unsubscribed", &["false"]), id_is_email || email_ok(cell(r, "email"))), says(out, false, false))
}

/// Mailchimp's unsubscribed and cleaned exports: every member opted out (or
/// bounced).
fn mailchimp_out(_: &Rec, _: bool) -> (Says, Says) {
    (Says::Out, Says::Nothing)
}

/// Mailchimp's subscribed export: every member is subscribed.
fn mailchimp_in(r: &Rec, id_is_email: bool) -> (Says, Says) {
    (says(false, true, id_is_email || email_ok(cell(r, "Email Address"))), Says::Nothing)
}

/// Braze's segment CSV: `unsubscribed_from_emails_at` set = unsubscribed from
/// email; the export has no opt-in state.
fn braze_csv(r: &Rec, _: bool) -> (Says, Says) {
    (says(set(r, "unsubscribed_from_emails_at"), false, false), Says::Nothing)
}

/// Braze's JSON user export: `email_subscribe` opted_in / subscribed /
/// unsubscribed; `email_unsubscribed_at` set is an opt-out too.
fn braze_json(r: &Rec, id_is_email: bool) -> (Says, Says) {
    let email = says(
        is(r, "email_subscribe", &["unsubscribed"]) || set(r, "email_unsubscribed_at"),
        is(r, "email_subscribe", &["opted_in", "subscribed"]),
        id_is_email || email_ok(cell(r, "email")),
    );
    (email, Says::Nothing)
}

/// Shopify customers: `Accepts Email Marketing` / `Accepts SMS Marketing`
/// yes or no.
fn shopify(r: &Rec, id_is_email: bool) -> (Says, Says) {
    (
        says(
            is(r, "Accepts Email Marketing", &["no", "false"]),
            is(r, "Accepts Email Marketing", &["yes", "true"]),
            id_is_email || email_ok(cell(r, "Email")),
        ),
        says(
            is(r, "Accepts SMS Marketing", &["no", "false"]),
            is(r, "Accepts SMS Marketing", &["yes", "true"]),
            phone_ok(cell(r, "Phone")),
        ),
    )
}

/// CleverTap: `MSG-email` / `MSG-sms` true (subscribed) or false (opted out).
fn clevertap(r: &Rec, id_is_email: bool) -> (Says, Says) {
    (
        says(is(r, "MSG-email", &["false"]), is(r, "MSG-email", &["true"]), id_is_email || email_ok(cell(r, "Email"))),
        says(is(r, "MSG-sms", &["false"]), is(r, "MSG-sms", &["true"]), phone_ok(cell(r, "Phone"))),
    )
}

/// OneSignal subscriptions: one row per subscription; `device_type` 11 is an
/// email subscription, 14 an SMS one, their `identifier` the address;
/// `notification_types` 1 subscribed, -2 unsubscribed (the fixture's values).
/// Device rows say nothing of email or SMS.
fn onesignal(r: &Rec, _: bool) -> (Says, Says) {
    let out = is(r, "notification_types", &["-2"]);
    let opt_in = is(r, "notification_types", &["1"]);
    let id = cell(r, "identifier");
    match cell(r, "device_type") {
        "11" => (says(out, opt_in, email_ok(id)), Says::Nothing),
        "14" => (Says::Nothing, says(out, opt_in, phone_ok(id))),
        _ => (Says::Nothing, Says::Nothing),
    }
}

/// Airship channels: `commercial_opted_out` (or even `transactional_opted_out`)
/// set on the email channel / the SMS channel is its opt-out; an opted-in
/// date is no opt-in when an opt-out may be later (not read as one).
fn airship(r: &Rec, _: bool) -> (Says, Says) {
    let out = set(r, "commercial_opted_out") || set(r, "transactional_opted_out");
    match cell(r, "device_type") {
        "email" => (says(out, false, false), Says::Nothing),
        "sms" => (Says::Nothing, says(out, false, false)),
        _ => (Says::Nothing, Says::Nothing),
    }
}

const PRESETS: &[Preset] = &[
    Preset {
        preset: "klaviyo",
        file: "migrate/klaviyo_profiles.csv",
        consent_columns: &["Email Marketing Consent", "SMS Marketing Consent", "Email Suppressions"],
        oracle: klaviyo,
    },
    Preset {
        preset: "klaviyo",
        file: "migrate/klaviyo_profiles_accepts_marketing.csv",
        consent_columns: &["Email Marketing Consent", "SMS Marketing Consent", "Accepts Marketing"],
        oracle: klaviyo_accepts,
    },
    Preset {
        preset: "brevo",
        file: "migrate/brevo_contacts.csv",
        consent_columns: &["EMAIL_BLACKLISTED", "SMS_BLACKLISTED"],
        oracle: brevo,
    },
    Preset {
        preset: "brevo",
        file: "migrate/brevo_contacts_opt_in.csv",
        consent_columns: &["EMAIL_BLACKLISTED", "SMS_BLACKLISTED", "OPT_IN"],
        oracle: brevo_opt_in,
    },
    Preset {
        preset: "hubspot",
        file: "migrate/hubspot_contacts.csv",
        consent_columns: &[
            "Unsubscribed from all email",
            "Opted out of email: Marketing Information",
            "Email hard bounce reason",
        ],
        oracle: hubspot,
    },
    Preset {
        preset: "customerio",
        file: "migrate/customerio_people.csv",
        consent_columns: &["unsubscribed"],
        oracle: customerio,
    },
    Preset {
        preset: "mailchimp",
        file: "migrate/mailchimp_unsubscribed_members_export.csv",
        consent_columns: &[],
        oracle: mailchimp_out,
    },
    Preset {
        preset: "mailchimp",
        file: "migrate/mailchimp_cleaned_members_export.csv",
        consent_columns: &[],
        oracle: mailchimp_out,
    },
    Preset {
        preset: "mailchimp",
        file: "migrate/mailchimp_subscribed_members_export.csv",
        consent_columns: &[],
        oracle: mailchimp_in,
    },
    Preset {
        preset: "braze",
        file: "migrate/braze_segment_export.csv",
        consent_columns: &["unsubscribed_from_emails_at"],
        oracle: braze_csv,
    },
    Preset {
        preset: "braze",
        file: "migrate/braze_users.ndjson",
        consent_columns: &["email_subscribe", "email_unsubscribed_at"],
        oracle: braze_json,
    },
    Preset {
        preset: "shopify",
        file: "migrate/shopify_customers_export.csv",
        consent_columns: &["Accepts Email Marketing", "Accepts SMS Marketing"],
        oracle: shopify,
    },
    Preset {
        preset: "clevertap",
        file: "migrate/clevertap_profiles.csv",
        consent_columns: &["MSG-email", "MSG-sms"],
        oracle: clevertap,
    },
    Preset {
        preset: "onesignal",
        file: "migrate/onesignal_subscriptions.csv",
        consent_columns: &["notification_types"],
        oracle: onesignal,
    },
    Preset {
        preset: "airship",
        file: "migrate/airship_channels.ndjson",
        consent_columns: &["commercial_opted_out"],
        oracle: airship,
    },
];

/// A fixture read as records: its header (CSV) and delimiter, or JSON lines.
struct Fixture {
    name: String,
    /// `None` for JSON lines.
    csv: Option<(u8, Vec<String>)>,
    rows: Vec<Rec>,
}

fn load(file: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(file);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&path).unwrap();
    if file.ends_with(".ndjson") {
        let rows = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match serde_json::from_str(l).unwrap() {
                Value::Object(m) => m,
                v => panic!("{file}: not an object: {v}"),
            })
            .collect();
        return Fixture { name, csv: None, rows };
    }
    let delimiter = if text.lines().next().unwrap().contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader
        .records()
        .map(|r| header.iter().cloned().zip(r.unwrap().iter().map(|c| Value::String(c.to_string()))).collect())
        .collect();
    Fixture { name, csv: Some((delimiter, header)), rows }
}

fn render(fixture: &Fixture, rows: &[Rec]) -> String {
    match &fixture.csv {
        None => rows.iter().map(|r| format!("{}\n", Value::Object(r.clone()))).collect(),
        Some((delimiter, header)) => {
            let mut w = csv::WriterBuilder::new().delimiter(*delimiter).from_writer(vec![]);
            w.write_record(header).unwrap();
            for r in rows {
                w.write_record(header.iter().map(|h| cell(r, h))).unwrap();
            }
            String::from_utf8(w.into_inner().unwrap()).unwrap()
        }
    }
}

/// How a fixture's rows become the file: sort keys (the shuffle), then copies
/// `(row, position, consent change)` inserted, each index taken modulo.
#[derive(Clone, Debug)]
struct Plan {
    keys: Vec<u32>,
    repeats: Vec<Repeat>,
}

/// A copy of row `.0` inserted at `.1`, its consent column `.2.0` perhaps set
/// to that column's value `.2.1` (all modulo).
type Repeat = (usize, usize, Option<(usize, usize)>);

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(any::<u32>(), 16),
        prop::collection::vec((0..64usize, 0..64usize, prop::option::weighted(0.7, (0..8usize, 0..8usize))), 0..4),
    )
        .prop_map(|(keys, repeats)| Plan { keys, repeats })
}

fn apply(p: &Preset, fixture: &Fixture, plan: &Plan) -> Vec<Rec> {
    let mut order: Vec<usize> = (0..fixture.rows.len()).collect();
    order.sort_by_key(|&i| (plan.keys[i % plan.keys.len()], i));
    let mut rows: Vec<Rec> = order.iter().map(|&i| fixture.rows[i].clone()).collect();
    for (from, at, change) in &plan.repeats {
        let mut copy = rows[from % rows.len()].clone();
        if let (Some((c, v)), false) = (change, p.consent_columns.is_empty()) {
            let col = p.consent_columns[c % p.consent_columns.len()];
            // The values this column takes in the fixture (null for a JSON null or missing key).
            let mut values: Vec<Value> = vec![];
            for r in &fixture.rows {
                let value = r.get(col).cloned().unwrap_or(Value::Null);
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            copy.insert(col.to_string(), values[v % values.len()].clone());
        }
        let at = at % (rows.len() + 1);
        rows.insert(at, copy);
    }
    rows
}

/// The job's Custom ID columns in order, each with its `lowercase`.
fn id_columns(job: &toml::Value) -> Vec<(String, bool)> {
    let one = |v: &toml::Value| match v {
        toml::Value::String(s) => (s.clone(), false),
        t => (t["column"].as_str().unwrap().to_string(), t.get("lowercase").and_then(|l| l.as_bool()) == Some(true)),
    };
    match &job["mapping"]["custom_id"] {
        toml::Value::Array(a) => a.iter().map(one).collect(),
        v => vec![one(v)],
    }
}

/// The row's Custom ID (the first id column not blank) and its column.
fn custom_id(r: &Rec, ids: &[(String, bool)]) -> Option<(String, String)> {
    ids.iter().find(|(c, _)| set(r, c)).map(|(c, lower)| {
        let v = cell(r, c).to_string();
        (if *lower { v.to_lowercase() } else { v }, c.clone())
    })
}

/// What each Custom ID should hold: `Says` folded over the person's rows in
/// file order; with `opt_outs = "person"`, any opt-out row of the person
/// wins. Also who has an opt-in row with evidence, per channel.
type Want = BTreeMap<String, [Option<&'static str>; 2]>;

fn oracle(
    p: &Preset,
    rows: &[Rec],
    ids: &[(String, bool)],
    email_col: &str,
    per_person: bool,
) -> (Want, [BTreeSet<String>; 2]) {
    let mut want = Want::new();
    let mut outs: [BTreeSet<String>; 2] = Default::default();
    let mut ins: [BTreeSet<String>; 2] = Default::default();
    for r in rows {
        let Some((id, col)) = custom_id(r, ids) else { continue };
        let (email, sms) = (p.oracle)(r, col == email_col);
        let held = want.entry(id.clone()).or_default();
        for (ch, s) in [email, sms].into_iter().enumerate() {
            match s {
                Says::Out => {
                    held[ch] = Some("unsubscribed");
                    outs[ch].insert(id.clone());
                }
                Says::In => {
                    held[ch] = Some("subscribed");
                    ins[ch].insert(id.clone());
                }
                Says::Nothing => {}
            }
        }
    }
    if per_person {
        for (id, held) in &mut want {
            for ch in 0..2 {
                if outs[ch].contains(id) {
                    held[ch] = Some("unsubscribed");
                }
            }
        }
    }
    (want, ins)
}

/// The job's email column (`email_address = "X"` or `{ column = "X", ... }`).
fn email_column(job: &toml::Value) -> String {
    match job["mapping"].get("native").and_then(|n| n.get("email_address")) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(t) => t.get("column").and_then(|c| c.as_str()).unwrap_or_default().to_string(),
        None => String::new(),
    }
}

/// One preset's case; `Err` says what differs, with everything needed to
/// reproduce it.
fn check(p: &Preset, plan: &Plan) -> Result<(), String> {
    let fixture = load(p.file);
    let rows = apply(p, &fixture, plan);
    let text = render(&fixture, &rows);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &fixture.name, &text);
    let out = run_in(dir.path(), &["init", "--preset", p.preset, &fixture.name]);
    if out.status.code() != Some(0) {
        return Err(format!("init exit {:?}: {}\n{text}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
    }
    let job_text = String::from_utf8(out.stdout).unwrap();
    let emu = emulator(EmulatorConfig::default());
    assert!(job_text.lines().any(|l| l == "[api]"), "{job_text}");
    let pointed = job_text.replacen("\n[api]\n", &format!("\n[api]\nbase_url = \"{}\"\n", emu.base_url()), 1);
    write(dir.path(), "job.toml", &pointed);
    let job: toml::Value = toml::from_str(&pointed).unwrap();
    let per_person = job["mapping"].get("opt_outs").and_then(|v| v.as_str()) == Some("person");
    let ids = id_columns(&job);
    let email_col = email_column(&job);

    let out = run(dir.path(), "job.toml");
    let code = out.status.code();
    if !matches!(code, Some(0 | 3)) {
        return Err(format!(
            "run exit {code:?}\n{}\n{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let summary = json(&out);

    let (want, ins) = oracle(p, &rows, &ids, &email_col, per_person);
    assert!(!want.is_empty(), "{}: no Custom ID read from {ids:?}", p.file);
    let mut wrong = String::new();
    for (id, w) in &want {
        let profile = emu.profile(id);
        let got = ["$email_marketing", "$sms_marketing"]
            .map(|k| profile.as_ref().and_then(|p| p["attributes"][k].as_str().map(str::to_string)));
        for (ch, name) in ["email", "SMS"].into_iter().enumerate() {
            if got[ch].as_deref() != w[ch] {
                let _ = writeln!(wrong, "{id} {name}: expected {:?}, stored {:?}", w[ch], got[ch]);
            }
            if got[ch].as_deref() == Some("subscribed") && !ins[ch].contains(id) {
                let _ = writeln!(wrong, "{id} {name}: subscribed without an opt-in row with evidence");
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} on {} (opt_outs per person: {per_person}, custom_id {ids:?}):\n{wrong}\nfile:\n{text}\nsummary: {summary}\njob.toml:\n{pointed}",
            p.preset, p.file
        ))
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Keep failures in the test output, not in files outside tests/.
        failure_persistence: None,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    /// For every preset's fixture, shuffled and with people repeated, Batch
    /// holds exactly the email and SMS consent the tool's documented words
    /// give, row after row (an opt-out anywhere winning where the job reads
    /// opt-outs per person); nobody is subscribed without an opt-in row with
    /// an address.
    #[test]
    fn every_preset_stores_the_consent_its_export_documents(
        plans in prop::collection::vec(plan(), PRESETS.len()),
    ) {
        // One thread per preset: each has its own directory and emulator.
        let failures: Vec<String> = std::thread::scope(|s| {
            let runs: Vec<_> = PRESETS.iter().zip(&plans).map(|(p, plan)| s.spawn(move || check(p, plan))).collect();
            runs.into_iter().filter_map(|r| r.join().unwrap().err()).collect()
        });
        prop_assert!(failures.is_empty(), "{}", failures.join("\n\n=====\n\n"));
    }
}
