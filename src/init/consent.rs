//! Consent that fails safe, for every preset and `plain`. Each column is read
//! for what it says about email or SMS marketing: an opt-in column (values
//! that say subscribed or not), or an opt-out signal (a flag, a timestamp, a
//! suppression reason: set means the person opted out or must not be mailed).
//! Polarity comes from names *and* values: `unsubscribed = true` is an
//! opt-out, never a subscription, and `subscribed` inside `unsubscribed` is
//! never read as one.
//!
//! The job then maps `$email_marketing` / `$sms_marketing` so that any opt-out
//! signal in the row wins over an opt-in (`suppressed_by`). When the file
//! cannot tell, nothing is sent for that channel and the job file says why:
//! Batch keeps what it had, and nobody is subscribed by a guess.

use super::names;

/// Which marketing channel a column speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    /// A generic opt-out (`unsubscribed`, `do_not_contact`): both channels.
    Both,
    /// Push: Batch takes push consent from its SDK, per installation.
    Push,
}

/// What a column says about consent.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Its values say subscribed / unsubscribed (or decide nothing).
    OptIn { channel: Channel, subscribed: Vec<String>, unsubscribed: Vec<String>, undecided: Vec<String> },
    /// Set (not blank, not false/0/no) means opted out or suppressed.
    OptOut { channel: Channel },
    /// Set means opted in: a column of opt-in dates (`opted_in_at`).
    OptInWhenSet { channel: Channel },
    /// Named like consent, but its values cannot be read either way.
    Unreadable { channel: Channel, why: String },
}

/// Values that say "subscribed", lowercase.
pub const YES_WORDS: &[&str] =
    &["subscribed", "opted_in", "optedin", "opt_in", "opt-in", "confirmed", "granted", "yes", "true", "1", "y", "t"];
/// Values that say "not subscribed": opted out, cleaned, bounced, never asked.
pub const NO_WORDS: &[&str] = &[
    "unsubscribed",
    "opted_out",
    "optedout",
    "opt_out",
    "opt-out",
    "cleaned",
    "bounced",
    "hard_bounce",
    "suppressed",
    "blacklisted",
    "blocklisted",
    "blocked",
    "never_subscribed",
    "non_subscribed",
    "not_subscribed",
    "spam",
    "spam_complaint",
    "complained",
    "revoked",
    "denied",
    "declined",
    "no",
    "false",
    "0",
    "n",
    "f",
];
/// Opposite words: seeing one, the job also lists the other.
const PAIRS: &[(&str, &str)] = &[
    ("yes", "no"),
    ("true", "false"),
    ("1", "0"),
    ("y", "n"),
    ("t", "f"),
    ("subscribed", "unsubscribed"),
    ("opted_in", "opted_out"),
];

/// Values that decide nothing: pending double opt-ins, unknown states.
pub const UNDECIDED_WORDS: &[&str] = &["pending", "unknown", "not_set", "transactional", "unconfirmed", "none", "null"];

/// Name fragments (on `names::key`: lowercase, letters and digits only) that
/// mark an opt-out whatever the values. Checked before the opt-in fragments,
/// so `unsubscribed` is never taken for `subscribed`.
const OPT_OUT_NAMES: &[&str] = &[
    "unsub",
    "optout",
    "optedout",
    "blacklist",
    "blocklist",
    "suppress",
    "bounce",
    "cleaned",
    "cleantime",
    "donot",
    "dnc",
    "spamreport",
    "spamcomplaint",
    "complain",
    "hasoptedout",
    "revoked",
    "emailblocked",
    "invalidemail",
];
const OPT_IN_NAMES: &[&str] = &[
    "optin",
    "optedin",
    "subscri",
    "consent",
    "marketing",
    "newsletter",
    "permission",
    "acceptsemail",
    "acceptssms",
    "msgemail",
    "msgsms",
    "msgwhatsapp",
    "allowemail",
    "allowsms",
    "canemail",
    "emailable",
];

/// The channel a header names.
fn channel(header: &str) -> Option<Channel> {
    let snake = names::snake_case(header);
    let parts: Vec<&str> = snake.split('_').collect();
    let key = names::key(header);
    let has = |w: &str| parts.contains(&w) || key.contains(w) && w.len() > 4;
    if has("push") {
        Some(Channel::Push)
    } else if has("sms") || has("text") || has("mobile") || has("phone") || has("whatsapp") {
        Some(Channel::Sms)
    } else if has("email") || has("mail") || has("emails") || has("newsletter") {
        Some(Channel::Email)
    } else {
        None
    }
}

