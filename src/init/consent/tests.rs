//! The consent rules: polarity from names and values, several columns, odd answers.

use super::*;

fn is_opt_out(h: &str, v: &[&str]) -> bool {
    matches!(classify(h, v), Some(Signal::OptOut { .. }))
}

#[test]
fn a_few_undecidable_answers_do_not_drop_the_column() {
    let mut v = vec!["yes"; 10];
    v.extend(["no"; 6]);
    v.extend(["maybe", "unknown", "?"]);
    let Some(Signal::OptIn { subscribed, unsubscribed, undecided, .. }) = classify("Subscribed", &v) else {
        panic!("read as opt-in: {:?}", classify("Subscribed", &v))
    };
    assert_eq!((subscribed, unsubscribed), (vec!["yes".to_string()], vec!["no".to_string()]));
    assert!(["maybe", "unknown", "?"].iter().all(|w| undecided.contains(&w.to_string())), "{undecided:?}");
    // Mostly other words: not a yes/no column at all.
    let tiers = ["gold", "silver", "yes", "bronze", "no", "gold"];
    assert!(matches!(classify("newsletter", &tiers), Some(Signal::Unreadable { .. })));
}

#[test]
fn polarity_from_names_and_values() {
    assert!(is_opt_out("unsubscribed", &["true", "false"]));
    assert!(is_opt_out("Unsubscribed from all email", &["true"]));
    assert!(is_opt_out("EMAIL_BLACKLISTED", &["false", "true"]));
    assert!(is_opt_out("email_unsubscribed_at", &["2021-01-01T00:00:00Z"]));
    assert!(is_opt_out("unsubscribed_from_emails_at", &["2021-01-01"]));
    assert!(is_opt_out("Email Suppressions", &["HARD_BOUNCE", "[]"]));
    assert!(is_opt_out("Email Suppressions", &["HARD_BOUNCE", "SPAM_COMPLAINT"]));
    assert!(is_opt_out("UNSUB_TIME", &["2020-01-01 10:00:00"]));
    assert!(is_opt_out("do_not_email", &["1"]));
    let Some(Signal::OptIn { subscribed, .. }) = classify("newsletter_optin", &["yes", "no"]) else { panic!() };
    assert!(subscribed.contains(&"yes".to_string()));
    let Some(Signal::OptIn { channel, unsubscribed, .. }) = classify("sms_consent", &["Opted Out"]) else { panic!() };
    assert_eq!(channel, Channel::Sms);
    assert!(unsubscribed.contains(&"opted out".to_string()));
    let Some(Signal::OptIn { subscribed, unsubscribed, .. }) = classify("optin", &["TRUE"]) else { panic!() };
    assert_eq!((subscribed, unsubscribed), (vec!["true".to_string()], vec!["false".to_string()]));
    assert!(matches!(classify("status", &["subscribed", "cleaned"]), Some(Signal::OptIn { .. })));
    assert_eq!(classify("is_vip", &["true"]), None);
    assert_eq!(classify("DOUBLE_OPT-IN", &["Yes", "No"]), None, "how, not whether");
    assert!(matches!(classify("consent", &["maybe"]), Some(Signal::Unreadable { .. })));
    assert!(matches!(classify("push_unsubscribed_at", &["x"]), Some(Signal::OptOut { channel: Channel::Push })));
}

#[test]
fn an_opt_out_wins_and_a_second_opt_in_column_adds_its_opt_outs() {
    let found = |h: &str, v: &[&str]| Found { header: h.into(), signal: classify(h, v).unwrap(), documented: false };
    let d = decide(&[found("optin", &["yes"]), found("unsubscribed", &["true"])], Channel::Email, None);
    assert_eq!(d.column.as_ref().unwrap().0, "optin");
    assert_eq!(d.suppressed_by, vec!["unsubscribed".to_string()]);
    let sms = decide(&[found("optin", &["yes"]), found("unsubscribed", &["true"])], Channel::Sms, None);
    assert_eq!((sms.column, sms.suppressed_by.len()), (None, 1), "a generic opt-out suppresses SMS too");
    // Two opt-in columns: the first decides, the other's "no" is an opt-out too.
    let two = decide(&[found("optin", &["yes"]), found("newsletter", &["no"])], Channel::Email, None);
    assert_eq!(two.column.as_ref().unwrap().0, "optin");
    assert_eq!(two.suppressed_when, vec![("newsletter".to_string(), vec!["yes".to_string()], true)]);
    // A documented consent state decides, wherever it is.
    let mut state = found("Email Marketing Consent", &["SUBSCRIBED", "UNSUBSCRIBED"]);
    state.documented = true;
    let d = decide(&[found("Accepts Marketing", &["true", "false"]), state], Channel::Email, None);
    assert_eq!(d.column.as_ref().unwrap().0, "Email Marketing Consent");
    assert_eq!(d.suppressed_when, vec![("Accepts Marketing".to_string(), vec!["true".to_string()], true)]);
}
