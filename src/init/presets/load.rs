//! The one reader of preset files (the shipped ones and `--preset-file`):
//! TOML → `Tool`. Serde checks the shape (unknown keys, types, role names);
//! this module checks the rest (keys that do not fit a column's role, a
//! header listed twice, an invalid attribute name, a word in two lists).
//! Every error names the file, the line and the key, never panics.

use super::Channel;
use super::raw::*;
use super::{ConsentValue, FileCase, FileConsent, Hint, IdRule, Known, Note, Role, Tool, TypeRows, Words, names};
use batchport_api::rules;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// A preset file that cannot be used, and where.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file cannot be read.
    #[error("cannot read preset file {path}: {error}")]
    Read {
        /// The preset file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A key's value is wrong, at a line of the file.
    #[error("{path}:{line}: {key}: {message}")]
    At {
        /// The preset file.
        path: String,
        /// Its line (from 1).
        line: usize,
        /// The key, dotted (`columns.role`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file as a whole is wrong (no line to name).
    #[error("{path}: {message}")]
    File {
        /// The preset file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Read and check the preset file at `path`.
pub fn read(path: &Path) -> Result<Tool, PresetError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| PresetError::Read { path: shown.clone(), error })?;
    parse(&text, &shown)
}

/// Read the text of a preset; `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<Tool, PresetError> {
    let cx = Cx { text, path };
    let raw: RawTool = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end();
        match e.span() {
            Some(span) => {
                // A missing key is named in the message; its table is the one at the span.
                let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next());
                let key = match (key_at(text, span.start, missing.is_some()), missing) {
                    (Some(table), Some(field)) => format!("{table}.{field}"),
                    (None, Some(field)) => field.to_string(),
                    (Some(key), None) => key,
                    (None, None) => "(top level)".to_string(),
                };
                cx.at(span, &key, message)
            }
            None => PresetError::File { path: path.into(), message: message.into() },
        }
    })?;
    cx.tool(raw)
}

struct Cx<'a> {
    text: &'a str,
    path: &'a str,
}

type Res<T> = Result<T, PresetError>;

