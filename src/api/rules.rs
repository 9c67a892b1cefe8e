//! The value rules of API.md, in one place: the transform rejects a row by them
//! before sending (`validate` included), and the emulator refuses operations by
//! them, so both agree. Every limit is in [`TABLE`] with its unit: lengths of
//! text are counted in Unicode characters (`chars()`), never in bytes, except
//! where a row says bytes.

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Unicode scalar values (`str::chars().count()`).
    Chars,
    /// Entries of an object or array, or operations of a call.
    Items,
}

/// One documented limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What is limited, in words.
    pub what: &'static str,
    /// The largest value allowed, in `unit`.
    pub max: usize,
    /// What `max` counts.
    pub unit: Unit,
    /// Where the number comes from (API.md's words).
    pub source: &'static str,
}

/// Custom attributes in one profile operation.
pub const MAX_ATTRIBUTES: usize = 50;
/// Events for one profile in one call.
pub const MAX_EVENTS_PER_OPERATION: usize = 15;
/// Attributes of one audience member.
pub const MAX_AUDIENCE_ATTRIBUTES: usize = 15;
/// Characters of a custom attribute or event name.
pub const MAX_NAME_LEN: usize = 30;
/// Characters of a string attribute value, and of each string of an array.
pub const MAX_STRING_CHARS: usize = 300;
/// Characters of a `url()` attribute value.
pub const MAX_URL_CHARS: usize = 2_048;
/// Characters of a string value of a catalog item.
pub const MAX_CATALOG_STRING_CHARS: usize = 10_000;
const MAX_AUDIENCE_NAME_LEN: usize = 255;
/// Batch's SDK docs: a Custom ID is under 1,024 characters, under 512 on the
/// Web SDK. The stricter reading keeps an ID usable on every platform.
const MAX_CUSTOM_ID_CHARS: usize = 511;
/// Attributes of one event (objects inside it count their own).
pub const MAX_EVENT_ATTRIBUTES: usize = 50;
/// Characters of an event's `$label`.
pub const MAX_LABEL_CHARS: usize = 200;
/// Tags in an event's `$tags`.
pub const MAX_TAGS: usize = 10;
/// Characters of one event tag.
pub const MAX_TAG_CHARS: usize = 64;
/// Objects inside event attributes nest at most this deep (an object in an
/// array of objects counts one level).
pub const MAX_EVENT_OBJECT_DEPTH: usize = 3;
pub(crate) const MAX_CATALOG_NAME_LEN: usize = 250;
/// Fields of one catalog.
pub const MAX_CATALOG_FIELDS: usize = 25;
/// Catalogs in one project.
pub const MAX_CATALOGS: usize = 5;
/// Strings in an array value of a catalog item.
pub const MAX_CATALOG_ARRAY_ITEMS: usize = 15;
/// Characters of each string in an array value of a catalog item.
pub const MAX_CATALOG_ARRAY_ITEM_CHARS: usize = 64;
/// Items in one catalog.
pub const MAX_CATALOG_ITEMS: usize = 2_000_000;

