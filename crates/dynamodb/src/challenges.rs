//! Challenges: `pk = <tenant>#<challenge id>`, `sk = challenge`, and the links that find
//! them by owner (below). Reads, the counting of answers and erasure; their state moves
//! are writes of a change (`changes`).

use async_trait::async_trait;
use authkit_domain::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengeOwner, ChallengePurpose, ChallengeState,
    ResponseMode,
};
use authkit_domain::clock::Timestamp;
use authkit_domain::identifier::{Channel, Identifier};
use authkit_domain::pkce::CodeChallenge;
use authkit_domain::secret::{CodeLength, SecretHash};
use authkit_domain::store::{AttemptOutcome, ChallengeStore, StoreError};
use authkit_domain::tenant::TenantId;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::item::{corrupt, key, n, s, Fields, Item};
use crate::{store_error, DynamoStore};

const SK: &str = "challenge";

pub(crate) fn challenge_key(tenant: &TenantId, id: &ChallengeId) -> Item {
    key(format!("{tenant}#{id}"), SK)
}

/// `pk = <tenant>#about#<owner>`, `sk = challenge#<id>`: one link per owner of a
/// challenge, written with it and purged with it, so erasure finds a person's challenges
/// with a Query (decision 120).
fn owner_partition(tenant: &TenantId, owner: &ChallengeOwner) -> String {
    format!("{tenant}#about#{}", owner.as_str())
}

const LINK_PREFIX: &str = "challenge#";

/// The links that find `c` by its owners.
pub(crate) fn owner_links(c: &Challenge) -> Vec<Item> {
    c.owners()
        .iter()
        .map(|owner| {
            let mut link = key(
                owner_partition(&c.tenant, owner),
                &format!("{LINK_PREFIX}{}", c.id),
            );
            link.extend([
                ("id".to_owned(), s(c.id.as_str())),
                ("ttl".to_owned(), n(c.purge_at().0)),
            ]);
            link
        })
        .collect()
}

pub(crate) fn to_item(c: &Challenge) -> Item {
    let mut item = challenge_key(&c.tenant, &c.id);
    item.extend([
        ("tenant".to_owned(), s(c.tenant.as_str())),
        ("id".to_owned(), s(c.id.as_str())),
        ("identifier".to_owned(), s(c.identifier.as_str())),
        ("channel".to_owned(), s(c.channel.as_str())),
        ("kind".to_owned(), s(c.kind.as_str())),
        ("secret_hash".to_owned(), s(c.secret_hash.to_hex())),
        ("state".to_owned(), s(c.state.as_str())),
        ("attempts".to_owned(), n(c.attempts)),
        ("max_attempts".to_owned(), n(c.max_attempts)),
        ("resends".to_owned(), n(c.resends)),
        ("max_resends".to_owned(), n(c.max_resends)),
        ("created_at".to_owned(), n(c.created_at.0)),
        ("expires_at".to_owned(), n(c.expires_at.0)),
        ("resend_after".to_owned(), n(c.resend_after.0)),
        ("ttl".to_owned(), n(c.purge_at().0)),
    ]);
    if let ChallengeKind::Code { length } = c.kind {
        item.insert("code_length".to_owned(), n(length.get()));
    }
    if let Some(uri) = &c.redirect_uri {
        item.insert("redirect_uri".to_owned(), s(uri.as_str()));
    }
    if let Some(hash) = &c.exchange_hash {
        item.insert("exchange_hash".to_owned(), s(hash.to_hex()));
    }
    // No attribute for a sign-in, so items written before purposes existed read as one.
    if let ChallengePurpose::AddContact { account } = &c.purpose {
        item.insert("purpose".to_owned(), s("add_contact"));
        item.insert("purpose_account".to_owned(), s(account.as_str()));
    }
    // Both absent on items written before links could be bound: unbound, fragment.
    if let Some(challenge) = &c.code_challenge {
        item.insert("code_challenge".to_owned(), s(challenge.to_base64()));
    }
    if c.response_mode != ResponseMode::Fragment {
        item.insert("response_mode".to_owned(), s(c.response_mode.as_str()));
    }
    item
}

