//! What a tenant (or an operator for it) may change: its name, where magic links may return,
//! which browser origins and server addresses may use its keys, its channels and its policy.
//! Parsed into typed values; a wrong value is refused naming its field by JSON Pointer.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::identifier::Channel;
use crate::tenant::TenantPolicy;

/// A browser origin (`https://app.example.com`, `http://localhost:3000`): a scheme, a host
/// and a port when it is not the scheme's default, exactly as browsers send `Origin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebOrigin(String);

impl WebOrigin {
    /// Accepts an origin, or a URL whose path is `/` (a trailing slash); never a path,
    /// query, fragment or credentials, which an `Origin` header cannot carry.
    pub fn parse(raw: &str) -> Result<WebOrigin, String> {
        let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("an origin is http or https".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("an origin has no credentials".into());
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("an origin has no path, query or fragment".into());
        }
        match url.origin() {
            origin @ url::Origin::Tuple(..) => Ok(WebOrigin(origin.ascii_serialization())),
            url::Origin::Opaque(_) => Err("not a web origin".into()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for WebOrigin {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        WebOrigin::parse(&raw)
    }
}

impl From<WebOrigin> for String {
    fn from(origin: WebOrigin) -> String {
        origin.0
    }
}

/// The deployment-wide origins (`AUTHKIT_CORS_ALLOWED_ORIGINS`): what tenants without a
/// list of their own (created before tenants had lists) allow, as API Gateway's CORS
/// configuration did for every tenant before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentOrigins {
    any: bool,
    listed: Vec<WebOrigin>,
}

impl DeploymentOrigins {
    /// Origins separated by commas or spaces; `*` allows any.
    pub fn parse(raw: &str) -> Result<DeploymentOrigins, String> {
        let mut origins = DeploymentOrigins::default();
        for entry in raw.split(|c: char| c == ',' || c.is_whitespace()) {
            match entry {
                "" => {}
                "*" => origins.any = true,
                origin => origins
                    .listed
                    .push(WebOrigin::parse(origin).map_err(|e| format!("`{origin}`: {e}"))?),
            }
        }
        Ok(origins)
    }

    pub fn allows(&self, origin: &WebOrigin) -> bool {
        self.any || self.listed.contains(origin)
    }
}

/// An IP network in CIDR notation (`203.0.113.0/24`, `2001:db8::/48`); a bare address is
/// the network of that address alone. Host bits are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpNetwork {
    network: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn parse(raw: &str) -> Result<IpNetwork, String> {
        let raw = raw.trim();
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("the prefix length is 0-{width}"))?,
        };
        Ok(IpNetwork {
            network: masked(address, prefix),
            prefix,
        })
    }

    /// Whether `ip` is inside; an IPv4 address seen as IPv6 (`::ffff:203.0.113.7`) is
    /// judged as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }
}

fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl TryFrom<String> for IpNetwork {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        IpNetwork::parse(&raw)
    }
}

impl From<IpNetwork> for String {
    fn from(network: IpNetwork) -> String {
        network.to_string()
    }
}

/// Every channel: what a tenant enables unless it says otherwise.
pub fn all_channels() -> Vec<Channel> {
    vec![Channel::Email, Channel::Sms, Channel::Whatsapp]
}

/// Entries a list setting may hold; a longer list is refused.
pub const MAX_LIST_ENTRIES: usize = 50;

/// A tenant's settings as a whole: what `GET /v1/tenant` shows and a patch changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Shown to people in messages ("Your Acme sign-in code is …").
    pub name: String,
    /// Magic links may only send people back to one of these (exact match).
    pub allowed_redirect_uris: Vec<String>,
    /// Browser origins that may use the publishable key. `None` only for tenants created
    /// before tenants had lists: they keep the deployment-wide list until one is set.
    pub allowed_origins: Option<Vec<WebOrigin>>,
    /// Where secret-key calls may come from; empty allows any address.
    pub ip_allowlist: Vec<IpNetwork>,
    /// Channels sign-ins may use (and the deployment must reach).
    pub enabled_channels: Vec<Channel>,
    pub policy: TenantPolicy,
}

impl TenantSettings {
    /// A new tenant's settings: no browser origin, any server address, every channel.
    pub fn new(name: String, allowed_redirect_uris: Vec<String>, policy: TenantPolicy) -> Self {
        TenantSettings {
            name,
            allowed_redirect_uris,
            allowed_origins: Some(Vec::new()),
            ip_allowlist: Vec::new(),
            enabled_channels: all_channels(),
            policy,
        }
    }

