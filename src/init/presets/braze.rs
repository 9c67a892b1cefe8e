//! Braze's user export (segment export to CSV, or `/users/export/segment`
//! flattened): `external_id`, `braze_id`, `email`, `phone`, `dob`,
//! `email_subscribe` as `opted_in` / `subscribed` / `unsubscribed`...

use super::{Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Braze",
    ids: &[IdRule {
        header: "external_id",
        why: "Braze's external_id is your own user id: the same one your app gives Batch's SDK",
        after_email: false,
    }],
    email_as_id: "this Braze export has no external_id filled in (anonymous users only)",
    notes: super::no_notes,
    native_hint: "",
    columns: &[
        Known {
            headers: &["braze_id"],
            role: Attr("braze_id", Text),
            note: "Braze's own user id: kept to trace profiles back",
        },
        Known {
            headers: &["user_aliases"],
            role: Attr("user_aliases", Text),
            note: "Braze aliases (JSON): kept as one text",
        },
        Known { headers: &["first_name"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["last_name"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["email"], role: Email, note: "" },
        Known { headers: &["phone"], role: Phone, note: "Braze keeps phones as given: $phone_number if E.164" },
        Known { headers: &["country"], role: Region, note: "Braze stores ISO 3166-1 alpha-2 country codes" },
        Known { headers: &["home_city"], role: Attr("home_city", Text), note: "" },
        Known { headers: &["language"], role: Language, note: "Braze stores ISO 639-1 language codes" },
        Known { headers: &["time_zone"], role: Timezone, note: "Braze stores IANA time zones" },
        Known { headers: &["dob"], role: Attr("birthdate", Date), note: "Braze's date of birth" },
        Known {
            headers: &["gender"],
            role: Attr("gender", Text),
            note: "Braze letters: M, F, O (other), N (not applicable), P (prefer not to say), U (unknown)",
        },
        Known {
            headers: &["email_subscribe"],
            role: EmailMarketing(&["opted_in", "subscribed"], &["unsubscribed"]),
            note: "Braze: opted_in (explicit) and subscribed (the default) → subscribed; unsubscribed → unsubscribed",
        },
        Known {
            headers: &["push_subscribe"],
            role: Attr("push_subscribe", Text),
            note: "Batch takes push opt-in from the app's SDK, per installation, not from profiles: kept as text",
        },
        Known { headers: &["created_at"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["email_unsubscribed_at"], role: Attr("email_unsubscribed_at", Date), note: "" },
        Known { headers: &["email_opted_in_at"], role: Attr("email_opted_in_at", Date), note: "" },
        Known { headers: &["push_unsubscribed_at"], role: Attr("push_unsubscribed_at", Date), note: "" },
        Known { headers: &["push_opted_in_at"], role: Attr("push_opted_in_at", Date), note: "" },
        Known { headers: &["random_bucket"], role: Attr("random_bucket", Int), note: "Braze's 0-9999 bucket" },
        Known { headers: &["total_revenue"], role: Attr("total_revenue", Float), note: "" },
        Known { headers: &["last_coordinates"], role: Attr("last_coordinates", Text), note: "" },
        Known { headers: &["attributed_campaign"], role: Attr("attributed_campaign", Text), note: "" },
        Known { headers: &["attributed_source"], role: Attr("attributed_source", Text), note: "" },
        Known { headers: &["attributed_adgroup"], role: Attr("attributed_adgroup", Text), note: "" },
        Known { headers: &["attributed_ad"], role: Attr("attributed_ad", Text), note: "" },
    ],
};
