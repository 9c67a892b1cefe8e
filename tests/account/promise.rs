//! The tool's core promise as a property, through the real binary against the
//! emulator: after every night's run, what Batch holds for each Custom ID is
//! what the input of all nights so far says, row after row, with or without
//! `changed_only`, for one file or a glob, repeated IDs, blank cells, consent
//! and attributes Batch refuses (rows applied in part).

use super::{emulator, run};
use crate::common::{json, write};
use batchport::{Emulator, EmulatorConfig, Faults};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Custom IDs come from u0..u7: they repeat within a file and across files.
const IDS: u8 = 8;
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
const GLOB: &str = "drop/part-*.csv";
const ONE: &str = "users.csv";

/// Cases per run: `BATCHPORT_PROPTEST_CASES`, else a number that keeps the
/// debug build under ~20 s.
fn cases() -> u32 {
    std::env::var("BATCHPORT_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
}

/// One CSV row `id,tier,news,bad`; `None` is a blank cell.
#[derive(Clone, PartialEq)]
struct Row {
    id: u8,
    tier: Option<usize>,
    /// `yes` (true), `no` (false) or blank.
    news: Option<bool>,
    /// `x` (an attribute Batch refuses: the row is applied in part) or blank.
    bad: bool,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let tier = self.tier.map_or("", |t| TIERS[t]);
        let news = self.news.map_or("", |n| if n { "yes" } else { "no" });
        write!(f, "u{},{tier},{news},{}", self.id, if self.bad { "x" } else { "" })
    }
}

/// The row as its CSV line: a shrunk case reads as the files it wrote.
impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// One night's input: `users.csv`, or the files of the glob by number
/// (`drop/part-N.csv`).
#[derive(Clone, Debug)]
enum Input {
    One(Vec<Row>),
    Glob(BTreeMap<u8, Vec<Row>>),
}

impl Input {
    fn path(&self) -> &'static str {
        match self {
            Input::One(_) => ONE,
            Input::Glob(_) => GLOB,
        }
    }

    /// (file name, rows) in the order the importer reads them: sorted paths.
    fn files(&self) -> Vec<(String, &[Row])> {
        match self {
            Input::One(rows) => vec![(ONE.to_string(), rows.as_slice())],
            Input::Glob(files) => {
                files.iter().map(|(n, rows)| (format!("drop/part-{n}.csv"), rows.as_slice())).collect()
            }
        }
    }
}

fn text(rows: &[Row]) -> String {
    let mut t = String::from("id,tier,news,bad\n");
    for r in rows {
        t.push_str(&format!("{r}\n"));
    }
    t
}

/// How a night's input follows from the night before's.
#[derive(Clone, Debug)]
enum Night {
    /// The same files, byte for byte (only the modification time moves).
    Same,
    /// New files altogether.
    Fresh(Input),
    /// The night before's files with some rows replaced, each edit `(file,
    /// row, new row, keep the old row's ID)` (file and row chosen modulo the
    /// counts), and for a glob, perhaps a file removed or one added (or
    /// rewritten) under the number given.
    Edit { rows: Vec<(usize, usize, Row, bool)>, files: FileChange },
}

#[derive(Clone, Debug)]
enum FileChange {
    Keep,
    Remove(usize),
    Put(u8, Vec<Row>),
}

impl Night {
    fn apply(&self, before: &Input) -> Input {
        let edits = match self {
            Night::Same => return before.clone(),
            Night::Fresh(input) => return input.clone(),
            Night::Edit { rows, .. } => rows,
        };
        let mut input = before.clone();
        let mut lists: Vec<&mut Vec<Row>> = match &mut input {
            Input::One(rows) => vec![rows],
            Input::Glob(files) => files.values_mut().collect(),
        };
        for (f, r, row, keep_id) in edits {
            let n = lists.len();
            let list = &mut lists[f % n];
            let len = list.len();
            let id = if *keep_id { list[r % len].id } else { row.id };
            list[r % len] = Row { id, ..row.clone() };
        }
        if let (Input::Glob(files), Night::Edit { files: change, .. }) = (&mut input, self) {
            match change {
                FileChange::Keep => {}
                FileChange::Remove(i) if files.len() > 1 => {
                    let key = *files.keys().nth(i % files.len()).unwrap();
                    files.remove(&key);
                }
                FileChange::Remove(_) => {}
                FileChange::Put(n, rows) => {
                    files.insert(*n, rows.clone());
                }
            }
        }
        input
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        // Mostly u0..u2: an ID often has several rows in one night's input.
        prop_oneof![2 => 0..3u8, 1 => 0..IDS],
        prop::option::weighted(0.7, 0..TIERS.len()),
        prop::option::weighted(0.6, any::<bool>()),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(id, tier, news, bad)| Row { id, tier, news, bad })
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(row(), 1..7)
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        rows().prop_map(Input::One),
        prop::collection::vec(rows(), 2..=3)
            .prop_map(|files| Input::Glob(files.into_iter().enumerate().map(|(i, r)| (i as u8 + 1, r)).collect())),
    ]
}

fn night() -> impl Strategy<Value = Night> {
    let change = prop_oneof![
        2 => Just(FileChange::Keep),
        1 => (0..3usize).prop_map(FileChange::Remove),
        1 => (0..5u8, rows()).prop_map(|(n, r)| FileChange::Put(n, r)),
    ];
    prop_oneof![
        1 => Just(Night::Same),
        1 => input().prop_map(Night::Fresh),
        3 => (prop::collection::vec((0..3usize, 0..7usize, row(), any::<bool>()), 1..4), change)
            .prop_map(|(rows, files)| Night::Edit { rows, files }),
    ]
}

