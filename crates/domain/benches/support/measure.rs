//! The loop every AuthKit micro-benchmark measures with (the domain's and the TLS key
//! exchange's), so their figures compare.

use std::time::{Duration, Instant};

/// Runs `op` for about `budget`, after a short warm-up, and prints the mean.
pub fn measure(name: &str, budget: Duration, mut op: impl FnMut()) {
    for _ in 0..100 {
        op();
    }
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            op();
        }
        iterations += 100;
    }
    let per_op = start.elapsed().as_nanos() as f64 / iterations as f64;
    println!("{name:<44} {per_op:>12.0} ns/op  ({iterations} iterations)");
}
