//! Devices a user has signed in from. Binding a device after a verified sign-in hands the
//! client a device id and secret (stored hashed); a trusted device can later sign in with
//! them when its fingerprint still resembles the one it was bound with.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::secret::{prefixed_id, SecretHash};
use crate::tenant::TenantId;
use crate::user::UserId;

prefixed_id!(
    /// A bound device's id: `dev_` and 128 random bits.
    DeviceId,
    "dev_"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    /// Seen at a verified sign-in; listed for the user, never skips a code.
    Recognised,
    /// The person chose to trust it: it may sign in with its device secret.
    Trusted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub tenant: TenantId,
    pub user_id: UserId,
    pub secret_hash: SecretHash,
    pub name: Option<String>,
    pub fingerprint: Fingerprint,
    pub trust: TrustLevel,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Device {
    pub fn secret_context(id: &DeviceId) -> String {
        format!("device:{id}")
    }

    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// When the credential stops working unless used again: `idle_secs` after its last
    /// use, and never later than `max_age_secs` after it was bound (decision 36).
    pub fn expires_at(&self, idle_secs: u32, max_age_secs: u32) -> Timestamp {
        self.last_seen
            .plus_secs(i64::from(idle_secs))
            .min(self.created_at.plus_secs(i64::from(max_age_secs)))
    }
}

/// What a client reports about itself. Every field is optional: browsers, native apps and
/// privacy settings expose different subsets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    pub user_agent: Option<String>,
    pub platform: Option<String>,
    /// `WIDTHxHEIGHT`, e.g. `1920x1080`.
    pub screen: Option<String>,
    /// IANA name, e.g. `Europe/London`.
    pub timezone: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    pub color_depth: Option<u16>,
    pub hardware_concurrency: Option<u16>,
}

/// Limits on what a client may send, so a fingerprint cannot bloat a stored item.
const MAX_FIELD_LEN: usize = 512;
const MAX_LANGUAGES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fingerprint field `{0}` is too long or has too many entries")]
pub struct InvalidFingerprint(pub &'static str);

/// The weights of each field in [`Fingerprint::similarity`]. They sum to 1. Stable signals
/// that rarely change on one device (timezone, platform, screen) weigh most together;
/// the user agent changes with every browser update, so it is compared by tokens, not whole.
pub const WEIGHTS: [(&str, f64); 7] = [
    ("user_agent", 0.25),
    ("platform", 0.15),
    ("screen", 0.15),
    ("timezone", 0.15),
    ("languages", 0.15),
    ("color_depth", 0.05),
    ("hardware_concurrency", 0.10),
];

/// Scores at or above this count as the same device.
pub const SAME_DEVICE_THRESHOLD: f64 = 0.75;

impl Fingerprint {
    pub fn validate(&self) -> Result<(), InvalidFingerprint> {
        let too_long =
            |value: &Option<String>| value.as_ref().is_some_and(|v| v.len() > MAX_FIELD_LEN);
        let fields = [
            ("user_agent", &self.user_agent),
            ("platform", &self.platform),
            ("screen", &self.screen),
            ("timezone", &self.timezone),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, value)| too_long(value)) {
            return Err(InvalidFingerprint(name));
        }
        if self.languages.len() > MAX_LANGUAGES || self.languages.iter().any(|l| l.len() > 64) {
            return Err(InvalidFingerprint("languages"));
        }
        Ok(())
    }

    /// A weighted similarity in `[0, 1]` of `other` (what a client presents) to `self`
    /// (what the device was bound with). Each field scores 1 when equal and 0 when
    /// different (the user agent and languages score their token overlap instead). A field
    /// the bound fingerprint has and the presented one lacks scores 0: leaving fields out
    /// must not help, or a thief holding the credential sends one guessable field (security
    /// review, decision 98). A field the bound fingerprint lacks does not count, so a
    /// client that now reports more is neither helped nor punished. Nothing bound → 0.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        let scores = [
            bound(&self.user_agent, &other.user_agent).map(|(a, b)| jaccard(tokens(a), tokens(b))),
            bound(&self.platform, &other.platform).map(|(a, b)| exact(a.eq_ignore_ascii_case(b))),
            bound(&self.screen, &other.screen).map(|(a, b)| exact(same_screen(a, b))),
            bound(&self.timezone, &other.timezone).map(|(a, b)| exact(a == b)),
            (!self.languages.is_empty()).then(|| {
                jaccard(
                    self.languages
                        .iter()
                        .map(|l| l.to_ascii_lowercase())
                        .collect(),
                    other
                        .languages
                        .iter()
                        .map(|l| l.to_ascii_lowercase())
                        .collect(),
                )
            }),
            self.color_depth
                .map(|a| exact(other.color_depth == Some(a))),
            self.hardware_concurrency
                .map(|a| exact(other.hardware_concurrency == Some(a))),
        ];
        let (weighted, total_weight) = scores
            .iter()
            .zip(WEIGHTS)
            .filter_map(|(score, (_, weight))| score.map(|s| (s * weight, weight)))
            .fold((0.0, 0.0), |(sum, total), (s, w)| (sum + s, total + w));
        if total_weight == 0.0 {
            0.0
        } else {
            weighted / total_weight
        }
    }

    pub fn is_same_device(&self, other: &Fingerprint) -> bool {
        self.similarity(other) >= SAME_DEVICE_THRESHOLD
    }
}

