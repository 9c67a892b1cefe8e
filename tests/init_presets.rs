//! Presets as data, through the binary: every golden job file (written by
//! `init` before the presets became TOML) is written again byte for byte; a
//! user's `--preset-file` maps a tool batchport does not ship; a broken
//! preset file is a usage error that names the file, the line and the key.

use crate::common::{json, run_in, write};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The fixture a golden file was written from: the one file named `stem.*`
/// in the init or migrate fixtures, or in golden/inputs (files the tests of
/// init and migrate write inline).
fn fixture(stem: &str) -> PathBuf {
    let dirs = ["init", "migrate", "init/golden/inputs"].map(|d| data().join(d));
    let found: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.is_file() && p.file_stem().and_then(|s| s.to_str()) == Some(stem))
        .collect();
    assert_eq!(found.len(), 1, "one fixture named {stem}: {found:?}");
    found.into_iter().next().unwrap()
}

/// tests/data/init/golden/PRESET__FIXTURE.toml is what `init --preset
/// PRESET FIXTURE` printed, run next to the fixture. `BATCHPORT_BLESS=1`
/// rewrites them (only for a change of the output that is meant).
#[test]
fn every_golden_job_file_is_written_again_byte_for_byte() {
    let golden = data().join("init/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 59, "the golden files are there: {}", files.len());
    let bless = std::env::var_os("BATCHPORT_BLESS").is_some();
    let mut differ = Vec::new();
    for g in &files {
        let name = g.file_stem().unwrap().to_str().unwrap();
        let (preset, stem) = name.split_once("__").unwrap_or_else(|| panic!("{name}: PRESET__FIXTURE.toml"));
        let input = fixture(stem);
        let file = input.file_name().unwrap().to_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&input, dir.path().join(file)).unwrap();
        let out = run_in(dir.path(), &["init", "--preset", preset, file]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let want = std::fs::read(g).unwrap();
        if out.stdout != want {
            if bless {
                std::fs::write(g, &out.stdout).unwrap();
            }
            let (got, want) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&want));
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            differ.push(format!(
                "{name}: line {}:\n  golden: {}\n  now:    {}",
                line + 1,
                want.lines().nth(line).unwrap_or("(end)"),
                got.lines().nth(line).unwrap_or("(end)")
            ));
        }
    }
    assert!(differ.is_empty(), "{} of {} golden files differ:\n{}", differ.len(), files.len(), differ.join("\n"));
}

const ACME: &str = r#"# A tool batchport does not ship.
name = "Acme CRM"
source = "Acme's contacts export (Contacts > Export), as our own files show it"
email_as_id = "Acme keys contacts by email"

[[ids]]
header = "Acme User"
why = "Acme's user id is the one our app logs people in with"

[[notes]]
text = "Acme writes one file per list: import each."

[[notes]]
if_columns = ["Deleted At"]
text = "This file has deleted contacts."

[[columns]]
headers = ["E-mail", "Mail"]
role = "email"
note = "Acme's login email"

[[columns]]
headers = ["Newsletter"]
role = "email_marketing"
subscribed = ["in"]
unsubscribed = ["out"]
undecided = ["pending"]
note = "Acme: in → subscribed; out → unsubscribed; pending sends nothing"

[[columns]]
headers = ["Signed up"]
role = "attribute"
name = "signup_date"
type = "date"

[[columns]]
headers = ["Interests"]
role = "attribute"
name = "interests"
type = "array"
separator = ";"

[[columns]]
headers = ["Internal Score"]
role = "skip"
note = "Acme's own score, meaningless outside Acme"
"#;

const ACME_CSV: &str = "Acme User,E-mail,Newsletter,Signed up,Interests,Internal Score,Plan\n\
    a-1,jane@example.com,in,2024-01-05,sport;music,12,pro\n\
    a-2,joe@example.org,out,2024-02-11,music,7,free\n\
    a-3,ana@example.net,pending,2024-03-20,,3,pro\n";

