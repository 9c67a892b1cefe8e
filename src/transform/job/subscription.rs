//! A subscription column's words (`SubscriptionValues`): which values say
//! subscribed, unsubscribed or nothing, and `when_set`. Its `Debug` text is
//! part of the change index's row-hash fingerprint, so it is kept stable.

/// The user's words for subscribed / unsubscribed, lowercased.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SubscriptionValues {
    /// Values that mean subscribed (a plain column: `subscribed`, `yes`,
    /// `true`, `1`).
    pub subscribed: Vec<String>,
    /// Values that mean unsubscribed (a plain column: `unsubscribed`, `no`,
    /// `false`, `0`).
    pub unsubscribed: Vec<String>,
    /// Values that send no subscription at all (consent not given either way).
    pub undecided: Vec<String>,
    /// `when_set = "subscribed"`: any other set cell (not blank, not
    /// false/0/no) means subscribed, and an unset one sends nothing: an
    /// opt-in date or timestamp column.
    pub when_set: bool,
}

/// As `#[derive(Debug)]` wrote it before `when_set` existed, which is then
/// added only when set: the change index's row-hash fingerprint is made of
/// this text, and a different text would make every row of every existing
/// nightly "changed" (all resent once) after an upgrade.
impl std::fmt::Debug for SubscriptionValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SubscriptionValues");
        d.field("subscribed", &self.subscribed)
            .field("unsubscribed", &self.unsubscribed)
            .field("undecided", &self.undecided);
        if self.when_set {
            d.field("when_set", &self.when_set);
        }
        d.finish()
    }
}
