//! The consent rule as a property: for any export mixing opt-in and opt-out
//! columns (names and values from real tools), with any preset, every row
//! that carries an opt-out signal is sent as `unsubscribed` by the job `init`
//! writes (not merely "not subscribed": a dropped opt-out fails), and person
//! by person where people span rows.

use batchport::init::{self, Preset};
use batchport_engine::report::forecast::Consent;
use batchport_source::{Block, CsvSource, SourceOptions};
use batchport_transform::{Mapped, Transformer};
use proptest::prelude::*;

/// A consent column: header, the values it takes, and for each value whether
/// it is an opt-out for email / for SMS.
struct Col {
    header: &'static str,
    values: &'static [(&'static str, bool, bool)],
}

const DATE: &str = "2023-01-02 03:04:05";

const COLS: &[Col] = &[
    Col { header: "newsletter_optin", values: &[("yes", false, false), ("no", true, false), ("", false, false)] },
    Col {
        header: "Email Marketing Consent",
        // Klaviyo: never asked is no opt-out (and no opt-in): nothing is sent.
        values: &[("SUBSCRIBED", false, false), ("UNSUBSCRIBED", true, false), ("NEVER_SUBSCRIBED", false, false)],
    },
    Col { header: "email_consent", values: &[("opted_in", false, false), ("opted_out", true, false)] },
    Col { header: "sms_optin", values: &[("true", false, false), ("false", false, true)] },
    Col { header: "unsubscribed", values: &[("true", true, true), ("false", false, false)] },
    Col { header: "EMAIL_BLACKLISTED", values: &[("true", true, false), ("false", false, false)] },
    Col { header: "SMS_BLACKLISTED", values: &[("true", false, true), ("false", false, false)] },
    Col { header: "email_unsubscribed_at", values: &[(DATE, true, false), ("", false, false)] },
    Col {
        header: "Email Suppressions",
        values: &[("HARD_BOUNCE", true, false), ("SPAM_COMPLAINT", true, false), ("", false, false)],
    },
    Col { header: "do_not_contact", values: &[("1", true, true), ("0", false, false)] },
    Col { header: "Unsubscribed from all email", values: &[("true", true, false), ("false", false, false)] },
    Col { header: "MSG-email", values: &[("true", false, false), ("false", true, false)] },
    Col { header: "Accepts Email Marketing", values: &[("yes", false, false), ("no", true, false)] },
    // One row per channel (OneSignal, Airship): the opt-out is the row's channel's.
    Col {
        header: "notification_types",
        values: &[("1", false, false), ("-2", true, true), ("-99", true, true), ("0", true, true)],
    },
    Col { header: "commercial_opted_out", values: &[(DATE, true, true), ("", false, false)] },
];

/// Every preset, `plain` first.
const PRESETS: &[Preset] = &[
    Preset::Plain,
    Preset::Mailchimp,
    Preset::Klaviyo,
    Preset::Braze,
    Preset::Onesignal,
    Preset::Customerio,
    Preset::Hubspot,
    Preset::Brevo,
    Preset::Shopify,
    Preset::Airship,
    Preset::Clevertap,
];

/// Exports with one row per channel: their type column and its values
/// (email rows, SMS rows, device rows). People then span several rows.
fn type_column(p: Preset) -> Option<(&'static str, [&'static str; 3])> {
    match p {
        Preset::Onesignal => Some(("device_type", ["11", "14", "0"])),
        Preset::Airship => Some(("device_type", ["email", "sms", "ios"])),
        _ => None,
    }
}

