//! Files that lie: ragged rows, stray bytes, CR line ends, repeated headers,
//! quotes, truncated gzip, files changed while read, FIFOs.

use crate::common::{csv_rows, json, run_in, write};
use batchport_source::{CsvSource, RawRow, SourceError, SourceOptions};
use std::io::Write;
use std::path::Path;

fn read(path: &Path) -> Result<Vec<RawRow>, SourceError> {
    let mut src = CsvSource::open(path, &SourceOptions::default())?;
    let mut rows = Vec::new();
    while src.read_chunk(100, &mut rows)? {}
    Ok(rows)
}

fn fields(r: &RawRow) -> Vec<String> {
    r.record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

const JOB: &str = r#"
[job]
name = "check"
kind = "profiles"
rejects = "out"
[source]
path = "users.csv"
[mapping]
on_bad_value = "reject_row"
custom_id = "id"
[mapping.attributes]
name = "name"
"#;

/// `validate` the file; returns the summary and the rejects file's rows.
fn validate(data: &[u8]) -> (serde_json::Value, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "job.toml", JOB);
    write(dir.path(), "users.csv", data);
    let out = run_in(dir.path(), &["validate", "job.toml", "--json"]);
    let s = json(&out);
    let rejects = match s["rejects_file"].as_str() {
        Some(p) => {
            let p = Path::new(p);
            csv_rows(&if p.is_absolute() { p.to_path_buf() } else { dir.path().join(p) })
        }
        None => Vec::new(),
    };
    (s, rejects)
}

#[test]
fn ragged_rows_keep_the_rejects_file_at_the_header_width() {
    let (s, rejects) = validate(b"id,name\nu1,Al\nu2\nu3,Bo,extra,more\nu4,\"Cy, Jr\",x\n");
    assert_eq!(s["rows_rejected"], 3, "{s}");
    assert_eq!(rejects[0], ["id", "name", "_line", "_column", "_reason", "_raw"]);
    for r in &rejects {
        assert_eq!(r.len(), 6, "every row has the header's width: {r:?}");
    }
    let raw: Vec<(&str, &str)> = rejects[1..].iter().map(|r| (r[2].as_str(), r[5].as_str())).collect();
    assert_eq!(raw, [("3", "u2"), ("4", "u3,Bo,extra,more"), ("5", "u4,\"Cy, Jr\",x")]);
    assert!(rejects[1][4].contains("1 fields where the header has 2"), "{:?}", rejects[1]);
}

#[test]
fn one_bad_byte_in_a_utf8_file_keeps_it_utf8() {
    let (s, rejects) = validate(b"id,name\nu1,Jos\xc3\xa9\nu2,Zo\xc3\xab\nu3,caf\xe9\n");
    assert_eq!(s["rows_rejected"], 1, "{s}");
    assert_eq!(rejects[1][2], "4");
    assert!(rejects[1][4].contains("UTF-8"), "{:?}", rejects[1]);
    // And the reader says UTF-8, so `José` is not `JosÃ©`.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.csv", b"id,name\nu1,Jos\xc3\xa9\nu3,caf\xe9\n");
    let src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    assert_eq!(src.encoding_name(), "utf-8");
    // A file with accents that are never UTF-8 is still Windows-1252.
    let p = write(dir.path(), "b.csv", b"id,name\nu1,caf\xe9\nu2,na\xefve\n");
    assert_eq!(CsvSource::open(&p, &SourceOptions::default()).unwrap().encoding_name(), "windows-1252");
}

#[test]
fn cr_only_line_endings_give_the_right_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "mac.csv", b"id,name\ru1,A\r\ru2,\"two\rlines\"\ru3,C\r");
    let rows = read(&p).unwrap();
    let lines: Vec<u64> = rows.iter().map(|r| r.pos.line).collect();
    assert_eq!(lines, [2, 4, 6]);
    assert_eq!(fields(&rows[1]), ["u2", "two\rlines"]);
    let (_, rejects) = validate(b"id,name\ru1,A\r,B\ru3,C\r ,D\r");
    let lines: Vec<&str> = rejects[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(lines, ["3", "5"]);
}

#[test]
fn a_repeated_header_row_with_a_bom_is_rejected_not_a_profile() {
    let mut data = b"\xef\xbb\xbfid,name\nu1,A\n".to_vec();
    data.extend_from_slice(b"\xef\xbb\xbfid,name\nu2,B\nid,name\n");
    let (s, rejects) = validate(&data);
    assert_eq!(s["rows_rejected"], 2, "{s}");
    assert_eq!(s["rows_valid"], 2, "{s}");
    for r in &rejects[1..] {
        assert!(r[4].contains("header row again"), "{r:?}");
        assert!(!r[0].contains('\u{feff}') || r[0] == "\u{feff}id");
    }
    assert_eq!(rejects[1][2], "3");
}

