//! What an unfinished run's ledger says about each input file: where to seek,
//! which rows were already settled (skip), which were in flight at the kill
//! (resend, or hold for events), and the counts of everything settled.

use batchport_source::Position;
use batchport_state::{BatchRecord, BatchState, Counters, Run, RunProgress};
use std::collections::BTreeMap;

/// What an earlier attempt of the run left a row as, when it is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Settled by an earlier attempt: counted there, not sent again.
    Skip,
    /// In flight at the kill, outcome unknown, kind not idempotent: hold.
    Hold,
}

/// Where one input file is read again from, and the rows past that point
/// whose fate an earlier attempt decided.
#[derive(Debug, Clone, Default)]
pub(crate) struct FilePlan {
    /// Everything up to and including this record is settled: seek past it.
    pub(crate) after: Option<Position>,
    /// Record ranges (inclusive) past `after`, in order, with their fate. Rows
    /// not covered are new (or in flight and resent).
    pub(crate) ranges: Vec<(u64, u64, Replay)>,
    /// Read to its end and settled by an earlier attempt: not read again.
    pub(crate) done: bool,
}

impl FilePlan {
    /// The fate of record `r`; `cursor` walks `ranges` as rows come in order.
    pub(crate) fn fate(&self, r: u64, cursor: &mut usize) -> Option<Replay> {
        while let Some(&(_, last, _)) = self.ranges.get(*cursor) {
            if last < r {
                *cursor += 1;
            } else {
                break;
            }
        }
        self.ranges.get(*cursor).and_then(|&(first, last, fate)| (first <= r && r <= last).then_some(fate))
    }
}

/// What an attempt resumes from: a plan per input file, and the counts and
/// report file lengths of every batch already settled. `batchport status`
/// takes an unfinished import's row counts from it (a killed run's record may
/// be behind its ledger).
#[derive(Debug, Default)]
pub struct ResumePlan {
    /// One per input file, in the run's order of files.
    pub(crate) files: Vec<FilePlan>,
    /// Counts of every settled batch.
    pub counters: Counters,
    /// Lengths of the rejects and uncertain files as of the last settled batch:
    /// anything past them belongs to batches that will be redone.
    pub(crate) rejects_lens: Vec<u64>,
    pub(crate) uncertain_lens: Vec<u64>,
    /// Length of the partial file as of the last settled batch.
    pub(crate) partial_len: u64,
}

/// Read the ledger of `run`. `hold` is the job's rule for unknown outcomes.
pub fn plan(run: &Run, batches: &[BatchRecord], hold: bool) -> ResumePlan {
    let (files_done, marks_sent): (&[bool], bool) = match &run.progress {
        RunProgress::Import(p) => (&p.files_done, p.marks_sent),
        RunProgress::Export(_) => (&[], false),
    };
    // A batch still `Planned` never left when the run marks hand-offs: its
    // rows are simply read and sent again, never held.
    let unsettled = |s: BatchState| s == BatchState::Sent || (s == BatchState::Planned && !marks_sent);
    let mut p = ResumePlan { files: vec![FilePlan::default(); run.inputs.len()], ..Default::default() };
    for (i, f) in p.files.iter_mut().enumerate() {
        f.done = files_done.get(i).copied().unwrap_or(false);
    }
    // Planned batches first, settled ones over them: a settled batch is a fact,
    // a planned one only a maybe. A batch planned after another settled (a
    // resumed segment that re-read settled rows as skipped) must not take
    // those rows back from it, or they would be sent and counted again.
    let mut sorted: Vec<&BatchRecord> = batches.iter().collect();
    sorted.sort_by_key(|b| (settled(b.state), b.seq));
    // Per file, which batch last covered each record: a batch planned before
    // a kill is superseded by the later batches that re-read its rows.
    let mut cover: Vec<BTreeMap<u64, (u64, bool)>> = vec![BTreeMap::new(); run.inputs.len()];
    for b in sorted {
        let settled = settled(b.state);
        if !settled && !unsettled(b.state) {
            // Planned and never handed over: as if it had not been planned.
            continue;
        }
        if settled {
            b.count_into(&mut p.counters);
            let t = &b.tally;
            let (rejects, uncertain) = t.lens();
            max_into(&mut p.rejects_lens, &rejects);
            max_into(&mut p.uncertain_lens, &uncertain);
            p.partial_len = p.partial_len.max(t.partial_len);
        }
        if let Some(c) = cover.get_mut(b.file) {
            overlay(c, b.first.record, b.last.record, settled);
        }
    }
    for (f, c) in cover.iter().enumerate() {
        let plan = &mut p.files[f];
        // The settled prefix: records 0..next are all settled.
        let mut next = 0u64;
        for (&first, &(last, settled)) in c {
            if !(settled && first == next) {
                break;
            }
            next = last + 1;
        }
        // Seek past the furthest batch end inside the prefix (the overlay may
        // have cut the prefix's last interval where no batch ends).
        plan.after = batches
            .iter()
            .filter(|b| b.file == f && settled(b.state) && b.last.record < next)
            .map(|b| b.last)
            .max_by_key(|pos| pos.record);
        let from = plan.after.map_or(0, |a| a.record + 1);
        for (&first, &(last, settled)) in c {
            if last < from {
                continue;
            }
            if settled {
                plan.ranges.push((first.max(from), last, Replay::Skip));
            } else if hold {
                plan.ranges.push((first.max(from), last, Replay::Hold));
            }
        }
    }
    p
}