/// Cases per run: `BATCHPORT_CONSENT_CASES`, else 24 per preset.
fn cases() -> u32 {
    std::env::var("BATCHPORT_CONSENT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24 * PRESETS.len() as u32)
}

/// Columns picked, rows (a value index per column, and a type index), preset.
type Export = (Vec<usize>, Vec<(Vec<usize>, usize)>, usize);

fn export() -> impl Strategy<Value = Export> {
    (proptest::sample::subsequence((0..COLS.len()).collect::<Vec<_>>(), 1..5), 0..PRESETS.len()).prop_flat_map(
        |(cols, preset)| {
            let row = (cols.iter().map(|&c| 0..COLS[c].values.len()).collect::<Vec<_>>(), 0..3usize);
            (Just(cols), proptest::collection::vec(row, 1..30), Just(preset))
        },
    )
}

proptest! {
    // 24 exports per preset by default (`BATCHPORT_CONSENT_CASES` for a longer hunt).
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Row by row: a row with an opt-out signal never sends `subscribed`.
    /// Person by person, for exports with one row per channel (ids repeat):
    /// an opt-out on any row of a channel wins over an opt-in on another row.
    #[test]
    fn no_opted_out_row_is_sent_subscribed((cols, rows, preset) in export()) {
        let dir = tempfile::tempdir().unwrap();
        let typed = type_column(PRESETS[preset]);
        let mut csv = String::from("id,email");
        if let Some((name, _)) = typed {
            csv.push_str(&format!(",{name}"));
        }
        for &c in &cols {
            csv.push_str(&format!(",\"{}\"", COLS[c].header));
        }
        csv.push('\n');
        // One row per channel: a person has several rows (ids repeat).
        let id = |r: usize| if typed.is_some() { format!("u{}", r % 4) } else { format!("u{r}") };
        for (r, (row, ty)) in rows.iter().enumerate() {
            csv.push_str(&format!("{},{}@example.com", id(r), id(r)));
            if let Some((_, values)) = typed {
                csv.push_str(&format!(",{}", values[*ty]));
            }
            for (k, &v) in row.iter().enumerate() {
                csv.push_str(&format!(",{}", COLS[cols[k]].values[v].0));
            }
            csv.push('\n');
        }
        let path = dir.path().join("export.csv");
        std::fs::write(&path, &csv).unwrap();
        let generated = init::generate(path.to_str().unwrap(), PRESETS[preset]).unwrap();
        let job = batchport_transform::job::parse(&generated.text, &dir.path().join("job.toml")).unwrap();
        let mut src = CsvSource::open(&path, &SourceOptions::default()).unwrap();
        let t = Transformer::bind(&job, src.headers(), &path).unwrap();
        let mut raw = Vec::new();
        src.read_chunk(100, &mut raw).unwrap();
        // What each row says: (email opt-out, SMS opt-out), and on which channel's rows.
        let says = |r: usize| {
            let (row, ty) = &rows[r];
            let (e, s) = row.iter().enumerate().fold((false, false), |(e, s), (k, &v)| {
                let col = &COLS[cols[k]];
                // OneSignal's subscription state means nothing in other tools' files.
                if col.header == "notification_types" && !matches!(PRESETS[preset], Preset::Onesignal) {
                    return (e, s);
                }
                let (_, oe, os) = col.values[v];
                (e || oe, s || os)
            });
            match typed {
                // A channel's consent is read on that channel's rows only.
                Some(_) => (e && *ty == 0, s && *ty == 1),
                None => (e, s),
            }
        };
        // `validate` (the same mapping, its JSON written nowhere) refuses the
        // same rows and counts the subscriptions the import sends.
        let mut block = Block::default();
        let mut again = CsvSource::open(&path, &SourceOptions::default()).unwrap();
        again.read_block(100, &mut block).unwrap();
        for (checked, mapped) in t.check_block(&block).into_iter().zip(t.map_block(&block)) {
            match (checked, mapped) {
                (Ok(subs), Mapped::Op(op)) => {
                    let from_json = Consent::both(&op.attrs);
                    prop_assert_eq!((Consent::sent(subs.0.email), Consent::sent(subs.0.sms)), from_json, "{}", csv);
                }
                (Err(a), Mapped::Reject(b)) => prop_assert_eq!((a.column, a.reason), (b.column, b.reason)),
                (c, m) => prop_assert!(false, "validate and import disagree: {:?} / {:?}", c, m),
            }
        }
        let mut sent = Vec::new();
        for (r, row) in raw.into_iter().enumerate() {
            let Ok(op) = t.map_row(row) else { continue };
            let attrs: serde_json::Value = serde_json::from_slice(&op.attrs).unwrap();
            let (email_out, sms_out) = says(r);
            // Every explicit opt-out arrives as one (not merely "not subscribed").
            if email_out {
                prop_assert_eq!(&attrs["$email_marketing"], "unsubscribed", "row {}\n{}\n{}", r, csv, generated.text);
            }
            if sms_out {
                prop_assert_eq!(&attrs["$sms_marketing"], "unsubscribed", "row {}\n{}\n{}", r, csv, generated.text);
            }
            sent.push((r, attrs));
        }
        if typed.is_some() {
            // Person by person: no row of someone who opted out on a channel
            // sends that channel `subscribed`, and one of their rows sends
            // `unsubscribed` (rows of another channel may say nothing).
            for channel in ["$email_marketing", "$sms_marketing"] {
                let out = |o: usize| if channel == "$email_marketing" { says(o).0 } else { says(o).1 };
                for person in sent.iter().map(|(r, _)| id(*r)).collect::<std::collections::BTreeSet<_>>() {
                    if !(0..rows.len()).any(|o| id(o) == person && out(o)) {
                        continue;
                    }
                    let values: Vec<&serde_json::Value> =
                        sent.iter().filter(|(r, _)| id(*r) == person).map(|(_, a)| &a[channel]).collect();
                    prop_assert!(
                        values.iter().all(|v| v.is_null() || *v == "unsubscribed")
                            && values.iter().any(|v| *v == "unsubscribed"),
                        "{} of {}: {:?}\n{}\n{}", channel, person, values, csv, generated.text
                    );
                }
            }
        }
    }
}

/// The operations the job `init --preset` writes for `csv` sends, row by row.
fn sent(csv: &str, preset: Preset) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, csv).unwrap();
    let generated = init::generate(path.to_str().unwrap(), preset).unwrap();
    let job = batchport_transform::job::parse(&generated.text, &dir.path().join("job.toml")).unwrap();
    let mut src = CsvSource::open(&path, &SourceOptions::default()).unwrap();
    let t = Transformer::bind(&job, src.headers(), &path).unwrap();
    let mut raw = Vec::new();
    src.read_chunk(100, &mut raw).unwrap();
    raw.into_iter().map(|r| serde_json::from_slice(&t.map_row(r).unwrap().attrs).unwrap()).collect()
}