/// Every limit both sides enforce, with its unit.
pub const TABLE: &[Limit] = &[
    Limit { what: "Custom ID", max: MAX_CUSTOM_ID_CHARS, unit: Unit::Chars, source: "SDK docs: under 512 on Web" },
    Limit { what: "attribute and event names", max: MAX_NAME_LEN, unit: Unit::Chars, source: "[a-z0-9_]" },
    Limit { what: "string attribute", max: MAX_STRING_CHARS, unit: Unit::Chars, source: "1-300 chars" },
    Limit { what: "url() attribute", max: MAX_URL_CHARS, unit: Unit::Chars, source: "URL <= 2,048" },
    Limit { what: "attributes per operation", max: MAX_ATTRIBUTES, unit: Unit::Items, source: "<= 50" },
    Limit { what: "events per profile per call", max: MAX_EVENTS_PER_OPERATION, unit: Unit::Items, source: "<= 15" },
    Limit { what: "attributes per event", max: MAX_EVENT_ATTRIBUTES, unit: Unit::Items, source: "as profiles" },
    Limit { what: "event $label", max: MAX_LABEL_CHARS, unit: Unit::Chars, source: "SDK/trigger API" },
    Limit { what: "event $tags", max: MAX_TAGS, unit: Unit::Items, source: "SDK/trigger API" },
    Limit { what: "one event tag", max: MAX_TAG_CHARS, unit: Unit::Chars, source: "SDK/trigger API" },
    Limit { what: "audience attributes", max: MAX_AUDIENCE_ATTRIBUTES, unit: Unit::Items, source: "<= 15" },
    Limit { what: "audience name", max: MAX_AUDIENCE_NAME_LEN, unit: Unit::Chars, source: "[A-Za-z0-9_-]" },
    Limit { what: "catalog field name", max: MAX_CATALOG_NAME_LEN, unit: Unit::Chars, source: "1-250" },
    Limit { what: "catalog fields", max: MAX_CATALOG_FIELDS, unit: Unit::Items, source: "<= 25" },
    Limit { what: "catalogs per project", max: MAX_CATALOGS, unit: Unit::Items, source: "<= 5" },
    Limit { what: "catalog string", max: MAX_CATALOG_STRING_CHARS, unit: Unit::Chars, source: "<= 10,000" },
    Limit { what: "catalog string array", max: MAX_CATALOG_ARRAY_ITEMS, unit: Unit::Items, source: "<= 15" },
    Limit { what: "catalog array item", max: MAX_CATALOG_ARRAY_ITEM_CHARS, unit: Unit::Chars, source: "<= 64" },
    Limit { what: "items per catalog", max: MAX_CATALOG_ITEMS, unit: Unit::Items, source: "<= 2 million" },
];

/// Text length as every rule counts it: characters, not bytes.
pub(crate) fn chars(s: &str) -> usize {
    // Byte length bounds the count from above: short strings need no count.
    if s.len() <= 64 && s.is_ascii() { s.len() } else { s.chars().count() }
}

/// A Custom ID as Batch will key it: the final value, after any mapping
/// (fallbacks, case) and the job's opt-in trim. Batch's SDK docs say IDs are
/// case and whitespace sensitive, so nothing is changed here: an ID that would
/// be ambiguous or unusable is refused with the reason.
pub fn check_custom_id(id: &str) -> Result<(), String> {
    // The common case, in one pass: printable ASCII without spaces, short.
    if !id.is_empty() && id.len() <= MAX_CUSTOM_ID_CHARS && id.bytes().all(|b| b > b' ' && b < 0x7f) {
        return Ok(());
    }
    if id.trim().is_empty() {
        return Err("the Custom ID is blank".into());
    }
    if id.contains('\0') {
        return Err("the Custom ID holds a NUL character".into());
    }
    if id.chars().any(char::is_control) {
        return Err("the Custom ID holds a control character (tab, newline...)".into());
    }
    if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        // The value itself (one quoted span: grouped reasons take it out).
        return Err(format!(
            "the Custom ID `{id}` begins or ends with whitespace; Batch would keep it as is, another profile than \
             the trimmed one (set custom_id_trim = true in [mapping] to trim)"
        ));
    }
    let n = chars(id);
    if n > MAX_CUSTOM_ID_CHARS {
        return Err(format!(
            "the Custom ID is {n} characters; Batch takes under 512 (its SDK docs: under 1,024, under 512 on Web)"
        ));
    }
    Ok(())
}

/// Custom attribute and event names: `[a-z0-9_]`, 1 to 30 characters.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Audience names: `[A-Za-z0-9_-]`, 1 to 255 characters, case sensitive.
pub fn is_valid_audience_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_AUDIENCE_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A plain string attribute value: 1 to 300 characters.
pub fn is_valid_string(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= MAX_STRING_CHARS
}