/// Issue 25: files joined from exports with the header in another case or
/// column order. A header row is never a profile, and no row is read under
/// the wrong header: the rows under a reordered header are rejects, until
/// the header comes back in its own order.
#[test]
fn a_repeated_header_in_another_order_or_case_never_reads_rows_under_the_wrong_columns() {
    let data = b"id,name\nu1,A\nname,id\nB,u2\nC,u3\nID,Name\nu4,D\n NAME , Id \nE,u5\n";
    let (s, rejects) = validate(data);
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(2), Some(6)), "{s}");
    let by_line: Vec<(&str, &str)> = rejects[1..].iter().map(|r| (r[2].as_str(), r[4].as_str())).collect();
    assert!(by_line[0].0 == "3" && by_line[0].1.contains("another order"), "{by_line:?}");
    for (line, reason) in &by_line[1..3] {
        assert!(reason.contains("under the header repeated at line 3"), "{line}: {reason}");
    }
    assert!(by_line[3].0 == "6" && by_line[3].1.contains("header row again"), "{by_line:?}");
    assert!(by_line[4].0 == "8" && by_line[4].1.contains("another order"), "{by_line:?}");
    assert!(by_line[5].1.contains("line 8"), "{by_line:?}");
}

/// Issue 25: one row past the 64 MB a row may hold is one reject; the rows
/// after it are read (it used to stop the file on every run).
#[test]
fn an_oversized_row_is_one_reject_and_the_read_goes_on() {
    let mut data = b"id,name\nu1,A\nu2,".to_vec();
    data.extend(std::iter::repeat_n(b'x', 70 << 20));
    data.extend_from_slice(b"\nu3,C\nu4,\"D\"\n");
    let (s, rejects) = validate(&data);
    assert_eq!((s["rows_valid"].as_u64(), s["rows_rejected"].as_u64()), (Some(3), Some(1)), "{s}");
    assert_eq!(rejects[1][2], "3", "{:?}", &rejects[1][2..]);
    assert!(rejects[1][4].contains("past the 64 MB"), "{:?}", &rejects[1][2..]);
}

#[test]
fn a_quote_closed_in_the_middle_of_a_cell_is_rejected_not_dropped() {
    let (s, rejects) = validate(b"id,name\nu1,\"Bo\"b\nu2,\"ok \"\"quoted\"\"\"\nu3,5'11\"\n");
    assert_eq!(s["rows_rejected"], 1, "{s}");
    assert_eq!(rejects[1][2], "2");
    assert!(rejects[1][4].contains("closing quote"), "{:?}", rejects[1]);
}

#[test]
fn an_unterminated_quote_rejects_its_line_and_later_rows_are_read() {
    let data = b"id,name\nu1,A\nu2,\"B\nu3,C\nu4,D\n";
    let dir = tempfile::tempdir().unwrap();
    let rows = read(&write(dir.path(), "q.csv", data)).unwrap();
    let got: Vec<(u64, Vec<String>, bool)> = rows.iter().map(|r| (r.pos.line, fields(r), r.flaw.is_some())).collect();
    assert_eq!(
        got,
        [
            (2, vec!["u1".to_string(), "A".into()], false),
            (3, vec!["u2".into(), "B".into()], true),
            (4, vec!["u3".into(), "C".into()], false),
            (5, vec!["u4".into(), "D".into()], false),
        ]
    );
    assert!(rows[1].flaw.as_ref().unwrap().contains("quote opened at line 3 is never closed"));
    // Resuming after the resynchronised rows lands where it should.
    let mut src = CsvSource::open_after(&dir.path().join("q.csv"), &SourceOptions::default(), rows[2].pos).unwrap();
    let mut rest = Vec::new();
    while src.read_chunk(10, &mut rest).unwrap() {}
    assert_eq!(rest.iter().map(fields).collect::<Vec<_>>(), [["u4", "D"]]);

    let (s, rejects) = validate(data);
    assert_eq!((s["rows_read"].as_u64(), s["rows_rejected"].as_u64()), (Some(4), Some(1)), "{s}");
    assert!(rejects[1][4].contains("quote opened at line 3 is never closed"), "{:?}", rejects[1]);
}

