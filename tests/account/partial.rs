//! Rows Batch applied in part (issue 26, points 3 and 4): the change index
//! never keeps an older operation for them, so a revert is sent; the event
//! index keeps their events, so a rerun never sends them twice.

use super::{drop_file, emulator, labels, run, summary};
use crate::common::write;
use batchport::{EmulatorConfig, Faults};

/// An emulator that refuses every attribute named `bad` (a partial error).
fn refusing() -> batchport::Emulator {
    emulator(EmulatorConfig {
        faults: Faults { refuse_attribute: Some("bad".into()), ..Faults::default() },
        ..Default::default()
    })
}

#[test]
fn a_partially_applied_row_never_hides_a_revert() {
    let emu = refusing();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"partial\"\nkind = \"profiles\"\n[api]\nbase_url = \"{}\"\nendpoint = \"update\"\n[source]\npath = \"users.csv\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = true\n[mapping.attributes]\ntier = \"tier\"\nbad = \"bad\"\n",
            emu.base_url()
        ),
    );
    let tier = |id: &str| emu.profile(id).unwrap()["attributes"]["tier"].as_str().unwrap().to_string();
    drop_file(dir.path(), "users.csv", "id,tier,bad\nu1,gold,\nu2,gold,\n", 0);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(tier("u1"), "gold");
    // Night 2: silver, with an attribute Batch refuses: Batch holds silver.
    drop_file(dir.path(), "users.csv", "id,tier,bad\nu1,silver,x\nu2,gold,\n", 1);
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!(s["rows_partial"], 1, "{s}");
    assert_eq!(tier("u1"), "silver");
    // Night 3: back to gold. Not the row acknowledged whole last, so it is sent.
    drop_file(dir.path(), "users.csv", "id,tier,bad\nu1,gold,\nu2,gold,\n", 2);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(tier("u1"), "gold", "{s}");
    assert_eq!((s["rows_sent"].as_u64(), s["rows_unchanged"].as_u64()), (Some(1), Some(1)), "{s}");
    // Night 4: the same again: now unchanged.
    drop_file(dir.path(), "users.csv", "id,tier,bad\nu1,gold,\nu2,gold,\n", 3);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(s["rows_unchanged"], 2, "{s}");
}

#[test]
fn events_applied_in_part_are_never_sent_again() {
    let emu = refusing();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\nendpoint = \"update\"\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = {{ column = \"time\" }}\n[mapping.attributes]\nbad = \"bad\"\n[mapping.event_attributes]\n\"$label\" = \"label\"\n",
            emu.base_url()
        ),
    );
    let now = chrono::Utc::now();
    let at = |m: i64| (now - chrono::Duration::minutes(m)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut text = String::from("id,event,time,label,bad\n");
    for i in 0..6 {
        let bad = if i % 2 == 0 { "x" } else { "" };
        text.push_str(&format!("e{i},app_open,{},l{i},{bad}\n", at(60 - i)));
    }
    drop_file(dir.path(), "events.csv", &text, 0);
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!(s["rows_partial"], 3, "{s}");
    // Tomorrow's file: yesterday's events and two more.
    for i in 6..8 {
        text.push_str(&format!("e{i},app_open,{},l{i},\n", at(60 - i)));
    }
    drop_file(dir.path(), "events.csv", &text, 1);
    // The rows with a profile attribute send it again, without their event
    // (refused again: partial); the others are duplicates.
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!((s["rows_sent"].as_u64(), s["rows_duplicate"].as_u64()), (Some(5), Some(3)), "{s}");
    assert_eq!(s["rows_partial"], 3, "{s}");
    let seen = labels(&emu, (0..8).map(|i| format!("e{i}")));
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert!(seen.values().all(|&c| c == 1), "an event arrived twice: {seen:?}");
}
