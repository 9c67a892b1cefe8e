//! Getting requests to the API within its limits: the shared rate limiter,
//! the one retry driver (`retry.rs`) and the call sites' retry logics
//! (`calls.rs` for plain calls, `send.rs` for import batches, which also
//! split, reject and hold). Batching and request bodies build on these.

pub mod batch;
pub mod body;
pub mod calls;
pub mod control;
pub mod limiter;
pub mod replace;
pub mod retry;
pub mod send;

pub use calls::{ApiCall, Refused};
pub use limiter::Limiter;
pub use retry::{Driver, RETRY_AFTER_CAP, RetryPolicy, Stop};