fn opt_out_name(header: &str) -> bool {
    let k = names::key(header);
    OPT_OUT_NAMES.iter().any(|w| k.contains(w))
}

fn opt_in_name(header: &str) -> bool {
    let k = names::key(header);
    // `DOUBLE_OPT-IN` says how someone signed up, not whether they may be
    // mailed; a transactional opt-in (receipts, Airship's
    // `transactional_opted_in`) is no consent to marketing.
    !opt_out_name(header)
        && !k.contains("double")
        && !k.contains("transactional")
        && OPT_IN_NAMES.iter().any(|w| k.contains(w))
}

/// Lowercase, `-`/space as `_`: `Opted In` → `opted_in`.
pub fn word(v: &str) -> String {
    v.trim().to_lowercase().replace([' ', '-'], "_")
}

fn in_list(list: &[&str], w: &str) -> bool {
    list.contains(&w) || list.contains(&w.replace('_', "-").as_str())
}

/// Read one column. `values` are its non-blank sampled cells.
pub fn classify(header: &str, values: &[&str]) -> Option<Signal> {
    let out = opt_out_name(header);
    let inn = opt_in_name(header);
    if !out && !inn {
        // A column of status words says what it is whatever its name
        // (`status`: subscribed / unsubscribed / cleaned).
        return status_words(values, Channel::Email).filter(|_| {
            values.iter().any(|v| {
                let w = word(v);
                !matches!(w.as_str(), "yes" | "no" | "true" | "false" | "0" | "1" | "y" | "n" | "t" | "f")
            })
        });
    }
    let ch = channel(header);
    if out {
        let channel = ch.unwrap_or(Channel::Both);
        // `unsubscribe_status`: subscribed / unsubscribed words carry their own polarity.
        // Only when some value says "subscribed": a column of reasons
        // (`HARD_BOUNCE`, `SPAM_COMPLAINT`) is a suppression, set or not.
        if let Some(s @ Signal::OptIn { .. }) = status_words(values, channel)
            && values.iter().any(|v| !is_bool_word(v) && in_list(YES_WORDS, &word(v)))
        {
            return Some(s);
        }
        return Some(Signal::OptOut { channel });
    }
    let channel = ch.unwrap_or(Channel::Email);
    if values.is_empty() {
        return Some(Signal::Unreadable { channel, why: format!("`{header}` is blank in every sampled row") });
    }
    // `opt_in_date`: a date says when the person opted in.
    let date = |v: &str| batchport_transform::value::parse_date(v, None).is_ok();
    if values.iter().filter(|v| date(v)).count() * 2 >= values.len() && values.iter().any(|v| date(v)) {
        return Some(Signal::OptInWhenSet { channel });
    }
    status_words(values, channel).or_else(|| mostly_words(values, channel)).or_else(|| {
        let odd: Vec<&str> = values.iter().copied().filter(|v| !known(v)).take(3).collect();
        Some(Signal::Unreadable {
            channel,
            why: format!(
                "`{header}` holds values that say neither subscribed nor unsubscribed (e.g. {})",
                odd.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
            ),
        })
    })
}

/// `true`, `yes`, `1`...: a flag value.
pub fn is_flag(v: &str) -> bool {
    is_bool_word(v)
}

fn is_bool_word(v: &str) -> bool {
    matches!(word(v).as_str(), "yes" | "no" | "true" | "false" | "0" | "1" | "y" | "n" | "t" | "f")
}

fn known(v: &str) -> bool {
    let w = word(v);
    in_list(YES_WORDS, &w) || in_list(NO_WORDS, &w) || in_list(UNDECIDED_WORDS, &w)
}

/// Most distinct odd words a consent column may hold beside its yes/no words
/// and still be read: more is free text, not a few undecidable answers.
const MAX_ODD_WORDS: usize = 20;

