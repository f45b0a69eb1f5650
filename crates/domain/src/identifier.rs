//! Identifiers a person signs in with: an email address or a phone number, normalised so
//! that one person has one identifier however they type it.

use std::fmt;
use std::str::FromStr;

use phonenumber::{country, Mode, PhoneNumber};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// RFC 5321 §4.5.3.1: local part ≤ 64 octets, domain ≤ 255, and a path of 256 octets
/// including the angle brackets leaves 254 for the address.
const MAX_LOCAL_PART: usize = 64;
const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;
const MAX_ADDRESS: usize = 254;
/// Nothing a person types as an identifier is longer; refuse before doing any work.
const MAX_RAW_INPUT: usize = 320;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("the identifier is empty")]
    Empty,
    #[error("the identifier is too long")]
    TooLong,
    #[error("the identifier contains an invisible or text-direction control character")]
    InvisibleCharacter,
    #[error("the email address has no `@`")]
    EmailMissingAt,
    #[error("the email address has nothing before the `@`")]
    EmailLocalPartEmpty,
    #[error("the part before the `@` is longer than 64 octets")]
    EmailLocalPartTooLong,
    #[error("the part before the `@` has a character or dot placement email does not allow")]
    EmailLocalPartInvalid,
    #[error("the domain of the email address is not a valid domain name")]
    EmailDomainInvalid,
    #[error("the domain of the email address is longer than allowed")]
    EmailDomainTooLong,
    #[error("the email address is longer than 254 octets")]
    EmailTooLong,
    #[error("the phone number is not a valid number")]
    PhoneInvalid,
    #[error("the phone number has no country code and the tenant has no default region")]
    PhoneNeedsRegion,
    #[error("the phone number cannot receive text messages")]
    PhoneCannotReceiveSms,
    #[error("`{0}` is not an ISO 3166 region code")]
    UnknownRegion(String),
    #[error("the {channel} channel cannot reach {kind} identifiers")]
    ChannelMismatch {
        channel: Channel,
        kind: IdentifierKind,
    },
}

/// How a message reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Whatsapp,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Email => "email",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ();
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "sms" => Ok(Channel::Sms),
            "whatsapp" => Ok(Channel::Whatsapp),
            "email" => Ok(Channel::Email),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Email,
    Phone,
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
        })
    }
}

/// An email address: trimmed, NFKC-normalised, the domain lower-cased and IDNA (punycode)
/// encoded. It is delivered to with the local part as typed (a few providers still treat
/// its case as significant), but matched — one user, one rate limit — by a case-folded
/// key, because almost every provider does not, and `Dave@` and `dave@` are one person.
/// Dots and `+tags` are kept: providers differ on them, so folding them would merge
/// different people.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Email, IdentifierError> {
        refuse_invisible(raw)?;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if trimmed.len() > MAX_RAW_INPUT {
            return Err(IdentifierError::TooLong);
        }
        let normalised: String = trimmed.nfkc().collect();
        let (local, domain) = normalised
            .rsplit_once('@')
            .ok_or(IdentifierError::EmailMissingAt)?;
        validate_local_part(local)?;
        let domain = normalise_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS {
            return Err(IdentifierError::EmailTooLong);
        }
        Ok(Email {
            key: format!("{}@{domain}", local.to_lowercase()),
            address,
        })
    }

    /// The address to deliver to, as the person typed it.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// What identifies the person: the address with its local part case-folded.
    pub fn matching_key(&self) -> &str {
        &self.key
    }

    /// The mailbox the address delivers to as far as AuthKit can tell: its matching key
    /// without a sub-address (`dave+news@` is `dave@`). For budgets, never for matching
    /// users: `dave+news@` may be another person at some providers.
    pub fn mailbox(&self) -> Email {
        let (local, domain) = self.key.rsplit_once('@').unwrap_or(("", &self.key));
        let local = local.split('+').next().unwrap_or(local);
        Email::parse(&format!("{local}@{domain}")).unwrap_or_else(|_| self.clone())
    }

    /// `j***@example.com`: enough for a person to recognise, not enough to harvest.
    pub fn masked(&self) -> String {
        let (local, domain) = self.address.rsplit_once('@').unwrap_or(("", &self.address));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Email) -> bool {
        self.key == other.key
    }
}

