//! AuthKit's domain: everything about passwordless sign-in that does not touch the outside
//! world. Time and randomness come in through [`Clock`] and [`Randomness`]; storage and
//! delivery through the traits in [`store`] and [`delivery`], which adapter crates implement.

pub mod audit;
pub mod challenge;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod delivery;
pub mod device;
pub mod error;
pub mod event;
pub mod html;
pub mod identifier;
pub mod member;
pub mod memory;
pub mod pkce;
pub mod rate_limit;
pub mod redaction;
pub mod registry;
pub mod secret;
pub mod service;
pub mod store;
pub mod tenant;
pub mod token;
pub mod user;

pub use clock::{Clock, ManualClock, OsRandomness, Randomness, SystemClock, Timestamp};
pub use error::AuthError;
pub use service::AuthKit;
