//! The plan as a commented job file (JOBS.md's format). Comments carry the
//! evidence for every guess, because the user is the one who has to trust it.

use super::plan::{Left, Mapped, Plan, Target};
use super::sample::Sample;
use batchport_transform::job::{ArrayMode, NativeKind, ValueType};
use std::fmt::Write;

/// What the header of the file says about how it was made.
pub struct Context<'a> {
    /// How the preset was chosen (`--preset braze`, `--preset-file mine.toml`).
    pub how: &'a str,
    /// The tool whose documented export columns were matched, if any.
    pub tool: Option<&'a str>,
    /// The CSV path as the user gave it.
    pub path: &'a str,
    pub job_name: &'a str,
    /// A commented-out native line the preset suggests.
    pub native_hint: &'a str,
    /// What the job sends for consent, one line per channel.
    pub consent: Vec<String>,
}

pub fn render(plan: &Plan, sample: &Sample, cx: &Context<'_>) -> String {
    let mut o = String::new();
    comment(&mut o, &format!("batchport job for `{}`, written by `batchport init {}`.", cx.path, cx.how));
    comment(
        &mut o,
        &format!(
            "Every mapping was checked against {} of the file; read the guesses, then run `batchport validate` on this file.",
            sample.describe()
        ),
    );
    if let Some(tool) = cx.tool {
        comment(
            &mut o,
            &format!("Columns named as in {tool}'s export are mapped by what {tool} documents; others are guessed."),
        );
    }
    if sample.is_empty() {
        comment(&mut o, "The file has a header but no rows: no type could be guessed, so columns are text.");
    }
    if !plan.notes.is_empty() {
        o.push_str("#\n");
        for n in &plan.notes {
            comment(&mut o, n);
        }
    }
    o.push_str("#\n");
    comment(
        &mut o,
        "Consent (an opt-out or suppression anywhere in a row wins over an opt-in; what cannot be decided is not sent):",
    );
    for c in &cx.consent {
        comment(&mut o, &format!("  {c}"));
    }
    o.push_str("#\n");
    for n in &plan.id_notes {
        comment(&mut o, n);
    }
    let _ = writeln!(o, "\n[job]\nname = {}\nkind = \"profiles\"", q(cx.job_name));
    o.push_str("# rejects = \"rejects/\"          # where rejects files go (default: the state folder)\n");
    o.push_str("\n[api]\n");
    o.push_str("# The default is Batch's real API (https://api.batch.com), with the keys in $BATCH_REST_KEY and\n");
    o.push_str("# $BATCH_PROJECT_KEY. To rehearse against a local emulator instead:\n");
    o.push_str("# base_url = \"emulator\"\n");
    o.push_str("# endpoint = \"mass-update\"      # or \"update\" for per-row errors from Batch (slower)\n");
    source_section(&mut o, sample, cx.path);
    o.push_str("\n[mapping]\n");
    let _ = writeln!(o, "custom_id = {}", custom_id(&plan.custom_id));
    if plan.id_trim {
        o.push_str("custom_id_trim = true           # sampled IDs have spaces around them\n");
    }
    o.push_str("blank = \"ignore\"                # a blank cell sends nothing; \"clear\" deletes the attribute\n");
    let consent = plan
        .natives
        .iter()
        .any(|m| matches!(m.target, Target::Native(NativeKind::EmailMarketing(_) | NativeKind::SmsMarketing(_))));
    if plan.id_repeats && consent {
        comment(
            &mut o,
            "People span several rows here: an opt-out on any of a person's rows holds for all of them \
             (the file is read once ahead to find them)",
        );
        o.push_str("opt_outs = \"person\"\n");
    }
    o.push_str("\n[mapping.native]\n");
    if plan.natives.is_empty() {
        o.push_str("# (no column fits a native attribute)\n");
    }
    for m in &plan.natives {
        mapped(&mut o, m, "");
    }
    if !cx.native_hint.is_empty() {
        let _ = writeln!(o, "# {}", cx.native_hint);
    }
    o.push_str("\n[mapping.attributes]\n");
    if plan.attrs.is_empty() {
        o.push_str("# (no other column)\n");
    }
    for m in &plan.attrs {
        mapped(&mut o, m, "");
    }
    if !plan.left.is_empty() {
        o.push('\n');
        comment(&mut o, "Not mapped (nothing is dropped silently):");
        for l in &plan.left {
            left(&mut o, l);
        }
    }
    o
}

/// `[source]`: the path as given, and what was detected of the file.
pub(super) fn source_section(o: &mut String, sample: &Sample, path: &str) {
    o.push_str("\n[source]\n");
    comment(o, "Relative paths are relative to the folder of this job file: keep the job next to the data or fix it.");
    let _ = writeln!(o, "path = {}", q(path));
    if sample.ndjson {
        comment(o, "Detected: JSON lines (one object per line); nested fields are columns named by their dotted path.");
        o.push_str("format = \"ndjson\"\n");
    } else {
        comment(
            o,
            &format!(
                "Detected: delimiter {}, encoding {}; \"auto\" detects them again at each run (pin them if needed).",
                q(&(sample.delimiter as char).to_string()),
                sample.encoding
            ),
        );
        o.push_str("delimiter = \"auto\"\nencoding = \"auto\"\n");
    }
    if sample.ragged > 0 {
        comment(
            o,
            &format!(
                "{} sampled rows have more or fewer fields than the header: they will be rejected.",
                sample.ragged
            ),
        );
    }
}

fn left(o: &mut String, l: &Left) {
    comment(o, &format!("- `{}`: {}", clean(&l.column), l.reason));
    if let Some(m) = &l.line {
        mapped(o, m, "# ");
    }
}

