//! Getting requests to the API within its limits: the shared rate limiter,
//! the one retry driver (`retry.rs`) and the call sites' retry logics
//! (`calls.rs` for plain calls; an import's batches have their own in the
//! engine's `sending::send`, which also splits, rejects and holds). Object
//! store reads and every kind of the engine call through these.

pub mod calls;
mod ceiling;
mod control;
pub mod limiter;
pub mod retry;

pub use calls::{ApiCall, Refused};
pub use limiter::Limiter;
pub use retry::{Driver, RETRY_AFTER_CAP, RetryPolicy, Stop};
