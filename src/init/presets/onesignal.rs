//! OneSignal's subscriptions export ("Export subscriptions CSV",
//! `POST /players/csv_export`, a gzipped CSV:
//! <https://documentation.onesignal.com/reference/csv-export>), one row per
//! subscription: a device, an email or an SMS channel. Default columns:
//! `id`, `identifier` (the push token, or the email address when
//! `device_type` is 11, or the phone number when it is 14), `session_count`,
//! `language`, `timezone` (an offset in seconds), `game_version`,
//! `device_os`, `device_type`, `device_model`, `ad_id`, `tags` (JSON),
//! `last_active`, `playtime`, `amount_spent`, `created_at`,
//! `invalid_identifier`, `badge_count`, `sdk`, `test_type`, `ip`; the
//! `extra_fields` the request may add ("location, country, rooted,
//! notification_types, ip, external_user_id, web_auth, and web_p256" in
//! OneSignal's API models, e.g. `ExportSubscriptionsRequestBody` of
//! onesignal-rust-api 5.5.0; the docs' example also asks `timezone_id`).
//! `notification_types`: 1 subscribed; -2 unsubscribed; other negatives:
//! never subscribed or errors (values from OneSignal's docs as read last
//! session: not re-checked here). A person's opt-out on any of their rows
//! wins over an opt-in on another (see `transform::optouts`).

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "OneSignal",
    ids: &[
        IdRule {
            header: "external_id",
            why: "OneSignal's external_id is the id your app set at login: your own user id",
            after_email: false,
        },
        IdRule { header: "external_user_id", why: "your own user id, as your app set it", after_email: false },
        IdRule {
            header: "id",
            why: "OneSignal's subscription (player) id: one per device, so one Batch profile per device, \
                  which will not merge with the profile your app creates when it logs the user in",
            after_email: true,
        },
        IdRule { header: "player_id", why: "OneSignal's player id: one profile per device", after_email: true },
    ],
    email_as_id: "OneSignal's external_id is missing or mostly blank here",
    notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known {
            headers: &["id", "player_id", "subscription_id", "onesignal_id"],
            role: Attr("onesignal_id", Text),
            note: "OneSignal's subscription id: kept to trace profiles back",
        },
        Known {
            headers: &["identifier"],
            role: ChannelBy { type_column: "device_type", email: EMAIL_TYPES, sms: SMS_TYPES },
            note: "OneSignal's identifier is the email on email rows (device_type 11), the phone on SMS rows (14), \
                   a push token on device rows (not sent: Batch's SDK collects tokens)",
        },
        Known {
            headers: &["notification_types"],
            role: SubscriptionBy {
                type_column: "device_type",
                email: EMAIL_TYPES,
                sms: SMS_TYPES,
                subscribed: &["1"],
                unsubscribed: NOT_SUBSCRIBED,
            },
            note: "OneSignal's subscription state of the email or SMS row: 1 subscribed; -2 unsubscribed; \
                   0 and other negatives (never subscribed, bounced, errors) are not a consent",
        },
        Known { headers: &["timezone_id"], role: Timezone, note: "OneSignal's extra field: an IANA zone" },
        Known { headers: &["email"], role: Email, note: "" },
        Known { headers: &["phone_number", "sms_number", "phone"], role: Phone, note: "" },
        Known { headers: &["language"], role: Language, note: "" },
        Known { headers: &["country"], role: Region, note: "" },
        Known {
            headers: &["timezone"],
            role: Attr("timezone_offset", Int),
            note: "OneSignal's timezone is an offset from UTC in seconds (-18000), not an IANA zone: \
                   $timezone cannot take it, kept as a number",
        },
        Known { headers: &["session_count"], role: Attr("session_count", Int), note: "" },
        Known { headers: &["last_active"], role: Attr("last_active", Date), note: "" },
        Known { headers: &["created_at"], role: Attr("created_at", Date), note: "" },
        Known {
            headers: &["subscribed"],
            role: Attr("push_subscribed", Bool),
            note: "Batch takes push opt-in from the app's SDK, per installation: kept as an attribute",
        },
        Known {
            headers: &["tags"],
            role: Attr("tags", Text),
            note: "OneSignal tags are a JSON object of key/value pairs: kept as one text; \
                   map the keys you need as their own columns",
        },
        Known {
            headers: &["device_type"],
            role: Attr("device_type", Int),
            note: "0 iOS, 1 Android, 5 Chrome web... 11 email, 14 SMS",
        },
        Known { headers: &["device_os"], role: Attr("device_os", Text), note: "" },
        Known { headers: &["device_model"], role: Attr("device_model", Text), note: "" },
        Known { headers: &["game_version", "app_version"], role: Attr("app_version", Text), note: "" },
        Known { headers: &["sdk"], role: Attr("sdk_version", Text), note: "" },
        Known { headers: &["amount_spent"], role: Attr("amount_spent", Float), note: "" },
        Known { headers: &["playtime"], role: Attr("playtime", Int), note: "seconds in app" },
        Known { headers: &["badge_count"], role: Attr("badge_count", Int), note: "" },
        Known { headers: &["ip"], role: Attr("ip", Text), note: "" },
        Known { headers: &["invalid_identifier"], role: Attr("invalid_identifier", Bool), note: "" },
        Known { headers: &["rooted"], role: Attr("rooted", Bool), note: "" },
        Known { headers: &["lat"], role: Attr("latitude", Float), note: "" },
        Known { headers: &["long"], role: Attr("longitude", Float), note: "" },
        Known {
            headers: &["ad_id"],
            role: Skip,
            note: "advertising id: device-level and privacy-sensitive, not a profile attribute",
        },
        Known { headers: &["web_auth", "web_p256"], role: Skip, note: "web push keys: meaningful only to OneSignal" },
    ],
};

/// `device_type` of email and SMS subscriptions.
const EMAIL_TYPES: &[&str] = &["11"];
const SMS_TYPES: &[&str] = &["14"];
/// `notification_types` that are not a consent: -2 unsubscribed, 0 disabled,
/// -3 to -31 delivery errors, -98 and -99 never subscribed.
const NOT_SUBSCRIBED: &[&str] = &[
    "0", "-2", "-3", "-4", "-5", "-6", "-7", "-8", "-9", "-10", "-11", "-12", "-13", "-14", "-15", "-16", "-17", "-18",
    "-19", "-20", "-21", "-22", "-23", "-24", "-25", "-26", "-27", "-28", "-29", "-30", "-31", "-98", "-99",
];

fn notes(_: &[String]) -> Vec<String> {
    vec![
        "OneSignal exports one row per subscription (device, email or SMS channel): a user with a phone, an email"
            .into(),
        "and two devices has four rows with the same external_user_id. The email row sets $email_address and".into(),
        "$email_marketing, the SMS row $phone_number and $sms_marketing, so channels do not overwrite each other;"
            .into(),
        "per-device columns (device_os, session_count...) do: the last row of a user wins. An opt-out on any".into(),
        "row of a user wins over an opt-in on another (the file is read once ahead to find them).".into(),
    ]
}
