//! `batchport validate` as a user runs it: exact reject lines and reasons, counts
//! that add up, exit codes 0 / 3 / 2.

use crate::common::{csv_rows, json, keyed, run_in, write};

const JOB: &str = r#"
[job]
name = "check"
kind = "profiles"
rejects = "out"
[source]
path = "users.csv"
encoding = "utf-8"   # so a stray Latin-1 byte is a reject, not a sniffed encoding
[mapping]
on_bad_value = "reject_row"
custom_id = "id"
[mapping.native]
email_address = "email"
phone_number = "phone"
email_marketing = { column = "optin", subscribed = ["yes"], unsubscribed = ["no"] }
[mapping.attributes]
nickname = "nick"
birthdate = { column = "born", type = "date" }
website = { column = "site", type = "url" }
"#;

fn bad_file() -> Vec<u8> {
    let mut f = b"id,email,phone,optin,nick,born,site\n".to_vec();
    f.extend_from_slice(b"u1,a@example.com,+33639981337,yes,Al,1990-01-02,https://a.example\n"); // 2 ok
    f.extend_from_slice(b" ,b@example.com,,no,Bo,,\n"); // 3 blank id
    f.extend_from_slice(b"u3,not-an-email,,yes,,,\n"); // 4 bad email
    f.extend_from_slice(b"u4,,0639981337,,,,\n"); // 5 bad phone
    f.extend_from_slice(b"u5,,,,,1990-02-30,\n"); // 6 bad date
    f.extend_from_slice(b"u6,,,maybe,,,\n"); // 7 unknown subscription
    f.extend_from_slice(format!("u7,,,,{},,\n", "x".repeat(301)).as_bytes()); // 8 string too long
    f.extend_from_slice(format!("u8,,,,,,https://e.com/{}\n", "p".repeat(2048)).as_bytes()); // 9 URL too long
    f.extend_from_slice(b"u9,,,,,\n"); // 10 ragged
    f.extend_from_slice(b"u10,,,,Jos\xe9 ok,,\n"); // 11: one non-UTF-8 byte late in a UTF-8 file
    f.extend_from_slice(b"\"u11\",\"c@example.com\",,,\"multi\nline\",,\n"); // 12-13 ok
    f.extend_from_slice(b"u12,d@example.com,+44 20 7946 0958,no,,,\n"); // 14 ok
    f
}

#[test]
fn reports_exactly_the_bad_lines_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    write(dir.path(), "users.csv", bad_file());
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let s = json(&out);
    assert_eq!(s["status"], "done_with_rejects");
    assert_eq!(s["rows_read"], 12);
    assert_eq!(s["rows_rejected"], 9);
    assert_eq!(s["rows_valid"], 3);
    assert_eq!(s["rows_read"].as_u64(), Some(s["rows_valid"].as_u64().unwrap() + s["rows_rejected"].as_u64().unwrap()));
    let rejects = csv_rows(
        std::path::Path::new(s["rejects_file"].as_str().unwrap())
            .canonicalize()
            .as_deref()
            .unwrap_or(&dir.path().join(s["rejects_file"].as_str().unwrap())),
    );
    assert_eq!(
        rejects[0],
        ["id", "email", "phone", "optin", "nick", "born", "site", "_line", "_column", "_reason", "_raw"]
    );
    let got: Vec<(String, String, String)> =
        rejects[1..].iter().map(|r| (r[r.len() - 4].clone(), r[r.len() - 3].clone(), r[r.len() - 2].clone())).collect();
    let expect = [
        ("3", "id", "blank"),
        ("4", "email", "not an email"),
        ("5", "phone", "E.164"),
        ("6", "born", "not a date"),
        ("7", "optin", "maybe"),
        ("8", "nick", "300"),
        ("9", "site", "2048"),
        ("10", "", "6 fields where the header has 7"),
        ("11", "nick", "UTF-8"),
    ];
    assert_eq!(got.len(), expect.len(), "{got:#?}");
    for ((line, col, reason), (el, ec, er)) in got.iter().zip(expect) {
        assert_eq!((line.as_str(), col.as_str()), (el, ec), "{reason}");
        assert!(reason.contains(er), "line {line}: `{reason}` should mention `{er}`");
    }
    // The original row is kept unchanged, so the fixed file imports like the original.
    assert_eq!(rejects[1][..7], [" ", "b@example.com", "", "no", "Bo", "", ""]);
}

#[test]
fn a_fixed_rejects_file_imports_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    write(dir.path(), "users.csv", "id,email,phone,optin,nick,born,site\nu1,bad-email,,yes,,,\n");
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let path = dir.path().join(json(&out)["rejects_file"].as_str().unwrap().trim_start_matches("./"));
    let path =
        if path.exists() { path } else { std::path::PathBuf::from(json(&out)["rejects_file"].as_str().unwrap()) };
    let fixed = std::fs::read_to_string(&path).unwrap().replace("bad-email", "good@example.com");
    write(dir.path(), "users.csv", fixed);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["rows_valid"], 1);
    assert!(json(&out)["rejects_file"].is_null());
}

