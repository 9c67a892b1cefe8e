//! What each tool's export looks like: its documented columns and what they are
//! in Batch. A preset only proposes; `plan` checks every proposal against the
//! sampled values and falls back to inference when the file disagrees.

mod airship;
mod braze;
mod brevo;
mod clevertap;
mod customerio;
mod hubspot;
mod klaviyo;
mod mailchimp;
mod onesignal;
mod shopify;

use super::consent::Channel;
use super::names;

/// Every preset name (`--preset` spells them so).
#[cfg(test)]
pub const NAMES: &[&str] = &[
    "mailchimp",
    "klaviyo",
    "braze",
    "onesignal",
    "customerio",
    "hubspot",
    "brevo",
    "shopify",
    "airship",
    "clevertap",
];

/// A tool's export, as data.
#[derive(Debug)]
pub struct Tool {
    /// The tool's name, for comments ("Mailchimp").
    pub name: &'static str,
    /// Columns that can be the Custom ID, best first.
    pub ids: &'static [IdRule],
    /// Why email is the Custom ID when no `ids` column is usable.
    pub email_as_id: &'static str,
    /// Facts about the whole export, printed at the top of the job file.
    pub notes: fn(headers: &[String]) -> Vec<String>,
    pub columns: &'static [Known],
    /// A commented-out `[mapping.native]` line to suggest (empty for none).
    pub native_hint: &'static str,
    /// The channel of opt-out columns whose name does not say one
    /// (`UNSUB_TIME` in an email tool is about email).
    pub opt_out_channel: Channel,
    /// Consent the whole file states (Mailchimp's per-status files): the
    /// `$email_marketing` value for every row and why; `None` when the file
    /// does not say.
    pub file_consent: FileConsent,
    /// Columns whose presence says a file is *not* the export a "subscribed"
    /// `file_consent` was read from (Mailchimp's `UNSUB_TIME`): the job file
    /// says `unless_columns`, so that another export dropped at the same path
    /// is refused at run time instead of imported as subscribed.
    pub file_consent_unless: &'static [&'static str],
    /// Exports with one row per channel: the type column and its values for
    /// email and SMS rows; consent columns then apply to their channel's rows.
    pub consent_by_type: Option<TypeColumn>,
}

/// The `$email_marketing` value a whole file states, and why.
pub type FileConsent = fn(headers: &[String], path: &str) -> Option<(&'static str, String)>;

/// A type column and the values of its email and SMS rows.
pub type TypeColumn = (&'static str, &'static [&'static str], &'static [&'static str]);

/// A column that can be the Custom ID.
#[derive(Debug)]
pub struct IdRule {
    /// Header, compared by `names::key` (case, spaces and punctuation ignored).
    pub header: &'static str,
    pub why: &'static str,
    /// Tried only when there is no usable email column: an id that is not the
    /// person's (a device id) is worse than their email.
    pub after_email: bool,
}

/// A documented column of the export.
#[derive(Debug)]
pub struct Known {
    /// Header spellings, compared by `names::key`.
    pub headers: &'static [&'static str],
    pub role: Role,
    /// Why it maps this way; written above the mapping line.
    pub note: &'static str,
}

#[derive(Debug)]
pub enum Role {
    Email,
    Phone,
    Language,
    Region,
    Timezone,
    /// The tool's documented consent state: its words for subscribed /
    /// unsubscribed / neither (sends nothing: "never asked" is no opt-out).
    EmailMarketing(&'static [&'static str], &'static [&'static str], &'static [&'static str]),
    SmsMarketing(&'static [&'static str], &'static [&'static str], &'static [&'static str]),
    /// A custom attribute with this name.
    Attr(&'static str, Hint),
    /// Documented, deliberately not sent; the note says why.
    Skip,
    /// An address whose channel a type column tells (OneSignal's `identifier`:
    /// an email when `device_type` is 11, a phone when it is 14).
    ChannelBy {
        type_column: &'static str,
        email: &'static [&'static str],
        sms: &'static [&'static str],
    },
    /// A subscription state for the channel the type column tells.
    SubscriptionBy {
        type_column: &'static str,
        email: &'static [&'static str],
        sms: &'static [&'static str],
        subscribed: &'static [&'static str],
        unsubscribed: &'static [&'static str],
    },
}

/// The type a preset expects; the sample confirms it or inference takes over.
#[derive(Debug, Clone, Copy)]
pub enum Hint {
    Text,
    Int,
    Float,
    Bool,
    /// A date; its format (or Unix seconds) is read from the sample.
    Date,
    Array(&'static str),
    /// Cells that are JSON lists (`"a","b"` or `["a","b"]`).
    JsonList,
    Infer,
}

/// The presets `--preset` names (besides `plain`).
pub fn tool(name: &str) -> Option<&'static Tool> {
    match name {
        "mailchimp" => Some(&mailchimp::TOOL),
        "klaviyo" => Some(&klaviyo::TOOL),
        "braze" => Some(&braze::TOOL),
        "onesignal" => Some(&onesignal::TOOL),
        "customerio" => Some(&customerio::TOOL),
        "hubspot" => Some(&hubspot::TOOL),
        "brevo" => Some(&brevo::TOOL),
        "shopify" => Some(&shopify::TOOL),
        "airship" => Some(&airship::TOOL),
        "clevertap" => Some(&clevertap::TOOL),
        _ => None,
    }
}

impl Tool {
    /// The documented column `header` is, if any.
    pub fn known(&self, header: &str) -> Option<&'static Known> {
        let k = names::key(header);
        self.columns.iter().find(|c| c.headers.iter().any(|h| names::key(h) == k))
    }
}

fn no_notes(_: &[String]) -> Vec<String> {
    Vec::new()
}

fn no_file_consent(_: &[String], _: &str) -> Option<(&'static str, String)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_tables_are_well_formed() {
        for name in NAMES {
            let t = tool(name).unwrap();
            let mut seen = std::collections::HashSet::new();
            for c in t.columns {
                for h in c.headers {
                    assert!(seen.insert(names::key(h)), "{name}: `{h}` listed twice");
                }
                if let Role::Attr(n, _) = c.role {
                    assert!(batchport_api::rules::is_valid_name(n), "{name}: `{n}`");
                }
                if let Role::EmailMarketing(s, u, n) | Role::SmsMarketing(s, u, n) = c.role {
                    assert!(s.iter().all(|w| !u.contains(w) && !n.contains(w)), "{name}: a word in two lists");
                    assert!(u.iter().all(|w| !n.contains(w)), "{name}: a word in two lists");
                }
            }
        }
        assert!(tool("plain").is_none());
    }
}
