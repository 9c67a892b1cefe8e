//! HubSpot's contacts export (HubSpot help: "Export your records", Contacts →
//! Export, CSV): `Record ID` (HubSpot's own id), `First Name`, `Last Name`,
//! `Email`, `Phone Number`, `Mobile Phone Number`, `Company Name`, `Job
//! Title`, `City`, `State/Region`, `Country/Region` (a name: "France"),
//! `Postal Code`, `Create Date` and `Last Activity Date` (`YYYY-MM-DD HH:MM`),
//! `Lifecycle Stage`, `Lead Status`, `Marketing contact status`, and the
//! opt-outs `Unsubscribed from all email` (true/false) and `Opted out of email:
//! <subscription type>` columns. HubSpot has no plain opt-in column: the
//! job sends $email_marketing = unsubscribed where an opt-out is set, nothing
//! elsewhere.

use super::{Channel, Hint::*, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "HubSpot",
    ids: &[],
    email_as_id: "HubSpot keys contacts by email; its Record ID is HubSpot's own, unknown to your app",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Email,
    file_consent: super::no_file_consent,
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
        Known { headers: &["Contact owner"], role: Attr("owner", Text), note: "" },
    ],
};
