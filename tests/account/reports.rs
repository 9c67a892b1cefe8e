//! What a run says about itself: audience replace with nothing to send, the
//! rejects of every file of a glob, and a growing glob of events files
//! killed again and again.

use super::{emulator, events_job, labels, run, summary};
use crate::common::{bin, csv_rows, write};
use batchport::{Emulator, EmulatorConfig};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn audience_job(dir: &Path, url: &str, csv: &str, extra: &str) {
    write(
        dir,
        "aud.toml",
        format!(
            "[job]\nname = \"aud\"\nkind = \"audience\"\n[api]\nbase_url = \"{url}\"\n[audience]\nname = \"vip\"\ncreate = true\nmode = \"replace\"\n{extra}\n[source]\npath = \"{csv}\"\n[mapping]\ncustom_id = \"user\"\n"
        ),
    );
}

/// Case 7: an audience replace with an empty input, or every row rejected,
/// refuses (exit 3) and leaves the audience as it was, unless `allow_empty`.
#[test]
fn an_audience_replace_with_nothing_to_send_refuses_unless_allowed() {
    let emu = emulator(EmulatorConfig { indexing_delay: Duration::from_millis(20), ..EmulatorConfig::default() });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "all.csv", "user\na\nb\nc\n");
    audience_job(dir.path(), &emu.base_url(), "all.csv", "");
    summary(&run(dir.path(), "aud.toml"), 0);
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 3);

    write(dir.path(), "empty.csv", "user\n");
    audience_job(dir.path(), &emu.base_url(), "empty.csv", "");
    let s = summary(&run(dir.path(), "aud.toml"), 3);
    assert_eq!(s["status"], "refused", "{s}");
    assert!(s["error"].as_str().unwrap().contains("allow_empty"), "{s}");
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 3, "the audience is left as it was");

    // Every row rejected: the same.
    write(dir.path(), "bad.csv", "user,x\n,1\n,2\n");
    audience_job(dir.path(), &emu.base_url(), "bad.csv", "");
    let s = summary(&run(dir.path(), "aud.toml"), 3);
    assert_eq!(s["status"], "refused", "{s}");
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 3);

    // Allowed: the audience is emptied.
    audience_job(dir.path(), &emu.base_url(), "empty.csv", "allow_empty = true");
    let s = summary(&run(dir.path(), "aud.toml"), 0);
    assert_eq!(s["status"], "done", "{s}");
    assert_eq!(emu.audience_ids("vip").unwrap().len(), 0);
}

fn importer(dir: &Path) -> std::process::Command {
    let mut c = bin();
    c.args(["run", "job.toml", "--json", "--state"])
        .arg(dir.join("state"))
        .current_dir(dir)
        .env("BATCH_REST_KEY", "emulator_rest_key")
        .env("BATCH_PROJECT_KEY", "project_emulator");
    c
}

