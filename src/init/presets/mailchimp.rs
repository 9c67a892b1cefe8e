//! Mailchimp's audience export ("Export Audience", Mailchimp help: "Export
//! your audience"): a zip with one CSV per status, `subscribed_*.csv`,
//! `unsubscribed_*.csv`, `cleaned_*.csv`, no status column. Headers: `Email
//! Address`, merge fields (`First Name`, `Last Name`, `Address`, `Phone
//! Number`, `Birthday`...), then `MEMBER_RATING`, `OPTIN_TIME`, `OPTIN_IP`,
//! `CONFIRM_TIME`, `CONFIRM_IP`, `LATITUDE`, `LONGITUDE`, `GMTOFF`, `DSTOFF`,
//! `TIMEZONE`, `CC`, `REGION`, `LAST_CHANGED`, `LEID`, `EUID`, `NOTES`,
//! `TAGS` (`"Tag1","Tag2"`: each tag quoted inside the cell); the
//! unsubscribed file adds `UNSUB_TIME`, `UNSUB_CAMPAIGN_TITLE`,
//! `UNSUB_CAMPAIGN_ID`, `UNSUB_REASON`, `UNSUB_REASON_OTHER`, the cleaned one
//! `CLEAN_TIME`, `CLEAN_CAMPAIGN_TITLE`, `CLEAN_CAMPAIGN_ID`. Times are UTC as
//! `YYYY-MM-DD HH:MM:SS`.
//! Sources: Mailchimp help "Export your audience"; the header checked against
//! public code and fixtures made from real exports (found by exact header
//! search, the index does not name their repositories): `"Email
//! Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,
//! CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,
//! LAST_CHANGED,LEID,EUID,NOTES` (merge fields first, names quoted when they
//! have a space), `TAGS` last in newer files and quoted per tag
//! (`"""VIP"",""Blog"""`), and an unsubscribed export with
//! `UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,...,
//! UNSUB_REASON_OTHER` (order varies: columns are found by name). The cleaned
//! file's `CLEAN_*` columns were not found in a public example.

use super::{Channel, Hint::*, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Mailchimp",
    ids: &[],
    email_as_id: "Mailchimp keys contacts by email address; its own ids (LEID, EUID) are unknown to your app",
    notes,
    columns: COLUMNS,
    native_hint: "",
    opt_out_channel: Channel::Email,
    file_consent,
    file_consent_unless: &["UNSUB_TIME", "CLEAN_TIME"],
    consent_by_type: None,
};

fn has(headers: &[String], h: &str) -> bool {
    headers.iter().any(|x| super::names::key(x) == h)
}

/// Which of the three files this is, from its columns; the file name must not
/// say otherwise (a renamed file that disagrees decides nothing).
fn file_consent(headers: &[String], path: &str) -> Option<(&'static str, String)> {
    let name = std::path::Path::new(path).file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
    let named = |w: &str| name.contains(w) && !(w == "subscribed" && name.contains("unsubscribed"));
    let (value, which, word) = if has(headers, "unsubtime") {
        ("unsubscribed", "UNSUB_TIME: the *unsubscribed* export", "unsubscribed")
    } else if has(headers, "cleantime") {
        ("unsubscribed", "CLEAN_TIME: the *cleaned* export (addresses that bounced)", "cleaned")
    } else {
        ("subscribed", "no UNSUB_TIME nor CLEAN_TIME: the *subscribed* export", "subscribed")
    };
    // The file name disagrees with the columns: the file does not say.
    if ["subscribed", "unsubscribed", "cleaned"].into_iter().filter(|w| *w != word).any(named) {
        return None;
    }
    Some((value, format!("this file has {which}")))
}

fn notes(headers: &[String]) -> Vec<String> {
    let which = if has(headers, "unsubtime") {
        "This file has UNSUB_TIME: it is the *unsubscribed* export."
    } else if has(headers, "cleantime") {
        "This file has CLEAN_TIME: it is the *cleaned* export (addresses that bounced)."
    } else {
        "This file has no UNSUB_TIME or CLEAN_TIME: it is the *subscribed* export."
    };
    vec![
        "Mailchimp exports subscribed, unsubscribed and cleaned contacts as separate files, with no status column:"
            .into(),
        which.into(),
        "Import the unsubscribed and cleaned files too (one job each): they carry the opt-outs.".into(),
    ]
}

