//! Rate-limit policy: fixed-window limits per scope, judged narrow to wide.
//!
//! The domain says which counters an action touches, in two tiers: the client's own
//! (IP, identifier) and the shared ones (phone prefix, country, tenant). A
//! [`crate::store::CounterStore`] admits a tier only when every counter in it is below its
//! limit, and then counts the request in all of them, else in none; the shared tier is
//! asked only after the client's own admitted. So a refused request spends no budget, and
//! one client flooding one address or number cannot use up what a tenant or a country
//! shares (security review, issue 9). Each counter's key includes its window, so a new
//! window starts from zero without any reset.
//!
//! A limit above [`SHARD_CAPACITY`] requests per window is counted in several counters
//! (shards), each admitting its share of the limit, and a request is counted in one shard
//! drawn at random: one counter item in DynamoDB takes about 1,000 writes a second, and a
//! tenant's or a country's counter would otherwise cap the whole tenant there. The shares
//! add up to the limit exactly, so a sharded limit never admits more than its max; it can
//! refuse a request while another shard still has room, which only happens in the last
//! few percent of the window's budget (docs/performance.md has the numbers).

use serde::{Deserialize, Serialize};

use crate::clock::{Randomness, Timestamp};
use crate::identifier::Identifier;
use crate::secret::Pepper;
use crate::store::{CounterKey, CounterLimit};
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
    /// A trusted device, by its id: device sign-ins with one credential, from anywhere.
    Device,
}

impl Scope {
    /// The client's own scopes are judged (and counted) before the shared ones.
    fn is_shared(self) -> bool {
        matches!(
            self,
            Scope::PhonePrefix | Scope::PhoneCountry | Scope::Tenant
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Identifier => "identifier",
            Scope::Tenant => "tenant",
            Scope::PhoneCountry => "phone_country",
            Scope::PhonePrefix => "phone_prefix",
            Scope::Device => "device",
        }
    }
}

/// What is being limited. A resend sends a message just as a start does, so it is counted
/// as a start, in every scope a start uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Verify,
    /// Creating an account in an outside user directory (Cognito sign-up).
    SignUp,
    /// Signing in with a trusted device's credential.
    Device,
    /// Emailing a member invitation.
    Invite,
}

impl Action {
    /// Whether an identifier locked by consecutive wrong answers is refused: it is for
    /// everything that sends or checks a code, not for creating an account.
    pub fn respects_lockout(self) -> bool {
        !matches!(self, Action::SignUp | Action::Device | Action::Invite)
    }

    fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Verify => "verify",
            Action::SignUp => "sign_up",
            Action::Device => "device",
            Action::Invite => "invite",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub scope: Scope,
    pub max: u32,
    pub window_secs: u32,
}

/// Invitation emails a day to one mailbox, from every tenant together, and from one
/// tenant: bounds of the deployment, not tenant settings, so no tenant (anyone can have
/// one by sign-up) can raise them to mail strangers from the deployment's domain
/// (decision 162).
pub const INVITATIONS_PER_MAILBOX: Limit = limit(Scope::Identifier, 3, 86_400);
pub const INVITATIONS_PER_TENANT: Limit = limit(Scope::Tenant, 50, 86_400);

impl Limit {
    /// This limit's counter for `action` by `subject` now (for a sharded limit, one shard
    /// drawn with `random`); None when its scope does not apply to the subject.
    pub fn counted(
        self,
        action: Action,
        subject: Subject<'_>,
        now: Timestamp,
        pepper: &Pepper,
        random: &dyn Randomness,
    ) -> Option<CountedLimit> {
        let value = scope_value(self.scope, subject, pepper)?;
        let window = i64::from(self.window_secs.max(1));
        let window_start = now.0 - now.0.rem_euclid(window);
        let mut key = format!(
            "{}#rate#{}#{}#{}#{}",
            subject.tenant,
            action.as_str(),
            self.scope.as_str(),
            value,
            window_start
        );
        let shards = shard_count(self.max);
        let max = if shards > 1 {
            let shard = random.below(u64::from(shards)) as u32;
            key.push_str(&format!("#s{shard}"));
            shard_share(self.max, shards, shard)
        } else {
            self.max
        };
        Some(CountedLimit {
            limit: self,
            counter: CounterLimit {
                key: CounterKey {
                    key,
                    expires_at: Timestamp(window_start + window),
                },
                max: u64::from(max),
            },
        })
    }
}

