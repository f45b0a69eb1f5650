//! Tokens: ES256 access JWTs any standard library can verify against the published JWKS,
//! and opaque rotating refresh tokens (in `refresh`).

mod es256;
mod refresh;

pub use refresh::{FamilyId, Presented, RefreshFamily, RefreshToken};

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};

use crate::clock::{Randomness, Timestamp};
use crate::device::DeviceId;
use crate::secret::Pepper;
use crate::tenant::TenantId;
use crate::user::UserId;

#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("the key set is not valid JSON of the documented shape")]
    Shape(#[source] serde_json::Error),
    #[error("the key set has no signing key")]
    Empty,
    #[error("signing key `{0}` is not a P-256 private key in PKCS#8 PEM")]
    BadKey(String),
    #[error("the pepper is not base64 of at least 32 bytes")]
    BadPepper,
    #[error("the document has no pepper")]
    NoPepper,
    #[error("the key document holds a different pepper from the pepper secret")]
    PepperMismatch,
    #[error("two signing keys share the kid `{0}`")]
    DuplicateKid(String),
}

/// Key material as JSON. The local key file holds both halves:
/// `{"pepper": "<base64>", "signing_keys": [{"kid": "…", "private_key_pem": "…"}]}`. A
/// deployment keeps them in two secrets — the signing keys alone (read by every function
/// that signs or publishes them) and `{"pepper": "…"}` (read only by functions that hash
/// secrets) — or, as before, both in one. The first signing key signs; all are published,
/// so tokens signed by a previous key keep verifying until that key is dropped.
#[derive(Serialize, Deserialize)]
pub struct KeyMaterialDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pepper: Option<String>,
    #[serde(default)]
    pub signing_keys: Vec<SigningKeyDocument>,
}

#[derive(Serialize, Deserialize)]
pub struct SigningKeyDocument {
    pub kid: String,
    pub private_key_pem: String,
}

impl KeyMaterialDocument {
    fn parse(raw: &str) -> Result<KeyMaterialDocument, KeySetError> {
        serde_json::from_str(raw).map_err(KeySetError::Shape)
    }

    fn pepper(&self) -> Result<Option<Pepper>, KeySetError> {
        self.pepper
            .as_deref()
            .map(|encoded| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| KeySetError::BadPepper)?;
                Pepper::new(bytes).map_err(|_| KeySetError::BadPepper)
            })
            .transpose()
    }

    fn signing(&self) -> Result<KeySet, KeySetError> {
        let keys = self
            .signing_keys
            .iter()
            .map(|doc| SigningKey::from_pem(&doc.kid, &doc.private_key_pem))
            .collect::<Result<Vec<_>, _>>()?;
        KeySet::new(keys)
    }
}

/// Parsed key material: the pepper and the JWT signing keys.
pub struct KeyMaterial {
    pub pepper: Pepper,
    pub signing: KeySet,
}

impl KeyMaterial {
    /// Both halves from one document (the key file, or a secret that holds both).
    pub fn from_json(raw: &str) -> Result<KeyMaterial, KeySetError> {
        let document = KeyMaterialDocument::parse(raw)?;
        Ok(KeyMaterial {
            pepper: document.pepper()?.ok_or(KeySetError::NoPepper)?,
            signing: document.signing()?,
        })
    }

    /// The signing keys from `raw`, with a pepper read elsewhere. A pepper in `raw` too
    /// must be the same one: every stored hash depends on it.
    pub fn with_pepper(raw: &str, pepper: Pepper) -> Result<KeyMaterial, KeySetError> {
        let document = KeyMaterialDocument::parse(raw)?;
        if document
            .pepper()?
            .is_some_and(|inline| inline.expose() != pepper.expose())
        {
            return Err(KeySetError::PepperMismatch);
        }
        Ok(KeyMaterial {
            pepper,
            signing: document.signing()?,
        })
    }

    /// Fresh material: a random pepper and one new signing key.
    pub fn generate(random: &dyn Randomness) -> KeyMaterial {
        KeyMaterial {
            pepper: Pepper::generate(random),
            signing: KeySet {
                keys: vec![SigningKey::generate(random)],
            },
        }
    }

