//! Getting requests to the API within its limits: the shared rate limiter and
//! the retry policy. Batching, splitting and the sender build on these.

pub mod batch;
pub mod body;
pub mod control;
pub mod limiter;
pub mod retry;
pub mod send;

pub use limiter::Limiter;
pub use retry::RetryPolicy;
