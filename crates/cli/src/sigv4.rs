//! AWS Signature Version 4 for `execute-api`: what API Gateway's IAM authorization checks.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as sign_request, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;

/// The headers that sign this request (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials). `headers` are the ones the request
/// will carry besides `host`; they are signed too.
pub fn sign(
    credentials: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
    at: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("execute-api")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("cannot sign {url}: {e}"))?;
    let (instructions, _signature) = sign_request(signable, &params)
        .map_err(|e| format!("cannot sign {url}: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from botocore (`SigV4Auth(credentials, "execute-api", "eu-west-1")`
    /// on the same request at 2026-11-25T12:00:00Z): another implementation agreeing is
    /// what proves the signature, since the API checks it only in AWS.
    #[test]
    fn signatures_match_botocores_for_the_same_request() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_608_000);
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", "k-1".to_owned()),
        ];
        for (token, signed, signature) in [
            (
                None,
                "content-type;host;idempotency-key;x-amz-date",
                "558ddf1cc79852bedb0762757121fc473846e631ab243bb9d458e302f58282a5",
            ),
            (
                Some("session-token-example"),
                "content-type;host;idempotency-key;x-amz-date;x-amz-security-token",
                "f6adb4ae393cd7bc532037f63f301bc330c53dc0cefee8fd46a45869fd6068ac",
            ),
        ] {
            let credentials = Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                token.map(str::to_owned),
                None,
                "test",
            );
            let signed_headers = sign(
                &credentials,
                "eu-west-1",
                "POST",
                "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/admin/v1/tenants?limit=5",
                &headers,
                br#"{"id":"acme","name":"Acme"}"#,
                at,
            )
            .unwrap();
            let header = |name: &str| {
                signed_headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(
                header("authorization").as_deref(),
                Some(format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/execute-api/aws4_request, SignedHeaders={signed}, Signature={signature}").as_str())
            );
            assert_eq!(header("x-amz-date").as_deref(), Some("20261125T120000Z"));
            assert_eq!(header("x-amz-security-token").as_deref(), token);
        }
    }
}