    pub fn to_json(&self) -> String {
        let document = KeyMaterialDocument {
            pepper: Some(base64::engine::general_purpose::STANDARD.encode(self.pepper.expose())),
            signing_keys: self
                .signing
                .keys
                .iter()
                .map(|key| SigningKeyDocument {
                    kid: key.kid.clone(),
                    private_key_pem: key.pem.to_string(),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&document).expect("the key document always serialises")
    }
}

impl Pepper {
    /// The pepper from a document holding it (`{"pepper": "<base64>"}`, or a whole key
    /// document).
    pub fn from_json(raw: &str) -> Result<Pepper, KeySetError> {
        KeyMaterialDocument::parse(raw)?
            .pepper()?
            .ok_or(KeySetError::NoPepper)
    }
}

pub struct SigningKey {
    kid: String,
    pem: zeroize::Zeroizing<String>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: PublicJwk,
}

impl SigningKey {
    pub fn from_pem(kid: &str, pem: &str) -> Result<SigningKey, KeySetError> {
        let bad = || KeySetError::BadKey(kid.to_owned());
        if kid.is_empty() || kid.len() > 64 {
            return Err(bad());
        }
        let secret = p256::SecretKey::from_pkcs8_pem(pem).map_err(|_| bad())?;
        // Re-encoded, so a key whose PKCS#8 omits the public key still signs (ring needs it).
        let pkcs8 = secret.to_pkcs8_der().map_err(|_| bad())?;
        let encoding = es256::encoding_key(pkcs8.as_bytes()).ok_or_else(bad)?;
        let point = secret.public_key().to_encoded_point(false);
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(point.x().ok_or_else(bad)?),
            URL_SAFE_NO_PAD.encode(point.y().ok_or_else(bad)?),
        );
        Ok(SigningKey {
            kid: kid.to_owned(),
            pem: zeroize::Zeroizing::new(pem.to_owned()),
            encoding,
            decoding: DecodingKey::from_ec_components(&x, &y).map_err(|_| bad())?,
            public: PublicJwk {
                kty: "EC",
                crv: "P-256",
                alg: "ES256",
                key_use: "sig",
                kid: kid.to_owned(),
                x,
                y,
            },
        })
    }

    pub fn generate(random: &dyn Randomness) -> SigningKey {
        let secret = loop {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            random.fill(bytes.as_mut());
            // Fails only for zero or values ≥ the curve order: about 2^-128 of draws.
            if let Ok(secret) = p256::SecretKey::from_slice(bytes.as_ref()) {
                break secret;
            }
        };
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key always encodes");
        let mut kid_bytes = [0u8; 8];
        random.fill(&mut kid_bytes);
        SigningKey::from_pem(&hex::encode(kid_bytes), &pem)
            .expect("a freshly generated key is valid")
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, ***)", self.kid)
    }
}

/// A public key as JWKS publishes it (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub kid: String,
    pub x: String,
    pub y: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

/// Signing keys, newest first. Never empty.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>) -> Result<KeySet, KeySetError> {
        if keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.kid == key.kid) {
                return Err(KeySetError::DuplicateKid(key.kid.clone()));
            }
        }
        Ok(KeySet { keys })
    }

    pub fn current(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|key| key.public.clone()).collect(),
        }
    }

    /// The signing keys of a key document; a pepper in it is ignored (and not kept).
    pub fn from_json(raw: &str) -> Result<KeySet, KeySetError> {
        KeyMaterialDocument::parse(raw)?.signing()
    }
}

