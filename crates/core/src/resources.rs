//! CPU and memory of a run, from the kernel (`getrusage`, `/proc/self/status`).
//!
//! Linux-specific on purpose: peak RSS is reset at the start of each run through
//! `/proc/self/clear_refs` (value 5, Linux ≥ 4.0), so several runs in one process (the benches)
//! each report their own peak instead of the process's lifetime maximum. Where the reset is not
//! possible the report says so (`peak_rss_is_lifetime`). Child processes count once they are
//! reaped (`RUSAGE_CHILDREN`), which is how the multi-process backend's workers are included.

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
}

impl ResourceUsage {
    /// All CPU seconds: this process and its children.
    pub fn total_cpu_secs(&self) -> f64 {
        self.cpu_user_secs + self.cpu_sys_secs + self.children_cpu_secs
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

/// Current peak RSS (`VmHWM`) in bytes, if readable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
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
        }
    }
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

    #[test]
    fn measures_cpu_and_memory() {
        let meter = Meter::start();
        let mut v = vec![0u8; 32 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = 1;
        }
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box((&v, x));
        let usage = meter.finish();
        assert!(usage.peak_rss_bytes >= 32 << 20, "{usage:?}");
        assert!(usage.cpu_user_secs + usage.cpu_sys_secs > 0.0, "{usage:?}");
        let (soft, hard) = raise_fd_limit();
        assert_eq!(soft, hard);
    }
}
