//! The Batch 2.x Project API as batchport knows it: endpoints, per-version limits,
//! the value rules both the transform and the emulator enforce, and wire types.

pub mod check;
pub mod client;
pub mod limits;
pub mod rules;
pub mod value;
pub mod wire;

pub use limits::{Endpoint, Limits, Version};

/// What a job moves: the kinds of data the API takes (or, for `Export`,
/// gives). Stored in run records by its `as_str` name (`profiles`, `events`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Profile attributes and consent (`profiles/update`, `mass-update`).
    Profiles,
    /// Profile events.
    Events,
    /// A custom audience's members.
    Audience,
    /// A catalog's items.
    Catalog,
    /// Profiles out of Batch (an export).
    Export,
}

impl Kind {
    /// The name job files and run records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Profiles => "profiles",
            Kind::Events => "events",
            Kind::Audience => "audience",
            Kind::Catalog => "catalog",
            Kind::Export => "export",
        }
    }
}
