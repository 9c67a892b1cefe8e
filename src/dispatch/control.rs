//! How fast to send: the rate controller behind the limiter, as a pure state
//! machine fed with instants (tests drive it with synthetic time).
//!
//! # What a 429 means here, and why this design
//!
//! Batch's limits are token buckets counted in updates, refilled continuously,
//! taken when a call is processed. Calls reach it 40–120 ms after they leave,
//! not in phase, and the bucket may be shared with other integrations of the
//! same project, or already drained (a run killed a second ago). A client can
//! only see the bucket through its 429s. So:
//!
//! - **Plan below the documented rate** (the limiter plans at
//!   [`super::limiter::PLANNED_SHARE`]): at exactly the rate, the bucket level
//!   random-walks with the jitter and the refill lost while it is full drifts it
//!   down to a 429; a little below, it drifts up to full and absorbs the jitter.
//! - **A first 429 while within the documented rate is phase noise**: a call
//!   arrived a little early. The answer is a short jittered retry, a small
//!   multiplicative decrease ([`NOISE_CUT`]) and a fast additive recovery
//!   ([`GROWTH`] of the ceiling per second), so one unlucky call costs a few
//!   seconds at 95%, not half the rate for a minute.
//! - **A run of 429s** (another within [`RUN_WINDOW`] of the last) means the
//!   quota we see is lower than documented: shared, or granted lower. This is
//!   TCP's congestion, but unlike a network path the capacity is a constant
//!   refill rate, so instead of probing it over and over (Reno's sawtooth) we
//!   measure it, as BBR measures delivery rate: between two 429s the bucket was
//!   short both times (below one call), so the updates Batch accepted in
//!   between, over the time between, is the refill left to us, within one call
//!   over the span. The ceiling goes to [`TARGET`] of that, just under the
//!   real limit, and the rate to [`BELOW`] of the ceiling to let the bucket
//!   refill, then back up to the ceiling and *stays* there: no sawtooth. The
//!   episode's span only grows with each 429, so the estimate sharpens.
//! - **A 429 while sending above the documented rate** (`rate = N` set higher
//!   than the table) means the documented rate is very likely the real one: the
//!   ceiling drops to it at once rather than being found by halvings.
//! - **429s with no success in between** are a storm (or a long outage of
//!   quota): classic multiplicative decrease (halving, floor [`MIN_FACTOR`])
//!   and a doubling jittered pause, like the old limiter.
//! - After [`CREEP_AFTER`] without a 429 the ceiling creeps back up
//!   ([`CREEP`] of the plan per second), in case the other integration left:
//!   slow on purpose, since every probe past the real limit costs a 429 that
//!   the whole project pays for.
//!
//! Like vector's adaptive request concurrency (one decision per round trip:
//! responses to requests sent before the last decrease do not decrease again),
//! a 429 answering a call granted before the last decision is *stale*: it is
//! counted but changes nothing, so two calls in flight refused together cut
//! the rate once.

use std::time::Duration;

use tokio::time::Instant;

/// The rate never goes below this fraction of the plan: halving forever would
/// stall a job on a storm that the pauses already absorb.
const MIN_FACTOR: f64 = 1.0 / 16.0;
/// Phase noise: the rate is multiplied by this.
const NOISE_CUT: f64 = 0.95;
/// Additive increase towards the ceiling, as a fraction of the ceiling per
/// second of success (0.95 → 1 in 2.5 s).
const GROWTH: f64 = 0.02;
/// A 429 within this of the previous decision continues a run.
const RUN_WINDOW: Duration = Duration::from_secs(20);
/// The ceiling is set to this fraction of the measured quota.
const TARGET: f64 = 0.97;
/// Each further 429 of a run lowers the ceiling at least this much, so the
/// ceiling converges under the real limit even if an estimate ran high.
const CEILING_CUT: f64 = 0.98;
/// After a decision the rate restarts this far below the ceiling.
const BELOW: f64 = 0.95;
/// A measurement over less than this is too coarse (one call is a large part of
/// it): the ceiling is cut by [`BLIND_CUT`] instead.
const MIN_SPAN: Duration = Duration::from_secs(1);
const BLIND_CUT: f64 = 0.85;
/// Quiet time before the ceiling creeps up again, and how fast (fraction of the
/// plan per second). A probe that meets a 429 doubles the quiet time, up to
/// [`CREEP_AFTER_MAX`]: a quota that stays put is probed less and less.
const CREEP_AFTER: Duration = Duration::from_secs(60);
const CREEP_AFTER_MAX: Duration = Duration::from_secs(16 * 60);
const CREEP: f64 = 0.001;
/// Short pause after a noise or congestion 429 (jittered within it): long
/// enough for the calls in flight to land, short next to a call's refill.
pub(crate) const SHORT_PAUSE: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(250));
/// Storm pause: doubles from the base with each 429 not followed by a success.
const STORM_BASE: Duration = Duration::from_secs(1);
const STORM_CAP: Duration = Duration::from_secs(32);

