//! Generated profile files, deterministic by seed, for benches, tests and
//! rehearsals (`batchport generate`): the 15-column shape of a typical CRM export.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

pub mod harness;

/// The header line of [`write_profiles`]'s files: the 15 columns of a
/// typical CRM export.
pub const PROFILE_HEADER: &str = "custom_id,email,email_optin,phone,sms_optin,language,region,timezone,first_name,last_name,birthdate,is_premium,lifetime_value,orders,interests";

const FIRST: &[&str] = &["Jane", "John", "Amélie", "Li", "Omar", "Sofia", "Noah", "Zoë", "Kenji", "Fatima"];
const LAST: &[&str] = &["Smith", "Dupont", "García", "Müller", "Rossi", "Nakamura", "O'Brien", "Kowalski"];
const LANG: &[&str] = &["en", "fr", "de", "es", "it", "ja"];
const REGION: &[&str] = &["US", "FR", "DE", "ES", "IT", "JP", "GB"];
const TZ: &[&str] = &["Europe/Paris", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Europe/London"];
const INTERESTS: &[&str] = &["bikes", "cinema", "cooking", "travel", "music", "books"];

/// Write a header and `rows` rows. Every `bad_every`-th row (if non-zero) carries
/// one error the transform must reject (bad email, bad date, blank id...).
pub fn write_profiles(out: &mut impl Write, rows: u64, seed: u64, bad_every: u64) -> std::io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    writeln!(out, "{PROFILE_HEADER}")?;
    for i in 0..rows {
        let bad = bad_every > 0 && i % bad_every == bad_every - 1;
        let kind = if bad { rng.random_range(0..4) } else { 99 };
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let id = if kind == 0 { String::new() } else { format!("u{i}") };
        let email = if kind == 1 { format!("user{i}.example.com") } else { format!("user{i}@example.com") };
        let birth = if kind == 2 {
            "1989-13-45".to_string()
        } else {
            format!("{}-{:02}-{:02}", rng.random_range(1950..2008), rng.random_range(1..13), rng.random_range(1..29))
        };
        let optin = if kind == 3 {
            "maybe"
        } else if rng.random_bool(0.7) {
            "yes"
        } else {
            "no"
        };
        let n = rng.random_range(1..4);
        let interests: Vec<&str> = (0..n).map(|_| INTERESTS[rng.random_range(0..INTERESTS.len())]).collect();
        writeln!(
            out,
            "{id},{email},{optin},+336{:08},{},{},{},{},{first},\"{last}\",{birth},{},{:.2},{},{}",
            rng.random_range(0..100_000_000u32),
            if rng.random_bool(0.5) { "yes" } else { "no" },
            LANG[rng.random_range(0..LANG.len())],
            REGION[rng.random_range(0..REGION.len())],
            TZ[rng.random_range(0..TZ.len())],
            rng.random_bool(0.2),
            rng.random_range(0.0..5000.0f64),
            rng.random_range(0..200u32),
            interests.join("|"),
        )?;
    }
    Ok(())
}

/// The job file that maps [`PROFILE_HEADER`] (relative `path` to the CSV).
pub fn profiles_job(name: &str, csv_path: &str, api: &str) -> String {
    format!(
        r#"[job]
name = "{name}"
kind = "profiles"

[api]
{api}

[source]
path = "{csv_path}"

[mapping]
custom_id = "custom_id"
on_bad_value = "reject_row"   # generated bad rows are rejects

[mapping.native]
email_address = "email"
email_marketing = {{ column = "email_optin", subscribed = ["yes"], unsubscribed = ["no"] }}
phone_number = "phone"
sms_marketing = {{ column = "sms_optin", subscribed = ["yes"], unsubscribed = ["no"] }}
language = "language"
region = "region"
timezone = "timezone"

[mapping.attributes]
first_name = "first_name"
last_name = "last_name"
birthdate = {{ column = "birthdate", type = "date" }}
is_premium = {{ column = "is_premium", type = "bool" }}
lifetime_value = {{ column = "lifetime_value", type = "float" }}
orders = {{ column = "orders", type = "int" }}
interests = {{ column = "interests", type = "array", separator = "|" }}
"#
    )
}
