//! The batcher over random rows (operations of random keys and sizes,
//! rejects, skipped, unchanged and held rows) and random limits: batches tile
//! the input (no row left out, none in two batches, seqs in order) and each
//! one respects every limit.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Kind {
    Op { key: u8, size: usize },
    Reject,
    Skip,
    Unchanged,
    Held,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => (0u8..12, 0usize..300).prop_map(|(key, size)| Kind::Op { key, size }),
        1 => Just(Kind::Reject),
        1 => Just(Kind::Skip),
        1 => Just(Kind::Unchanged),
        1 => Just(Kind::Held),
    ]
}

fn limits() -> impl Strategy<Value = BatchLimits> {
    (1usize..12, 64usize..2_000, proptest::option::of(1usize..6), 1u64..40).prop_map(
        |(max_ops, max_bytes, max_events_per_key, max_rows)| BatchLimits {
            max_ops,
            max_bytes,
            max_events_per_key,
            max_rows,
            max_segment_rows: max_rows,
        },
    )
}

fn row(kind: &Kind, record: u64) -> Row {
    let pos = Position { line: record + 2, byte: record * 100, record };
    let op = |key: String, size: usize| Op {
        key,
        pos,
        attrs: vec![b'x'; size],
        event: None,
        record: csv::ByteRecord::new(),
        change: None,
        dropped: Vec::new(),
        row: 0,
    };
    match kind {
        Kind::Op { key, size } => Row::Op(op(format!("k{key}"), *size)),
        Kind::Reject => {
            Row::Reject(Reject { pos, column: String::new(), reason: "bad".into(), record: Default::default() })
        }
        Kind::Skip => Row::SkipAcked(pos),
        Kind::Unchanged => Row::Unchanged(pos),
        Kind::Held => Row::Held(op("h".into(), 1)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn batches_tile_the_rows_within_their_limits(
        kinds in vec(kind(), 0..300),
        limits in limits(),
        first_seq in 0u64..1_000,
        files in 1usize..3,
    ) {
        let mut b = Batcher::new(limits, first_seq);
        let mut out = Vec::new();
        let per_file = kinds.len().div_ceil(files).max(1);
        let mut bounds = Vec::new();
        for (f, chunk) in kinds.chunks(per_file).enumerate() {
            b.set_file(f);
            for (i, k) in chunk.iter().enumerate() {
                out.extend(b.push(row(k, i as u64)));
            }
            out.extend(b.close());
            bounds.push(chunk.len() as u64);
        }
        // Seqs are consecutive from the first one.
        for (i, batch) in out.iter().enumerate() {
            prop_assert_eq!(batch.seq, first_seq + i as u64);
        }
        prop_assert_eq!(b.next_seq(), first_seq + out.len() as u64);
        for (f, &len) in bounds.iter().enumerate() {
            let mine: Vec<&Batch> = out.iter().filter(|x| x.file == f).collect();
            // Tiling: each batch starts where the previous one ended, the last ends at the last row.
            let mut next = 0u64;
            for batch in &mine {
                prop_assert_eq!(batch.first.record, next, "no gap, no overlap");
                prop_assert!(batch.last.record >= batch.first.record);
                prop_assert_eq!(batch.rows, batch.last.record - batch.first.record + 1);
                next = batch.last.record + 1;
            }
            prop_assert_eq!(next, len, "every row of file {} is in a batch", f);
        }
        for batch in &out {
            // Every row of the segment is accounted for, once.
            let mut records: Vec<u64> = batch.ops.iter().map(|o| o.pos.record)
                .chain(batch.rejects.iter().map(|r| r.pos.record))
                .chain(batch.held.iter().map(|o| o.pos.record))
                .collect();
            records.sort_unstable();
            records.dedup();
            let counted = batch.ops.len() + batch.rejects.len() + batch.held.len();
            prop_assert_eq!(records.len(), counted, "a row twice in one batch");
            prop_assert_eq!(counted as u64 + batch.skipped_acked + batch.unchanged, batch.rows);
            prop_assert!(batch.rows <= limits.max_rows);
            // Limits: distinct keys (and operations for profiles), events per key, bytes.
            let keys: std::collections::HashMap<&str, usize> =
                batch.ops.iter().fold(Default::default(), |mut m, o| {
                    *m.entry(o.key.as_str()).or_default() += 1;
                    m
                });
            prop_assert_eq!(batch.updates as usize, keys.len());
            prop_assert!(keys.len() <= limits.max_ops);
            match limits.max_events_per_key {
                Some(max) => prop_assert!(keys.values().all(|&n| n <= max)),
                None => prop_assert!(batch.ops.len() <= limits.max_ops),
            }
            if batch.ops.len() > 1 {
                prop_assert!(batch.bytes <= limits.max_bytes, "{} > {}", batch.bytes, limits.max_bytes);
            }
        }
    }
}