/// A consent column whose values mostly say yes or no, with a few that say
/// neither (`unknown`, `maybe`, `?`): read as `status_words` would, the odd
/// words undecided (those rows send nothing for the channel; an opt-out is
/// never lost because some neighbours' answers are unclear). `None` unless at
/// least half the values clearly decide.
fn mostly_words(values: &[&str], channel: Channel) -> Option<Signal> {
    let decides = |v: &&str| {
        let w = word(v);
        in_list(YES_WORDS, &w) || in_list(NO_WORDS, &w)
    };
    if values.iter().filter(|v| decides(v)).count() * 2 < values.len() {
        return None;
    }
    let mut odd: Vec<String> = values.iter().filter(|v| !known(v)).map(|v| v.trim().to_lowercase()).collect();
    odd.sort();
    odd.dedup();
    if odd.len() > MAX_ODD_WORDS {
        return None;
    }
    let known_values: Vec<&str> = values.iter().copied().filter(|v| known(v)).collect();
    let Some(Signal::OptIn { channel, subscribed, unsubscribed, mut undecided }) = status_words(&known_values, channel)
    else {
        return None;
    };
    undecided.extend(odd);
    Some(Signal::OptIn { channel, subscribed, unsubscribed, undecided })
}

/// An opt-in signal when every value is a known word, with the words the
/// sample holds sorted into the three lists (other known words added so the
/// job also reads rows beyond the sample).
fn status_words(values: &[&str], channel: Channel) -> Option<Signal> {
    if values.is_empty() || !values.iter().all(|v| known(v)) {
        return None;
    }
    let mut seen: Vec<String> = values.iter().map(|v| v.trim().to_lowercase()).collect();
    // The other half of each pair, so rows past the sample are read too.
    for (a, b) in PAIRS {
        if seen.iter().any(|v| word(v) == *a) && !seen.iter().any(|v| word(v) == *b) {
            seen.push(b.to_string());
        }
        if seen.iter().any(|v| word(v) == *b) && !seen.iter().any(|v| word(v) == *a) {
            seen.push(a.to_string());
        }
    }
    seen.sort();
    seen.dedup();
    let (mut subscribed, mut unsubscribed, mut undecided) = (Vec::new(), Vec::new(), Vec::new());
    for v in seen {
        let w = word(&v);
        let list = if in_list(YES_WORDS, &w) {
            &mut subscribed
        } else if in_list(NO_WORDS, &w) {
            &mut unsubscribed
        } else {
            &mut undecided
        };
        list.push(v);
    }
    Some(Signal::OptIn { channel, subscribed, unsubscribed, undecided })
}

/// An opt-in column: its header, then its subscribed, unsubscribed and
/// undecided words.
pub type OptInColumn = (String, Vec<String>, Vec<String>, Vec<String>);

/// What the job maps for one channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// The opt-in column and its words, if one decides.
    pub column: Option<OptInColumn>,
    /// A constant for the whole file (Mailchimp's per-status files).
    pub constant: Option<&'static str>,
    /// Opt-out columns: set means unsubscribed, whatever else the row says.
    pub suppressed_by: Vec<String>,
    /// Other opt-in columns beside the one that decides, with their opt-in
    /// and undecided words: any other value of theirs is an opt-out
    /// (several signals are a union, never a reason to read none).
    /// (column, words, except): `except` lists the words that do not opt
    /// out (any other value does), else the words that do.
    pub suppressed_when: Vec<Suppression>,
    /// Why, for the job file; when nothing is sent, why not.
    pub notes: Vec<String>,
    /// The deciding column opts in wherever it is set (`when_set`).
    pub when_set: bool,
}

impl Decision {
    /// Something is sent for this channel on some rows.
    pub fn maps(&self) -> bool {
        self.column.is_some()
            || self.constant.is_some()
            || !self.suppressed_by.is_empty()
            || !self.suppressed_when.is_empty()
    }
}

/// A `suppressed_when` entry: (column, words, except): `except` lists the
/// words that do not opt out (any other value does), else the words that do.
pub type Suppression = (String, Vec<String>, bool);

