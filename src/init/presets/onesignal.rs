//! OneSignal's subscriber export (Audience → Export, one row per subscription,
//! i.e. per device or channel): `id`, `external_id`, `identifier`, `language`,
//! `timezone` as an offset in seconds, `session_count`, `tags` as JSON...

use super::{Hint::*, IdRule, Known, Role::*, Tool};

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
    columns: &[
        Known {
            headers: &["id", "player_id", "subscription_id", "onesignal_id"],
            role: Attr("onesignal_id", Text),
            note: "OneSignal's subscription id: kept to trace profiles back",
        },
        Known {
            headers: &["identifier"],
            role: Skip,
            note: "the push token (or the address of an email/SMS subscription): device-level; \
                   Batch collects push tokens with its own SDK",
        },
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
            headers: &["notification_types"],
            role: Attr("notification_types", Int),
            note: "OneSignal: 1 or more = subscribed, 0 or less = not (-2 unsubscribed)",
        },
        Known {
            headers: &["tags"],
            role: Attr("tags", Text),
            note: "OneSignal tags are a JSON object of key/value pairs: kept as one text; \
                   map the keys you need as their own columns",
        },
        Known { headers: &["device_type"], role: Attr("device_type", Infer), note: "" },
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

fn notes(_: &[String]) -> Vec<String> {
    vec![
        "OneSignal exports one row per subscription (device, email or SMS channel): a user with two devices".into(),
        "has two rows with the same external_id; both update the same Batch profile, in file order.".into(),
    ]
}
