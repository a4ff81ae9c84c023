//! CPU and memory of a run, from the kernel (`getrusage`, `/proc/self/status`).
//!
//! Linux-specific on purpose: peak RSS is reset at the start of each run through
//! `/proc/self/clear_refs` (value 5, Linux ≥ 4.0), so several runs in one process (the benches)
//! each report their own peak instead of the process's lifetime maximum. Where the reset is not
//! possible the report says so (`peak_rss_is_lifetime`). Child processes' CPU counts once they
//! are reaped (`RUSAGE_CHILDREN`), which is how the multi-process backend's workers are included.
//!
//! Memory of worker processes is a *sum of per-process peaks*: a backend that starts helper
//! processes records each one's own peak in [`WorkerPeaks`] (read from `/proc/<pid>/status` with
//! [`peak_rss_bytes_of`] while the process is alive) and hands it back through
//! [`crate::driver::Driven`]. The kernel's per-child `ru_maxrss` is no substitute: a child
//! created by `fork`/`vfork` starts with its parent's resident pages charged to it, so each
//! worker's `ru_maxrss` is at least the coordinator's RSS at spawn time (measured: a 300 MiB
//! parent spawning `/bin/true` reads 309,000 KiB back from `wait4`).

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// CPU seconds and memory of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// User CPU seconds of this process during the run.
    pub cpu_user_secs: f64,
    /// System CPU seconds of this process during the run.
    pub cpu_sys_secs: f64,
    /// User + system CPU seconds of child processes reaped during the run.
    pub children_cpu_secs: f64,
    /// Peak resident set size of this process during the run.
    pub peak_rss_bytes: u64,
    /// Largest peak RSS of any reaped child process (0 when there were none).
    pub children_peak_rss_bytes: u64,
    /// True when the peak could not be reset and is the process's lifetime peak.
    pub peak_rss_is_lifetime: bool,
    /// Sum of the peak RSS of every worker process the backend started during the run,
    /// restarted incarnations included (0 without workers). Each term is that process's own
    /// peak, not `RUSAGE_CHILDREN`'s (see the module docs).
    #[serde(default)]
    pub workers_peak_rss_sum_bytes: u64,
    /// Worker processes started (and reaped) during the run, restarted incarnations included.
    #[serde(default)]
    pub worker_processes: u32,
}

impl ResourceUsage {
    /// All CPU seconds: this process and its children.
    pub fn total_cpu_secs(&self) -> f64 {
        self.cpu_user_secs + self.cpu_sys_secs + self.children_cpu_secs
    }

    /// The run's memory as a **sum of per-process peaks**: this process's peak plus every worker
    /// process's own peak. An upper bound on what was resident at any one moment (the processes
    /// need not peak together, and pages they share are counted once per process); equal to
    /// [`ResourceUsage::peak_rss_bytes`] for a single-process backend.
    pub fn peak_rss_sum_bytes(&self) -> u64 {
        self.peak_rss_bytes + self.workers_peak_rss_sum_bytes
    }

    /// This usage with `workers`' peaks recorded.
    pub fn with_workers(self, workers: WorkerPeaks) -> Self {
        Self {
            workers_peak_rss_sum_bytes: workers.peak_rss_sum_bytes,
            worker_processes: workers.processes,
            ..self
        }
    }
}

/// The peaks of the worker processes a backend started and reaped inside its run, summed; from
/// the backend to [`crate::report::measure`] through [`crate::driver::Driven`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerPeaks {
    /// Processes recorded.
    pub processes: u32,
    /// The sum of their peak RSS, in bytes.
    pub peak_rss_sum_bytes: u64,
}

impl WorkerPeaks {
    /// Records one process whose peak RSS was `peak_rss_bytes`.
    pub fn add(&mut self, peak_rss_bytes: u64) {
        self.processes = self.processes.saturating_add(1);
        self.peak_rss_sum_bytes = self.peak_rss_sum_bytes.saturating_add(peak_rss_bytes);
    }
}

/// Measures from [`Meter::start`] to [`Meter::finish`].
#[derive(Debug)]
pub struct Meter {
    started: Instant,
    own: libc::rusage,
    children: libc::rusage,
    peak_reset: bool,
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage writes a plain C struct; a zeroed rusage is a valid value.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut r);
        r
    }
}

fn secs(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6
}

