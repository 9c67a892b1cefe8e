//! Injected faults: seeded 5xx answers, applied calls whose answer is lost, 429
//! storms, and network jitter.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Faults;

/// What to do to one write call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Answer this status without applying the call.
    Error(StatusCode),
    /// Apply the call, then close the connection without an answer.
    Lost,
}

pub(crate) struct FaultState {
    rng: StdRng,
    /// Jitter draws apart from the fault dice, so adding jitter keeps a seed's
    /// faults where they were.
    jitter_rng: StdRng,
    storm_until: Option<Instant>,
}

impl FaultState {
    pub fn new(faults: &Faults, now: Instant) -> FaultState {
        FaultState {
            rng: StdRng::seed_from_u64(faults.seed),
            jitter_rng: StdRng::seed_from_u64(faults.seed ^ 0x6a69_7474_6572),
            storm_until: faults.storm_429.map(|d| now + d),
        }
    }

    /// One call's jitter: uniform in [jitter/2, 3·jitter/2], zero without.
    pub fn jitter(&mut self, faults: &Faults) -> Duration {
        if faults.jitter.is_zero() {
            return Duration::ZERO;
        }
        self.jitter_rng.random_range(faults.jitter / 2..=faults.jitter * 3 / 2)
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
pub(crate) fn lost_response() -> Response {
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
    fn jitter_spans_half_to_one_and_a_half_and_leaves_the_faults_alone() {
        let now = Instant::now();
        let f = Faults { jitter: Duration::from_millis(80), error_rate: 0.5, seed: 3, ..Faults::default() };
        let mut s = FaultState::new(&f, now);
        let mut plain = FaultState::new(&Faults { jitter: Duration::ZERO, ..f.clone() }, now);
        let draws: Vec<Duration> = (0..2_000).map(|_| s.jitter(&f)).collect();
        assert!(draws.iter().all(|d| (Duration::from_millis(40)..=Duration::from_millis(120)).contains(d)));
        assert!(
            draws.iter().any(|d| *d < Duration::from_millis(50))
                && draws.iter().any(|d| *d > Duration::from_millis(110))
        );
        let mean = draws.iter().sum::<Duration>() / 2_000;
        assert!((Duration::from_millis(77)..=Duration::from_millis(83)).contains(&mean), "{mean:?}");
        assert_eq!(
            (0..100).map(|_| s.roll(&f)).collect::<Vec<_>>(),
            (0..100).map(|_| plain.roll(&f)).collect::<Vec<_>>()
        );
        assert_eq!(plain.jitter(&Faults::default()), Duration::ZERO);
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