/// What one 429 was taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Answers a call granted before the last decision: already accounted for.
    Stale,
    /// Isolated, within the documented rate.
    Noise,
    /// Part of a run: the quota is lower than planned.
    Congestion,
    /// The ceiling had crept above the last measured quota: back under it.
    ProbeFailed,
    /// Sent above the documented rate: fall back to it.
    AboveDocumented,
    /// No success since the last 429.
    Storm,
}

/// One call, as the controller saw it when it was granted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant {
    /// Cost in the reference unit (updates, or requests).
    pub cost: f64,
    pub at: Instant,
    /// The rate in force when it was granted.
    pub rate: f64,
}

#[derive(Debug, Clone, Copy)]
struct Episode {
    start: Instant,
    accepted_at_start: f64,
}

/// The controller. Rates are in the reference unit per second.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    planned: f64,
    documented: f64,
    share: f64,
    ceiling: f64,
    rate: f64,
    grown_at: Instant,
    last_decision: Option<Instant>,
    episode: Option<Episode>,
    /// 429s since the last success (stale ones excluded).
    streak: u32,
    /// The last quota measured by a run of 429s, and how long to stay quiet
    /// under it before probing above it again.
    measured: Option<f64>,
    creep_after: Duration,
    /// Everything Batch accepted, in the reference unit.
    accepted: f64,
}

