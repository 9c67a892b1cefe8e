//! Airship's channels. Airship has no CSV export of its audience: what it
//! documents is the channel object of its API (`GET /api/channels`, one JSON
//! object per channel), which is what this preset reads once written as JSON
//! lines (`jq -c '.channels[]' channels.json > channels.ndjson`).
//! Sources: the channel object in Airship's API reference
//! (<https://www.airship.com/docs/developer/rest-api/ua/>, the email lookup at
//! <https://docs.airship.com/developer/rest-api/ua/operations/email/#getemailchannel>),
//! checked against public code reading real responses: urbanairship/python-library
//! `urbanairship/devices/devicelist.py` (`ChannelInfo`: the fields below, the
//! listing under `channels`, dates `%Y-%m-%dT%H:%M:%S`; newer versions add the
//! `commercial_opted_*` dates), and a public test stubbing an email lookup
//! (repository not named by the index) with `email_address`,
//! `address: null`, `tag_groups`, `device_attributes`. Per channel:
//! `channel_id`, `device_type` (ios, android, web, email, sms, open),
//! `installed`, `opt_in` (push opt-in of an app channel), `background`,
//! `push_address` (a push token), `named_user_id` (your own user id),
//! `email_address` (email channels; their `address` is null), `address`
//! (the number of an SMS channel; not confirmed by a public example),
//! `commercial_opted_in` / `commercial_opted_out` and `transactional_opted_in`
//! / `transactional_opted_out` (timestamps of email consent), `created`,
//! `last_registration`, `alias`, `tags`, `tag_groups.*` and
//! `device_attributes.*` (`ua_local_tz`, `ua_language`, `ua_country`, and the
//! named user's `ua_nu_*`). Airship's dashboard CSV *uploads* use other names
//! (`ua_commercial_opted_in`, <https://docs.airship.com/reference/messages/csv-formatting/>):
//! they are read too.

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
    file_consent_unless: &[],
    consent_by_type: Some(("device_type", &["email"], &["sms"])),
    columns: &[
        Known {
            headers: &["channel_id"],
            role: Attr("airship_channel_id", Text),
            note: "Airship's channel id: kept to trace profiles back",
        },
        Known { headers: &["device_type"], role: Attr("device_type", Text), note: "" },
        Known {
            headers: &["email_address"],
            role: Email,
            note: "Airship's email channels carry the address here (their `address` is null)",
        },
        Known {
            headers: &["address", "msisdn"],
            role: ChannelBy { type_column: "device_type", email: &[], sms: &["sms"] },
            note: "Airship's address: the number of an SMS channel (email channels use email_address)",
        },
        Known {
            headers: &["opt_in"],
            role: Attr("push_opt_in", Bool),
            note: "push opt-in of an app channel: Batch takes push consent from its SDK, kept as an attribute",
        },
        Known { headers: &["installed"], role: Attr("installed", Bool), note: "false: the app was uninstalled" },
        Known {
            headers: &["push_address"],
            role: Skip,
            note: "a push token: Batch's SDK collects its own, per installation",
        },
        Known {
            headers: &["commercial_opted_in", "ua_commercial_opted_in"],
            role: Attr("commercial_opted_in", Date),
            note: "when the channel opted in to commercial messages; an opt-out (commercial_opted_out) wins, \
                   even an older one: a re-subscription after an opt-out is not read as one (the safe side)",
        },
        Known {
            headers: &["commercial_opted_out", "ua_commercial_opted_out"],
            role: Attr("commercial_opted_out", Date),
            note: "",
        },
        Known {
            headers: &["transactional_opted_in", "ua_transactional_opted_in"],
            role: Attr("transactional_opted_in", Date),
            note: "transactional mail is not marketing: kept, not a consent",
        },
        Known {
            headers: &["transactional_opted_out", "ua_transactional_opted_out"],
            role: Attr("transactional_opted_out", Date),
            note: "an opt-out of even transactional mail: also taken as an opt-out for $email_marketing (the safe side)",
        },
        Known {
            headers: &[
                "tag_groups.ua_opt_in",
                "tag_groups.ua_background_enabled",
                "tag_groups.ua_channel_type",
                "tag_groups.named_user_id",
                "tag_groups.timezone",
                "tag_groups.ua_locale_language",
                "tag_groups.ua_locale_country",
                "background",
            ],
            role: Skip,
            note: "Airship's automatic tag groups and flags repeat the channel's own fields",
        },
        Known { headers: &["created"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["last_registration"], role: Attr("last_registration", Date), note: "" },
        Known { headers: &["alias"], role: Attr("alias", Text), note: "" },
        Known { headers: &["tags"], role: Attr("tags", JsonList), note: "Airship channel tags: a JSON list" },
        Known {
            headers: &["device_attributes.ua_language", "device_attributes.ua_nu_language", "locale_language"],
            role: Language,
            note: "",
        },
        Known {
            headers: &["device_attributes.ua_country", "device_attributes.ua_nu_country", "locale_country"],
            role: Region,
            note: "",
        },
        Known {
            headers: &["device_attributes.ua_local_tz", "device_attributes.ua_nu_local_tz", "timezone"],
            role: Timezone,
            note: "the device's IANA zone",
        },
    ],
};

fn notes(_: &[String]) -> Vec<String> {
    vec![
        "Airship exports one object per channel: the email channel sets $email_address, the SMS one $phone_number;"
            .into(),
        "$email_marketing / $sms_marketing are unsubscribed where commercial_opted_out is set, otherwise not sent."
            .into(),
    ]
}
