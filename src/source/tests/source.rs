//! The CSV source reader: encodings, delimiters, quoting, positions, gzip,
//! resume, globs, errors; fixtures in tests/data/source/ (of this crate).

use std::io::Write;
use std::path::{Path, PathBuf};

use batchport_source::{CsvSource, Delimiter, Encoding, Position, RawRow, SourceError, SourceOptions, expand};
use proptest::prelude::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/source").join(name)
}

fn auto() -> SourceOptions {
    SourceOptions::default()
}

fn read_all(src: &mut CsvSource, chunk: usize) -> Vec<RawRow> {
    let mut rows = Vec::new();
    while src.read_chunk(chunk, &mut rows).unwrap() {}
    rows
}

fn open_all(path: &Path, opts: &SourceOptions) -> (CsvSource, Vec<RawRow>) {
    let mut src = CsvSource::open(path, opts).unwrap();
    let rows = read_all(&mut src, 1000);
    (src, rows)
}

fn fields(row: &RawRow) -> Vec<String> {
    row.record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

fn lines(rows: &[RawRow]) -> Vec<u64> {
    rows.iter().map(|r| r.pos.line).collect()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

// ---- encodings ----------------------------------------------------------

#[test]
fn utf8_lf() {
    let (src, rows) = open_all(&fixture("utf8_lf.csv"), &auto());
    assert_eq!(src.headers(), ["id", "name", "city"]);
    assert_eq!(src.encoding_name(), "utf-8");
    assert_eq!(src.delimiter(), b',');
    assert!(src.seekable());
    assert_eq!(fields(&rows[0]), ["1", "José", "Paris"]);
    assert_eq!(fields(&rows[1]), ["2", "Zoë", "Köln"]);
    assert_eq!(lines(&rows), [2, 3]);
    assert_eq!(rows[1].pos.record, 1);
}

#[test]
fn utf8_bom_crlf_strips_bom_and_stays_seekable() {
    let (src, rows) = open_all(&fixture("utf8_bom_crlf.csv"), &auto());
    assert_eq!(src.headers(), ["id", "name", "city"]);
    assert_eq!(&src.raw_headers()[0], b"id");
    assert_eq!(src.encoding_name(), "utf-8");
    assert!(src.seekable());
    assert_eq!(fields(&rows[1]), ["2", "Zoë", "Köln"]);
    assert_eq!(lines(&rows), [2, 3]);
    // Byte offsets are file offsets (the BOM counted).
    let file = std::fs::read(fixture("utf8_bom_crlf.csv")).unwrap();
    assert!(file[rows[0].pos.byte as usize..].starts_with("1,José".as_bytes()));
}

#[test]
fn utf16_le_and_be_with_bom() {
    for (name, enc) in [("utf16le_bom.csv", "utf-16le"), ("utf16be_bom.csv", "utf-16be")] {
        for opts in [auto(), SourceOptions { encoding: Encoding::Utf16, ..auto() }] {
            let (src, rows) = open_all(&fixture(name), &opts);
            assert_eq!(src.encoding_name(), enc, "{name}");
            assert_eq!(src.headers(), ["id", "name", "city"], "{name}");
            assert!(!src.seekable());
            assert_eq!(fields(&rows[0]), ["1", "José", "Paris"]);
            assert_eq!(fields(&rows[1]), ["2", "Zoë", "€uro"]);
            assert_eq!(lines(&rows), [2, 3]);
        }
    }
}

#[test]
fn utf16_without_bom_is_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let text: Vec<u16> = "a,b\n1,é\n".encode_utf16().collect();
    let le: Vec<u8> = text.iter().flat_map(|c| c.to_le_bytes()).collect();
    let be: Vec<u8> = text.iter().flat_map(|c| c.to_be_bytes()).collect();
    let (src, rows) = open_all(&write(dir.path(), "le.csv", &le), &auto());
    assert_eq!((src.encoding_name(), fields(&rows[0])), ("utf-16le", vec!["1".into(), "é".into()]));
    let (src, rows) = open_all(&write(dir.path(), "be.csv", &be), &auto());
    assert_eq!((src.encoding_name(), fields(&rows[0])), ("utf-16be", vec!["1".into(), "é".into()]));
}

#[test]
fn windows_1252_detected_and_transcoded() {
    let (src, rows) = open_all(&fixture("windows1252.csv"), &auto());
    assert_eq!(src.encoding_name(), "windows-1252");
    assert_eq!(src.delimiter(), b';');
    assert!(!src.seekable());
    assert_eq!(fields(&rows[0]), ["1", "café", "5 €"]);
    assert_eq!(fields(&rows[1]), ["2", "naïve", "10 €"]);
    assert_eq!(lines(&rows), [2, 3]);
}

#[test]
fn explicit_encoding_is_obeyed() {
    let latin = SourceOptions { encoding: Encoding::Windows1252, ..auto() };
    let (src, rows) = open_all(&fixture("utf8_lf.csv"), &latin);
    assert_eq!(src.encoding_name(), "windows-1252");
    assert_eq!(fields(&rows[0])[1], "JosÃ©");

    let utf8 = SourceOptions { encoding: Encoding::Utf8, ..auto() };
    let (src, rows) = open_all(&fixture("windows1252.csv"), &utf8);
    assert_eq!(src.encoding_name(), "utf-8");
    // Invalid UTF-8 is passed through as is, for the transform to reject.
    assert_eq!(&rows[0].record[1], b"caf\xe9");
}

#[test]
fn multibyte_char_cut_at_the_sniff_window_is_still_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"id,text\n".to_vec();
    let mut n = 0;
    // Fill with one-byte rows until the next 'é' straddles byte 65536.
    while data.len() < 65536 - 20 {
        data.extend_from_slice(format!("{n},aaaaaaaaaa\n").as_bytes());
        n += 1;
    }
    let pad = 65536 - data.len() - 1 - format!("{n},").len();
    data.extend_from_slice(format!("{n},{}é\n", "a".repeat(pad)).as_bytes());
    assert_eq!(data[65535], 0xC3);
    data.extend_from_slice(b"last,\xc3\xa9\n");
    let (src, rows) = open_all(&write(dir.path(), "cut.csv", &data), &auto());
    assert_eq!(src.encoding_name(), "utf-8");
    assert!(fields(&rows[n]).last().unwrap().ends_with('é'));
    assert_eq!(fields(rows.last().unwrap()), ["last", "é"]);
}