impl Cx<'_> {
    fn at(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> PresetError {
        let line = self.text.as_bytes()[..span.start.min(self.text.len())].iter().filter(|&&b| b == b'\n').count() + 1;
        PresetError::At { path: self.path.into(), line, key: key.into(), message: message.into() }
    }

    fn tool(&self, raw: RawTool) -> Res<Tool> {
        if raw.name.get_ref().trim().is_empty() {
            return Err(self.at(raw.name.span(), "name", "the tool's name is empty"));
        }
        let mut ids = Vec::new();
        for id in raw.ids {
            self.header(&id.header, "ids.header")?;
            ids.push(IdRule { header: id.header.into_inner(), why: id.why, after_email: id.after_email });
        }
        let mut notes = Vec::new();
        for n in raw.notes {
            if n.text.get_ref().trim().is_empty() {
                return Err(self.at(n.text.span(), "notes.text", "a note with no text"));
            }
            let lines = n.text.into_inner().lines().map(str::to_string).collect();
            notes.push(Note { lines, if_columns: n.if_columns, unless_columns: n.unless_columns });
        }
        let file_consent = match raw.file_consent {
            None => None,
            Some(fc) => {
                if fc.cases.get_ref().is_empty() {
                    return Err(self.at(fc.cases.span(), "file_consent.cases", "no case: say what a file states"));
                }
                let cases = fc.cases.into_inner().into_iter().map(|c| FileCase {
                    if_columns: c.if_columns,
                    value: match c.value {
                        RawValue::Subscribed => ConsentValue::Subscribed,
                        RawValue::Unsubscribed => ConsentValue::Unsubscribed,
                    },
                    why: c.why,
                    file_word: c.file_word.to_lowercase(),
                });
                Some(FileConsent { cases: cases.collect(), unless_columns: fc.unless_columns })
            }
        };
        let consent_by_type = match raw.consent_by_type {
            None => None,
            Some(t) => Some(self.type_rows("consent_by_type", t.type_column, Some(t.email), Some(t.sms))?),
        };
        let mut columns: Vec<Known> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for c in raw.columns {
            if c.headers.get_ref().is_empty() {
                return Err(self.at(c.headers.span(), "columns.headers", "no header: list the column's spellings"));
            }
            for h in c.headers.get_ref() {
                let h = Spanned::new(c.headers.span(), h.clone());
                self.header(&h, "columns.headers")?;
                let key = names::key(h.get_ref());
                if seen.contains(&key) {
                    let message = format!(
                        "`{}` is listed twice (headers match whatever their case and punctuation)",
                        h.get_ref()
                    );
                    return Err(self.at(c.headers.span(), "columns.headers", message));
                }
                seen.push(key);
            }
            let role = self.role(&c)?;
            columns.push(Known { headers: c.headers.into_inner(), role, note: c.note });
        }
        Ok(Tool {
            email_as_id: raw
                .email_as_id
                .unwrap_or_else(|| format!("no id column of the {} preset is filled in here", raw.name.get_ref())),
            name: raw.name.into_inner(),
            source: raw.source,
            ids,
            notes,
            columns,
            native_hint: raw.native_hint,
            opt_out_channel: match raw.opt_out_channel {
                OptOutChannel::Email => Channel::Email,
                OptOutChannel::Sms => Channel::Sms,
                OptOutChannel::Both => Channel::Both,
            },
            file_consent,
            consent_by_type,
        })
    }

    /// A header must have a letter or digit: headers match by those alone.
    fn header(&self, h: &Spanned<String>, key: &str) -> Res<()> {
        if names::key(h.get_ref()).is_empty() {
            return Err(self.at(
                h.span(),
                key,
                format!("`{}` has no letter or digit to match a header by", h.get_ref()),
            ));
        }
        Ok(())
    }

    /// The column's role, with the keys it takes; any other key is an error.
    fn role(&self, c: &RawColumn) -> Res<Role> {
        let role = *c.role.get_ref();
        let present: [(&str, Option<Range<usize>>); 9] = [
            ("name", c.name.as_ref().map(|s| s.span())),
            ("type", c.ty.as_ref().map(|s| s.span())),
            ("separator", c.separator.as_ref().map(|s| s.span())),
            ("subscribed", c.subscribed.as_ref().map(|s| s.span())),
            ("unsubscribed", c.unsubscribed.as_ref().map(|s| s.span())),
            ("undecided", c.undecided.as_ref().map(|s| s.span())),
            ("type_column", c.type_column.as_ref().map(|s| s.span())),
            ("email", c.email.as_ref().map(|s| s.span())),
            ("sms", c.sms.as_ref().map(|s| s.span())),
        ];
        let takes: &[&str] = match role {
            RoleName::Attribute => &["name", "type", "separator"],
            RoleName::EmailMarketing | RoleName::SmsMarketing => &["subscribed", "unsubscribed", "undecided"],
            RoleName::ChannelBy => &["type_column", "email", "sms"],
            RoleName::SubscriptionBy => &["type_column", "email", "sms", "subscribed", "unsubscribed"],
            _ => &[],
        };
        let role_name = role_name(self.text, c.role.span());
        for (key, span) in present {
            if let Some(span) = span.filter(|_| !takes.contains(&key)) {
                let message = if takes.is_empty() {
                    format!("role = {role_name} takes no `{key}` (only headers and note)")
                } else {
                    format!("role = {role_name} takes no `{key}` (it takes {})", takes.join(", "))
                };
                return Err(self.at(span, &format!("columns.{key}"), message));
            }
        }
        let list = |v: &Option<Spanned<Vec<String>>>| v.as_ref().map(|s| s.get_ref().clone()).unwrap_or_default();
        Ok(match role {
            RoleName::Email => Role::Email,
            RoleName::Phone => Role::Phone,
            RoleName::Language => Role::Language,
            RoleName::Region => Role::Region,
            RoleName::Timezone => Role::Timezone,
            RoleName::Skip => Role::Skip,
            RoleName::Attribute => {
                let Some(name) = &c.name else {
                    return Err(self.at(c.role.span(), "columns.name", "role = \"attribute\" needs name = \"...\""));
                };
                if !rules::is_valid_name(name.get_ref()) {
                    let message = format!(
                        "`{}` is not a Batch attribute name (lowercase letters, digits and _, at most 30)",
                        name.get_ref()
                    );
                    return Err(self.at(name.span(), "columns.name", message));
                }
                Role::Attr(name.get_ref().clone(), self.hint(c)?)
            }
            RoleName::EmailMarketing | RoleName::SmsMarketing => {
                let words = self.words(c, list(&c.undecided))?;
                if role == RoleName::EmailMarketing { Role::EmailMarketing(words) } else { Role::SmsMarketing(words) }
            }
            RoleName::ChannelBy | RoleName::SubscriptionBy => {
                let Some(type_column) = c.type_column.clone() else {
                    let message = format!("role = {role_name} needs type_column = \"...\"");
                    return Err(self.at(c.role.span(), "columns.type_column", message));
                };
                let rows = self.type_rows("columns", type_column, Some(list(&c.email)), Some(list(&c.sms)))?;
                if role == RoleName::ChannelBy {
                    Role::ChannelBy(rows)
                } else {
                    Role::SubscriptionBy(rows, self.words(c, Vec::new())?)
                }
            }
        })
    }

    fn hint(&self, c: &RawColumn) -> Res<Hint> {
        let ty = c.ty.as_ref().map(|t| *t.get_ref()).unwrap_or(HintName::Infer);
        if let Some(sep) = &c.separator
            && ty != HintName::Array
        {
            return Err(self.at(sep.span(), "columns.separator", "a separator is for type = \"array\""));
        }
        Ok(match ty {
            HintName::Text => Hint::Text,
            HintName::Int => Hint::Int,
            HintName::Float => Hint::Float,
            HintName::Bool => Hint::Bool,
            HintName::Date => Hint::Date,
            HintName::JsonList => Hint::JsonList,
            HintName::Infer => Hint::Infer,
            HintName::Array => match &c.separator {
                Some(s) if !s.get_ref().is_empty() => Hint::Array(s.get_ref().clone()),
                Some(s) => return Err(self.at(s.span(), "columns.separator", "the separator is empty")),
                None => {
                    let span = c.ty.as_ref().map(|t| t.span()).unwrap_or(c.role.span());
                    return Err(self.at(
                        span,
                        "columns.separator",
                        "type = \"array\" needs separator = \",\" (or another)",
                    ));
                }
            },
        })
    }

    /// Subscription words: some say subscribed or unsubscribed, none in two lists.
    fn words(&self, c: &RawColumn, undecided: Vec<String>) -> Res<Words> {
        let get = |v: &Option<Spanned<Vec<String>>>| v.as_ref().map(|s| s.get_ref().clone()).unwrap_or_default();
        let w = Words { subscribed: get(&c.subscribed), unsubscribed: get(&c.unsubscribed), undecided };
        if w.subscribed.is_empty() && w.unsubscribed.is_empty() {
            return Err(self.at(
                c.role.span(),
                "columns.subscribed",
                "give the words that say subscribed or unsubscribed",
            ));
        }
        let lists = [(&w.subscribed, "subscribed"), (&w.unsubscribed, "unsubscribed"), (&w.undecided, "undecided")];
        for (i, (a, an)) in lists.iter().enumerate() {
            for (b, bn) in &lists[i + 1..] {
                if let Some(word) = a.iter().find(|x| b.iter().any(|y| y.eq_ignore_ascii_case(x))) {
                    let span = c.role.span();
                    return Err(self.at(span, &format!("columns.{bn}"), format!("`{word}` is in both {an} and {bn}")));
                }
            }
        }
        Ok(w)
    }

    fn type_rows(
        &self,
        at: &str,
        column: Spanned<String>,
        email: Option<Vec<String>>,
        sms: Option<Vec<String>>,
    ) -> Res<TypeRows> {
        self.header(&column, &format!("{at}.type_column"))?;
        let (email, sms) = (email.unwrap_or_default(), sms.unwrap_or_default());
        if email.is_empty() && sms.is_empty() {
            return Err(self.at(
                column.span(),
                &format!("{at}.email"),
                "give the type column's values of email or SMS rows",
            ));
        }
        Ok(TypeRows { column: column.into_inner(), email, sms })
    }
}