#[test]
fn a_clean_file_exits_zero_and_a_bad_job_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    write(dir.path(), "users.csv", "id,email,phone,optin,nick,born,site\nu1,a@example.com,,,,,\n");
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(0));
    // Without --json the summary is for people, on stdout (the command's result).
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("read 1") && !stdout.trim_start().starts_with('{'), "{stdout}");

    write(dir.path(), "job.toml", JOB.replace("custom_id = \"id\"", "custom_idd = \"id\""));
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("job.toml:11:") && err.contains("custom_idd"), "{err}");

    write(dir.path(), "job.toml", JOB.replace("nickname = \"nick\"", "nickname = \"nik\""));
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("job.toml:17:") && err.contains("`nik`") && err.contains("users.csv"), "{err}");
}

#[test]
fn a_missing_input_is_a_clear_failure() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users.csv"), "{err}");
}

#[test]
fn every_example_job_in_jobs_validates_cleanly() {
    let jobs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(&jobs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        // Export jobs too: their job file is the whole check (exit 0, nothing read).
        let text = std::fs::read_to_string(&path).unwrap();
        // Rejects go to the temp dir, not into the repository.
        let job = dir.path().join(path.file_name().unwrap());
        let text = text.replace("path = \"data/", &format!("path = \"{}/data/", jobs.display()));
        let text = text.replace("rejects = \"rejects/\"", "");
        std::fs::write(&job, text).unwrap();
        let out = run_in(dir.path(), &["validate", job.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        assert_eq!(json(&out)["rows_rejected"], 0, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 4, "the example jobs are found");
}

#[test]
fn tells_a_person_what_will_happen() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    let mut f = b"id,email,phone,optin,nick,born,site\n".to_vec();
    for i in 0..6 {
        f.extend_from_slice(format!("u{i},u{i}@example.com,,yes,,199{i}-13-01,\n").as_bytes()); // bad month
    }
    f.extend_from_slice(b"u7,u7@example.com,,no,,,\n");
    f.extend_from_slice(b"u8,u8@example.com,,,,,\n");
    f.extend_from_slice(b"u9,bad,,yes,,,\n");
    write(dir.path(), "users.csv", f);
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("rejects by column and reason"), "{err}");
    assert!(err.contains("6  `born`: birthdate: `…` is not a date"), "grouped without the values\n{err}");
    assert!(err.contains("(lines 2, 3, 4, 5, 6, ...)"), "the first lines\n{err}");
    assert!(err.contains("1  `email`: `…` is not an email address (lines 10)"), "{err}");
    let email = err.lines().find(|l| l.trim_start().starts_with("email ")).unwrap();
    let counts: Vec<&str> = email.split_whitespace().skip(1).collect();
    assert_eq!(counts, ["0", "1", "1"], "u7 unsubscribed, u8 not sent: {err}");
    assert!(err.contains("attributes sent: $email_address, $phone_number, $email_marketing"), "{err}");

    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let s = json(&out);
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(9), Some(7)));
    let f = &s["forecast"];
    assert_eq!(f["email_marketing"]["unsubscribed"], 1);
    assert_eq!(f["rejects"][0]["column"], "born");
    assert_eq!(f["rejects"][0]["count"], 6);
    assert_eq!(f["rejects"][0]["first_lines"], serde_json::json!([2, 3, 4, 5, 6]));
}

