//! Identifiers come straight from sign-in forms: parsing must never panic, and whatever it
//! accepts must be stable (parsing the normalised form gives the same identifier).
#![no_main]

use authkit_domain::identifier::{Identifier, Region};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    for region in [None, Region::parse("US").ok(), Region::parse("GB").ok()] {
        if let Ok(identifier) = Identifier::parse(raw, region) {
            let again = Identifier::parse(identifier.as_str(), None).expect("a normalised identifier parses");
            assert_eq!(again, identifier);
            let _ = identifier.masked();
            let _ = identifier.channel(None);
        }
    }
});
