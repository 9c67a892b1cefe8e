//! Nightly imports: `changed_only` sends only what changed since the last
//! acknowledged run; a glob is one run over several files.

use crate::common::{json, rewrite, write};
use crate::run::{emulator, run};
use batchport_emulator::Faults;
use std::path::Path;

fn rows(n: u32, changed: &[u32], skip: &[u32], extra: &[u32]) -> String {
    let mut f = String::from("id,email,plan\n");
    for i in (0..n).filter(|i| !skip.contains(i)).chain(extra.iter().copied()) {
        let plan = if changed.contains(&i) { "premium" } else { "free" };
        f.push_str(&format!("u{i},user{i}@example.com,{plan}\n"));
    }
    f
}

fn job(dir: &Path, url: &str, path: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"nightly\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\nbatch_size = 500\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\non_bad_value = \"reject_row\"\n[mapping.native]\nemail_address = \"email\"\n[mapping.attributes]\nplan = \"plan\"\n"
        ),
    );
}

fn n(s: &serde_json::Value, k: &str) -> u64 {
    s[k].as_u64().unwrap()
}

#[test]
fn only_changed_added_and_previously_rejected_rows_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "users.csv");
    let mut first = rows(5_000, &[], &[], &[]);
    first = first.replace("u42,user42@example.com", "u42,not-an-email"); // rejected tonight
    write(dir.path(), "users.csv", &first);
    let s = json(&run(dir.path(), &[]));
    assert_eq!((n(&s, "rows_sent"), n(&s, "rows_rejected")), (4_999, 1));

    // Same content, new file (tomorrow's dump): nothing to send, no request.
    let requests = emu.stats().requests;
    rewrite(dir.path(), "users.csv", first.replace("u42,not-an-email", "u42,user42@example.com"));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_unchanged"), 4_999, "{s}");
    assert_eq!(n(&s, "rows_sent"), 1, "yesterday's reject is tried again");
    assert_eq!(emu.stats().requests, requests + 1);

    // 1% changed, 10 dropped, 10 added: exactly those 50 + 10 are sent.
    let changed: Vec<u32> = (0..50).map(|i| i * 100 + 7).collect();
    let skip: Vec<u32> = (4_990..5_000).collect();
    let extra: Vec<u32> = (9_000..9_010).collect();
    write(dir.path(), "users.csv", rows(5_000, &changed, &skip, &extra));
    let before = emu.received_all();
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_sent"), 60, "{s}");
    assert_eq!(n(&s, "rows_read"), 5_000);
    assert_eq!(n(&s, "rows_unchanged"), 4_940);
    let after = emu.received_all();
    let sent: Vec<&String> = after.keys().filter(|k| after[*k] != before.get(*k).copied().unwrap_or(0)).collect();
    assert_eq!(sent.len(), 60);
    assert!(changed.iter().all(|i| emu.profile(&format!("u{i}")).unwrap()["attributes"]["plan"] == "premium"));

    // reset --delta forgets the index: everything is sent again.
    let out = crate::common::run_in(dir.path(), &["reset", "job.toml", "--delta"]);
    assert_eq!(out.status.code(), Some(0));
    write(dir.path(), "users.csv", rows(5_000, &changed, &skip, &extra));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_sent"), 5_000, "{s}");
}

#[test]
fn a_glob_is_one_run_over_its_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    for part in 0..3u32 {
        let mut f = String::from("id,email,plan\n");
        for i in part * 1_000..(part + 1) * 1_000 {
            f.push_str(&format!("u{i},user{i}@example.com,free\n"));
        }
        write(dir.path(), &format!("drop/users-2026-11-27-{part}.csv"), f);
    }
    job(dir.path(), &emu.base_url(), "drop/users-2026-11-27-*.csv");
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_sent"), 3_000, "{s}");
    assert_eq!(s["files"].as_array().unwrap().len(), 3);
    assert!(s["files"][0].as_str().unwrap().ends_with("-0.csv"));
    assert_eq!(emu.received_all().len(), 3_000);
}

#[test]
fn a_kill_never_marks_unsent_rows_as_sent() {
    let emu = crate::common::emulator_process(&["--latency-ms", "30"]);
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), &emu.url, "users.csv");
    write(dir.path(), "users.csv", rows(20_000, &[], &[], &[]));
    let importer = || {
        let mut c = crate::common::bin();
        c.args(["run", "job.toml", "--json", "--state"])
            .arg(dir.path().join("state"))
            .current_dir(dir.path())
            .env("BATCH_REST_KEY", "emulator_rest_key")
            .env("BATCH_PROJECT_KEY", "project_emulator");
        c
    };
    for more in [3, 6, 9] {
        kill_mid_run(importer(), &emu, more);
    }
    let out = importer().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Tomorrow's identical dump: unchanged rows are skipped, but only rows that
    // did reach Batch count as unchanged.
    rewrite(dir.path(), "users.csv", rows(20_000, &[], &[], &[]));
    let s = json(&importer().output().unwrap());
    assert_eq!(n(&s, "rows_unchanged") + n(&s, "rows_sent"), 20_000);
    assert_eq!(emu.received().len(), 20_000, "every id reached the emulator");
}

