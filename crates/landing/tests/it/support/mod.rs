//! Shared by the sink test modules (`sink::local`, `sink::s3`): the conformance suite every
//! [`landing::sink::Sink`] backend runs, and what those modules need besides.

pub mod conformance;

/// Deterministic bytes that differ from offset to offset (so a misplaced chunk is noticed).
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}