fn from_item(item: &Item) -> Result<Challenge, StoreError> {
    let f = Fields(item);
    let kind = match f.str("kind")? {
        "code" => ChallengeKind::Code {
            length: CodeLength::new(
                u8::try_from(f.uint("code_length")?).map_err(|_| corrupt("code_length"))?,
            )
            .map_err(|_| corrupt("code_length"))?,
        },
        "magic_link" => ChallengeKind::MagicLink,
        _ => return Err(corrupt("kind")),
    };
    let purpose = match f.opt_str("purpose")? {
        None => ChallengePurpose::SignIn,
        Some("add_contact") => ChallengePurpose::AddContact {
            account: f.str("purpose_account")?.to_owned(),
        },
        Some(_) => return Err(corrupt("purpose")),
    };
    Ok(Challenge {
        id: f.parsed("id", ChallengeId::parse)?,
        tenant: f.parsed("tenant", TenantId::parse)?,
        identifier: f.parsed("identifier", |raw| Identifier::parse(raw, None))?,
        channel: f.parsed("channel", str::parse::<Channel>)?,
        kind,
        secret_hash: f.parsed("secret_hash", SecretHash::from_hex)?,
        state: f.parsed("state", |raw| ChallengeState::parse(raw).ok_or(()))?,
        attempts: f.uint("attempts")?,
        max_attempts: f.uint("max_attempts")?,
        resends: f.uint("resends")?,
        max_resends: f.uint("max_resends")?,
        created_at: f.time("created_at")?,
        expires_at: f.time("expires_at")?,
        resend_after: f.time("resend_after")?,
        redirect_uri: f.opt_str("redirect_uri")?.map(str::to_owned),
        exchange_hash: f
            .opt_str("exchange_hash")?
            .map(SecretHash::from_hex)
            .transpose()
            .map_err(|_| corrupt("exchange_hash"))?,
        purpose,
        code_challenge: f
            .opt_str("code_challenge")?
            .map(CodeChallenge::parse)
            .transpose()
            .map_err(|_| corrupt("code_challenge"))?,
        response_mode: f
            .opt_str("response_mode")?
            .map(|raw| ResponseMode::parse(raw).ok_or_else(|| corrupt("response_mode")))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A live item as a challenge: absent when missing or past its TTL.
fn live(item: Option<&Item>, now: Timestamp) -> Result<Option<Challenge>, StoreError> {
    match item {
        Some(item) if !item.is_empty() && !Fields(item).expired(now) => from_item(item).map(Some),
        _ => Ok(None),
    }
}

fn system_now() -> Timestamp {
    authkit_domain::Clock::now(&authkit_domain::SystemClock)
}

#[async_trait]
impl ChallengeStore for DynamoStore {
    async fn get(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
    ) -> Result<Option<Challenge>, StoreError> {
        let item = self
            .consistent_item(&self.tables.challenges, challenge_key(tenant, id))
            .await?;
        live(item.as_ref(), system_now())
    }

    /// The heart of the attempt limit: one conditional UpdateItem counts the answer only
    /// while the challenge is pending, unexpired and under its limit. N parallel answers
    /// can never count more than `max_attempts`.
    async fn record_attempt(
        &self,
        tenant: &TenantId,
        id: &ChallengeId,
        now: Timestamp,
    ) -> Result<AttemptOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.challenges)
            .set_key(Some(challenge_key(tenant, id)))
            .condition_expression("#state = :pending AND expires_at > :now AND attempts < max_attempts AND #ttl > :now")
            .update_expression("SET attempts = attempts + :one")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":pending", s(ChallengeState::Pending.as_str()))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match live(output.attributes(), now)? {
                Some(challenge) => Ok(AttemptOutcome::Counted(challenge)),
                None => Err(corrupt("attributes")),
            },
            Err(error) => {
                let Some(failed) = error
                    .as_service_error()
                    .filter(|e| e.is_conditional_check_failed_exception())
                else {
                    return Err(store_error(error));
                };
                let current = match failed {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e) => e.item().cloned(),
                    _ => None,
                };
                match live(current.as_ref(), now)? {
                    Some(challenge) => Ok(AttemptOutcome::Refused(challenge)),
                    None => Ok(AttemptOutcome::NotFound),
                }
            }
        }
    }

    async fn erase_owned(
        &self,
        tenant: &TenantId,
        owners: &[ChallengeOwner],
    ) -> Result<(), StoreError> {
        let table = &self.tables.challenges;
        let reads = owners.iter().map(|owner| {
            self.partition_items(table, owner_partition(tenant, owner), Some(LINK_PREFIX))
        });
        let links: Vec<Item> = futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let mut challenges = std::collections::BTreeSet::new();
        let mut link_keys = Vec::new();
        for link in &links {
            let f = Fields(link);
            challenges.insert(f.parsed("id", ChallengeId::parse)?);
            link_keys.push(key(f.str("pk")?.to_owned(), f.str("sk")?));
        }
        let challenges = challenges
            .iter()
            .map(|id| challenge_key(tenant, id))
            .collect();
        // The challenges first: a failure leaves the links that find them for a retry.
        self.delete_items(table, challenges).await?;
        self.delete_items(table, link_keys).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authkit_domain::secret::Pepper;
    use authkit_domain::OsRandomness;

    fn link() -> Challenge {
        let id = ChallengeId::generate(&OsRandomness);
        let at = Timestamp(1_700_000_000);
        Challenge {
            secret_hash: Pepper::generate(&OsRandomness).hash("challenge", b"x"),
            id,
            tenant: TenantId::parse("acme").unwrap(),
            identifier: Identifier::parse("a@example.com", None).unwrap(),
            channel: Channel::Email,
            kind: ChallengeKind::MagicLink,
            state: ChallengeState::Pending,
            attempts: 0,
            max_attempts: 5,
            resends: 0,
            max_resends: 3,
            created_at: at,
            expires_at: at.plus_secs(600),
            resend_after: at.plus_secs(30),
            redirect_uri: Some("https://app.example.com/cb".into()),
            exchange_hash: None,
            purpose: ChallengePurpose::SignIn,
            code_challenge: None,
            response_mode: ResponseMode::Fragment,
        }
    }

    #[test]
    fn an_item_without_a_binding_reads_as_an_unbound_fragment_link() {
        let unbound = link();
        let item = to_item(&unbound);
        assert!(!item.contains_key("code_challenge") && !item.contains_key("response_mode"));
        assert_eq!(from_item(&item).unwrap(), unbound);
    }

    #[test]
    fn a_binding_round_trips_and_a_corrupt_one_is_an_error() {
        let bound = Challenge {
            code_challenge: Some(
                CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap(),
            ),
            response_mode: ResponseMode::Query,
            ..link()
        };
        let mut item = to_item(&bound);
        assert_eq!(from_item(&item).unwrap(), bound);
        item.insert("code_challenge".to_owned(), s("short"));
        assert!(from_item(&item).is_err());
        item.insert(
            "code_challenge".to_owned(),
            s(bound.code_challenge.unwrap().to_base64()),
        );
        item.insert("response_mode".to_owned(), s("form_post"));
        assert!(from_item(&item).is_err());
    }
}
