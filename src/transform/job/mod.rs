//! Job files: parsing (`file`), resolution into trusted settings (`resolve`,
//! `settings`), binding of mapped columns to a CSV header (`bind`).

pub(crate) mod bind;
pub mod cron;
mod error;
mod file;
mod mapping;
mod natives;
mod resolve;
mod settings;

pub use error::JobError;
pub use resolve::{load, parse};
pub use settings::*;