const fn limit(scope: Scope, max: u32, window_secs: u32) -> Limit {
    Limit {
        scope,
        max,
        window_secs,
    }
}

/// Limits per action. A scope that does not apply (a phone prefix for an email address,
/// an IP the caller did not give) is skipped. Starts and resends share `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitPolicy {
    pub start: Vec<Limit>,
    pub verify: Vec<Limit>,
    pub sign_up: Vec<Limit>,
    /// Device sign-ins (`POST /v1/auth/device`), per IP and per device (decision 98).
    pub device: Vec<Limit>,
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
            // A device signs in when its session has lapsed, a few times a day; the
            // per-device limit bounds a stolen credential tried from many addresses.
            device: vec![
                limit(Scope::Ip, 30, TEN_MINUTES),
                limit(Scope::Device, 10, TEN_MINUTES),
            ],
        }
    }
}

/// A limit is split into shards of at most this many requests per window each.
pub const SHARD_CAPACITY: u32 = 500;

/// … into at most this many.
pub const MAX_SHARDS: u32 = 64;

/// How many shards count a limit of `max` per window.
pub fn shard_count(max: u32) -> u32 {
    max.div_ceil(SHARD_CAPACITY).clamp(1, MAX_SHARDS)
}

/// Shard `shard`'s share of `max` out of `shards`: the shares add up to `max` exactly.
pub fn shard_share(max: u32, shards: u32, shard: u32) -> u32 {
    max / shards + u32::from(shard < max % shards)
}

/// Who is doing something, as far as rate limits care.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub tenant: &'a TenantId,
    pub ip: Option<&'a str>,
    pub identifier: Option<&'a Identifier>,
    /// The device id, for device sign-ins.
    pub device: Option<&'a str>,
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
            Action::Verify => &self.verify,
            Action::SignUp => &self.sign_up,
            Action::Device => &self.device,
            // Not the tenant's to set: see `INVITATIONS_PER_MAILBOX`.
            Action::Invite => &[],
        }
    }

    /// The counters `action` by `subject` is judged by now, one per applicable limit (for
    /// a sharded limit, one shard drawn with `random`), as two tiers to ask in order: the
    /// client's own scopes, then the shared ones.
    pub fn tiers(
        &self,
        action: Action,
        subject: Subject<'_>,
        now: Timestamp,
        pepper: &Pepper,
        random: &dyn Randomness,
    ) -> [Vec<CountedLimit>; 2] {
        let (shared, own): (Vec<_>, Vec<_>) = self
            .limits(action)
            .iter()
            .filter_map(|limit| limit.counted(action, subject, now, pepper, random))
            .partition(|counted| counted.limit.scope.is_shared());
        [own, shared]
    }

    /// Why a tier refused: of the counters at their limit, the one that frees up last, so
    /// retrying at `retry_after` cannot trip another one of them.
    pub fn refusal(
        tier: &[CountedLimit],
        at_limit: &[usize],
        now: Timestamp,
    ) -> Option<RateLimited> {
        at_limit
            .iter()
            .filter_map(|&index| tier.get(index))
            .map(|counted| RateLimited {
                scope: counted.limit.scope,
                retry_after_secs: now.secs_until(counted.counter.key.expires_at).max(1),
            })
            .max_by_key(|tripped| tripped.retry_after_secs)
    }
}

/// One limit as it applies to one request: the limit and its counter for this window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedLimit {
    pub limit: Limit,
    pub counter: CounterLimit,
}

fn scope_value(scope: Scope, subject: Subject<'_>, pepper: &Pepper) -> Option<String> {
    match scope {
        Scope::Ip => subject.ip.map(address_group),
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
        Scope::Device => subject.device.map(str::to_owned),
    }
}

