//! Brevo's (formerly Sendinblue) contacts export (CRM → Contacts → Export,
//! CSV, or `POST /contacts/export`: <https://developers.brevo.com/reference/request-contact-export>,
//! "file will be available in csv"). The opt-outs are the contact's
//! `emailBlacklisted` / `smsBlacklisted` flags (Brevo's API models, e.g.
//! getbrevo/brevo-php `docs/Model/CreateContact.md`: "Set this field to
//! blacklist the contact for emails"); the CSV header names them
//! `EMAIL_BLACKLISTED` and `SMS_BLACKLISTED`, next to `EMAIL`, your attributes
//! in capitals (`FIRSTNAME`, `LASTNAME`, `SMS`: the mobile, with its country
//! code), `ADDED_TIME`, `MODIFIED_TIME`. Those CSV names are seen in public
//! code importing Brevo exports (`EMAIL;LASTNAME;FIRSTNAME;SMS;
//! EMAIL_BLACKLISTED;SMS_BLACKLISTED;ADDED_TIME;MODIFIED_TIME`, `;`-separated,
//! flags as Yes/No, times as `12-04-2022 09:30`; the index does not name the
//! repository); no Brevo page listing the CSV header was found, so
//! `LANDLINE_NUMBER` and `DOUBLE_OPT-IN` are unconfirmed. The blacklist
//! flags are opt-outs, not consent: Brevo mails every contact that is not
//! blacklisted, but "not opted out" is not an opt-in, so a flag set gives
//! `unsubscribed` and a flag unset sends nothing (a column that states an
//! opt-in, such as `OPT_IN`, decides those). `DOUBLE_OPT-IN` only says how
//! the contact signed up.

use super::{Channel, Hint::*, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Brevo",
    ids: &[],
    email_as_id: "Brevo keys contacts by email",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known { headers: &["EMAIL"], role: Email, note: "" },
        Known { headers: &["FIRSTNAME", "PRENOM"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["LASTNAME", "NOM"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["SMS"], role: Phone, note: "Brevo's SMS attribute: the mobile number" },
        Known { headers: &["LANDLINE_NUMBER"], role: Attr("landline", Text), note: "" },
        Known {
            headers: &["EMAIL_BLACKLISTED"],
            role: Attr("email_blacklisted", Bool),
            note: "Brevo's email opt-out: blacklisted (Yes) → $email_marketing unsubscribed. Not being \
                   blacklisted is not consent: it subscribes nobody",
        },
        Known {
            headers: &["SMS_BLACKLISTED"],
            role: Attr("sms_blacklisted", Bool),
            note: "Brevo's SMS opt-out: blacklisted (Yes) → $sms_marketing unsubscribed; not blacklisted \
                   subscribes nobody",
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
