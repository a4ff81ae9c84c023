//! How many requests were in flight *across* several origin processes at once, proven from each
//! process's own record.
//!
//! One process knows its exact peak (an atomic maximum). Several processes sharing a port
//! (`SO_REUSEPORT`, [`crate::OriginProcess::spawn_cluster`]) cannot add their peaks — they need
//! not peak at the same moment — so each keeps an [`InFlightTimeline`]: time cut into
//! [`BUCKET_NS`] buckets of `CLOCK_MONOTONIC` (system-wide, so the buckets of different processes
//! are the same intervals), and for each bucket the **minimum** number of requests it had in
//! flight during that bucket. Whatever instant of a bucket one looks at, every process had at
//! least its minimum in flight, so the sum of the minima is a proven lower bound on the
//! requests concurrently in flight during that bucket, and [`concurrent_lower_bound`] — the
//! largest such sum — a proven lower bound on the cluster's peak.
//!
//! The record is compact: a [`Step`] only for buckets in which the count changed (its minimum
//! and its value at the end); a bucket without a step carries the previous step's end value.
//! The bound loses nothing when the cluster holds its peak for a whole bucket (a steady
//! `concurrency` in flight for longer than 10 ms); it can read lower than the true peak only
//! when the peak lasts less than a bucket, or when every bucket of the plateau sees one process
//! finish a request before the client's next one arrives.

use serde::{Deserialize, Serialize};

/// The length of a bucket: 10 ms.
pub const BUCKET_NS: u64 = 10_000_000;

/// `CLOCK_MONOTONIC` now, in nanoseconds (the same clock in every process of the machine).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec we own; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One bucket in which a process's in-flight count changed: `[bucket, min, end]` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u64, u64)", into = "(u64, u64, u64)")]
pub struct Step {
    /// The bucket: `CLOCK_MONOTONIC` nanoseconds ÷ [`BUCKET_NS`].
    pub bucket: u64,
    /// The fewest requests in flight at any moment of the bucket (the value carried in from the
    /// previous bucket included).
    pub min: u64,
    /// The requests in flight at the end of the bucket (carried over until the next step).
    pub end: u64,
}

impl From<(u64, u64, u64)> for Step {
    fn from((bucket, min, end): (u64, u64, u64)) -> Self {
        Self { bucket, min, end }
    }
}

impl From<Step> for (u64, u64, u64) {
    fn from(s: Step) -> Self {
        (s.bucket, s.min, s.end)
    }
}

/// One process's in-flight count over time, as [`Step`]s (see the module docs). Updated under
/// the server's lock on every change of the count.
#[derive(Clone, Debug, Default)]
pub struct InFlightTimeline {
    /// The count now.
    current: u64,
    steps: Vec<Step>,
}

impl InFlightTimeline {
    /// One more request in flight at `now_ns` (`CLOCK_MONOTONIC`).
    pub fn enter(&mut self, now_ns: u64) {
        let value = self.current + 1;
        self.set(now_ns / BUCKET_NS, value);
    }

    /// One request fewer in flight at `now_ns`.
    pub fn leave(&mut self, now_ns: u64) {
        let value = self.current.saturating_sub(1);
        self.set(now_ns / BUCKET_NS, value);
    }

    fn set(&mut self, bucket: u64, value: u64) {
        let carried = self.current;
        self.current = value;
        match self.steps.last_mut() {
            Some(last) if last.bucket >= bucket => {
                last.min = last.min.min(value);
                last.end = value;
            }
            _ => self.steps.push(Step {
                bucket,
                min: carried.min(value),
                end: value,
            }),
        }
    }

    /// Forgets the record and starts a new one at `now_ns` with the requests still in flight
    /// (so a reader knows the starting value).
    pub fn reset(&mut self, now_ns: u64) {
        self.steps.clear();
        self.steps.push(Step {
            bucket: now_ns / BUCKET_NS,
            min: self.current,
            end: self.current,
        });
    }

