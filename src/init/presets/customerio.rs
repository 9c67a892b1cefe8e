//! Customer.io's people export (People → Export to CSV, or the export API
//! `POST /v1/exports/customers`: <https://docs.customer.io/integrations/api/app/tag/exports/exportPeopleData/>,
//! whose extra columns are the attributes you ask for). `cio_id` is
//! Customer.io's own id (<https://docs.customer.io/files/journeys-webhooks.json>:
//! "a unique identifier set by Customer.io"). The rest is not confirmed by a
//! public example of an export: `id` (blank for people identified by email
//! only), `email`, `created_at` in Unix seconds, `unsubscribed` as
//! true/false (Customer.io mails everyone who has not unsubscribed, so false
//! is a subscription), then your own attributes as you named them. Rows
//! without an `id` fall back to the email as Custom ID.

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Customer.io",
    ids: &[
        IdRule {
            header: "id",
            why: "Customer.io's `id` is the id you gave the person: your own user id",
            after_email: false,
        },
        IdRule { header: "customer_id", why: "the id you gave the person", after_email: false },
        IdRule {
            header: "cio_id",
            why: "Customer.io's own id, used only because people have no `id` or email here",
            after_email: true,
        },
    ],
    email_as_id: "people in this Customer.io workspace are identified by email (no `id` filled in)",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known { headers: &["email"], role: Email, note: "" },
        Known {
            headers: &["cio_id"],
            role: Attr("cio_id", Text),
            note: "Customer.io's own id: kept to trace profiles back",
        },
        Known {
            headers: &["created_at"],
            role: Attr("created_at", Date),
            note: "Customer.io exports Unix seconds; read with format %s",
        },
        Known {
            headers: &["unsubscribed"],
            role: EmailMarketing(&["false"], &["true"], &[]),
            note: "Customer.io's flag is inverted: unsubscribed = true → unsubscribed, false → subscribed",
        },
        Known { headers: &["first_name"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["last_name"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["phone", "phone_number"], role: Phone, note: "" },
        Known { headers: &["timezone"], role: Timezone, note: "" },
        Known { headers: &["language", "locale"], role: Language, note: "" },
        Known { headers: &["last_visited"], role: Attr("last_visited", Date), note: "" },
    ],
};