/// A deliberately plain email check: one `@`, a non-empty local part, a domain
/// with a dot and no empty label, no whitespace. Stricter checks reject real
/// addresses; looser ones let through the typos exports are full of.
pub fn is_valid_email(s: &str) -> bool {
    // For ASCII (nearly every address) the same test on bytes, without decoding.
    let spaced = if s.is_ascii() {
        s.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        s.chars().any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
    };
    if s.len() > 254 || spaced {
        return false;
    }
    // On bytes, in one pass per part: this runs on every row that maps an
    // email ('@' and '.' are ASCII, so UTF-8 text splits the same way).
    let b = s.as_bytes();
    let Some(at) = memchr::memchr(b'@', b) else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    if local.is_empty() || memchr::memchr(b'@', domain).is_some() || memchr::memchr(b'.', domain).is_none() {
        return false;
    }
    domain.split(|&c| c == b'.').all(|l| !l.is_empty() && l[0] != b'-' && l[l.len() - 1] != b'-')
}

/// A character that shows nothing and is no space: zero-width spaces and
/// joiners, direction marks, the soft hyphen, the word joiner, a BOM. Pasted
/// from web pages and spreadsheets into addresses, never part of one.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// E.164: `+`, a country calling code that is assigned (libphonenumber's
/// metadata: `+999...` is no one's), at most 15 digits in all.
pub fn is_valid_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
        && has_calling_code(digits)
}

/// Whether `digits` (after the `+`) start with an assigned country calling
/// code (1 to 3 digits; codes are prefix-free).
fn has_calling_code(digits: &str) -> bool {
    static CODES: std::sync::LazyLock<Vec<bool>> = std::sync::LazyLock::new(|| {
        (0..1000u16).map(|c| c > 0 && phonenumber::metadata::DATABASE.by_code(&c).is_some()).collect()
    });
    (1..=3.min(digits.len())).any(|n| digits[..n].parse::<usize>().is_ok_and(|c| CODES[c]))
}

/// ISO 639-1: two lowercase letters, one of the codes the standard assigns.
pub fn is_valid_language(s: &str) -> bool {
    // A table of the 676 two-letter words, built once: this runs on every row.
    static CODES: std::sync::LazyLock<[bool; 676]> = std::sync::LazyLock::new(|| {
        let mut t = [false; 676];
        ISO_639_1.split(' ').for_each(|c| t[letters(c.as_bytes())] = true);
        t
    });
    fn letters(b: &[u8]) -> usize {
        usize::from(b[0] - b'a') * 26 + usize::from(b[1] - b'a')
    }
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase()) && CODES[letters(s.as_bytes())]
}

/// Every ISO 639-1 code (184, `bh` included: withdrawn, but still in data).
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv \
cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii \
ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms \
mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn \
so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// ISO 3166-1 alpha-2: two uppercase letters.
pub fn is_valid_region(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// An IANA zone name: the shape (`Area/Location[/More]`, `UTC`, `Etc/GMT+3`),
/// then a name of the tz database (`chrono-tz`'s copy, links included):
/// `Europe/Pariss` or `Etc/GMT+15` are no zone.
pub fn is_valid_timezone(s: &str) -> bool {
    if s == "UTC" || s == "GMT" {
        return true;
    }
    is_zone_shaped(s) && s.parse::<chrono_tz::Tz>().is_ok()
}

fn is_zone_shaped(s: &str) -> bool {
    // One pass over the bytes: this runs on every row that maps a time zone.
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let (mut slashes, mut part) = (0, 0);
    for &c in b {
        if c == b'/' {
            if part == 0 {
                return false;
            }
            slashes += 1;
            part = 0;
        } else if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+') {
            part += 1;
            if part > 30 {
                return false;
            }
        } else {
            return false;
        }
    }
    slashes > 0 && part > 0
}

/// A URL: a scheme, `://`, a host, at most 2,048 characters, no whitespace.
pub fn is_valid_url(s: &str) -> bool {
    if s.chars().count() > MAX_URL_CHARS || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !scheme.is_empty()
        && scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !host.is_empty()
}