#[test]
fn cut_multibyte_char_at_end_of_a_short_file_means_windows_1252() {
    let dir = tempfile::tempdir().unwrap();
    let (src, rows) = open_all(&write(dir.path(), "cut.csv", b"a,b\n1,\xc3"), &auto());
    assert_eq!(src.encoding_name(), "windows-1252");
    assert_eq!(fields(&rows[0]), ["1", "Ã"]);
}

// ---- delimiters -----------------------------------------------------------

#[test]
fn excel_semicolon_with_commas_in_cells() {
    let (src, rows) = open_all(&fixture("excel_semicolon.csv"), &auto());
    assert_eq!(src.delimiter(), b';');
    assert_eq!(src.headers(), ["email", "name", "note"]);
    assert_eq!(fields(&rows[0]), ["a@x.io", "Doe, John", "likes a,b,c"]);
    assert_eq!(fields(&rows[1]), ["b@x.io", "Roe; Jane", "x"]);
    assert_eq!(fields(&rows[2]), ["c@x.io", "Poe", "1,2"]);
    assert_eq!(lines(&rows), [2, 3, 4]);
}

#[test]
fn tab_pipe_and_single_column() {
    let (src, rows) = open_all(&fixture("tab.tsv"), &auto());
    assert_eq!((src.delimiter(), fields(&rows[0])), (b'\t', vec!["1".into(), "Ann, B".into()]));
    let (src, rows) = open_all(&fixture("pipe.csv"), &auto());
    assert_eq!((src.delimiter(), fields(&rows[1])), (b'|', vec!["2".into(), "c;d".into()]));
    let (src, rows) = open_all(&fixture("single_column.csv"), &auto());
    assert_eq!(src.delimiter(), b',');
    assert_eq!(src.headers(), ["email"]);
    assert_eq!(rows.len(), 2);
}

#[test]
fn explicit_delimiter_is_obeyed() {
    let opts = SourceOptions { delimiter: Delimiter::Byte(b','), ..auto() };
    let (src, rows) = open_all(&fixture("excel_semicolon.csv"), &opts);
    assert_eq!(src.delimiter(), b',');
    assert_eq!(fields(&rows[0]), ["a@x.io;Doe", " John;likes a", "b", "c"]);
}