/// Run the importer and kill it (SIGKILL) once `emu` answered `more` more
/// requests: mid-run however slow the machine (a fixed delay could land
/// before the first request). A run with fewer requests left ends by itself.
fn kill_after(dir: &Path, emu: &Emulator, more: u64) {
    let mut child = importer(dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let before = emu.stats().requests;
    batchport_testdata::harness::kill_after_requests(
        &mut child,
        || emu.stats().requests,
        before,
        more,
        Duration::from_secs(60),
    );
}

/// Case 9: a glob whose files have two headers: one rejects file per header,
/// all listed in the summary and `status`, a `_file` column, and each bad
/// row exactly once whatever the kills.
#[test]
fn rejects_of_every_file_of_a_glob_are_reported_and_cut_back_on_resume() {
    let emu = emulator(EmulatorConfig {
        faults: batchport::Faults { latency: Duration::from_millis(40), ..Default::default() },
        ..EmulatorConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut bad_a, mut bad_b) = (0, 0);
    for (name, header) in [("in/a.csv", "id,n"), ("in/b.csv", "n,id,extra"), ("in/c.csv", "id,n")] {
        let mut f = format!("{header}\n");
        for i in 0..3_000 {
            let n = if i % 100 == 7 { "x".to_string() } else { i.to_string() };
            let id = format!("{}{i}", &name[3..4]);
            f.push_str(&if header == "id,n" { format!("{id},{n}\n") } else { format!("{n},{id},z\n") });
            if i % 100 == 7 {
                if header == "id,n" { bad_a += 1 } else { bad_b += 1 }
            }
        }
        write(dir.path(), name, f);
    }
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"globrej\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nbatch_size = 200\nconcurrency = 2\n[source]\npath = \"in/*.csv\"\n[mapping]\ncustom_id = \"id\"\non_bad_value = \"reject_row\"\n[mapping.attributes]\nn = {{ column = \"n\", type = \"int\" }}\n",
            emu.base_url()
        ),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for _ in 0..4 {
        kill_after(dir.path(), &emu, rng.random_range(1..30));
    }
    let out = importer(dir.path()).output().unwrap();
    let s = summary(&out, 3);
    let files: Vec<String> =
        s["rejects_files"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    assert_eq!(files.len(), 2, "one rejects file per header: {s}");
    assert_eq!(s["rejects_file"].as_str().unwrap(), files[0]);
    // A kill after the run finished leaves this run "already imported": its
    // figures are the earlier run's, under `imported_by`.
    let counts = if s["imported_by"].is_object() { &s["imported_by"] } else { &s };
    assert_eq!(counts["rows_rejected"].as_u64().unwrap(), bad_a + bad_b, "{s}");
    let mut per_header = HashMap::new();
    for f in &files {
        let rows = csv_rows(&dir.path().join(f));
        let header = rows[0].clone();
        assert_eq!(&header[header.len() - 5..], ["_line", "_column", "_reason", "_raw", "_file"], "{f}");
        let mut lines: Vec<(String, String)> =
            rows[1..].iter().map(|r| (r[r.len() - 1].clone(), r[r.len() - 5].clone())).collect();
        let n = lines.len();
        lines.sort();
        lines.dedup();
        assert_eq!(lines.len(), n, "no reject written twice in {f}");
        per_header.insert(header[..header.len() - 5].join(","), n as u64);
    }
    assert_eq!(per_header.get("id,n"), Some(&bad_a), "{per_header:?}");
    assert_eq!(per_header.get("n,id,extra"), Some(&bad_b), "{per_header:?}");
    let status = crate::common::run_in(dir.path(), &["status", "job.toml"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(files.iter().all(|f| text.contains(f.as_str())), "{text}");
}

/// Kill test on a growing glob of events files: 10 kills, new files between
/// them, then runs to the end: no event received twice, every event received
/// or held.
#[test]
fn a_growing_glob_of_events_killed_ten_times_never_doubles_an_event() {
    let emu = emulator(EmulatorConfig {
        faults: batchport::Faults { latency: Duration::from_millis(30), ..Default::default() },
        ..EmulatorConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    events_job(dir.path(), "job.toml", "growing", &emu.base_url(), "in/day*.csv", "batch_size = 100\nconcurrency = 4");
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    // New files, and every third time rows appended to the last one (its run,
    // if unfinished, is abandoned: what it had in flight stays held).
    let mut labels_written = Vec::new();
    let mut file = 0;
    for step in 0..10 {
        let labels: Vec<String> = (0..800).map(|i| format!("s{step}r{i}")).collect();
        let rows: String = labels.iter().enumerate().map(|(i, l)| format!("e{},purchase,{l}\n", i % 300)).collect();
        if step % 3 == 2 {
            let path = dir.path().join(format!("in/day{:02}.csv", file - 1));
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            std::io::Write::write_all(&mut f, rows.as_bytes()).unwrap();
        } else {
            write(dir.path(), &format!("in/day{file:02}.csv"), format!("id,event,label\n{rows}"));
            file += 1;
        }
        labels_written.extend(labels);
        kill_after(dir.path(), &emu, rng.random_range(1..10));
    }
    let out = importer(dir.path()).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 4)), "{}", String::from_utf8_lossy(&out.stderr));
    let last = crate::common::json(&out);
    let again = importer(dir.path()).output().unwrap();
    assert!(crate::common::json(&again)["note"].as_str().unwrap_or_default().contains("already imported"));
    // Every row any attempt held, whatever run it belonged to.
    let mut held = std::collections::HashSet::new();
    for f in std::fs::read_dir(dir.path().join("state/rejects")).into_iter().flatten().flatten() {
        if f.file_name().to_string_lossy().contains("-uncertain") {
            for r in csv_rows(&f.path())[1..].iter() {
                held.insert(r[2].clone());
            }
        }
    }
    let seen = labels(&emu, (0..300).map(|i| format!("e{i}")));
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "{} events received twice, e.g. {:?}", twice.len(), &twice[..twice.len().min(5)]);
    for l in &labels_written {
        assert!(seen.contains_key(l) || held.contains(l), "{l} neither received nor held ({last})");
    }
}
