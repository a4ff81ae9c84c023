//! How crawlbench turns repeated runs into claims it can defend, and the machine-readable form
//! of those claims (`report.json`).
//!
//! A campaign runs every backend once per *round*, in a shuffled order, for R rounds; a round is
//! the unit of repetition (whole processes, interleaved, so slow drift of a shared machine hits
//! every backend of a round alike). From the per-round values this crate derives:
//! - per backend and metric, the median over rounds with a 95 % bootstrap confidence interval
//!   ([`bootstrap`]);
//! - per pair of backends, the *paired* ratio — b ÷ a within each round — summarised as its
//!   median with a 95 % bootstrap interval. Two backends differ only when that interval excludes
//!   1; otherwise they tie;
//! - rank groups of tied backends ([`rank`]);
//! - the comparison of two whole campaigns, which must never order a pair significantly one way
//!   in one and the other way in the other ([`reproduce`]).
//!
//! It depends on serde alone, so `cargo xtask` reads and renders a campaign without building a
//! runtime or a client.

#![deny(missing_docs)]

pub mod bootstrap;
pub mod contract;
pub mod rank;
pub mod reproduce;

pub use bootstrap::{Interval, Rng, median, median_ci, paired_ratio};
pub use contract::*;
pub use rank::rank_groups;