/// The unit an IP limit counts: one IPv4 address, or one IPv6 /64 — a single host or home
/// network usually gets a whole /64, so counting single IPv6 addresses would let one client
/// rotate through 2^64 of them.
fn address_group(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// A stable, non-reversible key for an identifier (counters must not hold PII).
pub fn identifier_digest(identifier: &Identifier, pepper: &Pepper) -> String {
    pepper
        .hash("identifier", identifier.matching_key().as_bytes())
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
            device: None,
        }
    }

    fn scopes(tier: &[CountedLimit]) -> Vec<Scope> {
        tier.iter().map(|counted| counted.limit.scope).collect()
    }

    #[test]
    fn email_identifiers_skip_phone_scopes_and_the_clients_own_scopes_come_first() {
        let tenant = TenantId::parse("acme").unwrap();
        let email = Identifier::parse("a@example.com", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let [own, shared] = RateLimitPolicy::default().tiers(
            Action::Start,
            subject(&tenant, &email),
            Timestamp(1_000),
            &pepper,
            &OsRandomness,
        );
        assert_eq!(scopes(&own), vec![Scope::Ip, Scope::Identifier]);
        assert_eq!(scopes(&shared), vec![Scope::Tenant]);
        assert!(
            own.iter().chain(&shared).all(|counted| !counted
                .counter
                .key
                .key
                .contains("example.com")),
            "PII in a counter key"
        );
    }

    #[test]
    fn phone_identifiers_count_by_prefix_and_country_as_shared_scopes() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let [_, shared] = RateLimitPolicy::default().tiers(
            Action::Start,
            subject(&tenant, &phone),
            Timestamp(1_000),
            &pepper,
            &OsRandomness,
        );
        let keys: Vec<&str> = shared
            .iter()
            .map(|counted| counted.counter.key.key.as_str())
            .collect();
        assert!(keys.iter().any(|k| k.contains("#phone_prefix#+44791#")));
        assert!(keys.iter().any(|k| k.contains("#phone_country#+44#")));
        assert_eq!(
            scopes(&shared),
            vec![Scope::PhonePrefix, Scope::PhoneCountry, Scope::Tenant]
        );
    }

    #[test]
    fn windows_are_aligned_and_expire_at_their_end() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let [own, _] = RateLimitPolicy::default().tiers(
            Action::Start,
            subject(&tenant, &phone),
            Timestamp(1_000),
            &pepper,
            &OsRandomness,
        );
        let ip = &own[0].counter;
        assert_eq!(ip.key.expires_at, Timestamp(1_200));
        assert!(ip.key.key.ends_with("#600"));
        assert_eq!(ip.max, 30);
    }

    #[test]
    fn a_refusal_names_the_scope_that_frees_up_last() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = Identifier::parse("+447911123456", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let now = Timestamp(1_000);
        let [_, shared] = RateLimitPolicy::default().tiers(
            Action::Start,
            subject(&tenant, &phone),
            now,
            &pepper,
            &OsRandomness,
        );
        let tripped = RateLimitPolicy::refusal(&shared, &[0, 2], now).unwrap();
        assert_eq!(tripped.scope, Scope::Tenant);
        assert_eq!(tripped.retry_after_secs, 3_600 - 1_000);
        assert_eq!(RateLimitPolicy::refusal(&shared, &[], now), None);
    }

    #[test]
    fn a_large_limit_is_shared_out_to_shards_that_add_up_to_it() {
        assert_eq!(shard_count(50), 1);
        assert_eq!(shard_count(500), 1);
        assert_eq!(shard_count(501), 2);
        assert_eq!(shard_count(20_000), 40);
        assert_eq!(shard_count(36_000_000), MAX_SHARDS);
        for max in [501, 20_000, 20_007, 36_000_000] {
            let shards = shard_count(max);
            let total: u32 = (0..shards).map(|k| shard_share(max, shards, k)).sum();
            assert_eq!(total, max);
        }
        let tenant = TenantId::parse("acme").unwrap();
        let email = Identifier::parse("a@example.com", None).unwrap();
        let pepper = Pepper::generate(&OsRandomness);
        let [own, shared] = RateLimitPolicy::default().tiers(
            Action::Start,
            subject(&tenant, &email),
            Timestamp(1_000),
            &pepper,
            &OsRandomness,
        );
        let unsharded = |c: &CountedLimit| c.counter.key.key.ends_with("#600");
        assert!(own.iter().all(unsharded), "small limits are not sharded");
        let tenant_counter = &shared[0].counter;
        assert!(tenant_counter.key.key.contains("#tenant#all#0#s"));
        assert_eq!(tenant_counter.max, 500);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_group("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_group("2001:db8:1:2::1"),
            address_group("2001:db8:1:2:ffff::9")
        );
        assert_ne!(
            address_group("2001:db8:1:2::1"),
            address_group("2001:db8:1:3::1")
        );
        assert_eq!(address_group("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_group("203.0.113.9"), "203.0.113.9");
    }
}