#[test]
fn parse_delimiter_and_encoding() {
    for (s, d) in [("auto", Delimiter::Auto), (",", Delimiter::Byte(b',')), (";", Delimiter::Byte(b';'))] {
        assert_eq!(s.parse::<Delimiter>().unwrap(), d);
    }
    for s in ["\t", "\\t", "tab"] {
        assert_eq!(s.parse::<Delimiter>().unwrap(), Delimiter::Byte(b'\t'));
    }
    assert_eq!("|".parse::<Delimiter>().unwrap(), Delimiter::Byte(b'|'));
    let err = ":".parse::<Delimiter>().unwrap_err();
    assert!(err.contains("`:`") && err.contains("auto"), "{err}");

    for (s, e) in [
        ("auto", Encoding::Auto),
        ("utf-8", Encoding::Utf8),
        ("UTF8", Encoding::Utf8),
        ("utf-16", Encoding::Utf16),
        ("utf16", Encoding::Utf16),
        ("windows-1252", Encoding::Windows1252),
        ("cp1252", Encoding::Windows1252),
        ("latin1", Encoding::Windows1252),
    ] {
        assert_eq!(s.parse::<Encoding>().unwrap(), e, "{s}");
    }
    let err = "ebcdic".parse::<Encoding>().unwrap_err();
    assert!(err.contains("ebcdic") && err.contains("windows-1252"), "{err}");
}

// ---- quoting, line endings, positions ---------------------------------------

#[test]
fn quoted_fields_newlines_blank_lines_and_crlf() {
    let path = fixture("quoted.csv");
    let (_, rows) = open_all(&path, &auto());
    assert_eq!(fields(&rows[0]), ["1", "a, \"quoted\" b", "x"]);
    assert_eq!(fields(&rows[1]), ["2", "line one\nline two\nline three", "y"]);
    assert_eq!(fields(&rows[2]), ["3", "plain", "z"]);
    assert_eq!(fields(&rows[3]), ["4", "last", "w"]);
    // Record 1 spans lines 3-5, lines 6-7 are blank, the last line has no newline.
    assert_eq!(lines(&rows), [2, 3, 8, 9]);
    assert_eq!(rows.iter().map(|r| r.pos.record).collect::<Vec<_>>(), [0, 1, 2, 3]);
    // Each byte offset is where the record's text starts.
    let file = std::fs::read(&path).unwrap();
    for (row, text) in rows.iter().zip(["1,", "2,", "3,", "4,"]) {
        assert!(file[row.pos.byte as usize..].starts_with(text.as_bytes()));
    }
}

#[test]
fn positions_agree_with_csv_reader_where_it_is_right() {
    // csv::Reader::position() before a read is where the previous record
    // ended: right for LF files without blank lines, one line short after a
    // CRLF. Ours is where the record starts in both cases.
    let lf = b"h1,h2\na,b\n\"c\nd\",e\nf,g\n";
    let crlf = b"h1,h2\r\na,b\r\n";
    let dir = tempfile::tempdir().unwrap();

    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&lf[..]);
    let mut rec = csv::ByteRecord::new();
    let mut expected = Vec::new();
    loop {
        let p = rdr.position().clone();
        if !rdr.read_byte_record(&mut rec).unwrap() {
            break;
        }
        expected.push((p.line(), p.byte()));
    }
    let (_, rows) = open_all(&write(dir.path(), "lf.csv", lf), &auto());
    let ours: Vec<_> = rows.iter().map(|r| (r.pos.line, r.pos.byte)).collect();
    assert_eq!(ours, expected[1..]);

    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(&crlf[..]);
    rdr.read_byte_record(&mut rec).unwrap();
    assert_eq!(rdr.position().line(), 1, "csv reports the CRLF record's start on line 1");
    let (_, rows) = open_all(&write(dir.path(), "crlf.csv", crlf), &auto());
    assert_eq!((rows[0].pos.line, rows[0].pos.byte), (2, 7));
}

#[test]
fn small_chunks_give_the_same_rows() {
    let path = fixture("quoted.csv");
    let (_, all) = open_all(&path, &auto());
    let mut src = CsvSource::open(&path, &auto()).unwrap();
    let mut rows = Vec::new();
    let mut calls = 0;
    while src.read_chunk(1, &mut rows).unwrap() {
        calls += 1;
    }
    assert_eq!(calls, all.len());
    assert_eq!(rows.iter().map(|r| r.pos).collect::<Vec<_>>(), all.iter().map(|r| r.pos).collect::<Vec<_>>());
    assert!(!src.read_chunk(10, &mut rows).unwrap(), "stays at the end");
}

