//! Braze's two user exports. The segment CSV export ("Export segment data to
//! CSV": <https://braze.com/docs/user_guide/data/distribution/export_braze_data/segment_data_to_csv>,
//! its field table checked in the English, French and Japanese pages):
//! `Braze ID` (older pages and files: `Appboy ID`), `user_id` (documented as
//! "external ID"), `email`, `phone_number`, `first_name`, `last_name`,
//! `date_of_birth`, `gender`, `country`, `city`, `language` (ISO 639-1),
//! `time_zone`, `created_at`, `first_session`, `last_session`,
//! `unsubscribed_from_emails_at`, `last_app_version_used`, `devices`,
//! `google_ad_ids`, `IDFA`/`IDFAs`, `IDFVs`, `number_of_*` counts,
//! `random_bucket`, `total_revenue`, `user_aliases`... Not from the docs (kept
//! from the reading of real files, unconfirmed here): time zones as
//! Rails names ("Eastern Time (US & Canada)"), times as `2020-07-10
//! 15:00:00.000 UTC`, and cells starting with `+ - = @` prefixed by an
//! apostrophe (`'+1415...`); all are read either way. The JSON-lines export
//! (`POST /users/export/segment`: "newline-delimited user JSON objects",
//! <https://www.braze.com/docs/api/endpoints/export/user_data/post_users_segment/>):
//! `external_id`, `braze_id`, `email`, `phone`, `dob`, `home_city`,
//! `time_zone`, `email_subscribe` (`opted_in` / `subscribed` /
//! `unsubscribed`), `email_unsubscribed_at`, `push_subscribe`,
//! `custom_attributes.*`.

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Braze",
    ids: &[
        IdRule {
            header: "user_id",
            why: "Braze's user_id (the CSV export's name for external_id) is your own user id: the one your app gives Batch",
            after_email: false,
        },
        IdRule {
            header: "external_id",
            why: "Braze's external_id is your own user id: the same one your app gives Batch's SDK",
            after_email: false,
        },
    ],
    email_as_id: "this Braze export has no external id filled in (anonymous users only)",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known {
            headers: &["braze_id", "Appboy ID"],
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
        Known {
            headers: &["phone", "phone_number"],
            role: Phone,
            note: "Braze keeps phones as given (apostrophe-prefixed in CSV): read into E.164",
        },
        Known { headers: &["country"], role: Region, note: "Braze stores ISO 3166-1 alpha-2 country codes" },
        Known { headers: &["home_city", "city"], role: Attr("home_city", Text), note: "" },
        Known { headers: &["language"], role: Language, note: "Braze stores ISO 639-1 language codes" },
        Known {
            headers: &["time_zone"],
            role: Timezone,
            note: "Braze writes IANA zones or Rails names (\"Eastern Time (US & Canada)\"): both are read as IANA",
        },
        Known { headers: &["dob", "date_of_birth"], role: Attr("birthdate", Date), note: "Braze's date of birth" },
        Known {
            headers: &["gender"],
            role: Attr("gender", Text),
            note: "Braze letters: M, F, O (other), N (not applicable), P (prefer not to say), U (unknown)",
        },
        Known {
            headers: &["email_subscribe"],
            role: EmailMarketing(&["opted_in", "subscribed"], &["unsubscribed"], &[]),
            note: "Braze: opted_in (explicit) and subscribed (the default) → subscribed; unsubscribed → unsubscribed",
        },
        Known {
            headers: &["push_subscribe"],
            role: Attr("push_subscribe", Text),
            note: "Batch takes push opt-in from the app's SDK, per installation, not from profiles: kept as text",
        },
        Known { headers: &["created_at"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["first_session"], role: Attr("first_session", Date), note: "" },
        Known { headers: &["last_session"], role: Attr("last_session", Date), note: "" },
        Known {
            headers: &["email_unsubscribed_at", "unsubscribed_from_emails_at"],
            role: Attr("email_unsubscribed_at", Date),
            note: "when the person unsubscribed from emails: set means an opt-out for $email_marketing",
        },
        Known { headers: &["email_opted_in_at"], role: Attr("email_opted_in_at", Date), note: "" },
        Known { headers: &["push_unsubscribed_at"], role: Attr("push_unsubscribed_at", Date), note: "" },
        Known { headers: &["push_opted_in_at"], role: Attr("push_opted_in_at", Date), note: "" },
        Known { headers: &["uninstalled_at"], role: Attr("uninstalled_at", Date), note: "" },
        Known { headers: &["random_bucket"], role: Attr("random_bucket", Int), note: "Braze's 0-9999 bucket" },
        Known { headers: &["total_revenue"], role: Attr("total_revenue", Float), note: "" },
        Known { headers: &["last_app_version_used"], role: Attr("last_app_version", Text), note: "" },
        Known { headers: &["last_coordinates"], role: Attr("last_coordinates", Text), note: "" },
        Known { headers: &["attributed_campaign"], role: Attr("attributed_campaign", Text), note: "" },
        Known { headers: &["attributed_source"], role: Attr("attributed_source", Text), note: "" },
        Known { headers: &["attributed_adgroup"], role: Attr("attributed_adgroup", Text), note: "" },
        Known { headers: &["attributed_ad"], role: Attr("attributed_ad", Text), note: "" },
        Known {
            headers: &[
                "devices",
                "IDFA",
                "IDFAs",
                "IDFVs",
                "google_ad_ids",
                "roku_ad_ids",
                "windows_ad_ids",
                "push_tokens",
            ],
            role: Skip,
            note: "device-level ids and tokens: Batch collects them with its own SDK",
        },
    ],
};
