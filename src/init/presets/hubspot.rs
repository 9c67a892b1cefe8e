//! HubSpot's contacts export (HubSpot help: "Export your records", Contacts →
//! Export, CSV): one column per exported property, headed by the property's
//! *label*. Labels checked against a public dump of a real portal's contact
//! properties (hairsolutionsco/automations_hub
//! `hubspot/objects/contacts/properties.md`, 636 properties): `Record ID`,
//! `First Name`, `Last Name`, `Email`, `Phone Number`, `Mobile Phone Number`,
//! `Company Name`, `Job Title`, `Street Address`, `City`, `State/Region`,
//! `Postal Code`, `Country/Region` (as typed: "France"), `Create Date`, `Last
//! Activity Date`, `Lifecycle Stage`, `Lead Status`, `Contact owner`,
//! `Preferred language`, `Time Zone`, `Marketing contact status`, and the
//! opt-outs `Unsubscribed from all email` (property `hs_email_optout`,
//! true/false), `Opted out of email: <subscription type>` (one per type, e.g.
//! `Opted out of email: Marketing Information`) and `Email hard bounce
//! reason`. Their meaning: HubSpot's knowledge base on the unsubscribes
//! export (<https://knowledge.hubspot.com/articles/kcs_article/contacts/what-do-the-columns-mean-in-csv-i-receive-when-i-export-unsubscribes-and-bounces>).
//! Date formats of the export were not found in a public source (the
//! sample decides). HubSpot has no plain opt-in column: the job sends
//! $email_marketing = unsubscribed where an opt-out is set, nothing elsewhere.

use super::{Channel, Hint::*, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "HubSpot",
    ids: &[],
    email_as_id: "HubSpot keys contacts by email; its Record ID is HubSpot's own, unknown to your app",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Email,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known {
            headers: &["Record ID", "Contact ID", "hs_object_id"],
            role: Attr("hubspot_id", Text),
            note: "HubSpot's own contact id: kept to trace profiles back",
        },
        Known { headers: &["Email"], role: Email, note: "" },
        Known { headers: &["First Name"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["Last Name"], role: Attr("last_name", Text), note: "" },
        Known { headers: &["Mobile Phone Number"], role: Phone, note: "HubSpot keeps phones as typed" },
        Known { headers: &["Phone Number"], role: Attr("phone", Text), note: "HubSpot's main (often office) phone" },
        Known { headers: &["Company Name"], role: Attr("company", Text), note: "" },
        Known { headers: &["Job Title"], role: Attr("job_title", Text), note: "" },
        Known { headers: &["Street Address"], role: Attr("address", Text), note: "" },
        Known { headers: &["City"], role: Attr("city", Text), note: "" },
        Known {
            headers: &["State/Region"],
            role: Attr("state", Text),
            note: "a state or province: never $region, which is a country",
        },
        Known { headers: &["Country/Region", "Country"], role: Region, note: "HubSpot writes country names" },
        Known { headers: &["Postal Code"], role: Attr("postal_code", Text), note: "" },
        Known { headers: &["Create Date"], role: Attr("created_at", Date), note: "" },
        Known { headers: &["Last Activity Date"], role: Attr("last_activity", Date), note: "" },
        Known { headers: &["Lifecycle Stage"], role: Attr("lifecycle_stage", Text), note: "" },
        Known { headers: &["Lead Status"], role: Attr("lead_status", Text), note: "" },
        Known {
            headers: &["Marketing contact status"],
            role: Attr("marketing_contact_status", Text),
            note: "HubSpot's billing status for marketing contacts: not a consent",
        },
        Known {
            headers: &["Unsubscribed from all email"],
            role: Attr("unsubscribed_all_email", Bool),
            note: "true = the contact opted out of all email: an opt-out for $email_marketing",
        },
        Known { headers: &["Preferred language"], role: Language, note: "" },
        Known {
            headers: &["Email hard bounce reason"],
            role: Attr("email_hard_bounce_reason", Text),
            note: "set when the address hard bounced: also an opt-out for $email_marketing",
        },
        Known { headers: &["Reason for opting out of email"], role: Attr("email_opt_out_reason", Text), note: "" },
        Known {
            headers: &["Marketing email confirmation status"],
            role: Attr("email_confirmation_status", Text),
            note: "HubSpot's double opt-in state: how the contact signed up, not a consent",
        },
        Known {
            headers: &["Time Zone"],
            role: Attr("hubspot_time_zone", Text),
            note: "HubSpot's own time zone values (not checked to be IANA names): kept as text",
        },
        Known { headers: &["Contact owner"], role: Attr("owner", Text), note: "" },
    ],
};
