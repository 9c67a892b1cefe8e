//! CleverTap's user profiles. CleverTap's Profile Exports (to S3, GCS or
//! Azure, as CSV, JSON...: <https://docs.clevertap.com/docs/profile-exports>)
//! let you pick, rename and reorder the columns, so there is no fixed header;
//! this preset reads the profile property names CleverTap itself uses, as
//! documented for its Upload User Profiles API
//! (<https://developer.clevertap.com/docs/upload-past-user-profiles>) and as
//! public app code sets them through the SDK (`profileUpdate["Identity"]`,
//! `["Email"]`, `["Name"]`, `["MSG-push"]`, `["MSG-email"]`): `Identity`
//! (your own user id), `Name`, `Email`, `Phone` (E.164 with its country
//! code), `Gender`, `DOB`, `City`, `Country`, `Timezone`, `Customer Type`,
//! and the subscription flags `MSG-email`, `MSG-sms`, `MSG-push`,
//! `MSG-whatsapp` (true/false: false means the user opted out of that
//! channel). What an export writes when these columns are not renamed was
//! not found in a public source: rename yours to these names, or map them by
//! hand.

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "CleverTap",
    ids: &[IdRule {
        header: "Identity",
        why: "CleverTap's Identity is the id your app sets at login: your own user id",
        after_email: false,
    }],
    email_as_id: "CleverTap's Identity is missing or mostly blank here",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known { headers: &["Name"], role: Attr("name", Text), note: "" },
        Known { headers: &["Email"], role: Email, note: "" },
        Known { headers: &["Phone"], role: Phone, note: "CleverTap stores phones with their country code" },
        Known { headers: &["Gender"], role: Attr("gender", Text), note: "" },
        Known { headers: &["DOB"], role: Attr("birthdate", Date), note: "" },
        Known { headers: &["City"], role: Attr("city", Text), note: "" },
        Known { headers: &["Country"], role: Region, note: "" },
        Known { headers: &["Timezone"], role: Timezone, note: "" },
        Known { headers: &["Customer Type"], role: Attr("customer_type", Text), note: "" },
        Known {
            headers: &["MSG-email"],
            role: EmailMarketing(&["true", "yes", "1"], &["false", "no", "0"], &[]),
            note: "CleverTap: MSG-email false = opted out of email → unsubscribed; true → subscribed",
        },
        Known {
            headers: &["MSG-sms"],
            role: SmsMarketing(&["true", "yes", "1"], &["false", "no", "0"], &[]),
            note: "CleverTap: MSG-sms false = opted out of SMS → unsubscribed; true → subscribed",
        },
        Known {
            headers: &["MSG-push"],
            role: Attr("msg_push", Bool),
            note: "push consent: Batch takes it from its SDK, kept as an attribute",
        },
        Known { headers: &["MSG-whatsapp"], role: Attr("msg_whatsapp", Bool), note: "" },
    ],
};
