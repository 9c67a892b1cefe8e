//! batchport: move user data in and out of Batch (batch.com) through its 2.x
//! Project APIs. The binary in `main.rs` is a thin shell over this library.

pub mod api;
pub mod emulator;
