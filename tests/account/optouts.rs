//! `opt_outs = "person"` (issue 26, point 2): an opt-out on any row that
//! names the person holds for all of the person's rows, even a row rejected
//! for an unrelated cell, and across every file of a glob.

use super::{emulator, run, summary};
use crate::common::write;
use batchport::EmulatorConfig;
use std::path::Path;

fn job(dir: &Path, url: &str, path: &str) {
    write(
        dir,
        "job.toml",
        format!(
            "[job]\nname = \"people\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = \"id\"\nopt_outs = \"person\"\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n[mapping.attributes]\norders = {{ column = \"orders\", type = \"int\" }}\n"
        ),
    );
}

fn consent(emu: &batchport::Emulator, id: &str) -> String {
    let p = emu.profile(id).unwrap_or_else(|| panic!("{id} stored"));
    p["attributes"]["$email_marketing"].as_str().unwrap_or("-").to_string()
}

#[test]
fn an_opt_out_on_a_rejected_row_still_holds_for_the_person() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), &emu.base_url(), "people.csv");
    write(dir.path(), "people.csv", "id,news,orders\nv1,no,n/a\nv1,yes,3\nv2,yes,1\n");
    let s = summary(&run(dir.path(), "job.toml"), 3);
    // The bad `orders` is left out (issue 25); the opt-out holds either way.
    assert_eq!((s["rows_rejected"].as_u64(), s["values_dropped"].as_u64()), (Some(0), Some(1)), "{s}");
    assert_eq!(consent(&emu, "v1"), "unsubscribed", "{s}");
    // With the old strictness the row is rejected whole, and the opt-out still holds.
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), &emu.base_url(), "people.csv");
    let text = std::fs::read_to_string(dir.path().join("job.toml")).unwrap();
    write(
        dir.path(),
        "job.toml",
        text.replace("opt_outs = \"person\"\n", "opt_outs = \"person\"\non_bad_value = \"reject_row\"\n"),
    );
    write(dir.path(), "people.csv", "id,news,orders\nv1,no,n/a\nv1,yes,3\nv2,yes,1\n");
    let s = summary(&run(dir.path(), "job.toml"), 3);
    assert_eq!(s["rows_rejected"], 1, "{s}");
    assert_eq!(consent(&emu, "v2"), "subscribed");
}

#[test]
fn an_opt_out_in_one_file_of_a_glob_holds_in_the_others() {
    let emu = emulator(EmulatorConfig::default());
    let dir = tempfile::tempdir().unwrap();
    job(dir.path(), &emu.base_url(), "drop/a-*.csv");
    write(dir.path(), "drop/a-1.csv", "id,news,orders\np1,no,1\np2,yes,1\n");
    write(dir.path(), "drop/a-2.csv", "id,orders,news\np1,2,yes\np3,1,yes\n");
    let s = summary(&run(dir.path(), "job.toml"), 0);
    assert_eq!(consent(&emu, "p1"), "unsubscribed", "{s}");
    assert_eq!(emu.profile("p1").unwrap()["attributes"]["orders"], 2, "the rest of the last row arrives");
    assert_eq!(consent(&emu, "p2"), "subscribed");
    assert_eq!(consent(&emu, "p3"), "subscribed");
    // `validate` forecasts the same.
    let out = crate::common::bin()
        .args(["validate", "job.toml", "--json", "--state"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let v = crate::common::json(&out);
    assert_eq!(v["forecast"]["email_marketing"]["unsubscribed"], 2, "{v}");
}