/// A nightly over an existing index, killed (SIGKILL) three times while it
/// sends: every changed row reaches Batch with its new value, and the index
/// ends knowing every row, so the same dump again sends nothing.
#[test]
fn a_killed_nightly_delivers_every_change_and_forgets_none() {
    let emu = crate::common::emulator_process(&["--latency-ms", "100", "--unlimited"]);
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), &emu.url, "users.csv");
    let toml = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    write(dir.path(), "job.toml", toml.replace("batch_size = 500", "batch_size = 2000\nrate = 0"));
    let importer = || {
        let mut c = crate::common::bin();
        c.args(["run", "job.toml", "--json", "--state"])
            .arg(dir.path().join("state"))
            .current_dir(dir.path())
            .env("BATCH_REST_KEY", "emulator_rest_key")
            .env("BATCH_PROJECT_KEY", "project_emulator");
        c
    };
    let total = 60_000u64;
    // One row in three changed tonight, spread over the file.
    let dump = |tonight: bool| -> String {
        let mut f = String::from("id,email,plan\n");
        for i in 0..total {
            let plan = if tonight && i % 3 == 1 { "premium" } else { "free" };
            f.push_str(&format!("u{i},user{i}@example.com,{plan}\n"));
        }
        f
    };
    write(dir.path(), "users.csv", dump(false));
    let s = json(&importer().output().unwrap());
    assert_eq!(n(&s, "rows_sent"), total, "{s}");
    rewrite(dir.path(), "users.csv", dump(true));
    for more in [2, 2, 2] {
        kill_mid_run(importer(), &emu, more);
    }
    let out = importer().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = json(&out);
    assert_eq!(n(&s, "rows_read"), total, "{s}");
    assert!(n(&s, "rows_unchanged") >= total * 2 / 3, "{s}");
    for i in (1..total).step_by(3 * 97) {
        assert_eq!(emu.profile(&format!("u{i}"))["attributes"]["plan"], "premium", "u{i}");
    }
    // The same dump again: the index knows every row as Batch has it.
    rewrite(dir.path(), "users.csv", dump(true));
    let s = json(&importer().output().unwrap());
    assert_eq!((n(&s, "rows_sent"), n(&s, "rows_unchanged"), n(&s, "requests")), (0, total, 0), "{s}");
}

/// The scan of a nightly (every row checked against the index at once, the
/// file then read again): rows rewritten between the two reads are sent,
/// never skipped on the strength of the first read.
#[test]
fn a_file_rewritten_between_the_scan_and_the_import_has_its_rows_sent() {
    use batchport_engine::pipeline;
    use batchport_source as source;
    use batchport_state as state;
    use batchport_transform as transform;
    use batchport_transform::job as jobs;
    let dir = tempfile::tempdir().unwrap();
    let job = jobs::parse(
        "[job]\nname = \"n\"\nkind = \"profiles\"\n[source]\npath = \"u.csv\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.attributes]\nplan = \"plan\"\n",
        &dir.path().join("n.toml"),
    )
    .unwrap();
    let path = dir.path().join("u.csv");
    let opts = source::SourceOptions::default();
    let file = |premium: &[u32]| {
        let mut f = String::from("id,plan\n");
        for i in 0..10_000u32 {
            f.push_str(&format!("u{i},{}\n", if premium.contains(&i) { "gold" } else { "free" }));
        }
        std::fs::write(&path, f).unwrap();
    };
    file(&[]);
    let src = source::CsvSource::open(&path, &opts).unwrap();
    let t = transform::Transformer::bind(&job, src.headers(), &path).unwrap();
    let store = state::Store::open(&dir.path().join("state"), false).unwrap();
    let index = store.change_index("dest").unwrap();
    // Batch has yesterday's file (every row free).
    let mut acked = Vec::new();
    pipeline::for_each_chunk(src, &t, |chunk| {
        for r in chunk.results {
            if let transform::Mapped::Op(op) = r {
                acked.push(t.change_pair(&op.record, &mut Vec::new()).unwrap());
            }
        }
        true
    })
    .unwrap();
    index.record_acked(&acked).unwrap();
    index.commit().unwrap();

    // Tonight: u5000 changed. Scanned as it is...
    file(&[5_000]);
    let lookup = index.lookup();
    let scan = |p: &std::path::Path| source::CsvSource::open(p, &opts).unwrap();
    let delta = pipeline::scan_changes(scan(&path), &t, &lookup, 0, || true).unwrap().unwrap();
    assert_eq!(delta.unchanged_count(), 9_999);
    // Read as it is, seeking past whole unchanged windows: of the five
    // windows (2,048 rows; the last 1,808), the 1st, 2nd and 4th are not read
    // (u5000 is in the 3rd; the last one is always read).
    let (mut runs, mut skipped, mut seen) = (Vec::new(), 0, Vec::new());
    pipeline::for_each_chunk_delta(scan(&path), &t, &delta, true, |chunk| {
        for r in chunk.results {
            match r {
                transform::Mapped::UnchangedRun { first, last, rows } => {
                    runs.push((first.record, last.record, first.line, last.line));
                    skipped += rows;
                }
                transform::Mapped::Unchanged(p) => seen.push(p.record),
                transform::Mapped::Op(op) => assert_eq!(op.key, "u5000"),
                transform::Mapped::Reject(r) => panic!("{r:?}"),
            }
        }
        true
    })
    .unwrap();
    assert_eq!(runs, vec![(0, 2_047, 2, 2_049), (2_048, 4_095, 2_050, 4_097), (6_144, 8_191, 6_146, 8_193)]);
    assert_eq!(skipped + seen.len() as u64 + 1, 10_000);
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen.first() == Some(&4_096));
    // ...then rewritten before the import reads it: u7 and u9999 changed too.
    file(&[5_000, 7, 9_999]);
    let mut sent = Vec::new();
    let mut unchanged = 0;
    // (Read row by row: windows sought past unread are the next test's.)
    pipeline::for_each_chunk_delta(scan(&path), &t, &delta, false, |chunk| {
        for r in chunk.results {
            match r {
                transform::Mapped::Op(op) => sent.push(op.key),
                transform::Mapped::Unchanged(_) => unchanged += 1,
                other => panic!("{other:?}"),
            }
        }
        true
    })
    .unwrap();
    for id in ["u7", "u5000", "u9999"] {
        assert!(sent.iter().any(|k| k == id), "{id} is sent");
    }
    // The windows that read the same are trusted: the rest of the file is skipped.
    assert!(unchanged >= 10_000 - 3 * 2_048, "{unchanged}");
    assert_eq!(unchanged + sent.len(), 10_000);
}

