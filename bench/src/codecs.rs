//! serde_json against sonic-rs and simd-json on the benchmark's payloads: what a faster JSON
//! path would save per record, measured before choosing one.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::job::{Payload, body};

/// One library's cost on one payload size.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CodecCost {
    pub library: String,
    pub size: usize,
    pub encode_ns: f64,
    pub decode_ns: f64,
}

/// Calls `f` for about `budget` and returns its mean time per call in ns (median of 5
/// slices, after one unrecorded slice that warms caches up).
fn time_per_call(budget: Duration, mut f: impl FnMut()) -> f64 {
    let slice = budget / 6;
    let mut means = Vec::with_capacity(5);
    for round in 0..6 {
        let start = Instant::now();
        let mut calls = 0u64;
        while start.elapsed() < slice {
            for _ in 0..64 {
                f();
            }
            calls += 64;
        }
        if round > 0 {
            means.push(start.elapsed().as_nanos() as f64 / calls as f64);
        }
    }
    means.sort_by(f64::total_cmp);
    means[means.len() / 2]
}

/// Encode and decode costs of each library on payloads of each of `sizes`.
pub fn measure(
    sizes: &[usize],
    budget: Duration,
) -> Result<Vec<CodecCost>, Box<dyn std::error::Error>> {
    let mut costs = Vec::new();
    for &size in sizes {
        let value = Payload {
            id: 500_000,
            sent_at: 1_700_000_000_000,
            body: body(size),
        };
        let bytes = serde_json::to_vec(&value)?;
        // All three must read what serde_json writes, and write what it reads.
        let check: Payload = sonic_rs::from_slice(&bytes)?;
        let check: Payload = simd_json::serde::from_slice(&mut serde_json::to_vec(&check)?)?;
        if sonic_rs::to_vec(&check)? != bytes || simd_json::serde::to_vec(&check)? != bytes {
            return Err("the JSON libraries disagree on the payload's encoding".into());
        }
        let mut out = Vec::with_capacity(bytes.len() * 2);
        let mut scratch = bytes.clone();
        let encode_serde = time_per_call(budget, || {
            out.clear();
            serde_json::to_writer(&mut out, &value).ok();
            std::hint::black_box(&out);
        });
        let decode_serde = time_per_call(budget, || {
            std::hint::black_box(serde_json::from_slice::<Payload>(&bytes).ok());
        });
        let encode_sonic = time_per_call(budget, || {
            out.clear();
            sonic_rs::to_writer(&mut out, &value).ok();
            std::hint::black_box(&out);
        });
        let decode_sonic = time_per_call(budget, || {
            std::hint::black_box(sonic_rs::from_slice::<Payload>(&bytes).ok());
        });
        let encode_simd = time_per_call(budget, || {
            out.clear();
            simd_json::serde::to_writer(&mut out, &value).ok();
            std::hint::black_box(&out);
        });
        // simd-json parses in place: the record's bytes are copied first, as a consumer must.
        let decode_simd = time_per_call(budget, || {
            scratch.clear();
            scratch.extend_from_slice(&bytes);
            std::hint::black_box(simd_json::serde::from_slice::<Payload>(&mut scratch).ok());
        });
        for (library, encode_ns, decode_ns) in [
            ("serde_json", encode_serde, decode_serde),
            ("sonic-rs", encode_sonic, decode_sonic),
            ("simd-json", encode_simd, decode_simd),
        ] {
            costs.push(CodecCost {
                library: library.to_string(),
                size: bytes.len(),
                encode_ns,
                decode_ns,
            });
        }
    }
    Ok(costs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_is_timed_on_every_size() {
        let costs = measure(&[1024], Duration::from_millis(30)).unwrap();
        assert_eq!(costs.len(), 3);
        assert!(costs.iter().all(|c| c.encode_ns > 0.0 && c.decode_ns > 0.0));
    }
}
