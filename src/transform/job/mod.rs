//! Job files: parsing (`file`), resolution into trusted settings (`resolve`,
//! `settings`; `[guard]` and `[notify]` in `guard`), binding of mapped columns to a CSV header (`bind`).

pub(crate) mod bind;
pub mod cron;
mod error;
mod file;
mod guard;
mod mapping;
mod natives;
mod resolve;
mod settings;
mod subscription;

pub use error::JobError;
pub use guard::{GUARD_NAMES, GuardSettings, NotifyEvent, NotifyFormat, NotifySettings};
pub use resolve::{load, parse};
pub use settings::*;
pub use subscription::SubscriptionValues;