/// RFC 3339 with an offset, as `date()` attributes and event times take.
pub(crate) fn is_valid_rfc3339(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Subscription values of `$email_marketing` / `$sms_marketing`.
pub fn is_valid_subscription(s: &str) -> bool {
    s == "subscribed" || s == "unsubscribed"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25: values that are shaped right but name nothing.
    #[test]
    fn zones_languages_phones_and_addresses_must_exist() {
        for tz in ["Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+12", "Etc/GMT-14", "US/Eastern", "UTC"] {
            assert!(is_valid_timezone(tz), "{tz}");
        }
        for tz in ["Mars/Olympus", "Europe/Pariss", "Etc/GMT+15", "europe/paris", "Europe/"] {
            assert!(!is_valid_timezone(tz), "{tz}");
        }
        assert!(is_valid_language("en") && is_valid_language("zh") && is_valid_language("he"));
        assert!(!is_valid_language("zz") && !is_valid_language("qq") && !is_valid_language("EN"));
        for p in ["+33639981337", "+14155552671", "+447911123456", "+5511912345678", "+79161234567", "+8613912345678"] {
            assert!(is_valid_e164(p), "{p}");
        }
        for p in ["+999999999999999", "+0639981337", "+2", "+8099999999"] {
            assert!(!is_valid_e164(p), "{p}");
        }
        assert!(is_valid_email("jane@example.com") && is_valid_email("zoë@example.fr"));
        assert!(!is_valid_email("jane\u{200B}@example.com"), "a zero-width space");
        assert!(!is_valid_email("\u{FEFF}jane@example.com"), "a BOM");
        assert!(!is_valid_email("jane@exam\u{00AD}ple.com"), "a soft hyphen");
    }

    #[test]
    fn custom_ids() {
        assert!(check_custom_id("u1").is_ok() && check_custom_id(&"é".repeat(511)).is_ok());
        assert!(check_custom_id(&"é".repeat(512)).unwrap_err().contains("512 characters"));
        assert!(check_custom_id("u\0x").unwrap_err().contains("NUL"));
        assert!(check_custom_id(" u1").unwrap_err().contains("whitespace"));
        assert!(check_custom_id("  ").unwrap_err().contains("blank"));
    }

    #[test]
    fn names() {
        assert!(is_valid_name("first_name"));
        assert!(is_valid_name("a1"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("FirstName"));
        assert!(!is_valid_name("first-name"));
        assert!(!is_valid_name(&"a".repeat(31)));
        assert!(is_valid_name(&"a".repeat(30)));
    }

    #[test]
    fn emails() {
        assert!(is_valid_email("jane@example.com"));
        assert!(is_valid_email("jane+tag@sub.example.co.uk"));
        assert!(!is_valid_email("jane@example"));
        assert!(!is_valid_email("jane.example.com"));
        assert!(!is_valid_email("jane @example.com"));
        assert!(!is_valid_email("@example.com"));
        assert!(!is_valid_email("jane@@example.com"));
        assert!(!is_valid_email("jane@example..com"));
    }

    #[test]
    fn phones() {
        assert!(is_valid_e164("+33639981337"));
        assert!(!is_valid_e164("0639981337"));
        assert!(!is_valid_e164("+0639981337"));
        assert!(!is_valid_e164("+3363998133712345"));
        assert!(!is_valid_e164("+33 6 39"));
    }

    #[test]
    fn locale_codes() {
        assert!(is_valid_language("en"));
        assert!(!is_valid_language("EN"));
        assert!(!is_valid_language("eng"));
        assert!(is_valid_region("FR"));
        assert!(!is_valid_region("fr"));
        assert!(is_valid_timezone("Europe/Paris"));
        assert!(is_valid_timezone("America/Argentina/Buenos_Aires"));
        assert!(is_valid_timezone("UTC"));
        assert!(!is_valid_timezone("Paris"));
        assert!(!is_valid_timezone("Europe/"));
    }

    #[test]
    fn urls_and_dates() {
        assert!(is_valid_url("https://example.com/jane"));
        assert!(!is_valid_url("example.com"));
        assert!(!is_valid_url("https://"));
        assert!(!is_valid_url(&format!("https://e.com/{}", "a".repeat(2048))));
        assert!(is_valid_rfc3339("1989-07-20T00:00:00Z"));
        assert!(!is_valid_rfc3339("1989-07-20"));
    }
}
