//! The bounded state a rule keeps between events.
//!
//! Some detections are about many events: one user opening fifty patients' records in ten
//! minutes, a user at a workstation never seen before. A rule that takes a second
//! parameter gets its own [`Memory`] and asks it questions keyed by strings it chooses
//! (`memory.distinct(user, patient, 600)`). Time is the event's time, not the wall clock,
//! so a replay answers as the live run did.
//!
//! Invariants:
//! - At most [`MAX_KEYS`] keys per rule and [`MAX_VALUES`] values per key; past either,
//!   the oldest key or value is dropped and counted in [`Memory::evictions`].
//! - Window entries older than the window asked for are dropped at each question.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Keys one rule may remember.
pub const MAX_KEYS: usize = 10_000;
/// Values one key may remember.
pub const MAX_VALUES: usize = 2_000;

/// One rule's state, shared with the script by a cheap clone.
#[derive(Debug, Clone, Default)]
pub struct Memory(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// The time of the event being evaluated, in microseconds.
    now: i64,
    /// Per key, values in the order seen with their times, and how often each is in the
    /// window.
    windows: HashMap<String, Window>,
    /// Per key, how often each value was seen, and the key's last use for eviction.
    sightings: HashMap<String, (i64, HashMap<String, u32>)>,
    /// Keys and values dropped to stay within bounds.
    evictions: u64,
}

#[derive(Debug, Default)]
struct Window {
    entries: VecDeque<(i64, String)>,
    counts: HashMap<String, u32>,
}

impl Memory {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters for counting, so a poisoned lock is used as is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the time the following questions are asked at.
    pub fn set_now(&self, micros: i64) {
        self.state().now = micros;
    }

    /// Records `value` under `key` now and returns how many distinct values `key` had in
    /// the last `window_seconds`, this one included.
    pub fn distinct(&self, key: &str, value: &str, window_seconds: i64) -> i64 {
        let mut state = self.state();
        let now = state.now;
        let State {
            windows, evictions, ..
        } = &mut *state;
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            evict_stalest(windows, |window| {
                window.entries.back().map_or(i64::MIN, |e| e.0)
            });
            *evictions += 1;
        }
        let window = windows.entry(key.to_owned()).or_default();

        window.entries.push_back((now, value.to_owned()));
        *window.counts.entry(value.to_owned()).or_default() += 1;
        let horizon = now.saturating_sub(window_seconds.saturating_mul(1_000_000));
        while let Some((time, _)) = window.entries.front() {
            let expired = *time < horizon;
            if !expired && window.entries.len() <= MAX_VALUES {
                break;
            }
            if !expired {
                *evictions += 1;
            }
            let (_, old) = window.entries.pop_front().expect("front was just seen");
            if let Some(count) = window.counts.get_mut(&old) {
                *count -= 1;
                if *count == 0 {
                    window.counts.remove(&old);
                }
            }
        }
        window.counts.len() as i64
    }

    /// Returns how many times `value` was seen under `key` before, and records this time.
    pub fn seen(&self, key: &str, value: &str) -> i64 {
        let mut state = self.state();
        let now = state.now;
        let State {
            sightings,
            evictions,
            ..
        } = &mut *state;
        if !sightings.contains_key(key) && sightings.len() >= MAX_KEYS {
            evict_stalest(sightings, |(last, _)| *last);
            *evictions += 1;
        }
        let (last, values) = sightings.entry(key.to_owned()).or_default();
        *last = now;
        if !values.contains_key(value) && values.len() >= MAX_VALUES {
            // Values carry no time; drop an arbitrary one rather than grow.
            let any = values.keys().next().cloned();
            any.map(|any| values.remove(&any));
            *evictions += 1;
        }
        let count = values.entry(value.to_owned()).or_default();
        let before = *count;
        *count = count.saturating_add(1);
        i64::from(before)
    }

    /// How many distinct values are remembered under `key` by [`Memory::seen`].
    pub fn known(&self, key: &str) -> i64 {
        let state = self.state();
        state
            .sightings
            .get(key)
            .map_or(0, |(_, values)| values.len() as i64)
    }

    /// Keys and values dropped so far to stay within bounds.
    pub fn evictions(&self) -> u64 {
        self.state().evictions
    }

    /// Keys currently remembered, over both kinds of question.
    pub fn keys(&self) -> usize {
        let state = self.state();
        state.windows.len() + state.sightings.len()
    }
}

/// Removes the entry whose `last_use` is oldest.
fn evict_stalest<V>(map: &mut HashMap<String, V>, last_use: impl Fn(&V) -> i64) {
    let stalest = map.iter().min_by_key(|(_, value)| last_use(value));
    if let Some(key) = stalest.map(|(key, _)| key.clone()) {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn distinct_counts_only_inside_the_window() {
        let memory = Memory::default();
        memory.set_now(0);
        assert_eq!(memory.distinct("alice", "p1", 60), 1);
        memory.set_now(10 * SECOND);
        assert_eq!(memory.distinct("alice", "p2", 60), 2);
        assert_eq!(memory.distinct("alice", "p2", 60), 2);
        memory.set_now(65 * SECOND);
        assert_eq!(memory.distinct("alice", "p3", 60), 2, "p1 left the window");
        assert_eq!(memory.distinct("bob", "p1", 60), 1, "keys are apart");
    }

    #[test]
    fn seen_counts_earlier_sightings() {
        let memory = Memory::default();
        assert_eq!(memory.seen("alice", "ws-01"), 0);
        assert_eq!(memory.seen("alice", "ws-01"), 1);
        assert_eq!(memory.seen("alice", "ws-02"), 0);
        assert_eq!(memory.known("alice"), 2);
        assert_eq!(memory.known("bob"), 0);
    }

    #[test]
    fn keys_stay_bounded() {
        let memory = Memory::default();
        for user in 0..MAX_KEYS + 10 {
            memory.set_now(user as i64);
            memory.seen(&format!("user{user}"), "ws");
        }
        assert_eq!(memory.keys(), MAX_KEYS);
        assert_eq!(memory.evictions(), 10);
        assert_eq!(memory.known("user0"), 0, "the stalest key went first");
    }
}
