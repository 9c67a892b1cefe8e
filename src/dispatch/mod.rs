//! Getting requests to the API within its limits: the shared rate limiter and
//! the retry policy. Batching, splitting and the sender build on these.

pub mod limiter;
pub mod retry;

pub use limiter::Limiter;
pub use retry::RetryPolicy;