/// Claims of an access token. `aud` is the tenant, so a token for one app is refused by
/// another app's verifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub aud: TenantId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// When the user last proved who they are (OIDC's `auth_time`): the sign-in that opened
    /// the session, unchanged by refreshes.
    pub auth_time: i64,
    /// How the user proved who they are (RFC 8176 values where they exist: `otp`, `sms`;
    /// AuthKit's own: `magic_link`, `email`, `whatsapp`, `device`; decision 25).
    pub amr: Vec<String>,
    /// RFC 9068 names the client; AuthKit's client is the tenant.
    pub client_id: TenantId,
    /// The session (refresh family) the token was issued in, so a resource server can ask
    /// whether it was revoked (OIDC's `sid`; introspection answers by it).
    pub sid: FamilyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token is invalid")]
pub struct InvalidToken;

/// Seconds of clock skew tolerated between AuthKit and a verifier.
const LEEWAY_SECS: u64 = 30;

pub fn sign_access_token(keys: &KeySet, claims: &AccessClaims) -> String {
    let key = keys.current();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    // RFC 9068 media type for JWT access tokens.
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .expect("ES256 signing with a valid key cannot fail")
}

/// Verifies signature (ES256 only: the algorithm is pinned, never read from the token),
/// issuer, audience, and expiry and not-before against `now` (the injected clock, not the
/// library's own reading of system time).
pub fn verify_access_token(
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &TenantId,
    now: Timestamp,
) -> Result<AccessClaims, InvalidToken> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidToken)?;
    if header.alg != Algorithm::ES256 {
        return Err(InvalidToken);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(InvalidToken)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
        .map(|data| data.claims)
        .map_err(|_| InvalidToken)?;
    let leeway = LEEWAY_SECS as i64;
    if now.0 >= claims.exp.saturating_add(leeway) || now.0 < claims.nbf.saturating_sub(leeway) {
        return Err(InvalidToken);
    }
    Ok(claims)
}

