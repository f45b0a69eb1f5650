//! `cargo bench -p authkit-app`: what a new TLS connection to AWS spends on its key
//! exchange (decision 170), client and server side, with the post-quantum hybrid against
//! X25519 alone and with aws-lc's own hybrid. The server side is rustls's aws-lc provider, as an AWS endpoint's would be
//! another implementation. Figures are recorded in docs/performance.md.

#[path = "../../domain/benches/support/measure.rs"]
mod measure;

use std::hint::black_box;
use std::time::Duration;

use rustls::crypto::SupportedKxGroup;

fn exchange(client: &dyn SupportedKxGroup, server: &dyn SupportedKxGroup) {
    let active = client.start().unwrap();
    let answer = server.start_and_complete(active.pub_key()).unwrap();
    black_box(active.complete(&answer.pub_key).unwrap());
}

fn main() {
    let budget = Duration::from_millis(700);
    let hybrid = authkit_app::tls::X25519_MLKEM768;
    let classical = rustls::crypto::ring::kx_group::X25519;
    measure::measure("X25519MLKEM768: client start only", budget, || {
        black_box(hybrid.start().unwrap());
    });
    measure::measure("X25519MLKEM768: client + server", budget, || {
        exchange(hybrid, rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768)
    });
    measure::measure("X25519: client + server", budget, || {
        exchange(classical, rustls::crypto::aws_lc_rs::kx_group::X25519)
    });
    // The client AuthKit had before decision 170, for comparison.
    let aws_lc_hybrid = rustls::crypto::aws_lc_rs::kx_group::X25519MLKEM768;
    measure::measure("X25519MLKEM768 on aws-lc: client + server", budget, || {
        exchange(aws_lc_hybrid, aws_lc_hybrid)
    });
}