/// Notes as comments, then the mapping line (itself commented with `prefix = "# "`).
pub(super) fn mapped(o: &mut String, m: &Mapped, prefix: &str) {
    if prefix.is_empty() {
        for n in &m.notes {
            comment(o, n);
        }
    }
    let _ = writeln!(o, "{prefix}{}", line(m));
}

/// `"id"`, `{ column = "email", lowercase = true }` or a list of them.
pub(super) fn custom_id(cols: &[(String, bool)]) -> String {
    let one = |(c, lower): &(String, bool)| {
        if *lower { format!("{{ column = {}, lowercase = true }}", q(c)) } else { q(c) }
    };
    match cols {
        [single] => one(single),
        many => format!("[{}]", many.iter().map(one).collect::<Vec<_>>().join(", ")),
    }
}

/// `key = value` in JOBS.md's forms.
pub fn line(m: &Mapped) -> String {
    let col = q(&m.column);
    let x = &m.extra;
    let when = x.when.as_ref().map(|(c, v)| format!(", when = {}, is = [{}]", q(c), list(v))).unwrap_or_default();
    match &m.target {
        Target::Native(kind) => {
            let key = native_key(kind);
            match kind {
                NativeKind::EmailMarketing(v) | NativeKind::SmsMarketing(v) => {
                    let mut parts = Vec::new();
                    if let Some(c) = &x.constant {
                        parts.push(format!("value = {}", q(c)));
                        if !x.unless_columns.is_empty() {
                            parts.push(format!("unless_columns = [{}]", list(&x.unless_columns)));
                        }
                    } else if !m.column.is_empty() && v.when_set {
                        parts.push(format!("column = {col}"));
                        parts.push("when_set = \"subscribed\"".to_string());
                    } else if !m.column.is_empty() {
                        parts.push(format!("column = {col}"));
                        parts.push(format!("subscribed = [{}]", list(&v.subscribed)));
                        parts.push(format!("unsubscribed = [{}]", list(&v.unsubscribed)));
                        if !v.undecided.is_empty() {
                            parts.push(format!("undecided = [{}]", list(&v.undecided)));
                        }
                    }
                    if !x.suppressed_by.is_empty() || !x.suppressed_when.is_empty() {
                        let mut entries: Vec<String> = x.suppressed_by.iter().map(|c| q(c)).collect();
                        entries.extend(x.suppressed_when.iter().map(|(c, w, except)| {
                            let key = if *except { "not" } else { "is" };
                            format!("{{ column = {}, {key} = [{}] }}", q(c), list(w))
                        }));
                        parts.push(format!("suppressed_by = [{}]", entries.join(", ")));
                    }
                    format!("{key} = {{ {}{when} }}", parts.join(", "))
                }
                _ if !when.is_empty() || x.region_column.is_some() => {
                    let region =
                        x.region_column.as_ref().map(|r| format!(", region_column = {}", q(r))).unwrap_or_default();
                    format!("{key} = {{ column = {col}{when}{region} }}")
                }
                _ => format!("{key} = {col}"),
            }
        }
        Target::Attr { name, ty } => {
            let table = |rest: &str| format!("{name} = {{ column = {col}, {rest} }}");
            match ty {
                ValueType::String => format!("{name} = {col}"),
                ValueType::Int => table("type = \"int\""),
                ValueType::Float => table("type = \"float\""),
                ValueType::Bool => table("type = \"bool\""),
                ValueType::Url => table("type = \"url\""),
                ValueType::Json => table("type = \"json\""),
                ValueType::Date { format: None } => table("type = \"date\""),
                ValueType::Date { format: Some(f) } if f.contains(batchport_transform::value::FORMAT_SEPARATOR) => {
                    let list: Vec<String> = f.split(batchport_transform::value::FORMAT_SEPARATOR).map(q).collect();
                    table(&format!("type = \"date\", format = [{}]", list.join(", ")))
                }
                ValueType::Date { format: Some(f) } => table(&format!("type = \"date\", format = {}", q(f))),
                ValueType::Array { separator, mode, json } => {
                    let mode = match mode {
                        ArrayMode::Replace => "",
                        ArrayMode::Add => ", mode = \"add\"",
                        ArrayMode::Remove => ", mode = \"remove\"",
                    };
                    if *json {
                        table(&format!("type = \"array\", format = \"json\"{mode}"))
                    } else {
                        table(&format!("type = \"array\", separator = {}{mode}", q(separator)))
                    }
                }
            }
        }
    }
}

fn native_key(kind: &NativeKind) -> &'static str {
    kind.wire_name().trim_start_matches('$')
}

fn list(words: &[String]) -> String {
    words.iter().map(|w| q(w)).collect::<Vec<_>>().join(", ")
}

/// A TOML basic string.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Header names can hold line breaks: a comment must stay on its lines.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `text` as `# ` lines wrapped near 110 columns, so the file reads in a terminal.
pub(super) fn comment(o: &mut String, text: &str) {
    const WIDTH: usize = 110;
    let text = clean(text);
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WIDTH {
            let _ = writeln!(o, "# {line}");
            line = String::from("  ");
        }
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(o, "# {}", line.trim_end());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_toml_strings() {
        assert_eq!(q("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        let v: toml::Value = toml::from_str(&format!("x = {}", q("é \u{1} \"q\""))).unwrap();
        assert_eq!(v["x"].as_str(), Some("é \u{1} \"q\""));
    }

    #[test]
    fn wraps_comments() {
        let mut o = String::new();
        comment(&mut o, &"word ".repeat(60));
        assert!(o.lines().count() > 1);
        assert!(o.lines().all(|l| l.starts_with("# ") && l.len() <= 120), "{o}");
    }
}
