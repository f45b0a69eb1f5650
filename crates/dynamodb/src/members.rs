//! Memberships and invitations in the directory table, all under `tenant#` partitions
//! (which only the registry functions may write):
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | membership, as its tenant lists it | `tenant#<id>` | `member#<user id>` (+ `member_role`) |
//! | membership, as its member finds it | `tenant#_member#<user id>` | `<tenant id>` |
//! | the tenant's owner count | `tenant#<id>` | `owners` (`owners`: a number) |
//! | invitation, as its tenant holds it | `tenant#<id>` | `invitation#<address hash>` |
//! | invitation, as its address finds it | `tenant#_invited#<address hash>` | `<tenant id>` |
//!
//! A change that takes an owner away decrements the count only while it is above one, in
//! the change's transaction: two removals at once cannot both pass.

use async_trait::async_trait;
use authkit_domain::clock::Timestamp;
use authkit_domain::event::Event;
use authkit_domain::member::{Invitation, MemberChange, MemberRegistry, MemberWritten, Membership};
use authkit_domain::registry::{FirstOwner, Page};
use authkit_domain::secret::SecretHash;
use authkit_domain::store::StoreError;
use authkit_domain::tenant::TenantId;
use authkit_domain::user::UserId;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::item::{key, n, s, to_json, Fields, Item};
use crate::tenants::built;
use crate::{store_error, DynamoStore, TransactionOutcome};

fn member_key(tenant: &TenantId, user: &UserId) -> Item {
    key(format!("tenant#{tenant}"), &format!("member#{user}"))
}

fn member_lookup(tenant: &TenantId, user: &UserId) -> Item {
    key(format!("tenant#_member#{user}"), tenant.as_str())
}

fn owners_key(tenant: &TenantId) -> Item {
    key(format!("tenant#{tenant}"), "owners")
}

fn invitation_key(tenant: &TenantId, hash: &SecretHash) -> Item {
    key(
        format!("tenant#{tenant}"),
        &format!("invitation#{}", hash.to_hex()),
    )
}

fn invitation_lookup(tenant: &TenantId, hash: &SecretHash) -> Item {
    key(
        format!("tenant#_invited#{}", hash.to_hex()),
        tenant.as_str(),
    )
}

fn with_document<T: serde::Serialize>(mut item: Item, document: &T) -> Result<Item, StoreError> {
    item.insert("document".to_owned(), s(to_json(document)?));
    Ok(item)
}

impl DynamoStore {
    /// Deletes `item`, under a condition whose one value (if any) is `:expected`.
    fn delete(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder()
            .table_name(&self.tables.directory)
            .set_key(Some(item));
        if let Some((condition, value)) = condition {
            delete = delete
                .condition_expression(condition)
                .set_expression_attribute_values(
                    value.map(|value| [(":expected".to_owned(), value)].into()),
                );
        }
        Ok(TransactWriteItem::builder()
            .delete(built(delete.build())?)
            .build())
    }

