//! Airship's channel export (Audience → Channels, or the Channels API listing
//! as CSV): one row per channel: `channel_id`, `device_type` (ios, android,
//! web, email, sms), `opt_in` (push opt-in of an app channel), `named_user_id`
//! (your own user id), `address` (the email or phone of an email/SMS
//! channel), `commercial_opted_in` / `commercial_opted_out` (timestamps of the
//! email/SMS commercial consent), `created`, `last_registration`, `tags`,
//! `alias`, `locale_language`, `locale_country`, `timezone`.

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Airship",
    ids: &[
        IdRule {
            header: "named_user_id",
            why: "Airship's named user is your own user id: the one your app gives Batch",
            after_email: false,
        },
        IdRule { header: "named_user", why: "Airship's named user: your own user id", after_email: false },
        IdRule {
            header: "channel_id",
            why: "Airship's channel id: one profile per channel, which will not merge with your app's profile",
            after_email: true,
        },
    ],
    email_as_id: "Airship's named_user_id is missing or mostly blank here",
    notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    consent_by_type: Some(("device_type", &["email"], &["sms"])),
    columns: &[
        Known {
            headers: &["channel_id"],
            role: Attr("airship_channel_id", Text),
            note: "Airship's channel id: kept to trace profiles back",
        },
        Known { headers: &["device_type"], role: Attr("device_type", Text), note: "" },
        Known {
            headers: &["address"],
            role: ChannelBy { type_column: "device_type", email: &["email"], sms: &["sms"] },
            note: "Airship's address is the email on email channels, the phone on SMS channels",
        },
        Known {
            headers: &["opt_in"],
            role: Attr("push_opt_in", Bool),
            note: "push opt-in of an app channel: Batch takes push consent from its SDK, kept as an attribute",
        },
        Known {
            headers: &["commercial_opted_in"],
            role: Attr("commercial_opted_in", Date),
            note: "when the channel opted in to commercial messages; an opt-out (commercial_opted_out) wins, \
                   even an older one: a re-subscription after an opt-out is not read as one (the safe side)",
        },
        Known { headers: &["commercial_opted_out"], role: Attr("commercial_opted_out", Date), note: "" },
        Known { headers: &["created"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["last_registration"], role: Attr("last_registration", Date), note: "" },
        Known { headers: &["alias"], role: Attr("alias", Text), note: "" },
        Known { headers: &["tags"], role: Attr("tags", Array(",")), note: "" },
        Known { headers: &["locale_language", "language"], role: Language, note: "" },
        Known { headers: &["locale_country", "country"], role: Region, note: "" },
        Known { headers: &["timezone"], role: Timezone, note: "" },
    ],
};

fn notes(_: &[String]) -> Vec<String> {
    vec![
        "Airship exports one row per channel: the email channel sets $email_address, the SMS one $phone_number;".into(),
        "$email_marketing / $sms_marketing are unsubscribed where commercial_opted_out is set, otherwise not sent."
            .into(),
    ]
}
