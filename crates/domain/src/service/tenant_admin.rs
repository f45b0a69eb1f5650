//! The tenant lifecycle as operators drive it, and settings as tenants change them:
//! create (idempotently), list, change under optimistic concurrency, suspend, reactivate,
//! delete. Every change is audited with who made it.

use sha2::{Digest, Sha256};

use super::{AuthKit, CreatedTenant, NewTenant};
use crate::error::AuthError;
use crate::event::{Event, EventKind, Outcome};
use crate::registry::{
    FirstOwner, IdempotencyRecord, IdempotencyScope, Page, TenantCreation, Written,
    IDEMPOTENCY_WINDOW_SECS,
};
use crate::tenant::{
    ApiKey, ApiKeyEntry, ApiKeyId, KeyKind, SettingsPatch, Tenant, TenantId, TenantSettings,
    TenantStatus,
};

/// How long a deleted tenant's records are kept before DynamoDB's TTL removes them.
pub const TENANT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// Who made a change, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator: the IAM principal's ARN in AWS, `local` on the local server.
    Operator(String),
    /// The tenant, with one of its secret keys (None: a key from before keys had ids).
    SecretKey(Option<ApiKeyId>),
    /// A tenant member, by their console user id.
    Member(crate::user::UserId),
    /// The deployment itself (the local server's demo tenant, tests).
    System,
}

impl Actor {
    pub(super) fn describe(&self) -> String {
        match self {
            Actor::Operator(identity) => format!("operator:{identity}"),
            Actor::SecretKey(Some(id)) => format!("api_key:{id}"),
            Actor::SecretKey(None) => "api_key:legacy".to_owned(),
            Actor::Member(user) => format!("member:{user}"),
            Actor::System => "system".to_owned(),
        }
    }
}

/// A client's `Idempotency-Key`: 1-255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<IdempotencyKey, AuthError> {
        let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(IdempotencyKey(raw.to_owned()))
        } else {
            Err(AuthError::InvalidIdempotencyKey)
        }
    }

    /// A key the service implies when the client sent none (only its digest is kept).
    pub(super) fn implied(text: String) -> IdempotencyKey {
        IdempotencyKey(text)
    }
}

/// A page of a listing: at most `limit` (1-100, default 10) after the item `starting_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub starting_after: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 10;
    pub const MAX_LIMIT: usize = 100;

    pub fn parse(
        limit: Option<usize>,
        starting_after: Option<String>,
    ) -> Result<PageRequest, AuthError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(AuthError::InvalidRequest("limit is 1-100"));
        }
        Ok(PageRequest {
            limit,
            starting_after,
        })
    }
}

/// What a creating request should do, after looking up its idempotency key.
pub(super) enum Creating {
    /// The same request was made before: answer from its record.
    Replay(IdempotencyRecord),
    /// Create, with keys derived from `seed`; `record` (when the request had a key) is
    /// written in the same step.
    Fresh {
        seed: [u8; 32],
        record: Option<IdempotencyRecord>,
    },
}

impl AuthKit {
    /// Creates a tenant with one publishable and one secret key, for the local server and
    /// tests (no idempotency key: the id is fixed, a second call is refused).
    pub async fn create_tenant(&self, new: NewTenant) -> Result<CreatedTenant, AuthError> {
        let settings = TenantSettings::new(new.name, new.allowed_redirect_uris, new.policy);
        self.create_tenant_as(&Actor::System, new.id, settings, None)
            .await
    }