/// A gzipped dump is scanned too (decompressed twice), with the same result.
#[test]
fn a_gzipped_nightly_sends_only_what_changed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "users.csv.gz");
    let gz = |text: String| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        rewrite(dir.path(), "users.csv.gz", e.finish().unwrap());
    };
    gz(rows(3_000, &[], &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_sent"), 3_000, "{s}");
    gz(rows(3_000, &[10, 2_999], &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((n(&s, "rows_sent"), n(&s, "rows_unchanged")), (2, 2_998), "{s}");
    assert_eq!(emu.profile("u2999").unwrap()["attributes"]["plan"], "premium");
}

/// A nightly where whole windows of 2,048 rows are unchanged: the import
/// seeks past them unread and counts them; rows around a change are read.
#[test]
fn unchanged_windows_are_sought_past_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(Faults::default());
    job(dir.path(), &emu.base_url(), "users.csv");
    write(dir.path(), "users.csv", rows(10_000, &[], &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!(n(&s, "rows_sent"), 10_000, "{s}");
    // One change in the third window (rows 4,096 to 6,143), one in the last.
    rewrite(dir.path(), "users.csv", rows(10_000, &[5_000, 9_999], &[], &[]));
    let requests = emu.stats().requests;
    let s = json(&run(dir.path(), &[]));
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_sent"), n(&s, "rows_unchanged")), (10_000, 2, 9_998), "{s}");
    assert_eq!(emu.stats().requests, requests + 1);
    assert_eq!(emu.profile("u5000").unwrap()["attributes"]["plan"], "premium");
    assert_eq!(emu.profile("u9999").unwrap()["attributes"]["plan"], "premium");
    // The same rows again: every window but the last is sought past; the run
    // resumes nothing and sends nothing.
    rewrite(dir.path(), "users.csv", rows(10_000, &[5_000, 9_999], &[], &[]));
    let s = json(&run(dir.path(), &[]));
    assert_eq!((n(&s, "rows_read"), n(&s, "rows_sent"), n(&s, "rows_unchanged")), (10_000, 0, 10_000), "{s}");
}

/// Start `importer` and SIGKILL it once `emu` answered `more` more requests:
/// mid-run on any machine (the test fails if the run ended first).
fn kill_mid_run(mut importer: std::process::Command, emu: &batchport_testdata::harness::EmulatorProcess, more: u64) {
    use std::process::Stdio;
    let mut child = importer.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let before = emu.requests();
    let landed = batchport_testdata::harness::kill_after_requests(
        &mut child,
        || emu.requests(),
        before,
        more,
        std::time::Duration::from_secs(60),
    );
    assert!(landed, "the kill came after {more} more requests, while the run sent");
}
