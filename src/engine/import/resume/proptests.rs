//! `plan` over random histories: attempts killed at random points, with their
//! batches settled in random order. Whatever the ledger holds, the next
//! attempt reads every row that is not settled and no row that is: in the end
//! each row is settled (sent or held) exactly once, and the counts add up.

use super::*;
use batchport_state::Tally;
use proptest::collection::vec;
use proptest::prelude::*;

fn run(inputs: usize) -> Run {
    serde_json::from_value(serde_json::json!({
        "id": "r", "job": "j", "kind": "events",
        "inputs": vec![serde_json::json!({"path": "x", "size": 1, "mtime_ns": 0, "head_hash": 0}); inputs],
        "status": "running", "started": "", "updated": "", "next_seq": 0, "counters": {},
        "last_error": null, "rejects_file": null, "uncertain_file": null, "extra": null
    }))
    .unwrap()
}

fn pos(r: u64) -> Position {
    Position { line: r + 2, byte: r * 10, record: r }
}

/// One attempt: segment sizes (cycled), how many segments get planned before
/// the kill, and the order (by key) in which the planned ones settle and how
/// many of them do.
#[derive(Debug, Clone)]
struct Attempt {
    sizes: Vec<u64>,
    planned: usize,
    order: Vec<u16>,
    settled: usize,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (vec(1u64..25, 1..8), 0usize..30, vec(any::<u16>(), 30), 0usize..30)
        .prop_map(|(sizes, planned, order, settled)| Attempt { sizes, planned, order, settled })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_row_is_settled_exactly_once_whatever_the_kills(
        rows in 1u64..150,
        hold in any::<bool>(),
        attempts in vec(attempt(), 0..6),
        last in vec(1u64..25, 1..4),
    ) {
        let mut ledger: std::collections::BTreeMap<u64, BatchRecord> = Default::default();
        let mut settled_times = vec![0u32; rows as usize];
        let mut next_seq = 0u64;
        let finale = Attempt { sizes: last, planned: usize::MAX, order: vec![0; 30], settled: usize::MAX };
        for (i, a) in attempts.iter().chain(std::iter::once(&finale)).enumerate() {
            let records: Vec<BatchRecord> = ledger.values().cloned().collect();
            let p = plan(&run(1), &records, hold);
            let fp = &p.files[0];
            // Everything before `after` is settled; the rest is read again.
            let from = fp.after.map_or(0, |a| a.record + 1);
            for r in 0..from {
                prop_assert!(settled_times[r as usize] >= 1, "attempt {i}: row {r} skipped by the seek, never settled");
            }
            // Segment the rows read, each row's fate from the plan.
            let mut segments = Vec::new();
            let (mut r, mut cursor, mut k) = (from, 0usize, 0usize);
            while r < rows {
                let end = (r + a.sizes[k % a.sizes.len()]).min(rows);
                k += 1;
                let (mut new, mut held, mut skipped) = (Vec::new(), Vec::new(), 0u64);
                for rec in r..end {
                    match fp.fate(rec, &mut cursor) {
                        Some(Replay::Skip) => {
                            prop_assert!(settled_times[rec as usize] >= 1, "row {rec} skipped but never settled");
                            skipped += 1;
                        }
                        Some(Replay::Hold) => held.push(rec),
                        None => new.push(rec),
                    }
                }
                segments.push((next_seq, r, end - 1, new, held, skipped));
                next_seq += 1;
                r = end;
            }
            // Plan the first `planned` segments, then settle some of them in a random order.
            let planned = a.planned.min(segments.len());
            for &(seq, first, last, _, _, _) in &segments[..planned] {
                let record = BatchRecord {
                    seq, file: 0, first: pos(first), last: pos(last), rows: last - first + 1,
                    state: BatchState::Planned, tally: Tally::default(),
                };
                ledger.insert(seq, record);
            }
            let mut order: Vec<usize> = (0..planned).collect();
            order.sort_by_key(|&j| (a.order.get(j).copied().unwrap_or(0), j));
            for &j in order.iter().take(a.settled) {
                let (seq, first, last, new, held, skipped) = &segments[j];
                for &rec in new.iter().chain(held) {
                    settled_times[rec as usize] += 1;
                }
                let tally = Tally {
                    sent: new.len() as u64, uncertain: held.len() as u64, skipped: *skipped, ..Tally::default()
                };
                let state = if new.is_empty() && !held.is_empty() { BatchState::Held } else { BatchState::Acked };
                let record = BatchRecord {
                    seq: *seq, file: 0, first: pos(*first), last: pos(*last), rows: last - first + 1, state, tally,
                };
                ledger.insert(*seq, record);
            }
        }
        for (r, &n) in settled_times.iter().enumerate() {
            prop_assert_eq!(n, 1, "row {} settled {} times", r, n);
        }
        let records: Vec<BatchRecord> = ledger.values().cloned().collect();
        let end = plan(&run(1), &records, hold);
        prop_assert_eq!(end.counters.rows_read, rows);
        prop_assert_eq!(end.counters.rows_sent + end.counters.rows_uncertain, rows);
        prop_assert_eq!(end.files[0].after.map(|a| a.record), Some(rows - 1));
    }
}
