//! Rate-limit policy: fixed-window limits per scope, evaluated in one pass.
//!
//! The domain says which counters an action touches and judges the counts; a
//! [`crate::store::CounterStore`] increments them atomically. Each counter's key includes
//! its window, so a new window starts from zero without any reset.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::identifier::Identifier;
use crate::secret::Pepper;
use crate::store::CounterKey;
use crate::tenant::TenantId;

/// What a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The client's IP address.
    Ip,
    /// The normalised identifier (hashed in the key: no PII in counters).
    Identifier,
    /// The whole tenant.
    Tenant,
    /// A phone number's calling code (`+44`): caps SMS traffic to one country.
    PhoneCountry,
    /// The calling code and the next three digits (`+44791`): the lever against SMS
    /// pumping, which cycles through numbers of one premium range.
    PhonePrefix,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Identifier => "identifier",
            Scope::Tenant => "tenant",
            Scope::PhoneCountry => "phone_country",
            Scope::PhonePrefix => "phone_prefix",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Resend,
    Verify,
    /// Creating an account in an outside user directory (Cognito sign-up).
    SignUp,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Resend => "resend",
            Action::Verify => "verify",
            Action::SignUp => "sign_up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub scope: Scope,
    pub max: u32,
    pub window_secs: u32,
}

const fn limit(scope: Scope, max: u32, window_secs: u32) -> Limit {
    Limit {
        scope,
        max,
        window_secs,
    }
}

/// Limits per action. A scope that does not apply (a phone prefix for an email address,
/// an IP the caller did not give) is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitPolicy {
    pub start: Vec<Limit>,
    pub resend: Vec<Limit>,
    pub verify: Vec<Limit>,
    pub sign_up: Vec<Limit>,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        const TEN_MINUTES: u32 = 600;
        const HOUR: u32 = 3600;
        RateLimitPolicy {
            start: vec![
                limit(Scope::Ip, 30, TEN_MINUTES),
                limit(Scope::Identifier, 5, TEN_MINUTES),
                limit(Scope::PhonePrefix, 50, HOUR),
                limit(Scope::PhoneCountry, 500, HOUR),
                limit(Scope::Tenant, 20_000, HOUR),
            ],
            resend: vec![
                limit(Scope::Ip, 30, TEN_MINUTES),
                limit(Scope::Identifier, 5, TEN_MINUTES),
                limit(Scope::PhonePrefix, 50, HOUR),
            ],
            verify: vec![
                limit(Scope::Ip, 120, TEN_MINUTES),
                limit(Scope::Identifier, 30, TEN_MINUTES),
            ],
            // Servers call it (a secret key): the IP is the app's server, so the IP limit
            // sits below the tenant's and a leaked key used from one address cannot spend
            // the whole tenant's budget.
            sign_up: vec![
                limit(Scope::Ip, 100, TEN_MINUTES),
                limit(Scope::Tenant, 1_000, HOUR),
            ],
        }
    }
}

/// Who is doing something, as far as rate limits care.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub tenant: &'a TenantId,
    pub ip: Option<&'a str>,
    pub identifier: Option<&'a Identifier>,
}

/// Which scope tripped and when the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub scope: Scope,
    pub retry_after_secs: u64,
}

impl RateLimitPolicy {
    fn limits(&self, action: Action) -> &[Limit] {
        match action {
            Action::Start => &self.start,
            Action::Resend => &self.resend,
            Action::Verify => &self.verify,
            Action::SignUp => &self.sign_up,
        }
    }

    /// The counters `action` by `subject` increments now, one per applicable limit.
    pub fn counters(
        &self,
        action: Action,
        subject: Subject<'_>,
        now: Timestamp,
        pepper: &Pepper,
    ) -> Vec<(Limit, CounterKey)> {
        self.limits(action)
            .iter()
            .filter_map(|limit| {
                let value = scope_value(limit.scope, subject, pepper)?;
                let window = i64::from(limit.window_secs.max(1));
                let window_start = now.0 - now.0.rem_euclid(window);
                let key = CounterKey {
                    key: format!(
                        "{}#rate#{}#{}#{}#{}",
                        subject.tenant,
                        action.as_str(),
                        limit.scope.as_str(),
                        value,
                        window_start
                    ),
                    expires_at: Timestamp(window_start + window),
                };
                Some((*limit, key))
            })
            .collect()
    }