/// User + system CPU seconds this process has used so far.
pub fn process_cpu_secs() -> f64 {
    let own = rusage(libc::RUSAGE_SELF);
    secs(own.ru_utime) + secs(own.ru_stime)
}

/// Current peak RSS (`VmHWM`) of this process in bytes, if readable.
pub fn peak_rss_bytes() -> Option<u64> {
    vm_hwm_bytes("/proc/self/status")
}

/// Current peak RSS (`VmHWM`) of process `pid` in bytes: the high-water mark of its address space
/// since its last `exec` (or reset). `None` when it cannot be read — in particular once the
/// process has exited (a zombie has no address space left), so read it while the process lives.
pub fn peak_rss_bytes_of(pid: u32) -> Option<u64> {
    vm_hwm_bytes(&format!("/proc/{pid}/status"))
}

fn vm_hwm_bytes(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Meter {
    /// Starts measuring (and resets this process's peak RSS where the kernel allows).
    pub fn start() -> Self {
        let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        Self {
            started: Instant::now(),
            own: rusage(libc::RUSAGE_SELF),
            children: rusage(libc::RUSAGE_CHILDREN),
            peak_reset,
        }
    }
    /// Wall seconds so far.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
    /// Ends the measurement.
    pub fn finish(&self) -> ResourceUsage {
        let own = rusage(libc::RUSAGE_SELF);
        let children = rusage(libc::RUSAGE_CHILDREN);
        let peak = peak_rss_bytes().unwrap_or(own.ru_maxrss as u64 * 1024);
        ResourceUsage {
            cpu_user_secs: secs(own.ru_utime) - secs(self.own.ru_utime),
            cpu_sys_secs: secs(own.ru_stime) - secs(self.own.ru_stime),
            children_cpu_secs: (secs(children.ru_utime) + secs(children.ru_stime))
                - (secs(self.children.ru_utime) + secs(self.children.ru_stime)),
            peak_rss_bytes: peak,
            children_peak_rss_bytes: children.ru_maxrss as u64 * 1024,
            peak_rss_is_lifetime: !self.peak_reset,
            workers_peak_rss_sum_bytes: 0,
            worker_processes: 0,
        }
    }
}

/// Descriptors a process keeps for everything but its connections: the runtime's epoll and
/// eventfds, pipes to workers or the origin, files it reads, TLS roots, the allocator's maps.
pub const FD_RESERVE: u64 = 1_000;

/// The process's hard open-file limit (`RLIMIT_NOFILE`), the ceiling no process can raise itself
/// past (20,000 on this project's machines); `None` when it cannot be read or is unlimited.
pub fn fd_hard_limit() -> Option<u64> {
    // SAFETY: getrlimit writes a plain C struct we own.
    let lim = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        lim
    };
    (lim.rlim_max != libc::RLIM_INFINITY).then_some(lim.rlim_max as u64)
}

/// How many connections one process can hold open at once: the hard open-file limit less
/// [`FD_RESERVE`]. Each HTTP/1.1 request in flight holds one socket, so this is the most
/// in-flight requests one process can have (19,000 here); `None` when the limit is unknown.
pub fn connection_budget() -> Option<usize> {
    fd_hard_limit().map(connection_budget_for)
}

/// [`connection_budget`] for a hard open-file limit of `fd_hard`: the limit less
/// [`FD_RESERVE`] (less half the limit when that is smaller, so a tiny limit still leaves room),
/// at least 1.
pub fn connection_budget_for(fd_hard: u64) -> usize {
    let hard = fd_hard.min(1 << 30);
    let reserve = FD_RESERVE.min(hard / 2);
    usize::try_from(hard - reserve).unwrap_or(usize::MAX).max(1)
}