#[test]
fn ragged_rows_and_invalid_utf8_are_returned_as_is() {
    // Explicit UTF-8: with `auto`, invalid UTF-8 in the head means Windows-1252.
    let utf8 = SourceOptions { encoding: Encoding::Utf8, ..auto() };
    let (_, rows) = open_all(&fixture("ragged_invalid.csv"), &utf8);
    assert_eq!(rows[0].record.len(), 3);
    assert_eq!(rows[1].record.len(), 1);
    assert_eq!(&rows[2].record[1], b"\xff\xfeoops");
}

// ---- headers and empty files ------------------------------------------------

#[test]
fn headers_trimmed_and_duplicates_kept() {
    let src = CsvSource::open(&fixture("dup_headers.csv"), &auto()).unwrap();
    assert_eq!(src.headers(), ["id", "name", "name", "name"]);
    assert_eq!(&src.raw_headers()[0], b" id ");
}

#[test]
fn empty_file_is_an_error_naming_the_file() {
    for name in ["empty.csv", "blank_lines_only.csv"] {
        let err = CsvSource::open(&fixture(name), &auto()).unwrap_err();
        assert!(matches!(err, SourceError::Empty { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains("empty") && msg.contains("header"), "{msg}");
    }
}

#[test]
fn header_only_gives_no_rows() {
    let (src, rows) = open_all(&fixture("header_only.csv"), &auto());
    assert_eq!(src.headers(), ["id", "name"]);
    assert!(rows.is_empty());
}

// ---- gzip ---------------------------------------------------------------------

#[test]
fn gzip_is_read_transparently() {
    let path = fixture("users.csv.gz");
    let (src, rows) = open_all(&path, &auto());
    assert!(!src.seekable());
    assert_eq!(src.headers(), ["id", "name", "city"]);
    assert_eq!(fields(&rows[1]), ["2", "Zoë", "Köln"]);
    assert_eq!(lines(&rows), [2, 3]);
    assert_eq!(src.file_size(), std::fs::metadata(&path).unwrap().len());
    assert_eq!(src.bytes_read(), src.file_size());
}

#[test]
fn gzip_by_magic_whatever_the_name_and_concatenated_members() {
    let dir = tempfile::tempdir().unwrap();
    let gz = |s: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(s.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let mut data = gz("a,b\n1,2\n");
    data.extend(gz("3,4\n"));
    let (_, rows) = open_all(&write(dir.path(), "noext.csv", &data), &auto());
    assert_eq!(rows.len(), 2);
    assert_eq!(fields(&rows[1]), ["3", "4"]);
    assert_eq!(lines(&rows), [2, 3]);
}

#[test]
fn gz_name_without_gzip_data_is_an_error() {
    let err = CsvSource::open(&fixture("not_gzip.csv.gz"), &auto()).unwrap_err();
    assert!(err.to_string().contains("not_gzip.csv.gz") && err.to_string().contains("not gzip"), "{err}");
}

#[test]
fn truncated_gzip_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..20_000 {
        writeln!(e, "{i},{}", i * 7).unwrap();
    }
    let data = e.finish().unwrap();
    let path = write(dir.path(), "cut.csv.gz", &data[..data.len() / 2]);
    let mut src = CsvSource::open(&path, &auto()).unwrap();
    let mut rows = Vec::new();
    let err = loop {
        match src.read_chunk(1000, &mut rows) {
            Ok(true) => {}
            Ok(false) => panic!("read a truncated gzip to the end"),
            Err(e) => break e,
        }
    };
    let msg = err.to_string();
    assert!(msg.contains("cut.csv.gz") && msg.contains("line"), "{msg}");
}

// ---- resume -------------------------------------------------------------------

fn check_resume(path: &Path, opts: &SourceOptions, seekable: bool) {
    let (_, rows) = open_all(path, opts);
    for k in 0..rows.len() {
        let mut src = CsvSource::open_after(path, opts, rows[k].pos).unwrap();
        assert_eq!(src.seekable(), seekable);
        let rest = read_all(&mut src, 3);
        assert_eq!(rest.len(), rows.len() - k - 1, "after record {k}");
        for (a, b) in rest.iter().zip(&rows[k + 1..]) {
            assert_eq!(a.pos, b.pos);
            assert_eq!(a.record, b.record);
        }
    }
}

#[test]
fn open_after_plain_files_seek() {
    check_resume(&fixture("quoted.csv"), &auto(), true);
    check_resume(&fixture("utf8_bom_crlf.csv"), &auto(), true);
    check_resume(&fixture("excel_semicolon.csv"), &auto(), true);
}

#[test]
fn open_after_streams_skip_by_reading() {
    check_resume(&fixture("users.csv.gz"), &auto(), false);
    check_resume(&fixture("utf16le_bom.csv"), &auto(), false);
    check_resume(&fixture("windows1252.csv"), &auto(), false);
}

#[test]
fn open_after_really_seeks() {
    // Rewrite the rows before the checkpoint (same length, different record
    // count): reading from the start would now be off, seeking is not.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "u.csv", b"id,v\n1,a\n2,b\n3,c\n4,d\n");
    let (_, rows) = open_all(&path, &auto());
    let mut data = std::fs::read(&path).unwrap();
    data[6] = b'\n'; // "1,a" -> "1\na": one more record before the checkpoint
    std::fs::write(&path, &data).unwrap();
    let mut src = CsvSource::open_after(&path, &auto(), rows[1].pos).unwrap();
    let rest = read_all(&mut src, 10);
    assert_eq!(fields(&rest[0]), ["3", "c"]);
    assert_eq!(rest[0].pos, rows[2].pos);
}

#[test]
fn open_after_a_bad_position_is_an_error() {
    let path = fixture("utf8_lf.csv");
    let (_, rows) = open_all(&path, &auto());
    let mid = Position { byte: rows[0].pos.byte + 1, ..rows[0].pos };
    let past = Position { byte: 10_000, ..rows[0].pos };
    for pos in [mid, past] {
        let err = CsvSource::open_after(&path, &auto(), pos).unwrap_err();
        assert!(matches!(err, SourceError::Resume { .. }), "{err:?}");
        assert!(err.to_string().contains("utf8_lf.csv"));
    }
    let beyond = Position { record: 5, ..rows[1].pos };
    let err = CsvSource::open_after(&fixture("users.csv.gz"), &auto(), beyond).unwrap_err();
    assert!(err.to_string().contains("only 2 data records"), "{err}");
}

// ---- files and globs ------------------------------------------------------------

#[test]
fn missing_file_and_directory_errors() {
    let err = CsvSource::open(&fixture("nope.csv"), &auto()).unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }));
    assert!(err.to_string().contains("nope.csv") && err.to_string().contains("not found"));
    let err = CsvSource::open(&fixture(""), &auto()).unwrap_err();
    assert!(matches!(err, SourceError::NotAFile { .. } | SourceError::Open { .. }), "{err:?}");
}

