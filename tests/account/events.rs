//! An events row whose event Batch already has (issue 26, point 5): the
//! event is not sent again, but the row's profile part (its consent above
//! all) still is. And an event without a time is never taken for another
//! row's: Batch stamps it when it arrives, so tomorrow's is a new one.

use super::{drop_file, emulator, run, summary};
use crate::common::write;
use batchport::EmulatorConfig;

#[test]
fn a_duplicate_event_never_takes_the_row_s_opt_out_with_it() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\ntime = {{ column = \"when\" }}\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n",
            emu.base_url()
        ),
    );
    let night = |text: &str, n: u64| drop_file(dir.path(), "events.csv", text, n);
    let consent = |id: &str| emu.profile(id).unwrap()["attributes"]["$email_marketing"].as_str().map(str::to_string);
    // The same events (same times) both nights: only their rows' consent moves.
    let when = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    night(&format!("id,event,when,news\nu1,app_open,{when},yes\nu2,app_open,{when},yes\n"), 0);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(consent("u1").as_deref(), Some("subscribed"));
    night(&format!("id,event,when,news\nu1,app_open,{when},no\nu2,app_open,{when},\n"), 1);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(consent("u1").as_deref(), Some("unsubscribed"), "{s}");
    assert_eq!(consent("u2").as_deref(), Some("subscribed"));
    assert_eq!(s["rows_duplicate"], 1, "u2's row had nothing but its event: {s}");
    let events = |id: &str| emu.profile(id).unwrap()["events"].as_array().map_or(0, Vec::len);
    assert_eq!(events("u2"), 1, "never sent twice");
}

/// Without a time column: a nightly export at the same path whose row says
/// the same event brings a new event (and its row's opt-out); a file that
/// grew sends only its new rows; the same file again sends nothing; another
/// file's identical row is another event.
#[test]
fn an_event_without_a_time_is_never_taken_for_another_row_s() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let job = |path: &str| {
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n",
            emu.base_url()
        )
    };
    write(dir.path(), "job.toml", job("in/*.csv"));
    let night = |name: &str, text: &str, n: u64| drop_file(dir.path(), name, text, n);
    let events = |id: &str| emu.profile(id).unwrap()["events"].as_array().map_or(0, Vec::len);
    let consent = |id: &str| emu.profile(id).unwrap()["attributes"]["$email_marketing"].as_str().map(str::to_string);

    night("in/events.csv", "id,event,news\nu1,app_open,yes\nu2,app_open,yes\n", 0);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((events("u1"), events("u2")), (1, 1));

    // Tomorrow's export at the same path: u1 opened the app again and opted out.
    night("in/events.csv", "id,event,news\nu1,app_open,no\nu2,app_open,yes\n", 1);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(events("u1"), 2, "a new event, not yesterday's: {s}");
    assert_eq!(consent("u1").as_deref(), Some("unsubscribed"), "{s}");
    // u2's row is byte for byte yesterday's, at the same place: taken for
    // it (its profile part is sent again, without the event).
    assert_eq!(events("u2"), 1, "{s}");

    // The file grew: only the new row is an event.
    night("in/events.csv", "id,event,news\nu1,app_open,no\nu2,app_open,yes\nu1,app_open,no\n", 2);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((events("u1"), events("u2")), (3, 1), "{s}");

    // The same bytes again (touched): nothing new.
    night("in/events.csv", "id,event,news\nu1,app_open,no\nu2,app_open,yes\nu1,app_open,no\n", 3);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!((events("u1"), events("u2")), (3, 1), "{s}");

    // Another file of the glob with a row identical to one already sent.
    night("in/more.csv", "id,event,news\nu2,app_open,yes\n", 4);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(events("u2"), 2, "another file's row is another event: {s}");
}

/// A bad event attribute costs that attribute, not the event (issue 25): the
/// event is sent without it and the row is reported once.
#[test]
fn a_bad_event_attribute_is_left_out_of_its_event() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.toml",
        format!(
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n[mapping.event_attributes]\nqty = {{ column = \"qty\", type = \"int\" }}\nlabel = \"label\"\n",
            emu.base_url()
        ),
    );
    write(dir.path(), "events.csv", "id,event,qty,label\nu1,purchase,2,a\nu2,purchase,two,b\n");
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!(
        (s["rows_sent"].as_u64(), s["values_dropped"].as_u64(), s["rows_rejected"].as_u64()),
        (Some(2), Some(1), Some(0)),
        "{s}"
    );
    let event = |id: &str| emu.profile(id).unwrap()["events"][0]["attributes"].clone();
    assert_eq!(event("u1")["qty"], 2);
    assert!(event("u2").get("qty").is_none_or(|v| v.is_null()), "{}", event("u2"));
    assert_eq!(event("u2")["label"], "b");
    let rejects = crate::common::csv_rows(std::path::Path::new(s["rejects_file"].as_str().unwrap()));
    assert_eq!(rejects.len(), 2, "the header and u2's row: {rejects:?}");
    assert!(rejects[1].join(",").contains("qty"), "{rejects:?}");
}
