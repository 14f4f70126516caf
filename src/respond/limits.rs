//! Caps on automated response and the circuit breaker that enforces them, plus escalating
//! durations for repeat offenders (like fail2ban's `bantime.increment`).
//!
//! Pure: time comes in as a parameter. Owned by the responder on the thread that carries out
//! responses.

use std::collections::VecDeque;

/// Limits on how much the responder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_minute: u32,
    pub max_concurrent: usize,
    pub max_active_blocks: u64,
    /// How long the breaker stays open (alert-only) once a cap is hit.
    pub cooldown_secs: i64,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            per_minute: 10,
            max_concurrent: 5,
            max_active_blocks: 1000,
            cooldown_secs: 60,
        }
    }
}

/// The current load, measured by the caller (the database knows about other processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Actions carried out in the last 60 s (this process and others writing the same file).
    pub last_minute: u64,
    pub in_flight: usize,
    pub active_blocks: u64,
}

/// Closed: actions run. Open: alert-only until `open_until`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Breaker {
    pub caps: Caps,
    open_until: Option<i64>,
    why: String,
    /// Actions this process carried out, for the per-minute count (at most `per_minute` kept).
    recent: VecDeque<i64>,
    pub trips: u64,
}

impl Breaker {
    pub fn new(caps: Caps) -> Breaker {
        Breaker {
            caps,
            ..Breaker::default()
        }
    }

    /// `Err(why)` when the action must not run (the breaker is or just became open).
    pub fn admit(&mut self, now_secs: i64, load: Load) -> Result<(), String> {
        if let Some(until) = self.open_until {
            if now_secs < until {
                return Err(format!(
                    "circuit breaker open for {} s more ({}); responses are alert-only",
                    until - now_secs,
                    self.why
                ));
            }
            self.open_until = None;
        }
        while self.recent.front().is_some_and(|t| now_secs - t >= 60) {
            self.recent.pop_front();
        }
        let minute = load.last_minute.max(self.recent.len() as u64);
        let why = if minute >= u64::from(self.caps.per_minute) {
            Some(format!(
                "{minute} actions in the last minute reached max_actions_per_minute = {}",
                self.caps.per_minute
            ))
        } else if load.in_flight >= self.caps.max_concurrent {
            Some(format!(
                "{} actions in flight reached max_concurrent_actions = {}",
                load.in_flight, self.caps.max_concurrent
            ))
        } else if load.active_blocks >= self.caps.max_active_blocks {
            Some(format!(
                "{} active blocks reached max_active_blocks = {}",
                load.active_blocks, self.caps.max_active_blocks
            ))
        } else {
            None
        };
        match why {
            Some(w) => {
                self.open_until = Some(now_secs + self.caps.cooldown_secs);
                self.why.clone_from(&w);
                self.trips += 1;
                Err(format!(
                    "circuit breaker tripped: {w}; responses are alert-only for {} s",
                    self.caps.cooldown_secs
                ))
            }
            None => Ok(()),
        }
    }

    /// Notes an action that ran.
    pub fn record(&mut self, now_secs: i64) {
        if self.recent.len() >= self.caps.per_minute.max(1) as usize {
            self.recent.pop_front();
        }
        self.recent.push_back(now_secs);
    }

    pub fn is_open(&self, now_secs: i64) -> bool {
        self.open_until.is_some_and(|u| now_secs < u)
    }
}

/// Duration for the `offense`-th block of the same address: `base × factor^(offense−1)`,
/// never above `max` (and never 0 when `base` is not).
pub fn escalate(base: u64, offense: u32, factor: u32, max: u64) -> u64 {
    let mut secs = base;
    for _ in 1..offense.max(1) {
        secs = secs.saturating_mul(u64::from(factor.max(1)));
        if secs >= max {
            break;
        }
    }
    if max > 0 {
        secs.min(max)
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_doubles_and_caps() {
        assert_eq!(escalate(600, 1, 2, 86_400), 600);
        assert_eq!(escalate(600, 2, 2, 86_400), 1200);
        assert_eq!(escalate(600, 4, 2, 86_400), 4800);
        assert_eq!(escalate(600, 40, 2, 86_400), 86_400);
        assert_eq!(escalate(600, u32::MAX, 3, 86_400), 86_400);
    }

    #[test]
    fn breaker_trips_on_rate_and_recovers_after_cooldown() {
        let mut b = Breaker::new(Caps {
            per_minute: 3,
            max_concurrent: 2,
            max_active_blocks: 100,
            cooldown_secs: 30,
        });
        for t in 0..3 {
            b.admit(t, Load::default()).unwrap();
            b.record(t);
        }
        let err = b.admit(3, Load::default()).unwrap_err();
        assert!(err.contains("max_actions_per_minute = 3"), "{err}");
        assert!(b.is_open(10));
        assert!(b.admit(20, Load::default()).unwrap_err().contains("open"));
        // After the cooldown and with the minute window passed, it closes again.
        assert!(b.admit(70, Load::default()).is_ok());
        assert_eq!(b.trips, 1);
        let load = Load {
            active_blocks: 100,
            ..Load::default()
        };
        assert!(b.admit(71, load).unwrap_err().contains("max_active_blocks"));
    }
}
