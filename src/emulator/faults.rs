//! Injected faults: seeded 5xx answers, applied calls whose answer is lost, and
//! 429 storms.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Faults;

/// What to do to one write call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Answer this status without applying the call.
    Error(StatusCode),
    /// Apply the call, then close the connection without an answer.
    Lost,
}

pub struct FaultState {
    rng: StdRng,
    storm_until: Option<Instant>,
}

impl FaultState {
    pub fn new(faults: &Faults, now: Instant) -> FaultState {
        FaultState { rng: StdRng::seed_from_u64(faults.seed), storm_until: faults.storm_429.map(|d| now + d) }
    }

    pub fn in_storm(&self, now: Instant) -> bool {
        self.storm_until.is_some_and(|t| now < t)
    }

    pub fn trigger_storm(&mut self, now: Instant, d: Duration) {
        self.storm_until = Some(now + d);
    }

    /// Draw the fate of one write call.
    pub fn roll(&mut self, faults: &Faults) -> Fault {
        if faults.error_rate <= 0.0 && faults.lost_answer_rate <= 0.0 {
            return Fault::None;
        }
        let r: f64 = self.rng.random();
        if r < faults.error_rate {
            let status = if self.rng.random::<bool>() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            Fault::Error(status)
        } else if r < faults.error_rate + faults.lost_answer_rate {
            Fault::Lost
        } else {
            Fault::None
        }
    }
}

/// A response whose body fails before its first byte: hyper then drops the
/// connection with the head still unflushed, so the client sees a connection
/// error, never a status.
pub fn lost_response() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("emulator: answer lost on purpose"))
    });
    Response::new(Body::from_stream(failing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_rolls_are_deterministic_and_near_the_rates() {
        let f = Faults { error_rate: 0.1, lost_answer_rate: 0.2, seed: 7, ..Faults::default() };
        let now = Instant::now();
        let draw = || {
            let mut s = FaultState::new(&f, now);
            (0..10_000).map(|_| s.roll(&f)).collect::<Vec<_>>()
        };
        let a = draw();
        assert_eq!(a, draw());
        let errors = a.iter().filter(|x| matches!(x, Fault::Error(_))).count();
        let lost = a.iter().filter(|x| **x == Fault::Lost).count();
        assert!((800..1200).contains(&errors), "{errors}");
        assert!((1700..2300).contains(&lost), "{lost}");
    }

    #[test]
    fn storm_has_an_end() {
        let now = Instant::now();
        let f = Faults { storm_429: Some(Duration::from_secs(2)), ..Faults::default() };
        let mut s = FaultState::new(&f, now);
        assert!(s.in_storm(now + Duration::from_secs(1)));
        assert!(!s.in_storm(now + Duration::from_secs(2)));
        s.trigger_storm(now + Duration::from_secs(10), Duration::from_secs(1));
        assert!(s.in_storm(now + Duration::from_millis(10_500)));
    }
}