    /// Puts `item` under a condition whose one value (if any) is `:expected`.
    fn put_if(
        &self,
        item: Item,
        (condition, value): Condition,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.directory)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(
                value.map(|value| [(":expected".to_owned(), value)].into()),
            );
        Ok(TransactWriteItem::builder()
            .put(built(put.build())?)
            .build())
    }

    fn count_owners(&self, tenant: &TenantId, by: i64) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.tables.directory)
            .set_key(Some(owners_key(tenant)))
            .expression_attribute_values(":by", n(by));
        update = if by < 0 {
            // Only while another owner stays.
            update
                .update_expression("ADD owners :by")
                .condition_expression("owners > :one")
                .expression_attribute_values(":one", n(1))
        } else {
            update.update_expression("ADD owners :by")
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// A new tenant's first owner, for its creation's transaction: the membership both
    /// ways, the owner count at one, and the membership's event.
    pub(crate) fn first_owner(
        &self,
        owner: &FirstOwner,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let membership = &owner.membership;
        let (tenant, user) = (&membership.tenant, &membership.user);
        let mut member = with_document(member_key(tenant, user), membership)?;
        member.insert("member_role".to_owned(), s(membership.role.as_str()));
        let mut owners = owners_key(tenant);
        owners.insert("owners".to_owned(), n(1));
        Ok(vec![
            self.put(member, Some("attribute_not_exists(pk)"))?,
            self.put(
                with_document(member_lookup(tenant, user), membership)?,
                None,
            )?,
            self.put(owners, Some("attribute_not_exists(pk)"))?,
            self.record_event(&owner.event)?,
        ])
    }

    async fn query_documents<T: serde::de::DeserializeOwned>(
        &self,
        partition: String,
        sort_prefix: Option<&str>,
        start: Option<Item>,
        limit: Option<usize>,
    ) -> Result<(Vec<(Item, T)>, Option<Item>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.directory)
            .expression_attribute_values(":pk", s(partition))
            .set_exclusive_start_key(start)
            .consistent_read(true);
        query = match sort_prefix {
            Some(prefix) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("pk = :pk"),
        };
        if let Some(limit) = limit {
            query = query.limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        }
        let output = query.send().await.map_err(store_error)?;
        let items = output
            .items()
            .iter()
            .map(|item| Ok((item.clone(), Fields(item).json::<T>("document")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let last = output
            .last_evaluated_key()
            .filter(|last| !last.is_empty())
            .cloned();
        Ok((items, last))
    }

    /// Every document of the partition (under the sort key prefix), page after page.
    async fn all_documents<T: serde::de::DeserializeOwned>(
        &self,
        partition: String,
        sort_prefix: Option<&str>,
    ) -> Result<Vec<(Item, T)>, StoreError> {
        let mut start = None;
        let mut all = Vec::new();
        loop {
            let (found, last) = self
                .query_documents::<T>(partition.clone(), sort_prefix, start, None)
                .await?;
            all.extend(found);
            match last {
                Some(last) => start = Some(last),
                None => return Ok(all),
            }
        }
    }

    /// The unexpired invitations of a partition: DynamoDB's TTL deletes expired items
    /// late, so expiry is judged here.
    async fn pending_invitations(
        &self,
        partition: String,
        sort_prefix: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError> {
        Ok(self
            .all_documents::<Invitation>(partition, sort_prefix)
            .await?
            .into_iter()
            .filter(|(item, invitation)| !Fields(item).expired(now) && now < invitation.expires_at)
            .map(|(_, invitation)| invitation)
            .collect())
    }
}

#[async_trait]
impl MemberRegistry for DynamoStore {
    async fn member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Option<Membership>, StoreError> {
        let item = self
            .consistent_item(&self.tables.directory, member_key(tenant, user))
            .await?;
        item.as_ref()
            .map(|item| Fields(item).json("document"))
            .transpose()
    }

    async fn list_members(
        &self,
        tenant: &TenantId,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Page<Membership>, StoreError> {
        let start = after.map(|after| member_key(tenant, after));
        let (found, _) = self
            .query_documents::<Membership>(
                format!("tenant#{tenant}"),
                Some("member#"),
                start,
                Some(limit),
            )
            .await?;
        let mut items: Vec<Membership> = found.into_iter().map(|(_, member)| member).collect();
        let has_more = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, has_more })
    }

    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        Ok(self
            .all_documents::<Membership>(format!("tenant#_member#{user}"), None)
            .await?
            .into_iter()
            .map(|(_, member)| member)
            .collect())
    }

    async fn change_member(&self, change: &MemberChange) -> Result<MemberWritten, StoreError> {
        let mut items = Vec::new();
        let role_condition = match change.expected {
            None => ("attribute_not_exists(pk)", None),
            Some(role) => ("member_role = :expected", Some(s(role.as_str()))),
        };
        // The member item is first: its condition failing means the change is stale.
        match &change.next {
            Some(next) => {
                let mut item = with_document(member_key(&change.tenant, &change.user), next)?;
                item.insert("member_role".to_owned(), s(next.role.as_str()));
                items.push(self.put_if(item, role_condition.clone())?);
                items.push(self.put(
                    with_document(member_lookup(&change.tenant, &change.user), next)?,
                    None,
                )?);
            }
            None => {
                items.push(self.delete(
                    member_key(&change.tenant, &change.user),
                    Some(role_condition.clone()),
                )?);
                items.push(self.delete(member_lookup(&change.tenant, &change.user), None)?);
            }
        }
        let mut owners_index = None;
        if change.loses_owner() {
            owners_index = Some(items.len());
            items.push(self.count_owners(&change.tenant, -1)?);
        } else if change.gains_owner() {
            items.push(self.count_owners(&change.tenant, 1)?);
        }
        if let Some(hash) = &change.accepting {
            let now = change.event.at.0;
            items.push(self.delete(
                invitation_key(&change.tenant, hash),
                Some((
                    "attribute_exists(pk) AND expires_at > :expected",
                    Some(n(now)),
                )),
            )?);
            items.push(self.delete(invitation_lookup(&change.tenant, hash), None)?);
        }
        if let Some(hash) = change
            .cancelling
            .filter(|hash| change.accepting != Some(*hash))
        {
            items.push(self.delete(invitation_key(&change.tenant, &hash), None)?);
            items.push(self.delete(invitation_lookup(&change.tenant, &hash), None)?);
        }
        items.push(self.record_event(&change.event)?);
        Ok(match self.write(items).await? {
            TransactionOutcome::Written => MemberWritten::Done,
            TransactionOutcome::ConditionFailed(failed) => {
                if !failed.contains(&0) && owners_index.is_some_and(|i| failed.contains(&i)) {
                    MemberWritten::LastOwner
                } else {
                    MemberWritten::Stale
                }
            }
        })
    }

    async fn put_invitation(
        &self,
        invitation: &Invitation,
        event: &Event,
    ) -> Result<(), StoreError> {
        let with_expiry = |item: Item| -> Result<Item, StoreError> {
            let mut item = with_document(item, invitation)?;
            item.insert("expires_at".to_owned(), n(invitation.expires_at.0));
            item.insert("ttl".to_owned(), n(invitation.expires_at.0));
            Ok(item)
        };
        let items = vec![
            self.put(
                with_expiry(invitation_key(&invitation.tenant, &invitation.email_hash))?,
                None,
            )?,
            self.put(
                with_expiry(invitation_lookup(
                    &invitation.tenant,
                    &invitation.email_hash,
                ))?,
                None,
            )?,
            self.record_event(event)?,
        ];
        match self.write(items).await? {
            TransactionOutcome::Written => Ok(()),
            TransactionOutcome::ConditionFailed(_) => Err(StoreError::Corrupt(
                "an unconditional invitation write was refused".into(),
            )),
        }
    }

    async fn invitations_for(
        &self,
        email_hash: &SecretHash,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.pending_invitations(
            format!("tenant#_invited#{}", email_hash.to_hex()),
            None,
            now,
        )
        .await
    }

    async fn tenant_invitations(
        &self,
        tenant: &TenantId,
        now: Timestamp,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.pending_invitations(format!("tenant#{tenant}"), Some("invitation#"), now)
            .await
    }

    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        email_hash: &SecretHash,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let items = vec![
            self.delete(
                invitation_key(tenant, email_hash),
                Some(("attribute_exists(pk)", None)),
            )?,
            self.delete(invitation_lookup(tenant, email_hash), None)?,
            self.record_event(event)?,
        ];
        Ok(match self.write(items).await? {
            TransactionOutcome::Written => true,
            TransactionOutcome::ConditionFailed(_) => false,
        })
    }
}

/// A condition expression and the value it names `:expected`, if any.
type Condition = (&'static str, Option<AttributeValue>);