    /// The record so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

/// The proven number of requests concurrently in flight across processes, bucket by bucket:
/// `(bucket, Σ over processes of the bucket's minimum)`, for every bucket in which some process
/// changed and for the bucket after it (where every process's value is carried). Before its
/// first step a process counts 0 (a safe lower bound).
pub fn combined(timelines: &[&[Step]]) -> Vec<(u64, u64)> {
    let mut buckets: Vec<u64> = timelines
        .iter()
        .flat_map(|steps| steps.iter().flat_map(|s| [s.bucket, s.bucket + 1]))
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    // One cursor per process: the index of its first step not before the bucket at hand.
    let mut cursors = vec![0usize; timelines.len()];
    buckets
        .into_iter()
        .map(|bucket| {
            let mut sum = 0u64;
            for (steps, cursor) in timelines.iter().zip(&mut cursors) {
                while *cursor < steps.len() && steps[*cursor].bucket < bucket {
                    *cursor += 1;
                }
                sum += match steps.get(*cursor) {
                    Some(s) if s.bucket == bucket => s.min,
                    _ => cursor.checked_sub(1).map_or(0, |i| steps[i].end),
                };
            }
            (bucket, sum)
        })
        .collect()
}

/// The largest sum of [`combined`]: a proven lower bound on the most requests the processes
/// had in flight at one moment (0 with no steps).
pub fn concurrent_lower_bound(timelines: &[&[Step]]) -> u64 {
    combined(timelines)
        .into_iter()
        .map(|(_, sum)| sum)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(bucket: u64, min: u64, end: u64) -> Step {
        Step { bucket, min, end }
    }

    const B: u64 = BUCKET_NS;

    #[test]
    fn a_timeline_keeps_each_buckets_minimum_and_end() {
        let mut t = InFlightTimeline::default();
        t.enter(0); // bucket 0: 1
        t.enter(B / 2); // 2
        t.leave(B + 1); // bucket 1: 2 → 1
        t.enter(B + 2); // 2
        t.enter(5 * B); // bucket 5: 3
        assert_eq!(
            t.steps(),
            [step(0, 0, 2), step(1, 1, 2), step(5, 2, 3)],
            "the value carried in counts toward a bucket's minimum"
        );
        t.reset(7 * B);
        assert_eq!(t.steps(), [step(7, 3, 3)]);
        t.leave(7 * B + 5);
        assert_eq!(t.steps(), [step(7, 2, 2)]);
    }

    #[test]
    fn one_process_bound_is_its_steady_value() {
        let mut t = InFlightTimeline::default();
        for _ in 0..300 {
            t.enter(3 * B + 10);
        }
        // Held through buckets 4..=30, then drained.
        for _ in 0..300 {
            t.leave(31 * B);
        }
        assert_eq!(concurrent_lower_bound(&[t.steps()]), 300);
    }

    #[test]
    fn minima_add_up_across_processes_with_carried_values() {
        // Process a: rises to 100 in bucket 1, holds until bucket 10, then drops to 0.
        let a = [step(1, 0, 100), step(10, 0, 0)];
        // Process b: rises to 50 in bucket 3, dips to 49 and back in bucket 4, holds, ends at 0
        // in bucket 12.
        let b = [step(3, 0, 50), step(4, 49, 50), step(12, 0, 0)];
        let sums = combined(&[&a, &b]);
        assert_eq!(
            sums,
            [
                (1, 0),   // a's minimum in its rising bucket is 0
                (2, 100), // a carried, b not started
                (3, 100), // b's minimum 0 in its rising bucket
                (4, 149), // b's dip
                (5, 150), // both carried
                (10, 50), // a's falling bucket: minimum 0
                (11, 50), // a 0 carried, b 50 carried
                (12, 0),  // b falls
                (13, 0),
            ]
        );
        assert_eq!(concurrent_lower_bound(&[&a, &b]), 150);
    }

    #[test]
    fn peaks_at_different_times_do_not_add_up() {
        // Each process holds 10 requests, one after the other: never 20 at once.
        let a = [step(0, 0, 10), step(5, 0, 0)];
        let b = [step(5, 0, 10), step(9, 0, 0)];
        assert_eq!(concurrent_lower_bound(&[&a, &b]), 10);
        // Overlapping by one whole bucket (6): 20.
        let a = [step(0, 0, 10), step(7, 0, 0)];
        assert_eq!(concurrent_lower_bound(&[&a, &b]), 20);
    }

    #[test]
    fn nothing_recorded_bounds_nothing() {
        assert_eq!(concurrent_lower_bound(&[]), 0);
        assert_eq!(concurrent_lower_bound(&[&[], &[]]), 0);
    }
}