#[test]
fn unreadable_file_is_a_permission_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "secret.csv", b"a\n1\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        return; // running as root: permissions are not enforced
    }
    let err = CsvSource::open(&path, &auto()).unwrap_err();
    assert!(matches!(err, SourceError::PermissionDenied { .. }), "{err:?}");
    assert!(err.to_string().contains("secret.csv"));
}

#[test]
fn expand_paths_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("in [x]");
    std::fs::create_dir_all(base.join("exports/sub.csv")).unwrap();
    for name in ["users-2.csv", "users-10.csv", "users-1.csv.gz", "other.csv"] {
        write(&base.join("exports"), name, b"a\n");
    }
    let names = |v: Vec<PathBuf>| -> Vec<String> {
        v.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(names(expand("exports/users-*", &base).unwrap()), ["users-1.csv.gz", "users-10.csv", "users-2.csv"]);
    // Directories matching the glob are left out.
    assert_eq!(names(expand("exports/*.csv", &base).unwrap()), ["other.csv", "users-10.csv", "users-2.csv"]);
    let abs = format!("{}/exports/other.csv", base.display());
    assert_eq!(expand(&abs, Path::new("/elsewhere")).unwrap(), [base.join("exports/other.csv")]);
    assert_eq!(expand("exports/other.csv", &base).unwrap(), [base.join("exports/other.csv")]);

    let err = expand("exports/nothing-*.csv", &base).unwrap_err();
    assert!(matches!(err, SourceError::NoMatch { .. }));
    assert!(err.to_string().contains("`exports/nothing-*.csv`"), "{err}");
    assert!(matches!(expand("exports/missing.csv", &base).unwrap_err(), SourceError::NotFound { .. }));
    assert!(matches!(expand("exports/sub.csv", &base).unwrap_err(), SourceError::NotAFile { .. }));
    assert!(matches!(expand("exports/[z-a", &base).unwrap_err(), SourceError::BadPattern { .. }));
}