#[test]
fn an_unterminated_quote_in_a_gzip_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b"id,name\nu1,A\nu2,\"B\nu3,C\nu4,D\n").unwrap();
    let p = write(dir.path(), "q.csv.gz", e.finish().unwrap());
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    let err = loop {
        match src.read_chunk(1, &mut rows) {
            Ok(true) => {}
            Ok(false) => panic!("merged the rows silently: {:?}", rows.iter().map(fields).collect::<Vec<_>>()),
            Err(e) => break e,
        }
    };
    assert_eq!(rows.iter().map(fields).collect::<Vec<_>>(), [["u1", "A"]]);
    assert!(err.to_string().contains("quote opened at line 3 is never closed"), "{err}");
}

#[test]
fn a_truncated_gzip_gives_its_readable_rows_then_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(e, "id,n").unwrap();
    for i in 0..20_000 {
        writeln!(e, "{i},{}", i * 7).unwrap();
    }
    let data = e.finish().unwrap();
    let p = write(dir.path(), "cut.csv.gz", &data[..data.len() / 2]);
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    let err = loop {
        match src.read_chunk(1000, &mut rows) {
            Ok(true) => {}
            Ok(false) => panic!("read a truncated gzip to the end"),
            Err(e) => break e,
        }
    };
    assert!(rows.len() > 5_000, "only {} rows", rows.len());
    // Every row handed out is whole: the cut one is not.
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(fields(r), [i.to_string(), (i * 7).to_string()]);
    }
    let msg = err.to_string();
    let next_line = rows.len() + 2;
    assert!(msg.contains("truncated") && msg.contains(&format!("line {next_line}")), "{msg}");

    // A tiny truncated gzip (cut inside the first 64 KiB) too.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b"id,n\n1,a\n2,b\n3,c\n").unwrap();
    let data = e.finish().unwrap();
    let p = write(dir.path(), "tiny.csv.gz", &data[..data.len() - 8]);
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    let r = src.read_chunk(1000, &mut rows);
    assert!(r.is_err() || src.read_chunk(1000, &mut rows).is_err(), "the truncation is reported");
    assert_eq!(rows.len(), 3);
}

#[test]
fn a_truncated_gzip_run_imports_what_is_readable_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(e, "id,name").unwrap();
    for i in 0..30_000 {
        writeln!(e, "u{i},n{i}").unwrap();
    }
    let data = e.finish().unwrap();
    write(dir.path(), "users.csv.gz", &data[..data.len() * 2 / 3]);
    write(
        dir.path(),
        "job.toml",
        format!("{}\n[api]\nbase_url = \"emulator\"\n", JOB.replace("users.csv", "users.csv.gz")),
    );
    let out = run_in(dir.path(), &["run", "job.toml", "--json"]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let s = json(&out);
    // Every whole row before the cut is read and sent, not just whole batches.
    let whole = {
        let mut d = flate2::read::MultiGzDecoder::new(&data[..data.len() * 2 / 3]);
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut d, &mut text);
        text.iter().filter(|&&b| b == b'\n').count() as u64 - 1
    };
    assert_eq!(s["rows_read"].as_u64(), Some(whole), "{s}");
    assert_eq!(s["rows_sent"].as_u64(), Some(whole), "{s}");
    assert!(s["error"].as_str().unwrap().contains("truncated"), "{s}");
}