/// Settled: its rows' fate is known and counted.
fn settled(s: BatchState) -> bool {
    matches!(s, BatchState::Acked | BatchState::Held)
}

/// Files only grow as batches settle: the longest length seen is the last.
fn max_into(acc: &mut Vec<u64>, lens: &[u64]) {
    if acc.len() < lens.len() {
        acc.resize(lens.len(), 0);
    }
    for (a, &l) in acc.iter_mut().zip(lens) {
        *a = (*a).max(l);
    }
}

/// Lay `[first, last]` over the intervals in `c` (start → (end, settled)); the
/// new interval wins where they overlap.
fn overlay(c: &mut BTreeMap<u64, (u64, bool)>, first: u64, last: u64, settled: bool) {
    let overlapping: Vec<(u64, (u64, bool))> =
        c.range(..=last).filter(|(_, (end, _))| *end >= first).map(|(s, v)| (*s, *v)).collect();
    for (start, (end, was)) in overlapping {
        c.remove(&start);
        if start < first {
            c.insert(start, (first - 1, was));
        }
        if end > last {
            c.insert(last + 1, (end, was));
        }
    }
    c.insert(first, (last, settled));
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use batchport_state::Tally;

    fn b(seq: u64, first: u64, last: u64, state: BatchState) -> BatchRecord {
        let pos = |r: u64| Position { line: r + 2, byte: r * 10, record: r };
        BatchRecord {
            seq,
            file: 0,
            first: pos(first),
            last: pos(last),
            rows: last - first + 1,
            state,
            tally: Tally::default(),
        }
    }

    fn run() -> Run {
        serde_json::from_value(serde_json::json!({
            "id": "r", "job": "j", "kind": "events", "inputs": [{"path": "x", "size": 1, "mtime_ns": 0, "head_hash": 0}],
            "status": "running", "started": "", "updated": "", "watermark": [null], "next_seq": 0,
            "counters": {}, "last_error": null, "rejects_file": null, "uncertain_file": null, "extra": null
        }))
        .unwrap()
    }

    /// A run that marks hand-offs: a batch still `Planned` never left (it is
    /// read and sent again), one `Sent` may have reached Batch (held).
    #[test]
    fn only_batches_whose_request_left_are_held() {
        use BatchState::*;
        let mut r = run();
        r.progress = RunProgress::Import(batchport_state::ImportProgress {
            files_done: vec![false],
            marks_sent: true,
            mapping: None,
        });
        let ledger = [b(0, 0, 9, Acked), b(1, 10, 19, Planned), b(2, 20, 29, Sent), b(3, 30, 39, Planned)];
        let p = plan(&r, &ledger, true);
        assert_eq!(p.files[0].after.map(|a| a.record), Some(9));
        assert_eq!(p.files[0].ranges, vec![(20, 29, Replay::Hold)]);
        let rejects = Tally { rejects_lens: vec![40, 7], ..Tally::default() };
        let ledger = [BatchRecord { tally: rejects, ..b(0, 0, 9, Acked) }];
        assert_eq!(plan(&r, &ledger, true).rejects_lens, vec![40, 7], "every rejects file is cut back");
    }

    #[test]
    fn in_flight_batches_are_held_or_resent_and_settled_ones_skipped() {
        use BatchState::*;
        let ledger = [b(0, 0, 9, Acked), b(1, 10, 19, Planned), b(2, 20, 29, Acked), b(3, 30, 39, Planned)];
        let p = plan(&run(), &ledger, true);
        assert_eq!(p.files[0].after.map(|a| a.record), Some(9));
        assert_eq!(p.files[0].ranges, vec![(10, 19, Replay::Hold), (20, 29, Replay::Skip), (30, 39, Replay::Hold)]);
        let p = plan(&run(), &ledger, false);
        assert_eq!(p.files[0].ranges, vec![(20, 29, Replay::Skip)]);
        assert_eq!(p.counters.rows_read, 20);
    }

    #[test]
    fn a_planned_segment_never_takes_rows_back_from_a_settled_batch() {
        use BatchState::*;
        // Attempt 1 settled 10..19 out of order; attempt 2 re-read it as skipped
        // inside segment 10..29 and died with that segment in flight.
        let ledger = [b(0, 0, 9, Acked), b(1, 10, 19, Acked), b(7, 10, 29, Planned)];
        let p = plan(&run(), &ledger, false);
        assert_eq!(p.files[0].after.map(|a| a.record), Some(19), "10..19 stay settled");
        assert!(p.files[0].ranges.is_empty());
        assert_eq!(p.counters.rows_read, 20);
    }

    #[test]
    fn a_prefix_cut_where_no_batch_ends_still_skips_every_settled_row() {
        use BatchState::*;
        // 0..9 settled; 10..29 settled; a later settled segment 5..14 cut the
        // overlay so that the prefix ends at 29 but intervals end at 4 and 14.
        let ledger = [b(0, 0, 9, Acked), b(1, 10, 29, Acked), b(4, 5, 14, Acked), b(5, 30, 39, Planned)];
        let p = plan(&run(), &ledger, true);
        let after = p.files[0].after.map(|a| a.record);
        assert_eq!(after, Some(29));
        assert_eq!(p.files[0].ranges, vec![(30, 39, Replay::Hold)]);
        // Whatever `after` is, every settled record past it is skipped.
        let ledger = [b(0, 0, 9, Acked), b(3, 5, 14, Acked), b(4, 15, 19, Planned)];
        let p = plan(&run(), &ledger, false);
        let from = p.files[0].after.map_or(0, |a| a.record + 1);
        let mut cursor = 0;
        for r in from..15 {
            assert_eq!(p.files[0].fate(r, &mut cursor), Some(Replay::Skip), "record {r}");
        }
    }

    #[test]
    fn later_batches_supersede_the_planned_ones_they_redid() {
        use BatchState::*;
        // Attempt 1 planned 10..19 and died; attempt 2 re-batched 10..24 and settled it.
        let ledger = [b(0, 0, 9, Acked), b(1, 10, 19, Planned), b(5, 10, 24, Acked), b(6, 25, 30, Planned)];
        let p = plan(&run(), &ledger, true);
        assert_eq!(p.files[0].after.map(|a| a.record), Some(24));
        assert_eq!(p.files[0].ranges, vec![(25, 30, Replay::Hold)]);
        let mut cursor = 0;
        assert_eq!(p.files[0].fate(26, &mut cursor), Some(Replay::Hold));
        assert_eq!(p.files[0].fate(31, &mut cursor), None);
    }
}
