//! Shopify's customers export (Shopify help: "Exporting customers", Customers
//! → Export, CSV). The header, checked against several public projects that
//! parse real exports (their test fixtures, found by exact header search;
//! the index does not name their repositories): `Customer ID`, `First Name`,
//! `Last Name`, `Email`, `Accepts Email Marketing` (yes/no), `Default Address
//! Company`, `Default Address Address1`, `Default Address Address2`, `Default
//! Address City`, `Default Address Province Code`, `Default Address Country
//! Code`, `Default Address Zip`, `Default Address Phone`, `Phone`, `Accepts
//! SMS Marketing` (yes/no), `Total Spent`, `Total Orders`, `Note`, `Tax
//! Exempt`, `Tags` (comma-separated), and in newer exports `Accepts WhatsApp
//! Marketing` then one column per exported metafield (`Label
//! (customer.metafields.namespace.key)`). Those fixtures show `Customer ID`
//! and phones written with a leading apostrophe (`'7012345678901`,
//! `'+15551234567`) so a spreadsheet keeps them as text. The older import
//! template's names (`Company`, `Address1`, `Province Code`, `Accepts
//! Marketing`: <https://help.shopify.com/en/manual/customers/import-export-customers>)
//! are read too.

use super::{Channel, Hint::*, IdRule, Known, Role::*, Tool};

pub static TOOL: Tool = Tool {
    name: "Shopify",
    ids: &[IdRule {
        header: "Customer ID",
        why: "Shopify's customer id: used only when the email is missing in most rows",
        after_email: true,
    }],
    email_as_id: "Shopify identifies customers by email; its Customer ID is unknown to an app that does not use \
                  Shopify customer accounts (it is kept as an attribute)",
    notes: super::no_notes,
    native_hint: "",
    opt_out_channel: Channel::Both,
    file_consent: super::no_file_consent,
    file_consent_unless: &[],
    consent_by_type: None,
    columns: &[
        Known {
            headers: &["Customer ID", "ID"],
            role: Attr("shopify_customer_id", Int),
            note: "Shopify's own customer id (a number, written '7012345678901 in exports): kept to trace profiles back",
        },
        Known { headers: &["Email"], role: Email, note: "" },
        Known { headers: &["First Name"], role: Attr("first_name", Text), note: "" },
        Known { headers: &["Last Name"], role: Attr("last_name", Text), note: "" },
        Known {
            headers: &["Accepts Email Marketing", "Accepts Marketing"],
            role: EmailMarketing(&["yes", "true"], &["no", "false"], &[]),
            note: "Shopify: yes → subscribed; no → unsubscribed",
        },
        Known {
            headers: &["Accepts SMS Marketing"],
            role: SmsMarketing(&["yes", "true"], &["no", "false"], &[]),
            note: "Shopify: yes → subscribed; no → unsubscribed",
        },
        Known {
            headers: &["Accepts WhatsApp Marketing"],
            role: Attr("accepts_whatsapp_marketing", Bool),
            note: "Batch has no WhatsApp subscription: kept as an attribute",
        },
        Known { headers: &["Phone"], role: Phone, note: "" },
        Known { headers: &["Default Address Phone"], role: Attr("address_phone", Text), note: "" },
        Known { headers: &["Default Address Company", "Company"], role: Attr("company", Text), note: "" },
        Known { headers: &["Default Address Address1", "Address1"], role: Attr("address", Text), note: "" },
        Known { headers: &["Default Address Address2", "Address2"], role: Attr("address_2", Text), note: "" },
        Known { headers: &["Default Address City", "City"], role: Attr("city", Text), note: "" },
        Known {
            headers: &["Default Address Province Code", "Province Code"],
            role: Attr("province", Text),
            note: "a state or province code: never $region, which is a country",
        },
        Known { headers: &["Default Address Country Code", "Country Code"], role: Region, note: "" },
        Known { headers: &["Default Address Zip", "Zip"], role: Attr("zip", Text), note: "" },
        Known { headers: &["Total Spent"], role: Attr("total_spent", Float), note: "" },
        Known { headers: &["Total Orders"], role: Attr("total_orders", Int), note: "" },
        Known { headers: &["Note"], role: Attr("note", Text), note: "" },
        Known { headers: &["Tax Exempt"], role: Attr("tax_exempt", Bool), note: "" },
        Known { headers: &["Tags"], role: Attr("tags", Array(",")), note: "Shopify tags, comma-separated" },
    ],
};
