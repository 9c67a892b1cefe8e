//! The contact lists people make themselves, which no preset names (issue
//! 32): `init` (plain) on each shape, then a run into the emulator; who ends
//! subscribed, unsubscribed or untouched is what the file says, each person's
//! email is set when it is one, and an opt-out is never lost because some
//! other rows' answers are unclear.

use super::{emulator, run};
use crate::common::{bin, write};
use batchport::{Emulator, EmulatorConfig};

/// One shape: its header, then for each row its cells after the email and
/// what Batch should hold for the row's email and SMS consent.
struct Shape {
    name: &'static str,
    header: &'static str,
    /// (cells after the email, `$email_marketing`, `$sms_marketing`), cycled.
    rows: &'static [(&'static str, Option<&'static str>, Option<&'static str>)],
}

const SUB: Option<&str> = Some("subscribed");
const UNSUB: Option<&str> = Some("unsubscribed");

const SHAPES: &[Shape] = &[
    Shape {
        name: "Email Address + opt_in yes/no/unknown",
        header: "Email Address,First Name,opt_in",
        rows: &[("Ann,yes", SUB, None), ("Bob,no", UNSUB, None), ("Cy,yes", SUB, None), ("Di,unknown", None, None)],
    },
    Shape {
        name: "E-mail + optin true/false",
        header: "E-mail,optin",
        rows: &[("true", SUB, None), ("false", UNSUB, None), ("TRUE", SUB, None)],
    },
    Shape {
        // A generic opt-out names no channel: it holds for both (fail-safe).
        name: "mail + unsubscribed 1/0 (inverted)",
        header: "mail,unsubscribed",
        rows: &[("1", UNSUB, UNSUB), ("0", None, None), ("0", None, None)],
    },
    Shape {
        name: "email_consent Y/N",
        header: "email,email_consent",
        rows: &[("Y", SUB, None), ("N", UNSUB, None), ("Y", SUB, None)],
    },
    Shape {
        name: "marketing_ok TRUE/FALSE",
        header: "email,marketing_ok",
        rows: &[("TRUE", SUB, None), ("FALSE", UNSUB, None)],
    },
    Shape {
        name: "newsletter yes/no with a few maybe",
        header: "email,newsletter",
        rows: &[
            ("yes", SUB, None),
            ("no", UNSUB, None),
            ("yes", SUB, None),
            ("no", UNSUB, None),
            ("yes", SUB, None),
            ("maybe", None, None),
        ],
    },
    Shape {
        name: "unsubscribed_at dates",
        header: "email,unsubscribed_at",
        rows: &[("2024-03-01", UNSUB, UNSUB), ("", None, None), ("2023-11-20 10:00:00", UNSUB, UNSUB)],
    },
    Shape {
        // An opt-in date is consent; a blank one says nothing.
        name: "opt_in_date dates",
        header: "email,opt_in_date",
        rows: &[("2023-01-05", SUB, None), ("", None, None), ("2022-12-31 23:59:59", SUB, None)],
    },
    Shape {
        name: "Subscribed yes/no/unknown/maybe (the issue's contact list)",
        header: "email,first_name,Subscribed,signup",
        rows: &[
            ("Ann,yes,2023-01-02", SUB, None),
            ("Bob,no,2023-01-03", UNSUB, None),
            ("Cy,yes,2023-01-04", SUB, None),
            ("Di,no,2023-01-05", UNSUB, None),
            ("Ed,yes,2023-01-06", SUB, None),
            ("Flo,unknown,2023-01-07", None, None),
            ("Gus,yes,2023-01-08", SUB, None),
            ("Hal,maybe,2023-01-09", None, None),
            ("Ida,no,2023-01-10", UNSUB, None),
            ("Jo,yes,2023-01-11", SUB, None),
            ("Kim,no,2023-01-12", UNSUB, None),
            ("Lu,yes,2023-01-13", SUB, None),
        ],
    },
    Shape {
        name: "phones with a country column, SMS opt-in",
        header: "email,phone,country,sms_opt_in",
        rows: &[
            ("06 12 34 56 78,FR,yes", None, SUB),
            ("(415) 555-0100,US,no", None, UNSUB),
            ("+44 7700 900123,GB,yes", None, SUB),
            ("07 98 76 54 32,France,no", None, UNSUB),
        ],
    },
];

/// What Batch should hold per Custom ID: (id, email consent, SMS consent).
type Want = Vec<(String, Option<&'static str>, Option<&'static str>)>;

/// 24 rows of `shape`, each a person `p{i}@example.com` (two malformed
/// addresses in the email list), through `init` then `run`.
fn import(shape: &Shape, emu: &Emulator) -> (String, Want) {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = format!("{}\n", shape.header);
    let mut want = Vec::new();
    for i in 0..24 {
        let (cells, email, sms) = shape.rows[i % shape.rows.len()];
        // Every 11th address is malformed: its consent is still read, its
        // subscription never sent on it (`Subscribed` only: the ID is the email).
        let bad = shape.name.starts_with("Subscribed") && i % 11 == 5;
        let address = if bad { format!("p{i}-at-example.com") } else { format!("P{i}@Example.com") };
        csv.push_str(&format!("{address},{cells}\n"));
        let email = if bad && email == SUB { None } else { email };
        want.push((address.to_lowercase(), email, sms));
    }
    write(dir.path(), "contacts.csv", &csv);
    let out = bin().args(["init", "contacts.csv"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}: {}", shape.name, String::from_utf8_lossy(&out.stderr));
    let job = String::from_utf8(out.stdout)
        .unwrap()
        .replace("[api]\n", &format!("[api]\nbase_url = \"{}\"\n", emu.base_url()));
    write(dir.path(), "job.toml", &job);
    let out = run(dir.path(), "job.toml");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}: {}\n{job}",
        shape.name,
        String::from_utf8_lossy(&out.stderr)
    );
    (job, want)
}

fn check(emu: &Emulator, shape: &Shape, job: &str, want: &Want) {
    for (id, email, sms) in want {
        let p = emu.profile(id).unwrap_or_else(|| panic!("{}: {id} not in Batch\n{job}", shape.name));
        let a = &p["attributes"];
        assert_eq!(a["$email_marketing"].as_str(), *email, "{}: {id}'s email consent: {p}\n{job}", shape.name);
        assert_eq!(a["$sms_marketing"].as_str(), *sms, "{}: {id}'s SMS consent: {p}\n{job}", shape.name);
        // The email column is the person's address wherever it is one.
        let address = if id.contains('@') { Some(id.as_str()) } else { None };
        // National numbers beside a country column are read in it (E.164).
        if shape.header.contains(",phone,") {
            let phone = a["$phone_number"].as_str().unwrap_or_default();
            assert!(phone.starts_with('+'), "{}: {id}'s phone: {p}\n{job}", shape.name);
        }
        let stored = a["$email_address"].as_str().map(str::to_lowercase);
        assert_eq!(stored.as_deref(), address, "{}: {id}'s address: {p}\n{job}", shape.name);
    }
}

#[test]
fn every_contact_list_shape_ends_as_its_file_says() {
    for shape in SHAPES {
        let emu = emulator(EmulatorConfig::default());
        let (job, want) = import(shape, &emu);
        check(&emu, shape, &job, &want);
    }
}