    /// Creates a tenant with its first keys. With an idempotency key, a retry of the same
    /// request gets the same tenant and the same keys, never new ones.
    pub async fn create_tenant_as(
        &self,
        actor: &Actor,
        id: TenantId,
        settings: TenantSettings,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreatedTenant, AuthError> {
        settings.validate().map_err(AuthError::InvalidSetting)?;
        let fingerprint = fingerprint(&[
            "create_tenant",
            id.as_str(),
            &serde_json::to_string(&settings).unwrap_or_default(),
        ]);
        let scope = IdempotencyScope::Operator;
        for _ in 0..2 {
            let (seed, record) = match self.creating(&scope, idempotency, &fingerprint).await? {
                Creating::Replay(record) => return self.replay_tenant(&record).await,
                Creating::Fresh { seed, record } => (seed, record),
            };
            let tenant = Tenant::new(id.clone(), settings.clone(), self.now());
            match self
                .write_tenant(actor, tenant, &seed, record, None)
                .await?
            {
                Ok(created) => return Ok(created),
                Err(Written::Conflict) => return Err(AuthError::TenantExists),
                // A concurrent retry won: answer as it did.
                Err(_) => continue,
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    /// Writes `tenant` with two keys derived from `seed`, the request's idempotency record
    /// (completed with what it created) and, for sign-up, its first owner, in one step. The
    /// store's refusal comes back as Err, with nothing written.
    pub(super) async fn write_tenant(
        &self,
        actor: &Actor,
        tenant: Tenant,
        seed: &[u8; 32],
        record: Option<IdempotencyRecord>,
        owner: Option<FirstOwner>,
    ) -> Result<Result<CreatedTenant, Written>, AuthError> {
        let now = self.now();
        let pepper = self.keys.current().pepper.clone();
        let keys = [KeyKind::Publishable, KeyKind::Secret]
            .into_iter()
            .enumerate()
            .map(|(index, kind)| ApiKey::derive(kind, &pepper, seed, index as u8))
            .collect::<Vec<_>>();
        let entries: Vec<ApiKeyEntry> = keys
            .iter()
            .map(|key| {
                let id = ApiKeyId::generate_at(now, self.random.as_ref());
                ApiKeyEntry::new(id, key, tenant.id.clone(), &pepper, now)
            })
            .collect();
        let record = record.map(|record| IdempotencyRecord {
            created: std::iter::once(tenant.id.to_string())
                .chain(entries.iter().map(|entry| entry.id.to_string()))
                .collect(),
            ..record
        });
        let event = self.admin_event(&tenant.id, EventKind::TenantCreated, actor.describe());
        let creation = TenantCreation {
            tenant,
            keys: entries,
            idempotency: record,
            event,
            owner,
        };
        match self.stores.registry.create_tenant(&creation).await? {
            Written::Done => {}
            refused => return Ok(Err(refused)),
        }
        let mut keys = keys.into_iter();
        let (Some(publishable_key), Some(secret_key)) = (keys.next(), keys.next()) else {
            unreachable!("two keys were made")
        };
        Ok(Ok(CreatedTenant {
            tenant: creation.tenant,
            publishable_key,
            secret_key,
            keys: creation.keys,
        }))
    }

    /// A tenant as an operator sees it: any status but deleted.
    pub async fn managed_tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        self.stored_tenant(id).await
    }

    /// Tenants that are not deleted, by id.
    pub async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, AuthError> {
        let after = match &page.starting_after {
            None => None,
            Some(raw) => Some(
                TenantId::parse(raw)
                    .map_err(|_| AuthError::InvalidRequest("starting_after is a tenant id"))?,
            ),
        };
        Ok(self
            .stores
            .registry
            .list_tenants(after.as_ref(), page.limit)
            .await?)
    }

    /// Applies a settings patch. With `expected_revision` (the request's `If-Match`) the
    /// change applies only to that revision, else 412; without it, a concurrent change is
    /// re-read and the patch applied again.
    pub async fn update_tenant_settings(
        &self,
        actor: &Actor,
        id: &TenantId,
        patch: &SettingsPatch,
        expected_revision: Option<u64>,
    ) -> Result<Tenant, AuthError> {
        self.change_tenant(
            actor,
            id,
            expected_revision,
            EventKind::TenantUpdated,
            |tenant| {
                let settings = patch
                    .apply(&tenant.settings())
                    .map_err(AuthError::InvalidSetting)?;
                if !matches!(actor, Actor::Operator(_)) {
                    if let Some(setting) = tenant.beyond_self_service(&settings) {
                        return Err(AuthError::OperatorReviewRequired(setting));
                    }
                }
                tenant.set_settings(settings);
                Ok(())
            },
        )
        .await
    }

    /// Suspends a tenant: its sign-ins, refreshes and tenant-API calls are refused.
    pub async fn suspend_tenant(&self, actor: &Actor, id: &TenantId) -> Result<Tenant, AuthError> {
        self.change_status(
            actor,
            id,
            TenantStatus::Suspended,
            EventKind::TenantSuspended,
        )
        .await
    }

    pub async fn reactivate_tenant(
        &self,
        actor: &Actor,
        id: &TenantId,
    ) -> Result<Tenant, AuthError> {
        self.change_status(
            actor,
            id,
            TenantStatus::Active,
            EventKind::TenantReactivated,
        )
        .await
    }

    /// Deletes a tenant: at once nothing can use it, and its id is never given out again;
    /// its tenant and key records go after [`TENANT_RETENTION_SECS`].
    pub async fn delete_tenant(&self, actor: &Actor, id: &TenantId) -> Result<Tenant, AuthError> {
        for _ in 0..3 {
            let current = self.stored_tenant(id.as_str()).await?;
            let now = self.now();
            let purge_at = now.plus_secs(TENANT_RETENTION_SECS);
            let deleted = Tenant {
                status: TenantStatus::Deleted,
                purge_at: Some(purge_at),
                ..current.next_revision(now)
            };
            let event = self.admin_event(id, EventKind::TenantDeleted, actor.describe());
            if self.stores.registry.delete_tenant(&deleted, &event).await? {
                self.tenants.forget(id);
                // Key records would outlive the tenant record otherwise; they are inert
                // already (their tenant is deleted), so a failure here only leaves them longer.
                self.stores
                    .registry
                    .purge_api_keys_at(&deleted.id, purge_at)
                    .await?;
                return Ok(deleted);
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    async fn change_status(
        &self,
        actor: &Actor,
        id: &TenantId,
        status: TenantStatus,
        kind: EventKind,
    ) -> Result<Tenant, AuthError> {
        self.change_tenant(actor, id, None, kind, |tenant| {
            tenant.status = status;
            Ok(())
        })
        .await
    }

    /// Reads the tenant, changes it and writes it back only over the revision it read.
    async fn change_tenant(
        &self,
        actor: &Actor,
        id: &TenantId,
        expected_revision: Option<u64>,
        kind: EventKind,
        change: impl Fn(&mut Tenant) -> Result<(), AuthError>,
    ) -> Result<Tenant, AuthError> {
        for _ in 0..3 {
            let current = self.stored_tenant(id.as_str()).await?;
            let mut next = current.next_revision(self.now());
            // A wrong change is refused as such, whatever its precondition.
            change(&mut next)?;
            if expected_revision.is_some_and(|expected| expected != current.revision) {
                return Err(AuthError::PreconditionFailed);
            }
            if next.settings() == current.settings() && next.status == current.status {
                return Ok(current);
            }
            let event = self.admin_event(id, kind, actor.describe());
            if self.stores.registry.update_tenant(&next, &event).await? {
                self.tenants.forget(id);
                return Ok(next);
            }
            if expected_revision.is_some() {
                return Err(AuthError::PreconditionFailed);
            }
        }
        Err(AuthError::ConcurrentUpdate)
    }

    /// Answers a retried tenant creation from its record: the tenant as it is now, and
    /// the keys it created, derived again from the record's seed.
    pub(super) async fn replay_tenant(
        &self,
        record: &IdempotencyRecord,
    ) -> Result<CreatedTenant, AuthError> {
        let [tenant_id, publishable_id, secret_id] = record.created.as_slice() else {
            return Err(AuthError::IdempotencyKeyReused);
        };
        let tenant = self.stored_tenant(tenant_id).await?;
        let seed = hex::decode(&record.seed).map_err(|_| AuthError::IdempotencyKeyReused)?;
        let pepper = self.keys.current().pepper.clone();
        let publishable_key = ApiKey::derive(KeyKind::Publishable, &pepper, &seed, 0);
        let secret_key = ApiKey::derive(KeyKind::Secret, &pepper, &seed, 1);
        let mut keys = Vec::new();
        for id in [publishable_id, secret_id] {
            keys.push(self.api_key(&tenant.id, id).await?);
        }
        Ok(CreatedTenant {
            tenant,
            publishable_key,
            secret_key,
            keys,
        })
    }

    /// Looks up a creating request's idempotency key: a replay of the same request, a
    /// refusal if the key was used for another, or a fresh creation (with the record to
    /// write, when there is a key).
    pub(super) async fn creating(
        &self,
        scope: &IdempotencyScope,
        idempotency: Option<&IdempotencyKey>,
        fingerprint: &str,
    ) -> Result<Creating, AuthError> {
        let mut seed = [0u8; 32];
        self.random.fill(&mut seed);
        let Some(IdempotencyKey(key)) = idempotency else {
            return Ok(Creating::Fresh { seed, record: None });
        };
        let digest = IdempotencyRecord::digest(key);
        let now = self.now();
        if let Some(record) = self
            .stores
            .registry
            .find_idempotency(scope, &digest, now)
            .await?
        {
            if record.fingerprint != fingerprint {
                return Err(AuthError::IdempotencyKeyReused);
            }
            return Ok(Creating::Replay(record));
        }
        let record = IdempotencyRecord {
            scope: scope.clone(),
            key_digest: digest,
            fingerprint: fingerprint.to_owned(),
            seed: hex::encode(seed),
            created: Vec::new(),
            created_at: now,
            expires_at: now.plus_secs(IDEMPOTENCY_WINDOW_SECS),
        };
        Ok(Creating::Fresh {
            seed,
            record: Some(record),
        })
    }

    /// The event of an administrative change, `detail` naming who made it (and what):
    /// the store records it in the same step as the change.
    pub(super) fn admin_event(&self, tenant: &TenantId, kind: EventKind, detail: String) -> Event {
        let mut event = Event::new(
            tenant,
            kind,
            Outcome::Success,
            self.now(),
            self.random.as_ref(),
        );
        event.detail = Some(detail);
        event
    }
}

/// SHA-256 over the parts of a request, hex: what an idempotency key was used for.
pub(super) fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}