/// A field the device was bound with, paired with what is presented for it (empty when
/// the client left it out, which matches nothing).
fn bound<'a>(
    bound: &'a Option<String>,
    presented: &'a Option<String>,
) -> Option<(&'a str, &'a str)> {
    Some((bound.as_deref()?, presented.as_deref().unwrap_or_default()))
}

fn exact(equal: bool) -> f64 {
    if equal {
        1.0
    } else {
        0.0
    }
}

/// A phone rotated to landscape reports its screen the other way round.
fn same_screen(a: &str, b: &str) -> bool {
    let flip = |s: &str| s.split_once('x').map(|(w, h)| format!("{h}x{w}"));
    a == b || flip(a).as_deref() == Some(b)
}

fn tokens(user_agent: &str) -> std::collections::BTreeSet<String> {
    user_agent
        .split(|c: char| c.is_whitespace() || "/;(),".contains(c))
        .filter(|t| !t.is_empty())
        // Only the major version counts: "Chrome/126.0.6478.61" and "Chrome/126.0.6478.114"
        // are one browser after a patch update.
        .map(|t| t.split('.').next().unwrap_or(t).to_ascii_lowercase())
        .collect()
}

fn jaccard(a: std::collections::BTreeSet<String>, b: std::collections::BTreeSet<String>) -> f64 {
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laptop() -> Fingerprint {
        Fingerprint {
            user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.61 Safari/537.36".into()),
            platform: Some("MacIntel".into()),
            screen: Some("1512x982".into()),
            timezone: Some("Europe/London".into()),
            languages: vec!["en-GB".into(), "en".into()],
            color_depth: Some(30),
            hardware_concurrency: Some(8),
        }
    }

    fn phone() -> Fingerprint {
        Fingerprint {
            user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1".into()),
            platform: Some("iPhone".into()),
            screen: Some("390x844".into()),
            timezone: Some("America/New_York".into()),
            languages: vec!["en-US".into()],
            color_depth: Some(24),
            hardware_concurrency: Some(4),
        }
    }

    #[test]
    fn weights_sum_to_one() {
        let total: f64 = WEIGHTS.iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn identical_devices_score_one() {
        assert!((laptop().similarity(&laptop()) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_browser_update_and_a_new_language_still_match() {
        let mut updated = laptop();
        updated.user_agent = Some(
            updated
                .user_agent
                .unwrap()
                .replace("126.0.6478.61", "127.0.6533.72"),
        );
        updated.languages.push("fr".into());
        let score = laptop().similarity(&updated);
        assert!(score >= SAME_DEVICE_THRESHOLD, "score {score}");
    }

    #[test]
    fn a_different_device_does_not_match() {
        let score = laptop().similarity(&phone());
        assert!(score < SAME_DEVICE_THRESHOLD, "score {score}");
    }

    #[test]
    fn a_rotated_screen_is_the_same_screen() {
        let mut rotated = phone();
        rotated.screen = Some("844x390".into());
        assert!((phone().similarity(&rotated) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn nothing_in_common_scores_zero() {
        assert_eq!(Fingerprint::default().similarity(&laptop()), 0.0);
    }

    #[test]
    fn fields_the_bound_fingerprint_has_and_the_presented_one_lacks_count_as_mismatches() {
        let one_field = Fingerprint {
            color_depth: laptop().color_depth,
            ..Fingerprint::default()
        };
        let score = laptop().similarity(&one_field);
        assert!(score < SAME_DEVICE_THRESHOLD, "score {score}");
    }

    #[test]
    fn a_client_reporting_more_than_it_was_bound_with_still_matches() {
        let mut bound = laptop();
        bound.hardware_concurrency = None;
        bound.color_depth = None;
        assert!((bound.similarity(&laptop()) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn oversized_fields_are_refused() {
        let mut big = laptop();
        big.user_agent = Some("x".repeat(513));
        assert_eq!(big.validate(), Err(InvalidFingerprint("user_agent")));
        let mut many = laptop();
        many.languages = vec!["en".into(); 17];
        assert_eq!(many.validate(), Err(InvalidFingerprint("languages")));
    }
}
