//! Native attributes and the Custom ID with the job's per-row rules: a
//! constant value, a channel told by a type column (`when`/`is`), a phone
//! region, subscriptions where any suppression column set wins (an opt-out is
//! never overridden by an opt-in), and Custom ID fallbacks with lowercasing.

use super::json;
use super::value;
use super::{Field, Problem};
use crate::job::{Blank, NativeKind, NativeMap};

/// One native mapping bound to a header.
pub(super) struct BoundNative {
    pub kind: NativeKind,
    /// `"$wire_name":`
    pub key: Vec<u8>,
    /// `None` for a constant.
    pub field: Option<Field>,
    pub constant: Option<String>,
    pub when: Option<(Field, Vec<String>)>,
    pub suppressed_by: Vec<Field>,
    /// Columns whose value is an opt-out (`job::ValueSuppression`).
    pub suppressed_when: Vec<(Field, crate::job::ValueSuppression)>,
    pub region: Option<String>,
    pub region_field: Option<Field>,
}

impl BoundNative {
    pub fn bind(
        n: &NativeMap,
        field: &impl Fn(&crate::job::Column) -> Result<Field, crate::job::JobError>,
    ) -> Result<Self, crate::job::JobError> {
        let r = &n.rule;
        Ok(BoundNative {
            kind: n.kind.clone(),
            key: json::key_bytes(n.kind.wire_name()),
            field: if r.constant.is_some() || r.only_suppressions { None } else { Some(field(&n.column)?) },
            constant: r.constant.clone(),
            when: match &r.when {
                Some((c, values)) => Some((field(c)?, values.clone())),
                None => None,
            },
            suppressed_by: r.suppressed_by.iter().map(field).collect::<Result<_, _>>()?,
            suppressed_when: r
                .suppressed_when
                .iter()
                .map(|w| Ok((field(&w.column)?, w.clone())))
                .collect::<Result<_, crate::job::JobError>>()?,
            region: r.region.clone(),
            region_field: r.region_column.as_ref().map(field).transpose()?,
        })
    }
}

/// A cell that signals an opt-out when set: anything but blank and the
/// spellings of "no" (`false`, `0`, `no`, `null`, `[]`...).
pub fn is_set(cell: &str) -> bool {
    let c = cell.trim();
    !(c.is_empty()
        || ["false", "0", "no", "n", "f", "none", "null", "nil", "[]", "{}", "0.0"]
            .iter()
            .any(|w| c.eq_ignore_ascii_case(w)))
}

/// Whether the row sends an address for the channel (`email`: an email,
/// else a phone), or `None` when the job maps no address for it.
fn address_sent<'r>(
    natives: &[BoundNative],
    email: bool,
    cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
) -> Result<Option<bool>, Problem> {
    let mut mapped = None;
    for n in natives {
        if !matches!((&n.kind, email), (NativeKind::Email, true) | (NativeKind::Phone, false)) {
            continue;
        }
        mapped = Some(false);
        if let Some((f, values)) = &n.when {
            let c = cell(f)?;
            if !values.iter().any(|v| v.eq_ignore_ascii_case(c)) {
                continue;
            }
        }
        // Sent: set and valid (a bad address is dropped or rejects the row).
        let sent = match (&n.constant, &n.field) {
            (Some(_), _) => true,
            (None, Some(f)) => {
                let c = cell(f)?.trim();
                !c.is_empty()
                    && if email {
                        batchport_api::rules::is_valid_email(c)
                    } else {
                        let region = match &n.region_field {
                            Some(f) => Some(cell(f)?).filter(|r| !r.is_empty()).and_then(country_code),
                            None => None,
                        };
                        value::phone(c, region.as_deref().or(n.region.as_deref())).is_ok()
                    }
            }
            (None, None) => false,
        };
        if sent {
            return Ok(Some(true));
        }
    }
    Ok(mapped)
}

/// Write every native of the row into `obj`. `row.held`: (email, SMS) this
/// person opted out on another row of the file (see `optouts`): their
/// `subscribed` is sent as `unsubscribed`. A native whose value is bad is
/// left out and added to `dropped` when given (`on_bad_value = "drop"`),
/// else it fails the row.
///
/// No subscription without its address: where the job maps the channel's
/// address (`email_address`, `phone_number`), a row that sends none (and,
/// for email, whose Custom ID is not an email) sends no `subscribed` for
/// the channel; an opt-out is always sent (it is never noise).
pub(super) fn write<'r, O: json::Out>(
    natives: &[BoundNative],
    row: Row<'_>,
    obj: &mut json::Object<'_, O>,
    cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
    reject: &impl Fn(&str, String) -> Problem,
    mut dropped: Option<&mut Vec<Problem>>,
) -> Result<(), Problem> {
    for n in natives {
        super::member(obj, &mut dropped, |obj| write_one(natives, n, row, obj, cell, reject))?;
    }
    Ok(())
}

/// What `write` needs of the row beside its cells.
#[derive(Clone, Copy)]
pub(super) struct Row<'a> {
    pub blank: Blank,
    /// (email, SMS): this person opted out on another row (see `optouts`).
    pub held: (bool, bool),
    /// The row's Custom ID.
    pub key: &'a str,
    /// `subscribed_needs_address`.
    pub needs_address: bool,
}