impl Eq for Email {}

impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// Unicode's default-ignorable code points (DerivedCoreProperties.txt), which include the
/// zero-width characters, and the bidirectional controls.
/// Every parser of an address or number refuses these (an invitation, an identifier
/// change and a sign-in alike), so no path stores a look-alike.
fn refuse_invisible(raw: &str) -> Result<(), IdentifierError> {
    if raw.chars().any(is_invisible) {
        return Err(IdentifierError::InvisibleCharacter);
    }
    Ok(())
}

/// Invisible, text-direction and line-separating characters: nothing a person can see or
/// type on purpose in an address, a number or a name.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

fn validate_local_part(local: &str) -> Result<(), IdentifierError> {
    if local.is_empty() {
        return Err(IdentifierError::EmailLocalPartEmpty);
    }
    if local.len() > MAX_LOCAL_PART {
        return Err(IdentifierError::EmailLocalPartTooLong);
    }
    // Dot-atom form (RFC 5322 atext, plus UTF-8 per RFC 6531). Quoted local parts are
    // legal but so rare in sign-in forms that accepting them mostly helps abuse.
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
    let dots_ok = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..");
    if !dots_ok || !local.chars().all(|c| c == '.' || atext(c)) {
        return Err(IdentifierError::EmailLocalPartInvalid);
    }
    Ok(())
}

fn normalise_domain(domain: &str) -> Result<String, IdentifierError> {
    if domain.is_empty() || domain.starts_with('[') {
        // Address literals (`user@[192.0.2.1]`) are not a way people sign in.
        return Err(IdentifierError::EmailDomainInvalid);
    }
    let ascii =
        idna::domain_to_ascii_strict(domain).map_err(|_| IdentifierError::EmailDomainInvalid)?;
    if ascii.len() > MAX_DOMAIN {
        return Err(IdentifierError::EmailDomainTooLong);
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    if !labels_ok {
        return Err(IdentifierError::EmailDomainInvalid);
    }
    Ok(ascii)
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output ends up in logs; an address there is PII.
        write!(f, "Email({})", self.masked())
    }
}

impl TryFrom<String> for Email {
    type Error = IdentifierError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Email::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.address
    }
}

/// An ISO 3166-1 alpha-2 region, used to read phone numbers typed without `+country`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(country::Id);

impl Region {
    pub fn parse(raw: &str) -> Result<Region, IdentifierError> {
        let upper = raw.trim().to_ascii_uppercase();
        upper
            .parse::<country::Id>()
            .map(Region)
            .map_err(|_| IdentifierError::UnknownRegion(raw.to_owned()))
    }

    pub fn code(&self) -> String {
        let code: &str = self.0.as_ref();
        code.to_owned()
    }
}

impl TryFrom<String> for Region {
    type Error = IdentifierError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Region::parse(&raw)
    }
}

impl From<Region> for String {
    fn from(region: Region) -> String {
        region.code()
    }
}

/// A phone number in E.164 form (`+447911123456`), known to be able to receive SMS as far
/// as libphonenumber's metadata can tell.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone {
    e164: String,
    country_code: u16,
}