    /// Checks what types alone cannot say; the first problem found, by its pointer.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !is_display_name(&self.name) {
            return Err(InvalidSetting::at(
                "/name",
                "1-100 characters, no control, invisible or text-direction characters",
            ));
        }
        check_length("/allowed_redirect_uris", self.allowed_redirect_uris.len())?;
        for (index, uri) in self.allowed_redirect_uris.iter().enumerate() {
            let pointer = format!("/allowed_redirect_uris/{index}");
            let parsed = url::Url::parse(uri)
                .map_err(|e| InvalidSetting::at(&pointer, format!("not an absolute URL: {e}")))?;
            if parsed.fragment().is_some() || uri.len() > 2_000 {
                return Err(InvalidSetting::at(
                    &pointer,
                    "a redirect URI has no fragment and at most 2000 characters",
                ));
            }
        }
        if let Some(origins) = &self.allowed_origins {
            check_length("/allowed_origins", origins.len())?;
        }
        check_length("/ip_allowlist", self.ip_allowlist.len())?;
        if self.enabled_channels.is_empty() {
            return Err(InvalidSetting::at(
                "/enabled_channels",
                "enable at least one channel",
            ));
        }
        for (index, channel) in self.enabled_channels.iter().enumerate() {
            if self.enabled_channels[..index].contains(channel) {
                return Err(InvalidSetting::at(
                    &format!("/enabled_channels/{index}"),
                    "each channel once",
                ));
            }
        }
        self.policy.validate().map_err(|invalid| {
            InvalidSetting::at(&format!("/policy/{}", invalid.field), invalid.to_string())
        })
    }
}