/// One native of the row into `obj`, or why its value is bad.
fn write_one<'r, O: json::Out>(
    natives: &[BoundNative],
    n: &BoundNative,
    row: Row<'_>,
    obj: &mut json::Object<'_, O>,
    cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
    reject: &impl Fn(&str, String) -> Problem,
) -> Result<(), Problem> {
    let (blank, held, key) = (row.blank, row.held, row.key);
    if let Some((f, values)) = &n.when {
        let c = cell(f)?;
        if !values.iter().any(|v| v.eq_ignore_ascii_case(c)) {
            return Ok(());
        }
    }
    if let NativeKind::EmailMarketing(v) | NativeKind::SmsMarketing(v) = &n.kind {
        let email = matches!(n.kind, NativeKind::EmailMarketing(_));
        // Written, and told to the output (`validate` counts consent so).
        let mut set = |value: Option<&'static str>| {
            let out = obj.raw_key(&n.key);
            match value {
                Some(s) => json::string(out, s),
                // Only a blank cell under `blank = "clear"` resets consent.
                None => {
                    out.extend_from_slice(b"null");
                    out.cleared();
                }
            }
            out.subscription(email, value);
        };
        // An opt-out anywhere wins: checked before the opt-in column.
        let mut suppressed = false;
        for f in &n.suppressed_by {
            suppressed |= is_set(cell(f)?);
        }
        for (f, w) in &n.suppressed_when {
            suppressed |= w.opts_out(cell(f)?);
        }
        if suppressed {
            set(Some("unsubscribed"));
            return Ok(());
        }
        let c = match (&n.constant, &n.field) {
            (Some(k), _) => k.as_str(),
            (None, Some(f)) => cell(f)?,
            (None, None) => return Ok(()),
        };
        if c.is_empty() {
            if blank == Blank::Clear && n.field.is_some() {
                set(None);
            }
            return Ok(());
        }
        let header = n.field.as_ref().map(|f| f.header.as_str()).unwrap_or("");
        if let Some(s) = value::subscription_of(v, c).map_err(|m| reject(header, m))? {
            let held = if email { held.0 } else { held.1 };
            let s = if held { "unsubscribed" } else { s };
            if s == "subscribed" && row.needs_address {
                let by_id = email && key.contains('@');
                if !by_id && address_sent(natives, email, cell)? == Some(false) {
                    return Ok(());
                }
            }
            set(Some(s));
        }
        return Ok(());
    }
    let (c, header) = match (&n.constant, &n.field) {
        (Some(k), _) => (k.as_str(), ""),
        (None, Some(f)) => (cell(f)?, f.header.as_str()),
        (None, None) => return Ok(()),
    };
    if c.is_empty() {
        if blank == Blank::Clear {
            let out = obj.raw_key(&n.key);
            out.extend_from_slice(b"null");
            out.cleared();
        }
        return Ok(());
    }
    if matches!(n.kind, NativeKind::Phone) {
        let row_region = match &n.region_field {
            Some(f) => Some(cell(f)?),
            None => None,
        };
        let region = row_region.filter(|r| !r.is_empty()).and_then(country_code).or_else(|| n.region.clone());
        let e164 = value::phone(c, region.as_deref()).map_err(|m| match (&n.region_field, region.is_none()) {
            // The job has a region column: the row's cell is the cause.
            (Some(f), true) => {
                let said = if row_region.is_some_and(|r| !r.is_empty()) { "is not a country" } else { "is blank" };
                let m = m.strip_suffix(value::NO_REGION_HINT).unwrap_or(&m);
                reject(header, format!("{m}; this row's `{}` {said}", f.header))
            }
            _ => reject(header, m),
        })?;
        json::string(obj.raw_key(&n.key), &e164);
        return Ok(());
    }
    value::native(&n.kind, c, obj.raw_key(&n.key)).map_err(|m| reject(header, m))?;
    Ok(())
}

/// A region column's cell as a two-letter code (`France` → `FR`), if it is one.
fn country_code(cell: &str) -> Option<String> {
    super::places::country(cell).ok().map(|c| String::from_utf8_lossy(&c).into_owned())
}

/// The Custom ID columns of a mapping, bound.
pub(super) struct BoundId {
    pub fields: Vec<(Field, bool)>,
}

impl BoundId {
    /// The first non-blank id cell, lowercased if its column says so.
    pub fn read<'r>(
        &self,
        cell: &impl Fn(&Field) -> Result<&'r str, Problem>,
    ) -> Result<Option<std::borrow::Cow<'r, str>>, Problem> {
        for (f, lower) in &self.fields {
            let c = cell(f)?;
            if c.is_empty() {
                continue;
            }
            return Ok(Some(if *lower && (c.bytes().any(|b| b.is_ascii_uppercase()) || !c.is_ascii()) {
                c.to_lowercase().into()
            } else {
                c.into()
            }));
        }
        Ok(None)
    }
}
