//! The interleaved campaign (being written).