impl Control {
    /// `planned`: the rate to aim at; `documented`: the documented rate of the
    /// same bucket (infinite when undocumented); `share`: the fraction of a
    /// documented rate that is planned when falling back to it.
    pub fn new(planned: f64, documented: f64, share: f64, now: Instant) -> Control {
        Control {
            planned,
            documented,
            share,
            ceiling: planned,
            rate: planned,
            grown_at: now,
            last_decision: None,
            episode: None,
            streak: 0,
            measured: None,
            creep_after: CREEP_AFTER,
            accepted: 0.0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    #[cfg(test)]
    fn ceiling(&self) -> f64 {
        self.ceiling
    }

    pub fn planned(&self) -> f64 {
        self.planned
    }

    fn floor(&self) -> f64 {
        self.planned * MIN_FACTOR
    }

    /// A call went through: count it and grow towards the ceiling.
    pub fn success(&mut self, now: Instant, cost: f64) {
        self.accepted += cost;
        self.streak = 0;
        self.grow(now);
    }

    /// Additive increase of the rate up to the ceiling; after a long quiet
    /// time, of the ceiling up to the plan.
    pub fn grow(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.grown_at).as_secs_f64();
        if self.ceiling < self.planned {
            // Only the time past CREEP_AFTER since the last decision counts.
            let quiet_from = self.last_decision.map_or(self.grown_at, |d| (d + self.creep_after).max(self.grown_at));
            let quiet = now.saturating_duration_since(quiet_from).as_secs_f64();
            self.ceiling = (self.ceiling + CREEP * self.planned * quiet).min(self.planned);
            if self.ceiling >= self.planned {
                // The probe went all the way: whatever took the quota left.
                self.measured = None;
                self.creep_after = CREEP_AFTER;
            }
        }
        self.grown_at = self.grown_at.max(now);
        if self.rate < self.ceiling {
            self.rate = (self.rate + GROWTH * self.ceiling * dt).min(self.ceiling);
        }
    }

    /// Nothing is sent until `until` (a pause): the rate grows from then on,
    /// not during it.
    pub fn hold_until(&mut self, until: Instant) {
        self.grown_at = self.grown_at.max(until);
    }

    /// A 429 for `grant` (None when the call is not known): decide, and return
    /// the verdict and the longest pause it calls for (the limiter jitters it).
    pub fn throttled(&mut self, now: Instant, grant: Option<Grant>) -> (Verdict, Duration) {
        if let (Some(g), Some(d)) = (grant, self.last_decision)
            && g.at < d
        {
            return (Verdict::Stale, Duration::ZERO);
        }
        self.grow(now);
        self.streak = self.streak.saturating_add(1);
        let in_run = self.last_decision.is_some_and(|d| now.saturating_duration_since(d) < RUN_WINDOW);
        let sent_rate = grant.map_or(self.rate, |g| g.rate);
        let probing = self.measured.filter(|m| sent_rate > m * TARGET * 1.001);
        let verdict = if self.streak >= 2 {
            Verdict::Storm
        } else if sent_rate > self.documented {
            Verdict::AboveDocumented
        } else if probing.is_some() {
            Verdict::ProbeFailed
        } else if in_run && self.episode.is_some() {
            Verdict::Congestion
        } else {
            Verdict::Noise
        };
        if !in_run || self.episode.is_none() {
            self.episode = Some(Episode { start: now, accepted_at_start: self.accepted });
        }
        let floor = self.floor();
        let mut pause = SHORT_PAUSE.1;
        match verdict {
            Verdict::Stale => {}
            Verdict::Noise => self.rate = (self.rate * NOISE_CUT).max(floor),
            Verdict::AboveDocumented => {
                self.ceiling = self.ceiling.min(self.documented * self.share).max(floor);
                self.rate = (self.ceiling * BELOW).max(floor);
            }
            Verdict::Congestion => {
                let ep = self.episode.expect("checked above");
                let span = now.saturating_duration_since(ep.start);
                let cut = if span >= MIN_SPAN {
                    let measured = (self.accepted - ep.accepted_at_start) / span.as_secs_f64();
                    (self.ceiling * CEILING_CUT).min(measured * TARGET)
                } else {
                    self.ceiling * BLIND_CUT
                };
                self.ceiling = cut.max(floor);
                self.rate = (self.ceiling * BELOW).max(floor);
                self.measured = Some(self.ceiling / TARGET);
            }
            Verdict::ProbeFailed => {
                let measured = probing.expect("checked above");
                self.ceiling = (measured * TARGET).max(floor);
                self.rate = (self.ceiling * BELOW).max(floor);
                self.creep_after = self.creep_after.saturating_mul(2).min(CREEP_AFTER_MAX);
            }
            Verdict::Storm => {
                self.rate = (self.rate / 2.0).max(floor);
                let doublings = (self.streak - 2).min(16);
                pause = STORM_BASE.saturating_mul(1 << doublings).min(STORM_CAP);
            }
        }
        self.rate = self.rate.min(self.ceiling);
        self.last_decision = Some(now);
        self.grown_at = now;
        tracing::debug!(?verdict, rate = self.rate, ceiling = self.ceiling, "429: rate adjusted");
        (verdict, pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_millis;

    fn grant(at: Instant, rate: f64) -> Option<Grant> {
        Some(Grant { cost: 5_000.0, at, rate })
    }

    #[test]
    fn noise_cuts_a_little_and_recovers_fast() {
        let t0 = Instant::now();
        let mut c = Control::new(9_950.0, 10_000.0, 0.995, t0);
        let (v, pause) = c.throttled(t0 + S(1_000), grant(t0 + S(900), 9_950.0));
        assert_eq!(v, Verdict::Noise);
        assert!(pause <= S(250));
        assert!((c.rate() - 9_950.0 * 0.95).abs() < 1e-6);
        assert_eq!(c.ceiling(), 9_950.0);
        c.success(t0 + S(3_600), 5_000.0);
        assert_eq!(c.rate(), 9_950.0, "back at the plan 2.6 s later");
    }

    #[test]
    fn calls_granted_before_a_decision_do_not_cut_again() {
        let t0 = Instant::now();
        let mut c = Control::new(9_950.0, 10_000.0, 0.995, t0);
        c.throttled(t0 + S(1_000), grant(t0 + S(900), 9_950.0));
        let rate = c.rate();
        let (v, _) = c.throttled(t0 + S(1_050), grant(t0 + S(950), 9_950.0));
        assert_eq!((v, c.rate()), (Verdict::Stale, rate));
    }

    #[test]
    fn a_run_measures_the_quota_and_settles_just_under_it() {
        // 7,000/s left to us: 21,000 accepted in the 3 s between two 429s.
        let t0 = Instant::now();
        let mut c = Control::new(9_950.0, 10_000.0, 0.995, t0);
        c.throttled(t0 + S(2_000), grant(t0 + S(1_900), 9_950.0));
        for i in 1..=4 {
            c.success(t0 + S(2_000 + 700 * i), 5_250.0);
        }
        let (v, _) = c.throttled(t0 + S(5_000), grant(t0 + S(4_900), c.rate()));
        assert_eq!(v, Verdict::Congestion);
        assert!((c.ceiling() - 7_000.0 * TARGET).abs() < 1.0, "{}", c.ceiling());
        assert!((c.rate() - c.ceiling() * BELOW).abs() < 1.0);
        // Back up to the ceiling, and no further while it stays quiet.
        for s in 6..60 {
            c.success(t0 + Duration::from_secs(s), 5_000.0);
        }
        assert_eq!(c.rate(), c.ceiling());
        assert!((c.ceiling() - 6_790.0).abs() < 1.0);
    }

    #[test]
    fn above_the_documented_rate_falls_back_to_it() {
        let t0 = Instant::now();
        let mut c = Control::new(19_900.0, 10_000.0, 0.995, t0);
        let (v, _) = c.throttled(t0 + S(600), grant(t0 + S(500), 19_900.0));
        assert_eq!(v, Verdict::AboveDocumented);
        assert_eq!(c.ceiling(), 9_950.0);
        c.success(t0 + Duration::from_secs(10), 5_000.0);
        assert_eq!(c.rate(), 9_950.0);
    }

    #[test]
    fn a_storm_halves_with_a_growing_pause_down_to_the_floor() {
        let t0 = Instant::now();
        let mut c = Control::new(10_000.0, 10_000.0, 1.0, t0);
        let mut t = t0 + S(100);
        let (v, _) = c.throttled(t, None);
        assert_eq!(v, Verdict::Noise);
        let mut pauses = Vec::new();
        for _ in 0..12 {
            t += Duration::from_secs(1);
            let (v, pause) = c.throttled(t, grant(t, c.rate()));
            assert_eq!(v, Verdict::Storm);
            pauses.push(pause.as_secs());
        }
        assert_eq!(&pauses[..7], &[1, 2, 4, 8, 16, 32, 32]);
        assert_eq!(c.rate(), 10_000.0 * MIN_FACTOR);
        // The ceiling was not touched: a storm is not a measurement.
        assert_eq!(c.ceiling(), 10_000.0);
    }

    #[test]
    fn the_ceiling_creeps_back_after_a_long_quiet_time() {
        let t0 = Instant::now();
        let mut c = Control::new(10_000.0, 10_000.0, 1.0, t0);
        c.throttled(t0, None);
        c.success(t0 + S(500), 1.0);
        c.throttled(t0 + S(1_000), None);
        let low = c.ceiling();
        assert!(low <= 10_000.0 * BLIND_CUT);
        c.success(t0 + Duration::from_secs(60), 1.0);
        assert!(c.ceiling() - low < 1e-6, "quiet for less than a minute: no creep");
        // 61 s after the decision: 139 s of creep at 10/s.
        c.success(t0 + Duration::from_secs(200), 1.0);
        assert!((c.ceiling() - low - 1_390.0).abs() < 1.0, "{}", c.ceiling() - low);
        c.success(t0 + Duration::from_secs(2_000), 1.0);
        assert_eq!((c.ceiling(), c.rate()), (10_000.0, 10_000.0));
    }
}