/// OneSignal's own state decides; another opt-in column beside it no longer
/// makes the preset drop the channel (and its opt-outs) whole.
#[test]
fn a_second_opt_in_column_beside_onesignal_s_state_keeps_its_opt_outs() {
    let ops = sent(
        "id,email,device_type,Accepts Email Marketing,notification_types\n\
         u0,u0@example.com,11,yes,-2\n\
         u1,u1@example.com,11,yes,1\n\
         u2,u2@example.com,11,no,1\n",
        Preset::Onesignal,
    );
    let email: Vec<&serde_json::Value> = ops.iter().map(|a| &a["$email_marketing"]).collect();
    assert_eq!(email, ["unsubscribed", "subscribed", "unsubscribed"]);
}

/// A documented consent column whose values are not the tool's words (an
/// export edited by hand): its opt-outs in the file's own words arrive.
#[test]
fn a_documented_consent_column_in_other_words_keeps_its_opt_outs() {
    let ops =
        sent("id,email,email_consent\nu0,u0@example.com,opted_out\nu1,u1@example.com,SUBSCRIBED\n", Preset::Klaviyo);
    let email: Vec<&serde_json::Value> = ops.iter().map(|a| &a["$email_marketing"]).collect();
    assert_eq!(email, ["unsubscribed", "subscribed"]);
}