#[test]
fn a_preset_file_maps_a_tool_batchport_does_not_ship() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "acme.toml", ACME);
    write(dir.path(), "contacts.csv", ACME_CSV);
    let out = run_in(dir.path(), &["init", "--preset-file", "acme.toml", "contacts.csv"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("accepts all 3 sampled rows"), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# batchport job for `contacts.csv`, written by `batchport init --preset-file acme.toml`.")
    );
    assert!(text.contains("Columns named as in Acme CRM's export are mapped by what Acme CRM documents"), "{text}");
    assert!(text.contains("# Acme writes one file per list: import each.\n"), "{text}");
    assert!(!text.contains("deleted contacts"), "a note whose column is absent is not written");
    assert!(text.contains("Acme's user id is the one our app logs people in with"), "{text}");
    assert!(text.contains("# - `Internal Score`: not sent: Acme's own score"), "{text}");
    let job: toml::Value = toml::from_str(&text).unwrap();
    let mapping = &job["mapping"];
    assert_eq!(mapping["custom_id"].as_str(), Some("Acme User"), "{text}");
    assert_eq!(mapping["native"]["email_address"].as_str(), Some("E-mail"));
    let consent = &mapping["native"]["email_marketing"];
    assert_eq!(consent["column"].as_str(), Some("Newsletter"), "{text}");
    let words = |k: &str| consent[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect::<Vec<_>>();
    assert_eq!(
        (words("subscribed"), words("unsubscribed"), words("undecided")),
        (vec!["in"], vec!["out"], vec!["pending"])
    );
    let attrs = &mapping["attributes"];
    assert_eq!(attrs["signup_date"]["type"].as_str(), Some("date"));
    assert_eq!(attrs["signup_date"]["format"].as_str(), Some("%Y-%m-%d"));
    assert_eq!(attrs["interests"]["separator"].as_str(), Some(";"));
    assert_eq!(attrs["plan"].as_str(), Some("Plan"), "a column the preset does not list is guessed");
    assert!(attrs.get("internal_score").is_none());

    write(dir.path(), "job.toml", &text);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
    let s = json(&out);
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(3), Some(0)), "{s}");
    let email = &s["forecast"]["email_marketing"];
    assert_eq!(
        (email["subscribed"].as_u64(), email["unsubscribed"].as_u64(), email["not_sent"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
}

/// Run `init --preset-file bad.toml` on a good CSV: exit 2, nothing on
/// stdout; returns stderr.
fn broken(preset: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.toml", preset);
    write(dir.path(), "contacts.csv", ACME_CSV);
    let out = run_in(dir.path(), &["init", "--preset-file", "bad.toml", "contacts.csv"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_broken_preset_file_names_the_file_the_line_and_the_key() {
    let unknown = broken(&ACME.replace("note = \"Acme's login email\"", "notes = \"Acme's login email\""));
    assert!(unknown.contains("bad.toml:20: columns.notes: unknown field `notes`"), "{unknown}");
    let wrong_type = broken(&ACME.replace("headers = [\"Newsletter\"]", "headers = \"Newsletter\""));
    assert!(wrong_type.contains("bad.toml:23: columns.headers: invalid type: string"), "{wrong_type}");
    let bad_role = broken(&ACME.replace("role = \"skip\"", "role = \"ignore\""));
    assert!(bad_role.contains("bad.toml:45: columns.role: unknown variant `ignore`"), "{bad_role}");
    assert!(bad_role.contains("expected one of"), "the roles are listed: {bad_role}");
    let foreign = broken(&ACME.replace("role = \"email\"", "role = \"email\"\nseparator = \";\""));
    assert!(foreign.contains("bad.toml:20: columns.separator: role = \"email\" takes no `separator`"), "{foreign}");
    let twice = broken(&ACME.replace("headers = [\"Signed up\"]", "headers = [\"mail\"]"));
    assert!(twice.contains("bad.toml:31: columns.headers: `mail` is listed twice"), "{twice}");
    let name = broken(&ACME.replace("name = \"interests\"", "name = \"Interests\""));
    assert!(name.contains("bad.toml:39: columns.name: `Interests` is not a Batch attribute name"), "{name}");
    let syntax = broken("name = \"Acme\"\n[[columns]\n");
    assert!(syntax.contains("bad.toml:2:"), "{syntax}");
    let missing = broken("");
    assert!(missing.contains("bad.toml") && missing.contains("missing field `name`"), "{missing}");

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "contacts.csv", ACME_CSV);
    let out = run_in(dir.path(), &["init", "--preset-file", "nowhere.toml", "contacts.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read preset file nowhere.toml"));
    write(dir.path(), "acme.toml", ACME);
    let out = run_in(dir.path(), &["init", "--preset", "braze", "--preset-file", "acme.toml", "contacts.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A preset whose rows are told apart by a type column (Airship's
/// `device_type`), on a file without it: the job loads (it used to be "does
/// not load; please report this"), consent applies to every row, an address
/// whose channel the type column tells is left out and said so. A type column
/// spelled otherwise than in the preset is written as the file spells it.
#[test]
fn a_type_column_the_file_lacks_or_spells_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(data().join("init/braze.csv"), dir.path().join("braze.csv")).unwrap();
    let out = run_in(dir.path(), &["init", "--preset", "airship", "braze.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("when = "), "{text}");

    write(dir.path(), "subs.csv", "external_id,identifier,notification_types,language\nu1,a@example.com,1,en\n");
    let out = run_in(dir.path(), &["init", "--preset", "onesignal", "subs.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "# - `identifier`: not sent: its channel is told by `device_type`, which this file does not have"
        ),
        "{text}"
    );

    write(
        dir.path(),
        "typed.toml",
        "name = \"Typed\"\n[[ids]]\nheader = \"id\"\nwhy = \"ours\"\n[consent_by_type]\ntype_column = \"channel_type\"\nemail = [\"email\"]\nsms = [\"sms\"]\n[[columns]]\nheaders = [\"mail\"]\nrole = \"email\"\n",
    );
    write(dir.path(), "rows.csv", "id,Channel Type,mail,unsubscribed\nu1,email,a@example.com,true\nu1,sms,,false\n");
    let out = run_in(dir.path(), &["init", "--preset-file", "typed.toml", "rows.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("when = \"Channel Type\""), "{text}");
    write(dir.path(), "job.toml", &text);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{text}", String::from_utf8_lossy(&out.stderr));
}
