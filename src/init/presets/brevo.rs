//! Brevo's (formerly Sendinblue) contacts export (Contacts → Export, CSV, or
//! `POST /contacts/export`): `EMAIL`, `FIRSTNAME`, `LASTNAME`, `SMS` (the
//! mobile number), `LANDLINE_NUMBER`, `ADDED_TIME`, `MODIFIED_TIME`, your own
//! attributes in capitals, and the opt-outs `EMAIL_BLACKLISTED` and
//! `SMS_BLACKLISTED`. Brevo mails every contact that is not blacklisted, so
//! the blacklist flags are the consent; `DOUBLE_OPT-IN` only says how the
//! contact signed up.

use super::{Channel, Hint::*, Known, Role::*, Tool};

const NOT_BLACKLISTED: &[&str] = &["false", "no", "0"];
const BLACKLISTED: &[&str] = &["true", "yes", "1"];

pub static TOOL: Tool = Tool {
    name: "Brevo",
    ids: &[],
    email_as_id: "Brevo keys contacts by email",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    consent_by_type: None,
    columns: &[
        Known { headers: &["EMAIL"], role: Email, note: "" },
        Known { headers: &["FIRSTNAME", "PRENOM"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["LASTNAME", "NOM"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["SMS"], role: Phone, note: "Brevo's SMS attribute: the mobile number" },
        Known { headers: &["LANDLINE_NUMBER"], role: Attr("landline", Text), note: "" },
        Known {
            headers: &["EMAIL_BLACKLISTED"],
            role: EmailMarketing(NOT_BLACKLISTED, BLACKLISTED),
            note: "Brevo's opt-out: blacklisted (true) → unsubscribed; not blacklisted → subscribed, \
                   as Brevo itself mails every contact that is not blacklisted",
        },
        Known {
            headers: &["SMS_BLACKLISTED"],
            role: SmsMarketing(NOT_BLACKLISTED, BLACKLISTED),
            note: "Brevo's SMS opt-out: blacklisted (true) → unsubscribed; not blacklisted → subscribed",
        },
        Known {
            headers: &["DOUBLE_OPT-IN"],
            role: Attr("double_opt_in", Infer),
            note: "how the contact signed up, not whether they may be mailed (EMAIL_BLACKLISTED says that)",
        },
        Known { headers: &["ADDED_TIME"], role: Attr("added_at", Date), note: "" },
        Known { headers: &["MODIFIED_TIME"], role: Attr("modified_at", Date), note: "" },
    ],
};