/// The job, the same every night but for the source path.
#[derive(Clone, Debug)]
struct Job {
    changed_only: bool,
    batch_size: u32,
    concurrency: u32,
}

impl Job {
    /// Guards off: each night is random by design (one row after six, every
    /// row changed), which is what the guards refuse; this test holds the
    /// delivery promise over any night, `tests/guards.rs` the guards.
    fn toml(&self, url: &str, path: &str) -> String {
        format!(
            "[job]\nname = \"promise\"\nkind = \"profiles\"\n[api]\nbase_url = \"{url}\"\nendpoint = \"update\"\nbatch_size = {}\nconcurrency = {}\n[source]\npath = \"{path}\"\n[mapping]\ncustom_id = \"id\"\nchanged_only = {}\n[mapping.native]\nemail_marketing = {{ column = \"news\", subscribed = [\"yes\"], unsubscribed = [\"no\"] }}\n[mapping.attributes]\ntier = \"tier\"\nbad = \"bad\"\n\
             [guard]\nrefuse_empty = false\nmin_rows_share = false\nmax_rejects_share = false\nmax_changed_share = false\n",
            self.batch_size, self.concurrency, self.changed_only
        )
    }
}

fn job() -> impl Strategy<Value = Job> {
    (any::<bool>(), 2..=5u32, 1..=4u32).prop_map(|(changed_only, batch_size, concurrency)| Job {
        changed_only,
        batch_size,
        concurrency,
    })
}

/// What an ID holds: (tier, email consent), `None` for absent.
type Held = (Option<String>, Option<String>);

/// The model: each night's rows applied in file order on top of what each ID
/// held; a blank cell sends nothing (`blank = "ignore"`), so it keeps the value.
fn apply(model: &mut BTreeMap<u8, Held>, input: &Input) {
    for (_, rows) in input.files() {
        for r in rows {
            let held = model.entry(r.id).or_default();
            if let Some(t) = r.tier {
                held.0 = Some(TIERS[t].to_string());
            }
            if let Some(n) = r.news {
                held.1 = Some(if n { "subscribed" } else { "unsubscribed" }.to_string());
            }
        }
    }
}

fn stored(emu: &Emulator, id: u8) -> Held {
    let Some(p) = emu.profile(&format!("u{id}")) else { return (None, None) };
    let a = &p["attributes"];
    (a["tier"].as_str().map(str::to_string), a["$email_marketing"].as_str().map(str::to_string))
}

/// Write the night's files (removing glob files it no longer has), each with a
/// modification time `night`+1 times 10 s after `base`.
fn drop_files(dir: &Path, input: &Input, night: u64, base: SystemTime) {
    if let Input::Glob(_) = input {
        let keep: Vec<String> = input.files().into_iter().map(|(name, _)| name).collect();
        if let Ok(entries) = std::fs::read_dir(dir.join("drop")) {
            for e in entries {
                let name = format!("drop/{}", e.unwrap().file_name().to_string_lossy());
                if !keep.contains(&name) {
                    std::fs::remove_file(dir.join(&name)).unwrap();
                }
            }
        }
    }
    for (name, rows) in input.files() {
        let path = write(dir, &name, text(rows));
        let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.set_modified(base + Duration::from_secs(10 * (night + 1))).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        // Keep failures in the test output, not in files outside tests/.
        failure_persistence: None,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    })]

    /// After every night, each Custom ID holds in Batch exactly the tier and
    /// email consent that all the nights' rows so far give it, applied in order.
    #[test]
    fn batch_holds_what_the_nights_inputs_say(
        first in input(),
        rest in prop::collection::vec(night(), 1..=3),
        job in job(),
    ) {
        let emu = emulator(EmulatorConfig {
            faults: Faults { refuse_attribute: Some("bad".into()), ..Faults::default() },
            ..Default::default()
        });
        let dir = tempfile::tempdir().unwrap();
        let base = SystemTime::now();
        let mut inputs = vec![first];
        for n in &rest {
            let next = n.apply(inputs.last().unwrap());
            inputs.push(next);
        }
        let mut model = BTreeMap::new();
        let mut log = format!("{job:?}\n");
        for (night, input) in inputs.iter().enumerate() {
            let toml = job.toml(&emu.base_url(), input.path());
            write(dir.path(), "job.toml", &toml);
            drop_files(dir.path(), input, night as u64, base);
            let _ = writeln!(log, "--- night {night}: path = {:?}", input.path());
            for (name, rows) in input.files() {
                let _ = write!(log, "{name}:\n{}", text(rows));
            }
            let out = run(dir.path(), "job.toml");
            let code = out.status.code();
            prop_assert!(
                matches!(code, Some(0 | 3)),
                "night {night}: exit {code:?}\nstdout: {}\nstderr: {}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let s = json(&out);
            let _ = writeln!(log, "exit {code:?}, summary: {s}");
            apply(&mut model, input);
            let mut wrong = String::new();
            for id in 0..IDS {
                let want = model.get(&id).cloned().unwrap_or_default();
                let got = stored(&emu, id);
                if want != got {
                    let _ = writeln!(wrong, "u{id}: expected {want:?}, stored {got:?} (operations received: {})", emu.received(&format!("u{id}")));
                }
            }
            prop_assert!(wrong.is_empty(), "after night {night}:\n{wrong}\njob.toml:\n{toml}\n{log}");
        }
    }
}