const COLUMNS: &[Known] = &[
    Known { headers: &["Email Address", "Email"], role: Email, note: "Mailchimp's `Email Address`" },
    Known { headers: &["First Name", "FNAME"], role: Attr("first_name", Text), note: "" },
    Known { headers: &["Last Name", "LNAME"], role: Attr("last_name", Text), note: "" },
    Known {
        headers: &["Address"],
        role: Attr("address", Text),
        note: "Mailchimp joins the address parts with double spaces: kept as one text",
    },
    Known {
        headers: &["Phone Number", "PHONE"],
        role: Phone,
        note: "Mailchimp keeps phone numbers as typed: national ones are read in the contact's country (CC)",
    },
    Known {
        headers: &["Birthday"],
        role: Attr("birthday", Text),
        note: "Mailchimp birthdays are MM/DD without a year; Batch dates need a year, so it stays text",
    },
    Known {
        headers: &["TAGS"],
        role: Attr("tags", JsonList),
        note: "Mailchimp tags, each quoted in the cell (\"Tag1\",\"Black Friday, 2022\"): read as a JSON list, \
               so a comma inside a tag stays in it",
    },
    Known {
        headers: &["MEMBER_RATING"],
        role: Attr("member_rating", Int),
        note: "Mailchimp's 1-5 star engagement rating",
    },
    Known { headers: &["OPTIN_TIME"], role: Attr("optin_time", Date), note: "when the contact signed up (UTC)" },
    Known { headers: &["OPTIN_IP"], role: Attr("optin_ip", Text), note: "" },
    Known {
        headers: &["CONFIRM_TIME"],
        role: Attr("confirm_time", Date),
        note: "when the contact confirmed (double opt-in, UTC)",
    },
    Known { headers: &["CONFIRM_IP"], role: Attr("confirm_ip", Text), note: "" },
    Known { headers: &["LATITUDE"], role: Attr("latitude", Float), note: "" },
    Known { headers: &["LONGITUDE"], role: Attr("longitude", Float), note: "" },
    Known {
        headers: &["GMTOFF"],
        role: Attr("gmt_offset", Infer),
        note: "hours from UTC, not an IANA zone: $timezone comes from TIMEZONE",
    },
    Known { headers: &["DSTOFF"], role: Attr("dst_offset", Infer), note: "daylight-saving offset, in hours" },
    Known { headers: &["TIMEZONE"], role: Timezone, note: "Mailchimp's guess of the contact's IANA zone" },
    Known { headers: &["CC"], role: Region, note: "Mailchimp's two-letter country code" },
    Known {
        headers: &["REGION"],
        role: Attr("state", Text),
        note: "Mailchimp's REGION is a state or province; Batch's $region (a country) comes from CC",
    },
    Known { headers: &["LAST_CHANGED"], role: Attr("last_changed", Date), note: "" },
    Known {
        headers: &["LEID"],
        role: Attr("mailchimp_leid", Text),
        note: "Mailchimp's id of the contact in this audience: kept to trace profiles back",
    },
    Known {
        headers: &["EUID"],
        role: Attr("mailchimp_euid", Text),
        note: "Mailchimp's unique email id: kept to trace profiles back",
    },
    Known { headers: &["NOTES"], role: Attr("notes", Text), note: "" },
    Known { headers: &["UNSUB_TIME"], role: Attr("unsub_time", Date), note: "" },
    Known { headers: &["UNSUB_CAMPAIGN_TITLE"], role: Attr("unsub_campaign_title", Text), note: "" },
    Known { headers: &["UNSUB_CAMPAIGN_ID"], role: Attr("unsub_campaign_id", Text), note: "" },
    Known { headers: &["UNSUB_REASON"], role: Attr("unsub_reason", Text), note: "" },
    Known { headers: &["UNSUB_REASON_OTHER"], role: Attr("unsub_reason_other", Text), note: "" },
    Known { headers: &["CLEAN_TIME"], role: Attr("clean_time", Date), note: "" },
    Known { headers: &["CLEAN_CAMPAIGN_TITLE"], role: Attr("clean_campaign_title", Text), note: "" },
    Known { headers: &["CLEAN_CAMPAIGN_ID"], role: Attr("clean_campaign_id", Text), note: "" },
];
