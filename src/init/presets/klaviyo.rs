//! Klaviyo's profile export (Klaviyo help: "Export a list or segment to CSV"):
//! `Email`, `Phone Number`, `First Name`, `Last Name`, `Organization`,
//! `Title`, `Address`, `Address 2`, `City`, `State / Region` (a state or
//! province, often two letters: CA is California, never Canada), `Country`
//! (as typed: "United States"), `Zip Code`, `Timezone`, `Klaviyo ID`,
//! `External ID`, `Email Marketing Consent` / `SMS Marketing Consent` as
//! `SUBSCRIBED` / `UNSUBSCRIBED` / `NEVER_SUBSCRIBED`, `Email Suppressions`
//! (`HARD_BOUNCE`, `SPAM_COMPLAINT`, `USER_SUPPRESSED`... or blank), and
//! predictive analytics. A suppression wins over the consent column.
//! Sources: none public found for the CSV header itself (searched help pages
//! and code for `Email Marketing Consent`, `Klaviyo ID`, `Email
//! Suppressions`); the names are the ones the issue read from real files,
//! unconfirmed here. The meaning of suppressions (profiles that "cannot
//! receive emails, even if they have provided consent") is Klaviyo's own, in
//! its Profiles API overview (developers.klaviyo.com).

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

const UNSUB: &[&str] = &["unsubscribed", "suppressed"];
const NEVER: &[&str] = &["never_subscribed"];
const CONSENT: &str = "Klaviyo consent: SUBSCRIBED → subscribed; UNSUBSCRIBED → unsubscribed; NEVER_SUBSCRIBED \
sends nothing (never asked is no opt-out: whatever Batch holds stays)";

pub static TOOL: Tool = Tool {
    name: "Klaviyo",
    ids: &[IdRule {
        header: "External ID",
        why: "Klaviyo's External ID is your own system's id for the person: the one your app gives Batch",
        after_email: false,
    }],
    email_as_id: "Klaviyo keys profiles by email unless you sent an External ID, and this file has none filled in",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known { headers: &["Email"], role: Email, note: "" },
        Known {
            headers: &["Phone Number", "Phone"],
            role: Phone,
            note: "Klaviyo stores phone numbers in E.164 when it can",
        },
        Known { headers: &["First Name"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["Last Name"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["Organization"], role: Attr("organization", Text), note: "" },
        Known { headers: &["Title"], role: Attr("title", Text), note: "" },
        Known { headers: &["Address", "Address 1"], role: Attr("address", Text), note: "" },
        Known { headers: &["Address 2"], role: Attr("address_2", Text), note: "" },
        Known { headers: &["City"], role: Attr("city", Text), note: "" },
        Known {
            headers: &["State / Region", "Region", "State"],
            role: Attr("state", Text),
            note: "Klaviyo's State / Region is a state or province (CA = California): never $region, which is a country",
        },
        Known {
            headers: &["Country"],
            role: Region,
            note: "Klaviyo keeps the country as typed (\"United States\"): names and codes are read as ISO 3166 codes",
        },
        Known {
            headers: &["Email Suppressions", "Suppressions"],
            role: Attr("email_suppressions", Text),
            note: "why Klaviyo does not mail this address (HARD_BOUNCE, SPAM_COMPLAINT, USER_SUPPRESSED...): \
                   also an opt-out for $email_marketing",
        },
        Known { headers: &["Zip Code", "Zip", "Postal Code"], role: Attr("zip_code", Text), note: "" },
        Known { headers: &["Latitude"], role: Attr("latitude", Float), note: "" },
        Known { headers: &["Longitude"], role: Attr("longitude", Float), note: "" },
        Known { headers: &["Source"], role: Attr("source", Text), note: "" },
        Known { headers: &["Initial Source"], role: Attr("initial_source", Text), note: "" },
        Known { headers: &["Timezone"], role: Timezone, note: "Klaviyo's IANA time zone" },
        Known { headers: &["IP Address"], role: Attr("ip_address", Text), note: "" },
        Known {
            headers: &["Klaviyo ID", "Id"],
            role: Attr("klaviyo_id", Text),
            note: "Klaviyo's own profile id: kept to trace profiles back",
        },
        Known {
            headers: &["Email Marketing Consent", "Email Consent"],
            role: EmailMarketing(&["subscribed"], UNSUB, NEVER),
            note: CONSENT,
        },
        Known {
            headers: &["SMS Marketing Consent", "SMS Consent"],
            role: SmsMarketing(&["subscribed"], UNSUB, NEVER),
            note: CONSENT,
        },
        Known {
            headers: &["Email Marketing Consent Timestamp", "Email Consent Timestamp"],
            role: Attr("email_consent_at", Date),
            note: "",
        },
        Known {
            headers: &["SMS Consent Timestamp", "SMS Marketing Consent Timestamp"],
            role: Attr("sms_consent_at", Date),
            note: "",
        },
        Known { headers: &["Date Added", "Profile Created On", "Created"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["Last Active"], role: Attr("last_active", Date), note: "" },
        Known { headers: &["Last Open"], role: Attr("last_open", Date), note: "" },
        Known { headers: &["Last Click"], role: Attr("last_click", Date), note: "" },
        Known {
            headers: &["Predicted Customer Lifetime Value"],
            role: Attr("predicted_clv", Float),
            note: "Klaviyo prediction",
        },
        Known {
            headers: &["Historic Customer Lifetime Value", "Total Customer Lifetime Value"],
            role: Attr("historic_clv", Float),
            note: "",
        },
        Known { headers: &["Average Order Value"], role: Attr("average_order_value", Float), note: "" },
        Known { headers: &["Historic Number Of Orders"], role: Attr("historic_orders", Int), note: "" },
        Known {
            headers: &["Expected Date Of Next Order"],
            role: Attr("next_order_expected", Date),
            note: "Klaviyo prediction",
        },
        Known { headers: &["Churn Risk Prediction"], role: Attr("churn_risk", Infer), note: "Klaviyo prediction" },
        Known { headers: &["Predicted Gender"], role: Attr("predicted_gender", Text), note: "Klaviyo prediction" },
    ],
};
