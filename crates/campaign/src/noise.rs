//! The noise probe: two fixed pieces of work timed several times at several points of a
//! campaign, so the report can say how steady the machine was while it measured.
//!
//! - `cpu-loop`: a fixed arithmetic loop on one thread — the machine's CPU speed, as the
//!   neighbours leave it;
//! - `loopback-rtt`: a fixed number of one-byte TCP round trips over 127.0.0.1 — the kernel
//!   network path every backend's requests take.
//!
//! The coefficient of variation says how much one repetition wanders; the drift (last point's
//! median ÷ first point's) says how much the machine changed over the campaign. Interleaved
//! rounds protect comparisons from drift; the probe shows how much protection was needed.

use std::{
    hint::black_box,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    time::Instant,
};

use crawlbench_stats::{NoiseProbe, ProbePoint, median};

/// Repetitions of each probe per point.
const REPETITIONS: usize = 5;
const CPU_ITERATIONS: u64 = 20_000_000;
const ROUND_TRIPS: usize = 2_000;

/// Times the CPU loop once.
fn cpu_loop() -> f64 {
    let started = Instant::now();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..CPU_ITERATIONS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(black_box(i));
    }
    black_box(x);
    started.elapsed().as_secs_f64()
}

/// Times the loopback ping-pong once.
fn loopback_rtt() -> std::io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 1];
        for _ in 0..ROUND_TRIPS {
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut b = [7u8; 1];
    let started = Instant::now();
    for _ in 0..ROUND_TRIPS {
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
    }
    let secs = started.elapsed().as_secs_f64();
    echo.join()
        .map_err(|_| std::io::Error::other("echo thread panicked"))??;
    Ok(secs)
}

/// The probes' points so far.
#[derive(Debug, Default)]
pub struct NoiseRecorder {
    cpu: Vec<ProbePoint>,
    rtt: Vec<ProbePoint>,
    errors: Vec<String>,
}

impl NoiseRecorder {
    /// Takes one point of both probes, labelled `at`.
    pub fn probe(&mut self, at: &str) {
        self.cpu.push(ProbePoint {
            at: at.to_owned(),
            secs: (0..REPETITIONS).map(|_| cpu_loop()).collect(),
        });
        let rtt: Result<Vec<f64>, _> = (0..REPETITIONS).map(|_| loopback_rtt()).collect();
        match rtt {
            Ok(secs) => self.rtt.push(ProbePoint {
                at: at.to_owned(),
                secs,
            }),
            Err(e) => self
                .errors
                .push(format!("loopback probe at {at} failed: {e}")),
        }
    }

    /// The probes, summarised; and any probe that could not run.
    pub fn finish(self) -> (Vec<NoiseProbe>, Vec<String>) {
        let summarise = |name: &str, description: String, points: Vec<ProbePoint>| {
            if points.is_empty() {
                // JSON has no NaN: a probe that never ran reports zeros, and the errors say why.
                return NoiseProbe {
                    name: name.to_owned(),
                    description,
                    points,
                    cv: 0.0,
                    drift: 0.0,
                };
            }
            let all: Vec<f64> = points.iter().flat_map(|p| p.secs.iter().copied()).collect();
            let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
            let var =
                all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (all.len().max(2) - 1) as f64;
            let drift = match (points.first(), points.last()) {
                (Some(f), Some(l)) => median(&l.secs) / median(&f.secs),
                _ => f64::NAN,
            };
            NoiseProbe {
                name: name.to_owned(),
                description,
                cv: var.sqrt() / mean,
                drift,
                points,
            }
        };
        let probes = vec![
            summarise(
                "cpu-loop",
                format!("{CPU_ITERATIONS} iterations of a xorshift loop on one thread"),
                self.cpu,
            ),
            summarise(
                "loopback-rtt",
                format!("{ROUND_TRIPS} one-byte TCP round trips over 127.0.0.1"),
                self.rtt,
            ),
        ];
        (probes, self.errors)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn probes_measure_something_and_summarise() {
        let mut r = super::NoiseRecorder::default();
        r.probe("start");
        r.probe("end");
        let (probes, errors) = r.finish();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(probes.len(), 2);
        for p in &probes {
            assert_eq!(p.points.len(), 2);
            assert!(p.points.iter().all(|pt| pt.secs.iter().all(|s| *s > 0.0)));
            assert!(p.cv.is_finite() && p.cv >= 0.0 && p.drift > 0.0, "{p:?}");
        }
    }
}