/// `"attribute"`, as written (for messages).
fn role_name(text: &str, span: Range<usize>) -> String {
    text.get(span).unwrap_or("?").to_string()
}

/// The dotted key an error at `offset` is about (`columns.role`), read from
/// the text: the `[table]` or `[[array]]` above, and the key at `offset` or
/// the nearest `key =` before it (a value may span lines).
fn key_at(text: &str, offset: usize, table_only: bool) -> Option<String> {
    let offset = offset.min(text.len());
    let is_key = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-.\"'".contains(c));
    // The key itself (an unknown key): `key =` starts at the offset.
    let here = text[offset..].split_once('=').map(|(k, _)| k.trim()).filter(|k| is_key(k) && !k.contains('\n'));
    let mut key = here.map(str::to_string).filter(|_| !table_only);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut section = None;
    let head = &text[..line_start];
    // An error about a whole table points at its `[header]` line.
    let whole = text[line_start..].lines().next().unwrap_or("");
    let current = if whole.trim_start().starts_with('[') { whole } else { &text[line_start..offset] };
    for line in std::iter::once(current).chain(head.lines().rev()) {
        let t = line.trim();
        if t.starts_with('[') {
            section = Some(t.trim_matches(['[', ']']).trim().to_string());
            break;
        }
        if key.is_none()
            && !table_only
            && let Some((k, _)) = t.split_once('=')
            && is_key(k.trim())
        {
            key = Some(k.trim().to_string());
        }
    }
    match (section, key) {
        (Some(s), Some(k)) => Some(format!("{s}.{}", k.trim_matches('"'))),
        (None, Some(k)) => Some(k.trim_matches('"').to_string()),
        (Some(s), None) => Some(s),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, "my.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let head = "name = \"Mine\"\n\n[[columns]]\nheaders = [\"Email\"]\n";
        assert_eq!(
            err(&format!("{head}role = \"emial\"\n")).split(": ").take(2).collect::<Vec<_>>(),
            ["my.toml:5", "columns.role"]
        );
        let e = err(&format!("{head}role = \"email\"\ncolour = 1\n"));
        assert!(e.starts_with("my.toml:6: columns.colour: unknown field `colour`"), "{e}");
        let e = err("name = \"Mine\"\n[[columns]]\nheaders = \"Email\"\nrole = \"email\"\n");
        assert!(e.starts_with("my.toml:3: columns.headers: invalid type"), "{e}");
        let e = err(&format!("{head}role = \"email\"\nname = \"x\"\n"));
        assert!(e.starts_with("my.toml:6: columns.name: role = \"email\" takes no `name`"), "{e}");
        let e = err(&format!("{head}role = \"attribute\"\nname = \"First Name\"\n"));
        assert!(e.starts_with("my.toml:6: columns.name: `First Name` is not a Batch attribute name"), "{e}");
        let e = err(&format!("{head}role = \"attribute\"\n"));
        assert!(e.starts_with("my.toml:5: columns.name: role = \"attribute\" needs name"), "{e}");
        let e = err(&format!("{head}role = \"email\"\n[[columns]]\nheaders = [\"E-MAIL\"]\nrole = \"skip\"\n"));
        assert!(e.starts_with("my.toml:7: columns.headers: `E-MAIL` is listed twice"), "{e}");
        let e = err(&format!("{head}role = \"email_marketing\"\nsubscribed = [\"yes\"]\nunsubscribed = [\"YES\"]\n"));
        assert!(e.contains("`YES` is in both subscribed and unsubscribed") || e.contains("`yes` is in both"), "{e}");
        let e = err("name = \"Mine\"\nopt_out_channel = \"push\"\n");
        assert!(e.starts_with("my.toml:2: opt_out_channel: unknown variant `push`"), "{e}");
        let e = err("[[columns]]\nheaders = [\"a\"]\nrole = \"skip\"\n");
        assert!(e.contains("missing field `name`"), "{e}");
        let e = err(
            "name = \"Mine\"\n[[columns]]\nheaders = [\"a\"]\nrole = \"attribute\"\nname = \"a\"\ntype = \"array\"\n",
        );
        assert!(e.starts_with("my.toml:6: columns.separator: type = \"array\" needs separator"), "{e}");
        let e = err("name = \"Mine\"\nnot toml at all\n");
        assert!(e.starts_with("my.toml:2: "), "{e}");
    }

    #[test]
    fn the_guide_s_example_reads() {
        let readme = include_str!("../../../docs/guide.md");
        let section = readme.split("### Presets as data").nth(1).unwrap();
        let example = section.split("```toml\n").nth(1).unwrap().split("```").next().unwrap();
        let t = parse(example, "docs/guide.md").unwrap();
        assert_eq!((t.name.as_str(), t.columns.len(), t.ids.len()), ("Acme CRM", 3, 1));
    }

    #[test]
    fn a_small_preset_reads() {
        let t = parse(
            "name = \"Mine\"\n[[ids]]\nheader = \"uid\"\nwhy = \"ours\"\n[[notes]]\ntext = '''\none\ntwo\n'''\n\
             [[columns]]\nheaders = [\"mail\"]\nrole = \"email\"\n[[columns]]\nheaders = [\"tags\"]\nrole = \"attribute\"\n\
             name = \"tags\"\ntype = \"array\"\nseparator = \"|\"\n",
            "my.toml",
        )
        .unwrap();
        assert_eq!(t.notes(&[]), ["one", "two"]);
        assert!(matches!(&t.columns[1].role, Role::Attr(n, Hint::Array(s)) if n == "tags" && s == "|"));
        assert_eq!(t.email_as_id, "no id column of the Mine preset is filled in here");
        assert!(matches!(t.opt_out_channel, Channel::Both));
    }
}
