//! An events row whose event Batch already has (issue 26, point 5): the
//! event is not sent again, but the row's profile part (its consent above
//! all) still is.

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
            "[job]\nname = \"ev\"\nkind = \"events\"\n[api]\nbase_url = \"{}\"\n[source]\npath = \"events.csv\"\n[mapping]\ncustom_id = \"id\"\nevent = \"event\"\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n",
            emu.base_url()
        ),
    );
    let night = |text: &str, n: u64| drop_file(dir.path(), "events.csv", text, n);
    let consent = |id: &str| emu.profile(id).unwrap()["attributes"]["$email_marketing"].as_str().map(str::to_string);
    night("id,event,news\nu1,app_open,yes\nu2,app_open,yes\n", 0);
    summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(consent("u1").as_deref(), Some("subscribed"));
    night("id,event,news\nu1,app_open,no\nu2,app_open,\n", 1);
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(consent("u1").as_deref(), Some("unsubscribed"), "{s}");
    assert_eq!(consent("u2").as_deref(), Some("subscribed"));
    assert_eq!(s["rows_duplicate"], 1, "u2's row had nothing but its event: {s}");
    let events = |id: &str| emu.profile(id).unwrap()["events"].as_array().map_or(0, Vec::len);
    assert_eq!(events("u2"), 1, "never sent twice");
}