/// Reads the audience without trusting the token, to pick the tenant to verify against.
pub fn unverified_audience(token: &str) -> Option<TenantId> {
    #[derive(Deserialize)]
    struct Audience {
        aud: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let audience: Audience = serde_json::from_slice(&bytes).ok()?;
    TenantId::parse(&audience.aud).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::OsRandomness;

    const NOW: Timestamp = Timestamp(1_000);

    fn claims(keys_issuer: &str) -> AccessClaims {
        let random = OsRandomness;
        AccessClaims {
            iss: keys_issuer.to_owned(),
            sub: UserId::generate(&random),
            aud: TenantId::parse("acme").unwrap(),
            iat: 1_000,
            nbf: 1_000,
            exp: 1_900,
            jti: "j1".into(),
            auth_time: 1_000,
            amr: vec!["otp".into(), "email".into()],
            client_id: TenantId::parse("acme").unwrap(),
            sid: FamilyId::generate(&random),
            device_id: None,
        }
    }

    #[test]
    fn tokens_verify_with_the_published_key_and_nothing_else() {
        let material = KeyMaterial::generate(&OsRandomness);
        let token = sign_access_token(&material.signing, &claims("https://auth.example"));
        let acme = TenantId::parse("acme").unwrap();
        let verified = verify_access_token(
            &material.signing,
            &token,
            "https://auth.example",
            &acme,
            NOW,
        )
        .unwrap();
        assert_eq!(verified.amr, vec!["otp", "email"]);
        assert_eq!(unverified_audience(&token), Some(acme.clone()));
        assert!(verify_access_token(
            &material.signing,
            &token,
            "https://evil.example",
            &acme,
            NOW
        )
        .is_err());
        let other = TenantId::parse("other").unwrap();
        assert!(verify_access_token(
            &material.signing,
            &token,
            "https://auth.example",
            &other,
            NOW
        )
        .is_err());
        let stranger = KeyMaterial::generate(&OsRandomness);
        assert!(verify_access_token(
            &stranger.signing,
            &token,
            "https://auth.example",
            &acme,
            NOW
        )
        .is_err());
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() {
        let material = KeyMaterial::generate(&OsRandomness);
        let token = sign_access_token(&material.signing, &claims("https://auth.example"));
        let acme = TenantId::parse("acme").unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verify_access_token(
            &material.signing,
            &unsigned,
            "https://auth.example",
            &acme,
            NOW
        )
        .is_err());
        let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
        assert!(verify_access_token(
            &material.signing,
            &tampered,
            "https://auth.example",
            &acme,
            NOW
        )
        .is_err());
    }

    #[test]
    fn expiry_and_not_before_are_judged_by_the_given_clock_with_leeway() {
        let material = KeyMaterial::generate(&OsRandomness);
        let token = sign_access_token(&material.signing, &claims("https://auth.example"));
        let acme = TenantId::parse("acme").unwrap();
        let at = |secs| {
            verify_access_token(
                &material.signing,
                &token,
                "https://auth.example",
                &acme,
                Timestamp(secs),
            )
        };
        assert!(at(1_929).is_ok());
        assert!(at(1_930).is_err());
        assert!(at(970).is_ok());
        assert!(at(969).is_err());
    }

    #[test]
    fn key_material_round_trips_through_json() {
        let material = KeyMaterial::generate(&OsRandomness);
        let again = KeyMaterial::from_json(&material.to_json()).unwrap();
        assert_eq!(again.signing.jwks().keys, material.signing.jwks().keys);
        assert_eq!(again.pepper.expose(), material.pepper.expose());
    }

    #[test]
    fn the_pepper_can_live_in_its_own_document() {
        let material = KeyMaterial::generate(&OsRandomness);
        let mut signing_only: serde_json::Value =
            serde_json::from_str(&material.to_json()).unwrap();
        let pepper = signing_only
            .as_object_mut()
            .unwrap()
            .remove("pepper")
            .unwrap();
        let signing_only = signing_only.to_string();
        let pepper_document = serde_json::json!({ "pepper": pepper }).to_string();

        assert!(matches!(
            KeyMaterial::from_json(&signing_only),
            Err(KeySetError::NoPepper)
        ));
        let published = KeySet::from_json(&signing_only).unwrap();
        assert_eq!(published.jwks().keys, material.signing.jwks().keys);
        let joined =
            KeyMaterial::with_pepper(&signing_only, Pepper::from_json(&pepper_document).unwrap())
                .unwrap();
        assert_eq!(joined.pepper.expose(), material.pepper.expose());
        // The old single-secret layout still works, as long as both peppers agree.
        assert!(KeyMaterial::with_pepper(&material.to_json(), joined.pepper).is_ok());
        assert!(matches!(
            KeyMaterial::with_pepper(&material.to_json(), Pepper::generate(&OsRandomness)),
            Err(KeySetError::PepperMismatch)
        ));
    }

    #[test]
    fn a_rotated_key_set_still_verifies_old_tokens() {
        let old = SigningKey::generate(&OsRandomness);
        let old_pem = old.pem.to_string();
        let old_kid = old.kid.clone();
        let before = KeySet::new(vec![old]).unwrap();
        let token = sign_access_token(&before, &claims("https://auth.example"));
        let after = KeySet::new(vec![
            SigningKey::generate(&OsRandomness),
            SigningKey::from_pem(&old_kid, &old_pem).unwrap(),
        ])
        .unwrap();
        assert_eq!(after.jwks().keys.len(), 2);
        let acme = TenantId::parse("acme").unwrap();
        assert!(verify_access_token(&after, &token, "https://auth.example", &acme, NOW).is_ok());
    }

    #[test]
    fn bad_key_documents_are_refused_with_a_reason() {
        assert!(matches!(
            KeyMaterial::from_json("not json"),
            Err(KeySetError::Shape(_))
        ));
        assert!(matches!(
            KeyMaterial::from_json("{}"),
            Err(KeySetError::NoPepper)
        ));
        let no_keys =
            r#"{"pepper":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signing_keys":[]}"#;
        assert!(matches!(
            KeyMaterial::from_json(no_keys),
            Err(KeySetError::Empty)
        ));
        let bad_pem = r#"{"pepper":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signing_keys":[{"kid":"k1","private_key_pem":"nope"}]}"#;
        assert!(matches!(
            KeyMaterial::from_json(bad_pem),
            Err(KeySetError::BadKey(_))
        ));
    }
}