/// An opt-in column that does not decide, read beside `decider` for its
/// opt-outs only: the suppression entry (column, words, except) and the job
/// file's note. `None` when the column has no word that opts out.
pub fn suppression(f: &Found, decider: &str, name: &str) -> Option<(Suppression, String)> {
    let Signal::OptIn { subscribed, unsubscribed, undecided, .. } = &f.signal else { return None };
    let words = |w: &[String]| w.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(" or ");
    let not: Vec<String> = subscribed.iter().chain(undecided).cloned().collect();
    let (entry, says) = if !not.is_empty() {
        ((f.header.clone(), not.clone(), true), format!("set to anything but {}", words(&not)))
    } else if !unsubscribed.is_empty() {
        ((f.header.clone(), unsubscribed.clone(), false), words(unsubscribed))
    } else {
        return None;
    };
    let note = format!(
        "{name} = unsubscribed also where `{}` is {says} (its opt-ins are not read: `{decider}` decides those)",
        f.header
    );
    Some((entry, note))
}

/// A column's consent signal as found (by a preset or by `classify`).
#[derive(Debug, Clone)]
pub struct Found {
    pub header: String,
    pub signal: Signal,
    /// The tool documents this column as its consent state (a preset's
    /// subscription role), not a guess from its name and values.
    pub documented: bool,
}

/// Combine the signals of every column into one decision per channel.
pub fn decide(found: &[Found], ch: Channel, constant: Option<(&'static str, String)>) -> Decision {
    let name = if ch == Channel::Email { "$email_marketing" } else { "$sms_marketing" };
    let mut d = Decision::default();
    let applies = |c: Channel| c == ch || c == Channel::Both;
    let mut opt_ins = Vec::new();
    for f in found {
        match &f.signal {
            Signal::OptOut { channel } if applies(*channel) => d.suppressed_by.push(f.header.clone()),
            Signal::OptIn { channel, .. } | Signal::OptInWhenSet { channel } if applies(*channel) => opt_ins.push(f),
            Signal::Unreadable { channel, why } if applies(*channel) => {
                d.notes.push(format!("{name}: {why}: not read (map it by hand if it says consent)"));
            }
            _ => {}
        }
    }
    // A file that says "unsubscribed" decides for every row; one that says
    // "subscribed" only when no column of the row may say otherwise.
    let constant = constant.filter(|(value, _)| *value == "unsubscribed" || opt_ins.is_empty());
    if let Some((value, why)) = constant {
        d.constant = Some(value);
        d.notes.push(format!("{name} = {value} for every row: {why}"));
        for f in &opt_ins {
            d.notes.push(format!("{name}: `{}` is not read: the file itself says unsubscribed", f.header));
        }
    } else if !opt_ins.is_empty() {
        // One column decides the opt-in: the tool's documented consent state
        // if there is one, else the first. The others' "no" words are
        // opt-outs beside it: no opt-out is lost because two columns speak.
        let decider = opt_ins.iter().position(|f| f.documented).unwrap_or(0);
        let one = opt_ins[decider];
        let why = if one.documented { " (the tool's documented consent state)" } else { "" };
        match &one.signal {
            Signal::OptIn { subscribed, unsubscribed, undecided, .. } => {
                d.column = Some((one.header.clone(), subscribed.clone(), unsubscribed.clone(), undecided.clone()));
                d.notes.push(format!("{name} from `{}`{why}", one.header));
            }
            Signal::OptInWhenSet { .. } => {
                d.column = Some((one.header.clone(), Vec::new(), Vec::new(), Vec::new()));
                d.when_set = true;
                d.notes.push(format!(
                    "{name} = subscribed where `{}` is set (an opt-in date); other rows send nothing{why}",
                    one.header
                ));
            }
            _ => {}
        }
        for f in opt_ins.iter().enumerate().filter(|(i, _)| *i != decider).map(|(_, f)| f) {
            if let Some((entry, note)) = suppression(f, &one.header, name) {
                d.notes.push(note);
                d.suppressed_when.push(entry);
            }
        }
    }
    if !d.suppressed_by.is_empty() {
        let cols: Vec<String> = d.suppressed_by.iter().map(|h| format!("`{h}`")).collect();
        d.notes.push(format!(
            "{name} = unsubscribed on any row where {} is set (an opt-out wins over an opt-in)",
            cols.join(" or ")
        ));
        if d.column.is_none() && d.constant.is_none() {
            d.notes.push(format!("{name}: other rows send nothing: no column here says they opted in"));
        }
    }
    if !d.maps() && d.notes.is_empty() {
        d.notes.push(format!("{name}: not sent: no column says consent for this channel"));
    }
    d
}

#[cfg(test)]
mod tests;
