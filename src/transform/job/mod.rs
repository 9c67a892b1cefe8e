//! Job files: parsing (`file`), resolution into trusted settings (`resolve`,
//! `settings`), binding of mapped columns to a CSV header (`bind`).

pub mod bind;
pub mod cron;
pub mod error;
pub mod file;
mod mapping;
mod natives;
mod resolve;
pub mod settings;

pub use error::JobError;
pub use resolve::{load, parse};
pub use settings::*;
