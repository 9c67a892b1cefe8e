//! What the output says, for people (issue 33): each message shows the real
//! cause, and nothing it prints is noise.

use crate::common::{json, keyed, write};

const JOB: &str = "[job]\nname = \"m\"\nkind = \"profiles\"\n[api]\nbase_url = \"emulator\"\n[source]\npath = \"users.csv\"\n\
                   [mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.attributes]\nplan = \"plan\"\n";

/// The first `changed_only` run says its index was empty; a run of one
/// request prints no "updates/s achieved" (nor a rate in JSON); a job that
/// sends no consent prints no consent table.
#[test]
fn a_first_nightly_says_so_and_a_short_run_claims_no_rate() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    write(dir.path(), "users.csv", "id,plan\nu1,a\nu2,b\n");
    let out = keyed(dir.path(), &["run", "job.toml", "--json"]);
    let s = json(&out);
    assert_eq!(s["status"], "done", "{s}");
    assert!(s["note"].as_str().unwrap().contains("the change index was empty"), "{s}");
    assert!(s["rate_achieved"].is_null(), "one request is no rate: {s}");
    let out = keyed(dir.path(), &["validate", "job.toml"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("consent ") && !text.contains("updates/s"), "{text}");
}

/// A glob that matches nothing names the folder it looked in, also when the
/// job file is in the working folder.
#[test]
fn an_empty_glob_names_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB.replace("users.csv", "daily-*.csv"));
    let s = json(&keyed(dir.path(), &["validate", "job.toml", "--json"]));
    let error = s["error"].as_str().unwrap();
    let folder = dir.path().canonicalize().unwrap();
    assert!(!error.contains("(relative to )"), "{error}");
    assert!(error.contains(&*dir.path().to_string_lossy()) || error.contains(&*folder.to_string_lossy()), "{error}");
}

/// A grouped reason keeps the job's words (`format`), hiding only the value.
#[test]
fn grouped_reasons_keep_the_job_s_words() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB.replace("plan = \"plan\"", "since = { column = \"plan\", type = \"date\" }"));
    write(dir.path(), "users.csv", "id,plan\nu1,1/2/2023\nu2,3/4/2023\n");
    let s = json(&keyed(dir.path(), &["validate", "job.toml", "--json"]));
    let groups = s["forecast"]["values_dropped"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "two values, one reason: {s}");
    let reason = groups[0]["reason"].as_str().unwrap();
    assert!(reason.contains("set a `format` for others") && reason.contains("`…`"), "{reason}");
}

/// `validate` of a `changed_only` job forecasts what the next run sends and
/// skips, and the run then does exactly that (issue 33).
#[test]
fn validate_forecasts_a_nightly_s_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    let rows = |changed: &[u32]| {
        let mut csv = String::from("id,plan\n");
        for i in 0..200u32 {
            csv.push_str(&format!("u{i},{}\n", if changed.contains(&i) { "gold" } else { "basic" }));
        }
        csv
    };
    crate::common::rewrite(dir.path(), "users.csv", rows(&[]));
    json(&keyed(dir.path(), &["run", "job.toml", "--json"]));
    crate::common::rewrite(dir.path(), "users.csv", rows(&[3, 70, 199]));
    let v = json(&keyed(dir.path(), &["validate", "job.toml", "--json"]));
    assert_eq!(v["rows_unchanged"], 197, "{v}");
    assert!(v["note"].as_str().unwrap().contains("about 3 rows would be sent"), "{v}");
    let s = json(&keyed(dir.path(), &["run", "job.toml", "--json"]));
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(3), Some(197)), "{s}");
}
