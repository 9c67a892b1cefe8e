//! The Batch 2.x Project API as batchport knows it: endpoints, per-version limits,
//! the value rules both the transform and the emulator enforce, and wire types.

pub mod check;
pub mod client;
pub mod limits;
pub mod rules;
pub mod value;
pub mod wire;

pub use limits::{Endpoint, Limits, Version};
