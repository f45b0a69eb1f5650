//! A user's contacts as the pool holds them, and which of them AuthKit may send a sign-in
//! to. Sending to a contact nobody proved would let whoever wrote it sign in: an attacker
//! who signs the victim's email up with their own phone number (account pre-hijacking).

use std::collections::HashMap;

use authkit_domain::identifier::{Channel, Identifier, Region};

/// The user attributes that hold contacts, with the attribute that says a code proved
/// each.
const CONTACT_ATTRIBUTES: [(&str, &str); 2] = [
    ("email", "email_verified"),
    ("phone_number", "phone_number_verified"),
];

/// The contacts a sign-in may go to:
/// - every contact whose `*_verified` is `"true"` (a code proved it, decision 19);
/// - before any is verified (a first sign-in), the user's only contact, which is the one
///   AuthKit's sign-up created the user with. A user with two unverified contacts gets
///   none: one of them was written by someone who never proved it.
pub(crate) fn proven(
    attributes: &HashMap<String, String>,
    region: Option<Region>,
) -> Vec<Identifier> {
    let present: Vec<(&String, bool)> = CONTACT_ATTRIBUTES
        .iter()
        .filter_map(|(name, verified)| {
            let value = attributes.get(*name).filter(|v| !v.is_empty())?;
            Some((
                value,
                attributes.get(*verified).is_some_and(|v| v == "true"),
            ))
        })
        .collect();
    let any_verified = present.iter().any(|(_, verified)| *verified);
    // Counted before parsing: a second contact counts even when it does not parse.
    let only_contact = present.len() == 1;
    present
        .into_iter()
        .filter(|(_, verified)| *verified || (!any_verified && only_contact))
        .filter_map(|(value, _)| Identifier::parse(value, region).ok())
        .collect()
}

/// The proven contact for `channel`: the one it can reach, else email before phone.
pub(crate) fn choose(proven: &[Identifier], channel: Option<Channel>) -> Option<&Identifier> {
    let reaches = |identifier: &&Identifier| identifier.channel(channel).is_ok();
    let email = proven
        .iter()
        .filter(reaches)
        .find(|identifier| matches!(identifier, Identifier::Email(_)));
    email.or_else(|| proven.iter().find(reaches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn strings(identifiers: &[Identifier]) -> Vec<&str> {
        identifiers.iter().map(Identifier::as_str).collect()
    }

    #[test]
    fn verified_contacts_are_proven_and_unverified_ones_beside_them_are_not() {
        let user = attributes(&[
            ("email", "jane@example.com"),
            ("email_verified", "true"),
            ("phone_number", "+14155552671"),
            ("phone_number_verified", "false"),
        ]);
        assert_eq!(strings(&proven(&user, None)), vec!["jane@example.com"]);
    }

    #[test]
    fn a_first_sign_in_may_use_the_only_contact_but_not_one_of_two_unproven() {
        let only = attributes(&[("email", "jane@example.com")]);
        assert_eq!(strings(&proven(&only, None)), vec!["jane@example.com"]);
        let two = attributes(&[
            ("email", "jane@example.com"),
            ("phone_number", "+14155552671"),
        ]);
        assert!(proven(&two, None).is_empty());
        let unusable_beside = attributes(&[("email", "jane@example.com"), ("phone_number", "+1")]);
        assert!(
            proven(&unusable_beside, None).is_empty(),
            "a second contact counts even when it does not parse"
        );
    }

    #[test]
    fn the_channel_picks_among_proven_contacts_only() {
        let user = attributes(&[
            ("email", "jane@example.com"),
            ("email_verified", "true"),
            ("phone_number", "+14155552671"),
            ("phone_number_verified", "true"),
        ]);
        let proven = proven(&user, None);
        assert_eq!(choose(&proven, None).unwrap().as_str(), "jane@example.com");
        assert_eq!(
            choose(&proven, Some(Channel::Sms)).unwrap().as_str(),
            "+14155552671"
        );
        let email_only = [Identifier::parse("jane@example.com", None).unwrap()];
        assert!(choose(&email_only, Some(Channel::Sms)).is_none());
    }
}