/// Raises the soft open-file limit to the hard limit and returns `(soft, hard)` afterwards.
///
/// Every connection costs a descriptor; the default soft limit (often 1,024) would cap a C10K run
/// silently. The hard limit is the ceiling no process can pass; callers report it when it binds.
pub fn raise_fd_limit() -> (u64, u64) {
    // SAFETY: get/setrlimit take a pointer to a plain C struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        (lim.rlim_cur as u64, lim.rlim_max as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measures `work` with a [`Meter`], as `report::measure` does; what `work` returns is still
    /// alive when the meter finishes.
    fn measured<T>(work: impl FnOnce() -> T) -> (ResourceUsage, T) {
        let meter = Meter::start();
        let kept = work();
        (meter.finish(), kept)
    }

    /// CPU seconds this thread has used: a clock apart from the meter's `getrusage`, and blind to
    /// the threads of tests running alongside.
    fn thread_cpu_secs() -> f64 {
        // SAFETY: clock_gettime writes a plain C struct we own.
        let ts = unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            assert_eq!(
                libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts),
                0
            );
            ts
        };
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    }

    /// Spins until this thread has used `secs` of CPU.
    fn burn(secs: f64) {
        let until = thread_cpu_secs() + secs;
        let mut x = 0u64;
        while thread_cpu_secs() < until {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
    }

    /// `bytes` of heap, written page by page so that all of it is resident.
    fn resident(bytes: usize) -> Vec<u8> {
        let mut v = vec![0u8; bytes];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        std::hint::black_box(v)
    }

    #[test]
    fn burned_cpu_is_measured() {
        const BURN: f64 = 0.25;
        let before = process_cpu_secs();
        let (usage, ()) = measured(|| burn(BURN));
        let own = usage.cpu_user_secs + usage.cpu_sys_secs;
        // The meter counts the whole process, so other tests' threads only add to it; the two
        // kernel clocks agree far better than the 20 % allowed here.
        assert!(own >= 0.8 * BURN, "burned {BURN} s, measured {usage:?}");
        assert!(usage.total_cpu_secs() >= own);
        assert!(process_cpu_secs() - before >= 0.8 * BURN);
    }

    #[test]
    fn touched_memory_is_measured_and_the_peak_resets() {
        const BIG: usize = 64 << 20;
        let (first, big) = measured(|| resident(BIG));
        assert!(first.peak_rss_bytes >= BIG as u64, "{first:?}");
        // 64 MiB is above glibc's largest mmap threshold (32 MiB): freeing it unmaps it.
        drop(big);
        let (second, small) = measured(|| resident(1 << 20));
        drop(small);
        if std::fs::write("/proc/self/clear_refs", "5").is_ok() {
            assert!(!first.peak_rss_is_lifetime && !second.peak_rss_is_lifetime);
            assert!(
                second.peak_rss_bytes + (BIG as u64) / 2 <= first.peak_rss_bytes,
                "after the reset the 64 MiB peak is gone: first {first:?}, second {second:?}"
            );
        } else {
            // No reset: the report must say the figure is the lifetime peak.
            assert!(first.peak_rss_is_lifetime && second.peak_rss_is_lifetime);
            assert!(second.peak_rss_bytes >= first.peak_rss_bytes);
        }
    }

    #[test]
    fn worker_peaks_are_summed_with_the_own_peak() {
        let mut workers = WorkerPeaks::default();
        for peak in [3 << 20, 5 << 20, 4 << 20] {
            workers.add(peak);
        }
        let own = ResourceUsage {
            peak_rss_bytes: 10 << 20,
            children_peak_rss_bytes: 5 << 20,
            ..Default::default()
        };
        assert_eq!(own.peak_rss_sum_bytes(), 10 << 20);
        let usage = own.clone().with_workers(workers);
        assert_eq!(usage.worker_processes, 3);
        assert_eq!(usage.workers_peak_rss_sum_bytes, 12 << 20);
        assert_eq!(usage.peak_rss_sum_bytes(), 22 << 20);
        // Reports written before these fields existed still load, as a run without workers.
        let mut old = serde_json::to_value(&own).expect("serializes");
        let fields = old.as_object_mut().expect("an object");
        fields.remove("workers_peak_rss_sum_bytes");
        fields.remove("worker_processes");
        let loaded: ResourceUsage = serde_json::from_value(old).expect("old layout loads");
        assert_eq!(loaded, own);
    }

    #[test]
    fn peak_of_a_process_by_pid() {
        let mine = peak_rss_bytes_of(std::process::id()).expect("this process is alive");
        assert!(mine >= 1 << 20, "{mine}");
        assert_eq!(peak_rss_bytes_of(u32::MAX), None);
    }

    #[test]
    fn fd_limit_is_raised_to_the_hard_limit() {
        let (soft, hard) = raise_fd_limit();
        assert_eq!(soft, hard);
    }
}
