//! Mailchimp's audience export ("Export Audience"): one CSV per status
//! (subscribed, unsubscribed, cleaned), headers such as `Email Address`,
//! `MEMBER_RATING`, `OPTIN_TIME`, `LEID`, `EUID`, `TAGS`, times in UTC as
//! `YYYY-MM-DD HH:MM:SS`.

use super::{Hint::*, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Mailchimp",
    ids: &[],
    email_as_id: "Mailchimp keys contacts by email address; its own ids (LEID, EUID) are unknown to your app",
    notes,
    columns: COLUMNS,
    native_hint: "email_marketing = { column = \"status\", subscribed = [\"subscribed\"], unsubscribed = [\"unsubscribed\", \"cleaned\"] }",
};

fn notes(headers: &[String]) -> Vec<String> {
    let has = |h: &str| headers.iter().any(|x| super::names::key(x) == h);
    let which = if has("unsubtime") {
        "This file has UNSUB_TIME: it looks like the *unsubscribed* export."
    } else if has("cleantime") {
        "This file has CLEAN_TIME: it looks like the *cleaned* export (addresses that bounced)."
    } else {
        "This file has no UNSUB_TIME or CLEAN_TIME: it looks like the *subscribed* export."
    };
    vec![
        "Mailchimp exports subscribed, unsubscribed and cleaned contacts as separate files, with no status column."
            .into(),
        which.into(),
        "A job maps $email_marketing from a column, so add one to say it (e.g. a `status` column filled with".into(),
        "subscribed / unsubscribed), then uncomment the email_marketing line in [mapping.native].".into(),
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
        note: "Mailchimp keeps phone numbers as typed: $phone_number only if every sampled value is international",
    },
    Known {
        headers: &["Birthday"],
        role: Attr("birthday", Text),
        note: "Mailchimp birthdays are MM/DD without a year; Batch dates need a year, so it stays text",
    },
    Known {
        headers: &["TAGS"],
        role: Attr("tags", Array(",")),
        note: "Mailchimp tags, comma-separated, sent as a string array",
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