fn check_length(pointer: &str, len: usize) -> Result<(), InvalidSetting> {
    if len > MAX_LIST_ENTRIES {
        return Err(InvalidSetting::at(
            pointer,
            format!("at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    Ok(())
}

/// A setting that is refused: where (a JSON Pointer into the settings, RFC 6901) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {detail}")]
pub struct InvalidSetting {
    pub pointer: String,
    pub detail: String,
}

impl InvalidSetting {
    pub fn at(pointer: &str, detail: impl Into<String>) -> InvalidSetting {
        InvalidSetting {
            pointer: pointer.to_owned(),
            detail: detail.into(),
        }
    }
}

/// A change to settings as a JSON Merge Patch (RFC 7386): members present replace the
/// current ones (objects merge member by member, so `{"policy": {"code_length": 8}}`
/// changes one field), `null` removes (back to the default) where a default exists.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsPatch(Map<String, Value>);

impl SettingsPatch {
    pub fn parse(document: Value) -> Result<SettingsPatch, InvalidSetting> {
        match document {
            Value::Object(members) => Ok(SettingsPatch(members)),
            _ => Err(InvalidSetting::at("", "a settings patch is a JSON object")),
        }
    }

    /// The settings after the patch, checked whole. A member the settings do not have is
    /// refused by its pointer rather than ignored.
    pub fn apply(&self, current: &TenantSettings) -> Result<TenantSettings, InvalidSetting> {
        let mut document = serde_json::to_value(current)
            .map_err(|e| InvalidSetting::at("", format!("cannot read the settings: {e}")))?;
        refuse_unknown_members(&document, &self.0, "")?;
        merge(&mut document, &Value::Object(self.0.clone()));
        if current.allowed_origins.is_some() && document["allowed_origins"].is_null() {
            return Err(InvalidSetting::at(
                "/allowed_origins",
                "cannot be removed; an empty list refuses every browser origin",
            ));
        }
        let patched: TenantSettings =
            serde_path_to_error::deserialize(document.clone()).map_err(|error| {
                let pointer = json_pointer(error.path());
                InvalidSetting::at(&pointer, error.into_inner().to_string())
            })?;
        patched.validate()?;
        Ok(patched)
    }
}

/// Members of `patch` that `current` (an object with every field present) does not have,
/// at any depth of objects.
fn refuse_unknown_members(
    current: &Value,
    patch: &Map<String, Value>,
    at: &str,
) -> Result<(), InvalidSetting> {
    let Value::Object(known) = current else {
        return Ok(());
    };
    for (name, value) in patch {
        let pointer = format!("{at}/{}", escape(name));
        let Some(existing) = known.get(name) else {
            return Err(InvalidSetting::at(&pointer, "no such setting"));
        };
        if let Value::Object(nested) = value {
            refuse_unknown_members(existing, nested, &pointer)?;
        }
    }
    Ok(())
}

/// RFC 7386's MergePatch.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (name, value) in members {
            if value.is_null() {
                target.remove(name);
            } else {
                merge(target.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Where a deserialisation went wrong, as a JSON Pointer (RFC 6901).
pub fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", escape(key))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A name shown to people in messages (a tenant's, a project's): 1-100 characters once
/// trimmed, none that hides or reorders text (a right-to-left override turns a subject
/// line into something else).
pub fn is_display_name(raw: &str) -> bool {
    let name = raw.trim();
    !name.is_empty()
        && name.chars().count() <= 100
        && !name
            .chars()
            .any(|c| c.is_control() || crate::identifier::is_invisible(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> TenantSettings {
        TenantSettings::new(
            "Acme".into(),
            vec!["https://app.example.com/cb".into()],
            TenantPolicy::default(),
        )
    }

    #[test]
    fn origins_are_what_browsers_send() {
        for (raw, origin) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com/", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://localhost:3000", "http://localhost:3000"),
        ] {
            assert_eq!(WebOrigin::parse(raw).unwrap().as_str(), origin, "{raw}");
        }
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "ftp://app.example.com",
            "https://user@app.example.com",
            "null",
            "*",
        ] {
            assert!(WebOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let v4 = IpNetwork::parse("203.0.113.77/24").unwrap();
        assert_eq!(v4.to_string(), "203.0.113.0/24");
        assert!(v4.contains("203.0.113.1".parse().unwrap()));
        assert!(v4.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!v4.contains("203.0.114.1".parse().unwrap()));
        assert!(!v4.contains("2001:db8::1".parse().unwrap()));
        let single = IpNetwork::parse("198.51.100.7").unwrap();
        assert_eq!(single.to_string(), "198.51.100.7/32");
        assert!(!single.contains("198.51.100.8".parse().unwrap()));
        let v6 = IpNetwork::parse("2001:db8:1::/48").unwrap();
        assert!(v6.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8:2::1".parse().unwrap()));
        assert!(IpNetwork::parse("0.0.0.0/0")
            .unwrap()
            .contains("192.0.2.1".parse().unwrap()));
        for bad in [
            "203.0.113.0/33",
            "2001:db8::/129",
            "example.com",
            "1.2.3.4/x",
        ] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_merges_objects() {
        let patch = SettingsPatch::parse(json!({
            "name": "Acme Shop",
            "policy": {"code_length": 8},
            "allowed_origins": ["https://shop.example.com"]
        }))
        .unwrap();
        let patched = patch.apply(&settings()).unwrap();
        assert_eq!(patched.name, "Acme Shop");
        assert_eq!(patched.policy.code_length.get(), 8);
        assert_eq!(patched.policy.max_attempts, 5, "other policy fields stay");
        assert_eq!(
            patched.allowed_redirect_uris,
            settings().allowed_redirect_uris
        );
        assert_eq!(
            patched.allowed_origins,
            Some(vec![WebOrigin::parse("https://shop.example.com").unwrap()])
        );
    }

    #[test]
    fn a_wrong_setting_is_named_by_its_pointer() {
        let refused = |patch: Value| {
            SettingsPatch::parse(patch)
                .and_then(|patch| patch.apply(&settings()))
                .unwrap_err()
                .pointer
        };
        assert_eq!(
            refused(json!({"policy": {"challenge_ttl_secs": 5}})),
            "/policy/challenge_ttl_secs"
        );
        assert_eq!(
            refused(json!({"policy": {"code_length": 3}})),
            "/policy/code_length"
        );
        assert_eq!(
            refused(json!({"allowed_origins": ["https://ok.example", "nope"]})),
            "/allowed_origins/1"
        );
        assert_eq!(
            refused(json!({"ip_allowlist": ["10.0.0.0/99"]})),
            "/ip_allowlist/0"
        );
        assert_eq!(
            refused(json!({"enabled_channels": []})),
            "/enabled_channels"
        );
        assert_eq!(
            refused(json!({"enabled_channels": ["sms", "pigeon"]})),
            "/enabled_channels/1"
        );
        assert_eq!(refused(json!({"colour": "blue"})), "/colour");
        assert_eq!(refused(json!({"policy": {"colour": 1}})), "/policy/colour");
        assert_eq!(refused(json!({"name": ""})), "/name");
        assert_eq!(
            refused(json!({"allowed_origins": null})),
            "/allowed_origins"
        );
        assert_eq!(
            refused(json!({"allowed_redirect_uris": ["/relative"]})),
            "/allowed_redirect_uris/0"
        );
        assert_eq!(refused(json!([])), "");
    }

    #[test]
    fn null_restores_a_default_where_there_is_one() {
        let mut current = settings();
        current.policy.code_length = crate::secret::CodeLength::new(8).unwrap();
        let patch = SettingsPatch::parse(json!({"policy": {"code_length": null}})).unwrap();
        assert_eq!(patch.apply(&current).unwrap().policy.code_length.get(), 6);
    }

    #[test]
    fn display_names_refuse_what_hides_or_reorders_text() {
        assert!(is_display_name(" Acme Shop "));
        for hostile in ["", "  ", "a\u{202e}b", "a\u{2028}b", "\u{200b}", "a\nb"] {
            assert!(!is_display_name(hostile), "{hostile:?}");
        }
        assert!(!is_display_name(&"x".repeat(101)));
    }
}