    /// Judges counts (in the order [`Self::counters`] returned them) in one pass. When
    /// several scopes tripped, the one that frees up last is reported, so retrying at
    /// `retry_after` cannot trip another one of them.
    pub fn evaluate(
        counted: &[(Limit, CounterKey)],
        counts: &[u64],
        now: Timestamp,
    ) -> Result<(), RateLimited> {
        counted
            .iter()
            .zip(counts)
            .filter(|((limit, _), &count)| count > u64::from(limit.max))
            .map(|((limit, key), _)| RateLimited {
                scope: limit.scope,
                retry_after_secs: now.secs_until(key.expires_at).max(1),
            })
            .max_by_key(|tripped| tripped.retry_after_secs)
            .map_or(Ok(()), Err)
    }
}

fn scope_value(scope: Scope, subject: Subject<'_>, pepper: &Pepper) -> Option<String> {
    match scope {
        Scope::Ip => subject.ip.map(str::to_owned),
        Scope::Identifier => subject.identifier.map(|id| identifier_digest(id, pepper)),
        Scope::Tenant => Some("all".to_owned()),
        Scope::PhoneCountry => subject
            .identifier
            .and_then(Identifier::phone)
            .map(|phone| format!("+{}", phone.country_code())),
        Scope::PhonePrefix => subject
            .identifier
            .and_then(Identifier::phone)
            .map(|phone| phone.prefix(3)),
    }
}

/// A stable, non-reversible key for an identifier (counters must not hold PII).
pub fn identifier_digest(identifier: &Identifier, pepper: &Pepper) -> String {
    pepper
        .hash("identifier", identifier.as_str().as_bytes())
        .to_hex()[..32]
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;

    fn subject<'a>(tenant: &'a TenantId, identifier: &'a Identifier) -> Subject<'a> {
        Subject {
            tenant,
            ip: Some("203.0.113.9"),
            identifier: Some(identifier),
        }
    }

    #[test]
    fn email_identifiers_skip_phone_scopes() {
        let tenant = TenantId::parse("acme").unwrap();
        let email = Identifier::parse("a@example.com", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let counters = RateLimitPolicy::default().counters(
            Action::Start,
            subject(&tenant, &email),
            Timestamp(1_000),
            &pepper,
        );
        let scopes: Vec<Scope> = counters.iter().map(|(l, _)| l.scope).collect();
        assert_eq!(scopes, vec![Scope::Ip, Scope::Identifier, Scope::Tenant]);
        assert!(
            counters
                .iter()
                .all(|(_, key)| !key.key.contains("example.com")),
            "PII in a counter key"
        );
    }

    #[test]
    fn phone_identifiers_count_by_prefix_and_country() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let counters = RateLimitPolicy::default().counters(
            Action::Start,
            subject(&tenant, &phone),
            Timestamp(1_000),
            &pepper,
        );
        let keys: Vec<&str> = counters.iter().map(|(_, key)| key.key.as_str()).collect();
        assert!(keys.iter().any(|k| k.contains("#phone_prefix#+44791#")));
        assert!(keys.iter().any(|k| k.contains("#phone_country#+44#")));
    }

    #[test]
    fn windows_are_aligned_and_expire_at_their_end() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let counters = RateLimitPolicy::default().counters(
            Action::Start,
            subject(&tenant, &phone),
            Timestamp(1_000),
            &pepper,
        );
        let (_, ip_key) = &counters[0];
        assert_eq!(ip_key.expires_at, Timestamp(1_200));
        assert!(ip_key.key.ends_with("#600"));
    }

    #[test]
    fn evaluation_names_the_scope_that_frees_up_last() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let now = Timestamp(1_000);
        let counters = RateLimitPolicy::default().counters(
            Action::Start,
            subject(&tenant, &phone),
            now,
            &pepper,
        );
        let mut counts: Vec<u64> = vec![1; counters.len()];
        assert_eq!(RateLimitPolicy::evaluate(&counters, &counts, now), Ok(()));
        counts[1] = 6; // identifier: 5 per 10 minutes
        counts[2] = 51; // phone prefix: 50 per hour
        let tripped = RateLimitPolicy::evaluate(&counters, &counts, now).unwrap_err();
        assert_eq!(tripped.scope, Scope::PhonePrefix);
        assert_eq!(tripped.retry_after_secs, 3_600 - 1_000);
    }

    #[test]
    fn the_limit_itself_is_allowed() {
        let tenant = TenantId::parse("acme").unwrap();
        let email = Identifier::parse("a@example.com", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let now = Timestamp(1_000);
        let counters = RateLimitPolicy::default().counters(
            Action::Start,
            subject(&tenant, &email),
            now,
            &pepper,
        );
        let at_limit: Vec<u64> = counters.iter().map(|(l, _)| u64::from(l.max)).collect();
        assert_eq!(RateLimitPolicy::evaluate(&counters, &at_limit, now), Ok(()));
    }
}