#[test]
fn a_file_that_shrinks_while_read_fails_and_one_that_grows_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"id,name\n".to_vec();
    for i in 0..40_000 {
        data.extend_from_slice(format!("u{i},name {i}\n").as_bytes());
    }
    let p = write(dir.path(), "big.csv", &data);
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    assert!(src.read_chunk(10, &mut rows).unwrap());
    // Cut the file well after what the reader buffered: it reads on to the
    // new end, then must not call that the end of the file.
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(data.len() as u64 - 1000).unwrap();
    let err = loop {
        match src.read_chunk(1000, &mut rows) {
            Ok(true) => {}
            Ok(false) => panic!("a shrunk file read to its end as if whole"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("shrank"), "{err}");

    let p = write(dir.path(), "grow.csv", &data);
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    assert!(src.read_chunk(10, &mut rows).unwrap());
    std::fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"late,row\n").unwrap();
    while src.read_chunk(1000, &mut rows).unwrap() {}
    assert_eq!(src.grew(), Some(9));

    // Rewritten in place (same size, other head): an error too.
    let p = write(dir.path(), "rewrite.csv", &data);
    let mut src = CsvSource::open(&p, &SourceOptions::default()).unwrap();
    assert!(src.read_chunk(10, &mut rows).unwrap());
    let mut other = data.clone();
    other[9] = b'X';
    std::fs::write(&p, &other).unwrap();
    let err = loop {
        match src.read_chunk(1000, &mut rows) {
            Ok(true) => {}
            Ok(false) => panic!("a rewritten file passed as unchanged"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("changed while it was read"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_fifo_source_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("users.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let err = CsvSource::open(&fifo, &SourceOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = batchport_source::expand("users.csv", dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    write(dir.path(), "job.toml", JOB);
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

#[test]
fn a_binary_file_is_refused_and_its_header_never_printed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "users.csv", b"\x7fELF\x02\x01\x01\x00\x00\x1b[31m,x\n\x00\x00");
    let err = CsvSource::open(&p, &SourceOptions::default()).unwrap_err();
    assert!(err.to_string().contains("does not look like a CSV file"), "{err}");
    write(dir.path(), "job.toml", JOB);
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!out.stderr.contains(&0x1b) && !out.stderr.contains(&0), "{:?}", String::from_utf8_lossy(&out.stderr));
    // Control characters in a text header are escaped when it is shown.
    write(dir.path(), "users.csv", b"\x1b[2J\x1b[31mid,x\x07\nu1,a\n");
    let out = run_in(dir.path(), &["validate", "job.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\x1b') && !err.contains('\x07') && err.contains("\\u{1b}[31mid"), "{err}");
}

#[test]
fn no_duplicated_os_error_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["validate", "missing.toml"][..], &["run", "missing.toml"]] {
        let out = run_in(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("missing.toml"), "{err}");
        assert_eq!(err.matches("os error").count(), 1, "{err}");
    }
}

/// Inputs that are not the job's kind of file (issue 25): one exit code, 2
/// (a setup mistake, as JOBS.md says of a binary file), the same from `run`
/// and `validate`, with the file named; a missing file stays 1 (a nightly
/// dump that has not arrived yet: run again later).
#[test]
fn inputs_that_are_not_the_job_s_kind_of_file_all_exit_2() {
    let cases: [(&str, &str, &[u8]); 8] = [
        ("empty", "users.csv", b""),
        ("empty JSON lines", "users.ndjson", b"\n"),
        // Named as JSON lines: read as such (not as a one-column CSV).
        ("not JSON lines", "users.jsonl", b"not json\nat all\n"),
        ("blank lines only", "users.csv", b"\n\n\n"),
        ("not gzip", "users.csv.gz", b"id,name\nu1,a\n"),
        ("binary", "users.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00,x\n\x00\x00"),
        ("a directory", "users.csv", b""),
        ("missing", "users.csv", b""),
    ];
    for (what, name, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        match what {
            "a directory" => std::fs::create_dir(dir.path().join(name)).unwrap(),
            "missing" => {}
            _ => drop(write(dir.path(), name, bytes)),
        }
        let job = JOB.replace("users.csv", name).replace("[source]", "[api]\nbase_url = \"emulator\"\n[source]");
        write(dir.path(), "job.toml", job);
        let (want, says) = match what {
            "empty" | "blank lines only" | "empty JSON lines" => (2, "the file is empty"),
            "not JSON lines" => (2, "not JSON lines"),
            "not gzip" => (2, "not gzip data"),
            "binary" => (2, "does not look like a CSV file"),
            "a directory" => (2, "is a directory"),
            _ => (1, "file not found"),
        };
        for cmd in ["run", "validate"] {
            let out = run_in(dir.path(), &[cmd, "job.toml", "--json"]);
            let s = json(&out);
            assert_eq!(out.status.code(), Some(want), "{what}, {cmd}: {s}");
            assert_eq!(s["exit_code"], want, "{what}, {cmd}: {s}");
            let error = s["error"].as_str().unwrap();
            assert!(error.contains(name) && error.contains(says), "{what}, {cmd}: {error}");
        }
    }
}

/// Excel's `sep=;` first line (written by Excel and by tools that target it)
/// names the delimiter: it is never the header, and lines keep their numbers.
#[test]
fn an_excel_sep_line_names_the_delimiter() {
    for data in [&b"sep=;\nid;name\nu1;Ann\n\"\";Bob\n"[..], b"\xef\xbb\xbfsep=;\r\nid;name\r\nu1;Ann\r\n\"\";Bob\r\n"]
    {
        let (s, rejects) = validate(data);
        assert_eq!((s["rows_read"].as_u64(), s["rows_valid"].as_u64()), (Some(2), Some(1)), "{s}");
        // In the file's own delimiter (to be fixed and imported again): the
        // header row, then the blank-ID row at line 4.
        assert_eq!(rejects[0][0], "id;name;_line;_column;_reason;_raw", "{rejects:?}");
        assert!(rejects[1][0].starts_with(";Bob;4;id;"), "{rejects:?}");
    }
}