/// Issue 25: `validate` and `run` agree on what needs no API: a base URL
/// with a user part and a rejects path that is a file are bad jobs for both
/// (exit 2, the secret not echoed), and an audience replace with nothing to
/// send is refused by both (exit 3).
#[test]
fn validate_and_run_agree_on_user_info_urls_rejects_paths_and_empty_replaces() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "users.csv", "id,name\nu1,A\n");
    write(
        dir.path(),
        "job.toml",
        "[job]\nname = \"ui\"\nkind = \"profiles\"\n[api]\nbase_url = \"https://me:s3cret@api.batch.com\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"name\"\n",
    );
    for command in ["validate", "run"] {
        let out = keyed(dir.path(), &[command, "job.toml"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(err.contains("user name or password") && !err.contains("s3cret"), "{command}: {err}");
    }
    // A rejects "folder" that is a file: a bad job for both, before anything is sent.
    write(dir.path(), "taken", "a file");
    write(
        dir.path(),
        "job.toml",
        "[job]\nname = \"rf\"\nkind = \"profiles\"\nrejects = \"taken\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nname = \"name\"\n",
    );
    for command in ["validate", "run"] {
        let out = keyed(dir.path(), &[command, "job.toml"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(err.contains("job.rejects") && err.contains("is a file"), "{command}: {err}");
    }
    write(dir.path(), "empty.csv", "custom_id\n  \n");
    write(
        dir.path(),
        "replace.toml",
        "[job]\nname = \"aud\"\nkind = \"audience\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"empty.csv\"\n[audience]\nname = \"vip\"\ndisplay_name = \"VIP\"\ncreate = true\nmode = \"replace\"\n[mapping]\ncustom_id = \"custom_id\"\n",
    );
    let out = run_in(dir.path(), &["validate", "replace.toml", "--json"]);
    let s = json(&out);
    assert_eq!((out.status.code(), s["status"].as_str()), (Some(3), Some("refused")), "{s}");
    assert!(s["note"].as_str().unwrap().contains("allow_empty"), "{s}");
    let out = keyed(dir.path(), &["run", "replace.toml", "--json"]);
    assert_eq!((out.status.code(), json(&out)["status"].as_str()), (Some(3), Some("refused")));
}

/// `validate` says where each value of a consent column went, so a person
/// checks the preset's reading in one look (issue 34).
#[test]
fn consent_is_forecast_per_source_value() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.toml",
        "[job]\nname = \"c\"\nkind = \"profiles\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.native]\nemail_address = \"email\"\nemail_marketing = { column = \"consent\", subscribed = [\"yes\"], unsubscribed = [\"no\"], suppressed_by = [\"bounced\"] }\n",
    );
    write(
        dir.path(),
        "users.csv",
        "id,email,consent,bounced\nu1,a@example.com,yes,\nu2,b@example.com,no,\nu3,c@example.com,maybe,\nu4,d@example.com,yes,\nu5,e@example.com,yes,2024-01-01\nu6,f@example.com,,\n",
    );
    let s = json(&run_in(dir.path(), &["validate", "job.toml", "--json"]));
    let values = s["forecast"]["consent_values"].as_array().unwrap();
    let of = |v: &str| {
        let e = values.iter().find(|e| e["value"] == v).unwrap_or_else(|| panic!("{v}: {values:?}"));
        assert_eq!((e["channel"].as_str(), e["column"].as_str()), (Some("email"), Some("consent")));
        (e["subscribed"].as_u64().unwrap(), e["unsubscribed"].as_u64().unwrap(), e["not_sent"].as_u64().unwrap())
    };
    assert_eq!(of("yes"), (2, 1, 0), "u5's bounce wins over its yes");
    assert_eq!(of("no"), (0, 1, 0));
    assert_eq!(of("maybe"), (0, 0, 1));
    assert_eq!(of(""), (0, 0, 1));
    assert_eq!(values.len(), 4, "{values:?}");
    let text = String::from_utf8_lossy(&run_in(dir.path(), &["validate", "job.toml"]).stdout).to_string();
    assert!(text.contains("email consent by value of `consent`:"), "{text}");
    assert!(text.contains("`yes`") && text.contains("subscribed 2, unsubscribed 1"), "{text}");
    assert!(text.contains("(blank)"), "{text}");
}

/// A national phone whose row's country cell is blank or not a country: the
/// reason names that cell, not "give the job a region_column" to a job that
/// has one (issue 33).
#[test]
fn a_phone_left_out_names_its_row_s_country_cell() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ph.csv",
        "id,phone,country\nu1,06 12 34 56 78,FR\nu2,06 12 34 56 79,\nu3,06 12 34 56 70,Narnia\n",
    );
    write(
        dir.path(),
        "job.toml",
        "[job]\nname = \"ph\"\nkind = \"profiles\"\n[source]\npath = \"ph.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.native]\nphone_number = { column = \"phone\", region_column = \"country\" }\n",
    );
    let s = json(&run_in(dir.path(), &["validate", "job.toml", "--json"]));
    let reasons: Vec<&str> =
        s["forecast"]["values_dropped"].as_array().unwrap().iter().map(|g| g["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "{s}");
    assert!(reasons.iter().any(|r| r.ends_with("this row's `country` is blank")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.ends_with("this row's `country` is not a country")), "{reasons:?}");
    assert!(reasons.iter().all(|r| !r.contains("region_column")), "{reasons:?}");
}

/// Event names as other tools write them (`Viewed Product`) are refused with
/// a hint, and sent in snake case under `event_case = "snake"` (issue 33).
#[test]
fn event_names_can_be_put_in_snake_case() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ev.csv", "user_id,event\nu1,Viewed Product\nu2,Added To Cart\nu3,purchase\nu4,!!!\n");
    let job = |case: &str| {
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[source]\npath = \"ev.csv\"\n[mapping]\ncustom_id = \"user_id\"\nevent = \"event\"\n{case}"
        )
    };
    write(dir.path(), "job.toml", job(""));
    let s = json(&run_in(dir.path(), &["validate", "job.toml", "--json"]));
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(1), Some(3)), "{s}");
    assert!(s["forecast"]["rejects"].to_string().contains("event_case"), "{s}");
    write(dir.path(), "job.toml", job("event_case = \"snake\"\n"));
    let s = json(&run_in(dir.path(), &["validate", "job.toml", "--json"]));
    // `!!!` has no letter to keep: still a reject.
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    write(dir.path(), "job.toml", job("event_case = \"kebab\"\n"));
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("job.toml:9: mapping.event_case"), "{out:?}");
}