impl Phone {
    pub fn parse(raw: &str, default_region: Option<Region>) -> Result<Phone, IdentifierError> {
        refuse_invisible(raw)?;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if trimmed.len() > MAX_RAW_INPUT {
            return Err(IdentifierError::TooLong);
        }
        let international = trimmed.starts_with('+') || trimmed.starts_with("00");
        if !international && default_region.is_none() {
            return Err(IdentifierError::PhoneNeedsRegion);
        }
        let number = phonenumber::parse(default_region.map(|r| r.0), trimmed)
            .map_err(|_| IdentifierError::PhoneInvalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(IdentifierError::PhoneInvalid);
        }
        if !can_receive_sms(&number) {
            return Err(IdentifierError::PhoneCannotReceiveSms);
        }
        Ok(Phone {
            e164: number.format().mode(Mode::E164).to_string(),
            country_code: number.code().value(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The calling code (44 for `+44…`), the unit of SMS-pumping limits.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The country code and the next `digits` digits (`+44791`), for prefix rate limits.
    pub fn prefix(&self, digits: usize) -> String {
        let cc_len = self.country_code.to_string().len();
        self.e164.chars().take(1 + cc_len + digits).collect()
    }

    /// `+44*******123`: country code and the last three digits.
    pub fn masked(&self) -> String {
        let cc = format!("+{}", self.country_code);
        let national = &self.e164[cc.len()..];
        let keep = national.len().min(3);
        format!(
            "{cc}{}{}",
            "*".repeat(national.len() - keep),
            &national[national.len() - keep..]
        )
    }
}

fn can_receive_sms(number: &PhoneNumber) -> bool {
    use phonenumber::Type;
    // Landlines, toll-free, premium-rate and the like are where SMS-pumping fraud sends
    // traffic; refuse what the metadata says cannot take a text.
    matches!(
        number.number_type(&phonenumber::metadata::DATABASE),
        Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Voip
    )
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl TryFrom<String> for Phone {
    type Error = IdentifierError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Phone::parse(&raw, None)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.e164
    }
}

/// What a person signs in with.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Identifier {
    Email(Email),
    Phone(Phone),
}

impl Identifier {
    /// An `@` makes it an email address; anything else is read as a phone number. Invisible
    /// and text-direction control characters are refused outright: they make two
    /// identifiers that look the same to a person (and to support staff) differ.
    pub fn parse(raw: &str, default_region: Option<Region>) -> Result<Identifier, IdentifierError> {
        if raw.contains('@') {
            Email::parse(raw).map(Identifier::Email)
        } else {
            Phone::parse(raw, default_region).map(Identifier::Phone)
        }
    }

    pub fn kind(&self) -> IdentifierKind {
        match self {
            Identifier::Email(_) => IdentifierKind::Email,
            Identifier::Phone(_) => IdentifierKind::Phone,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Identifier::Email(email) => email.as_str(),
            Identifier::Phone(phone) => phone.as_str(),
        }
    }

    /// What identifies the person, for finding their user and counting their limits: an
    /// email address with its local part case-folded, or a phone number in E.164.
    pub fn matching_key(&self) -> &str {
        match self {
            Identifier::Email(email) => email.matching_key(),
            Identifier::Phone(phone) => phone.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Identifier::Email(email) => email.masked(),
            Identifier::Phone(phone) => phone.masked(),
        }
    }

    pub fn phone(&self) -> Option<&Phone> {
        match self {
            Identifier::Phone(phone) => Some(phone),
            Identifier::Email(_) => None,
        }
    }

    /// The channel to use: the caller's choice when it can reach this identifier, else the
    /// identifier's natural one (email → email, phone → SMS).
    pub fn channel(&self, requested: Option<Channel>) -> Result<Channel, IdentifierError> {
        match (self, requested) {
            (Identifier::Email(_), None | Some(Channel::Email)) => Ok(Channel::Email),
            (Identifier::Phone(_), None) => Ok(Channel::Sms),
            (Identifier::Phone(_), Some(channel @ (Channel::Sms | Channel::Whatsapp))) => {
                Ok(channel)
            }
            (identifier, Some(channel)) => Err(IdentifierError::ChannelMismatch {
                channel,
                kind: identifier.kind(),
            }),
        }
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Email(email) => email.fmt(f),
            Identifier::Phone(phone) => phone.fmt(f),
        }
    }
}

impl TryFrom<String> for Identifier {
    type Error = IdentifierError;
    /// Stored identifiers are already normalised, so no default region is needed.
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Identifier::parse(&raw, None)
    }
}

impl From<Identifier> for String {
    fn from(identifier: Identifier) -> String {
        match identifier {
            Identifier::Email(email) => email.into(),
            Identifier::Phone(phone) => phone.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_domain_is_lowercased_and_punycoded_local_part_kept() {
        let email = Email::parse("  John.Doe+Tag@EXAMPLE.Com ").unwrap();
        assert_eq!(email.as_str(), "John.Doe+Tag@example.com");
        let idn = Email::parse("anna@Bücher.example").unwrap();
        assert_eq!(idn.as_str(), "anna@xn--bcher-kva.example");
    }

    #[test]
    fn email_rejections_have_their_own_kinds() {
        use IdentifierError::*;
        let cases = [
            ("", Empty),
            ("   ", Empty),
            ("no-at-sign", EmailMissingAt),
            ("@example.com", EmailLocalPartEmpty),
            (
                &format!("{}@example.com", "a".repeat(65)),
                EmailLocalPartTooLong,
            ),
            ("a..b@example.com", EmailLocalPartInvalid),
            (".a@example.com", EmailLocalPartInvalid),
            ("a b@example.com", EmailLocalPartInvalid),
            ("a@localhost", EmailDomainInvalid),
            ("a@exa_mple.com", EmailDomainInvalid),
            ("a@[192.0.2.1]", EmailDomainInvalid),
            ("a@-bad.com", EmailDomainInvalid),
            ("a@1.2.3.4", EmailDomainInvalid),
            (
                &format!(
                    "{}@{}.com",
                    "a".repeat(64),
                    "b".repeat(63) + "." + &"c".repeat(63) + "." + &"d".repeat(63)
                ),
                EmailTooLong,
            ),
            (&"a".repeat(400), TooLong),
        ];
        for (raw, expected) in cases {
            assert_eq!(Email::parse(raw), Err(expected.clone()), "{raw:?}");
        }
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        let gb = Region::parse("gb").unwrap();
        let national = Phone::parse("07911 123456", Some(gb)).unwrap();
        let international = Phone::parse("+44 7911 123456", None).unwrap();
        assert_eq!(national, international);
        assert_eq!(national.as_str(), "+447911123456");
        assert_eq!(national.country_code(), 44);
        assert_eq!(national.prefix(3), "+44791");
        assert_eq!(national.masked(), "+44*******456");
    }

    #[test]
    fn phone_rejections() {
        assert_eq!(
            Phone::parse("07911 123456", None),
            Err(IdentifierError::PhoneNeedsRegion)
        );
        assert_eq!(
            Phone::parse("+44 12", None),
            Err(IdentifierError::PhoneInvalid)
        );
        // A UK landline (London 020) cannot take an SMS.
        assert_eq!(
            Phone::parse("+44 20 7946 0018", None),
            Err(IdentifierError::PhoneCannotReceiveSms)
        );
        assert_eq!(
            Region::parse("ZZ"),
            Err(IdentifierError::UnknownRegion("ZZ".into()))
        );
    }

    #[test]
    fn channel_follows_identifier_unless_a_fitting_one_is_chosen() {
        let email = Identifier::parse("a@example.com", None).unwrap();
        let phone = Identifier::parse("+14155552671", None).unwrap();
        assert_eq!(email.channel(None), Ok(Channel::Email));
        assert_eq!(phone.channel(None), Ok(Channel::Sms));
        assert_eq!(
            phone.channel(Some(Channel::Whatsapp)),
            Ok(Channel::Whatsapp)
        );
        assert!(matches!(
            email.channel(Some(Channel::Sms)),
            Err(IdentifierError::ChannelMismatch { .. })
        ));
        assert!(matches!(
            phone.channel(Some(Channel::Email)),
            Err(IdentifierError::ChannelMismatch { .. })
        ));
    }

    #[test]
    fn email_local_parts_match_case_insensitively_but_deliver_as_typed() {
        let typed = Identifier::parse("Dave.Smith@Example.com", None).unwrap();
        let lower = Identifier::parse("dave.smith@example.com", None).unwrap();
        assert_eq!(typed, lower, "one person, one identifier");
        assert_eq!(typed.matching_key(), lower.matching_key());
        assert_eq!(
            typed.as_str(),
            "Dave.Smith@example.com",
            "delivered as typed"
        );
        let german = Identifier::parse("STRASSE@example.com", None).unwrap();
        assert_eq!(german.matching_key(), "strasse@example.com");
    }

    #[test]
    fn email_local_parts_are_nfkc_normalised() {
        // Fullwidth letters look like ASCII ones; NFKC folds them to ASCII.
        let fullwidth = Email::parse("\u{ff44}\u{ff41}\u{ff56}\u{ff45}@example.com").unwrap();
        assert_eq!(fullwidth.as_str(), "dave@example.com");
        // Composed and decomposed é are one address.
        let composed = Email::parse("jos\u{e9}@example.com").unwrap();
        let decomposed = Email::parse("jose\u{301}@example.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_str(), decomposed.as_str());
    }

    #[test]
    fn a_mailbox_drops_the_sub_address_and_case() {
        let mailbox = |raw: &str| {
            Email::parse(raw)
                .unwrap()
                .mailbox()
                .matching_key()
                .to_owned()
        };
        assert_eq!(mailbox("Dave+News@Example.com"), "dave@example.com");
        assert_eq!(mailbox("dave@example.com"), "dave@example.com");
        assert_eq!(mailbox("+tag@example.com"), "+tag@example.com");
    }

    #[test]
    fn invisible_and_bidi_control_characters_are_refused() {
        for raw in [
            "da\u{200b}ve@example.com", // zero-width space
            "dave\u{200d}@example.com", // zero-width joiner
            "\u{202e}moc.elpmaxe@evad", // right-to-left override
            "dave\u{2066}@example.com", // left-to-right isolate
            "da\u{ad}ve@example.com",   // soft hyphen
            "\u{feff}dave@example.com", // byte-order mark
            "+44\u{200b}7911123456",
        ] {
            assert_eq!(
                Identifier::parse(raw, None),
                Err(IdentifierError::InvisibleCharacter),
                "{raw:?}"
            );
        }
        // An invitation parses the address alone (outside attack, session 17).
        assert_eq!(
            Email::parse("x\u{200b}@example.com").err(),
            Some(IdentifierError::InvisibleCharacter)
        );
    }

    #[test]
    fn debug_output_is_masked() {
        let email = Identifier::parse("jane@example.com", None).unwrap();
        assert_eq!(format!("{email:?}"), "Email(j***@example.com)");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn email_parsing_never_panics_and_is_idempotent(raw in "\\PC{0,80}") {
                if let Ok(email) = Email::parse(&raw) {
                    prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
                    let reparsed = Email::parse(email.as_str()).unwrap();
                    prop_assert_eq!(reparsed.as_str(), email.as_str());
                    prop_assert_eq!(email.matching_key(), email.matching_key().to_lowercase());
                    prop_assert!(email.as_str().len() <= MAX_ADDRESS);
                    prop_assert_eq!(email.as_str(), email.as_str().trim());
                }
            }

            #[test]
            fn valid_looking_emails_keep_their_local_part(
                local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-zA-Z0-9_-]{1,10}){0,2}",
                // No "--": IDNA reserves it at positions 3-4 for punycode labels.
                domain in "[a-zA-Z]([a-zA-Z0-9]|-[a-zA-Z0-9]){0,8}\\.[a-zA-Z]{2,6}",
            ) {
                let email = Email::parse(&format!(" {local}@{domain} ")).unwrap();
                prop_assert_eq!(email.as_str(), format!("{local}@{}", domain.to_ascii_lowercase()));
            }

            #[test]
            fn phone_parsing_never_panics_and_is_idempotent(raw in "[+0-9 ()-]{0,25}|\\PC{0,30}") {
                if let Ok(phone) = Phone::parse(&raw, Some(Region::parse("US").unwrap())) {
                    prop_assert_eq!(Phone::parse(phone.as_str(), None), Ok(phone.clone()));
                    prop_assert!(phone.as_str().starts_with('+'));
                }
            }

            #[test]
            fn formatting_does_not_change_a_number(spaces in proptest::collection::vec(0usize..4, 10)) {
                let digits = "4155552671";
                let mut typed = String::from("+1");
                for (digit, pad) in digits.chars().zip(spaces) {
                    typed.push_str(&" ".repeat(pad));
                    typed.push(digit);
                }
                let phone = Phone::parse(&typed, None).unwrap();
                prop_assert_eq!(phone.as_str(), "+14155552671");
            }
        }
    }
}