// ---- volume ---------------------------------------------------------------------

#[test]
fn a_200k_row_file_reads_with_right_count_and_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(w, "id,email,note").unwrap();
    let mut line = 1u64;
    let mut last_line = 0;
    for i in 0..200_000u64 {
        line += 1;
        last_line = line;
        if i % 1000 == 0 {
            // A quoted note over two lines every 1000 rows.
            writeln!(w, "{i},u{i}@x.io,\"two\nlines\"").unwrap();
            line += 1;
        } else {
            writeln!(w, "{i},u{i}@x.io,plain").unwrap();
        }
    }
    drop(w);
    let mut src = CsvSource::open(&path, &auto()).unwrap();
    let mut count = 0;
    let mut rows = Vec::new();
    let mut last = Position::default();
    loop {
        rows.clear();
        let more = src.read_chunk(8192, &mut rows).unwrap();
        count += rows.len();
        if let Some(r) = rows.last() {
            last = r.pos;
        }
        if !more {
            break;
        }
    }
    assert_eq!(count, 200_000);
    assert_eq!(last.line, last_line);
    assert_eq!(last.record, 199_999);
    assert_eq!(src.bytes_read(), src.file_size());
}

/// Read speed on a generated 1M-row, 15-column file. Run with
/// `cargo test --release --test main -- --ignored --nocapture read_speed`.
#[test]
#[ignore]
fn read_speed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speed.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let cols: Vec<String> = (0..15).map(|c| format!("col{c}")).collect();
    writeln!(w, "{}", cols.join(",")).unwrap();
    for i in 0..1_000_000u64 {
        writeln!(
            w,
            "cid{i},user{i}@example.com,+3361234{:04},fr,FR,Europe/Paris,Jean,Dupont,1980-01-{:02},true,{}.5,{},a|b|c,https://ex.io/{i},yes",
            i % 10_000,
            i % 28 + 1,
            i % 1000,
            i % 50
        )
        .unwrap();
    }
    drop(w);
    let size = std::fs::metadata(&path).unwrap().len();
    let start = std::time::Instant::now();
    let mut src = CsvSource::open(&path, &auto()).unwrap();
    let mut rows = Vec::with_capacity(8192);
    let mut count = 0;
    loop {
        rows.clear();
        let more = src.read_chunk(8192, &mut rows).unwrap();
        count += rows.len();
        if !more {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(count, 1_000_000);
    eprintln!(
        "read {count} rows ({:.0} MB) in {secs:.3}s: {:.0} rows/s, {:.0} MB/s",
        size as f64 / 1e6,
        count as f64 / secs,
        size as f64 / 1e6 / secs
    );
}

// ---- properties -----------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Keep failures in the test output, not in files outside tests/.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever the bytes, opening and reading never panics (errors are fine),
    /// and positions only move forward.
    #[test]
    fn any_bytes_never_panic(
        data in prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(b"a,;\t|\"\r\n".to_vec()),
                1 => any::<u8>(),
            ],
            0..600,
        ),
        gz in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let bytes = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        } else {
            data.clone()
        };
        let path = write(dir.path(), "any.csv", &bytes);
        // Without quotes nothing can be left open: such a file reads to its end.
        let plain = !gz && !data.contains(&b'"') && data.iter().all(|b| b.is_ascii_graphic() || b" \t\r\n".contains(b));
        match CsvSource::open(&path, &auto()) {
            // An error is fine, but it says which file.
            Err(e) => prop_assert!(e.to_string().contains("any.csv"), "{e}"),
            Ok(mut src) => {
            let mut rows = Vec::new();
            loop {
                match src.read_chunk(7, &mut rows) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        prop_assert!(!plain, "a file without quotes failed: {e}");
                        prop_assert!(e.to_string().contains("any.csv"), "{e}");
                        break;
                    }
                }
            }
            for w in rows.windows(2) {
                prop_assert!(w[0].pos.line <= w[1].pos.line);
                prop_assert!(w[0].pos.byte < w[1].pos.byte);
                prop_assert_eq!(w[0].pos.record + 1, w[1].pos.record);
            }
            if let Some(r) = rows.first() {
                // Errors are fine (an unclosed quote in a gzip is one), panics are not.
                if let Ok(mut s) = CsvSource::open_after(&path, &auto(), r.pos) {
                    let mut rest = Vec::new();
                    while let Ok(true) = s.read_chunk(5, &mut rest) {}
                }
            }
            }
        }
    }

    /// Tables written by the csv crate read back field for field, with the
    /// physical line of each record, and resume anywhere gives the rest.
    #[test]
    fn written_tables_round_trip_with_lines(
        table in prop::collection::vec(
            prop::collection::vec("[a-z\",;\n\r é]{0,6}", 3),
            1..20,
        ),
        crlf in any::<bool>(),
        resume_at in any::<prop::sample::Index>(),
    ) {
        let mut w = csv::WriterBuilder::new()
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(Vec::new());
        w.write_record(["h1", "h2", "h3"]).unwrap();
        let mut expected_lines = Vec::new();
        for row in &table {
            w.flush().unwrap();
            let so_far = w.get_ref().iter().filter(|&&b| b == b'\n').count() as u64;
            expected_lines.push(so_far + 1);
            w.write_record(row).unwrap();
        }
        let data = w.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t.csv", &data);
        let opts = SourceOptions { delimiter: Delimiter::Byte(b','), ..auto() };
        let (_, rows) = open_all(&path, &opts);
        // A row of three empty fields is written as a line with ",,"; never blank.
        prop_assert_eq!(rows.len(), table.len());
        for (i, (row, want)) in rows.iter().zip(&table).enumerate() {
            prop_assert_eq!(&fields(row), want);
            prop_assert_eq!(row.pos.line, expected_lines[i]);
        }
        let k = resume_at.index(rows.len());
        let mut src = CsvSource::open_after(&path, &opts, rows[k].pos).unwrap();
        let rest = read_all(&mut src, 4);
        prop_assert_eq!(
            rest.iter().map(|r| (r.pos, fields(r))).collect::<Vec<_>>(),
            rows[k + 1..].iter().map(|r| (r.pos, fields(r))).collect::<Vec<_>>()
        );
    }

    /// Hand-written lines, quoting right and wrong (`""`, text after a
    /// closing quote, a quote inside a plain cell, quoted line breaks), LF or
    /// CRLF, blank lines: the fields are csv-core's (through the csv crate),
    /// whichever way the reader split each line, and each record starts where
    /// its position says, on the line that many LFs down.
    #[test]
    fn hand_written_lines_read_as_csv_core_reads_them(
        lines in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    4 => "[a-z0-9 .@|+-]{0,8}",
                    3 => "[a-z ,]{0,6}".prop_map(|c| format!("\"{c}\"")),
                    1 => "[a-z,\n\"]{0,6}".prop_map(|c| format!("\"{}\"", c.replace('"', "\"\""))),
                    1 => "[a-z]{1,3}\"[a-z]{0,3}",
                    1 => "\"[a-z]{0,3}\"[a-z]{1,3}",
                ],
                1..6,
            ),
            1..25,
        ),
        crlf in any::<bool>(),
        blank_every in 2usize..9,
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut data = format!("h1,h2{eol}");
        for (i, cells) in lines.iter().enumerate() {
            if i % blank_every == 1 {
                data.push_str(eol);
            }
            data.push_str(&cells.join(","));
            data.push_str(eol);
        }
        let mut want = Vec::new();
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data.as_bytes());
        for rec in rdr.byte_records() {
            let rec = rec.unwrap();
            want.push(rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "h.csv", data.as_bytes());
        let opts = SourceOptions { delimiter: Delimiter::Byte(b','), ..auto() };
        let (_, rows) = open_all(&path, &opts);
        prop_assert_eq!(rows.iter().map(fields).collect::<Vec<_>>(), want[1..].to_vec());
        let bytes = data.as_bytes();
        for row in &rows {
            let at = row.pos.byte as usize;
            prop_assert!(matches!(bytes[at - 1], b'\n' | b'\r') && !matches!(bytes[at], b'\n' | b'\r'));
            prop_assert_eq!(row.pos.line, 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64);
        }
    }
}

#[test]
fn source_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CsvSource>();
    assert_send::<RawRow>();
    assert_send::<SourceError>();
}
