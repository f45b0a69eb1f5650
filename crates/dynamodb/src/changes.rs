//! Changes: each [`Write`] becomes one or two transaction actions with its condition, each
//! event a `Put` in the events table, all sent as one `TransactWriteItems` (the SDK gives
//! it an idempotency token, so a retried request cannot apply it twice). A change of a
//! single action without events is sent as that one conditional write, which costs half.

use async_trait::async_trait;
use authkit_domain::challenge::ChallengeState;
use authkit_domain::event::Event;
use authkit_domain::identifier::IdentifierKind;
use authkit_domain::store::{Applied, Change, ChangeStore, StoreError, Write};
use authkit_domain::tenant::TenantId;
use authkit_domain::user::{User, UserId};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use crate::challenges::{challenge_key, owner_links, to_item as challenge_item};
use crate::counters::SK as COUNTER_SK;
use crate::devices::{device_item, device_key, session_link};
use crate::directory::{
    family_item, family_key, family_link, identifier_key, identity_fields, user_copies, user_item,
    user_key,
};
use crate::events::{event_from_item, event_item, event_key, refusals_key, refusals_ttl};
use crate::item::{key, n, s, Item};
use crate::{condition_held, transaction_outcome, DynamoStore, TransactionOutcome};

/// DynamoDB's limit on actions in one transaction.
const MAX_ACTIONS: usize = 100;

const NOT_EXISTS: &str = "attribute_not_exists(pk)";

fn one(
    action: Result<TransactWriteItem, StoreError>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    Ok(vec![action?])
}

fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(format!("a request could not be built: {e}")))
}

fn put(table: &str, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(
    table: &str,
    key: Item,
    condition: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let delete = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A condition on an item the change does not write.
fn check(
    table: &str,
    key: Item,
    condition: &str,
    value: Option<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let mut check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key))
        .condition_expression(condition);
    if let Some((placeholder, value)) = value {
        check = check.expression_attribute_values(placeholder, value);
    }
    Ok(TransactWriteItem::builder()
        .condition_check(built(check.build())?)
        .build())
}

/// An `UpdateItem` action. `#state`, `#ttl`, `#count`, `#minute`, `#reason` and `#tenant`
/// name attributes whose names DynamoDB reserves (or may).
fn update(
    table: &str,
    key: Item,
    expression: &str,
    condition: Option<&str>,
    values: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let uses = |name: &str| {
        expression.contains(name) || condition.is_some_and(|condition| condition.contains(name))
    };
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .set_condition_expression(condition.map(str::to_owned));
    for (placeholder, name) in [
        ("#state", "state"),
        ("#ttl", "ttl"),
        ("#count", "count"),
        ("#minute", "minute"),
        ("#reason", "reason"),
        ("#tenant", "tenant"),
    ] {
        if uses(placeholder) {
            update = update.expression_attribute_names(placeholder, name);
        }
    }
    for (placeholder, value) in values {
        update = update.expression_attribute_values(placeholder, value);
    }
    Ok(TransactWriteItem::builder()
        .update(built(update.build())?)
        .build())
}

/// Rewrites one copy of a user to `after`'s identifiers and sign-in times, under
/// `condition` (whose `:user` is `user`, with `values` for its other placeholders).
fn identity_update(
    table: &str,
    key: Item,
    after: &User,
    condition: &str,
    user: &UserId,
    values: Vec<(&'static str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreError> {
    let (set, removed) = identity_fields(after);
    let assignments: Vec<String> = set
        .iter()
        .map(|(name, _)| format!("#{name} = :{name}"))
        .collect();
    let mut expression = format!("SET {}", assignments.join(", "));
    if !removed.is_empty() {
        let removals: Vec<String> = removed.iter().map(|name| format!("#{name}")).collect();
        expression.push_str(&format!(" REMOVE {}", removals.join(", ")));
    }
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(expression)
        .condition_expression(condition)
        .expression_attribute_values(":user", s(user.as_str()));
    for name in set
        .iter()
        .map(|(name, _)| *name)
        .chain(removed.iter().copied())
    {
        update = update.expression_attribute_names(format!("#{name}"), name);
    }
    for (name, value) in set {
        update = update.expression_attribute_values(format!(":{name}"), value);
    }
    for (placeholder, value) in values {
        update = update.expression_attribute_values(placeholder, value);
    }
    Ok(TransactWriteItem::builder()
        .update(built(update.build())?)
        .build())
}

impl DynamoStore {
    /// The transaction actions of one write (a user and a device sign-in take two).
    fn actions(&self, write: &Write) -> Result<Vec<TransactWriteItem>, StoreError> {
        let t = &self.tables;
        let pending = || s(ChallengeState::Pending.as_str());
        match write {
            Write::InsertChallenge(challenge) => {
                let mut puts = vec![put(
                    &t.challenges,
                    challenge_item(challenge),
                    Some(NOT_EXISTS),
                )?];
                for link in owner_links(challenge) {
                    puts.push(put(&t.challenges, link, None)?);
                }
                Ok(puts)
            }
            Write::VerifyChallenge {
                tenant,
                id,
                exchange_hash,
                now,
            } => {
                let mut values = vec![
                    (":pending", pending()),
                    (":verified", s(ChallengeState::Verified.as_str())),
                    (":now", n(now.0)),
                ];
                let expression = match exchange_hash {
                    Some(hash) => {
                        values.push((":exchange", s(hash.to_hex())));
                        "SET #state = :verified, exchange_hash = :exchange"
                    }
                    None => "SET #state = :verified",
                };
                one(update(
                    &t.challenges,
                    challenge_key(tenant, id),
                    expression,
                    Some("#state = :pending AND expires_at > :now AND #ttl > :now"),
                    values,
                ))
            }
            Write::ConsumeChallenge { tenant, id, now } => one(update(
                &t.challenges,
                challenge_key(tenant, id),
                "SET #state = :consumed",
                Some("#state = :verified AND expires_at > :now AND #ttl > :now"),
                vec![
                    (":verified", s(ChallengeState::Verified.as_str())),
                    (":consumed", s(ChallengeState::Consumed.as_str())),
                    (":now", n(now.0)),
                ],
            )),
            Write::SupersedeChallenge { tenant, id, now } => one(update(
                &t.challenges,
                challenge_key(tenant, id),
                "SET #state = :superseded",
                Some("#state = :pending AND expires_at > :now AND attempts < max_attempts AND resend_after <= :now AND resends < max_resends AND #ttl > :now"),
                vec![
                    (":pending", pending()),
                    (":superseded", s(ChallengeState::Superseded.as_str())),
                    (":now", n(now.0)),
                ],
            )),
            Write::AllowResend { tenant, id, now } => one(update(
                &t.challenges,
                challenge_key(tenant, id),
                "SET resend_after = :now",
                Some("#state = :pending AND #ttl > :now"),
                vec![(":pending", pending()), (":now", n(now.0))],
            )),
            Write::InsertUser(user) => user_copies(user)
                .into_iter()
                .map(|key| put(&t.directory, user_item(user, key), Some(NOT_EXISTS)))
                .collect(),
            // Every copy of the user; the identifier signed in with must still name them,
            // enabled. The others must exist (an update would create them).
            Write::KeepUser { user, by, at } => {
                let expression = match by.kind() {
                    IdentifierKind::Phone => "SET last_sign_in_at = :at, phone_used_at = :at",
                    IdentifierKind::Email => "SET last_sign_in_at = :at",
                };
                let signed_in_with = identifier_key(&user.tenant, by);
                user_copies(user)
                    .into_iter()
                    .map(|key| {
                        let condition = if key == signed_in_with {
                            "user_id = :user AND attribute_not_exists(disabled_at)"
                        } else {
                            "user_id = :user"
                        };
                        update(
                            &t.directory,
                            key,
                            expression,
                            Some(condition),
                            vec![(":user", s(user.id.as_str())), (":at", n(at.0))],
                        )
                    })
                    .collect()
            }
            Write::ReassignIdentifier { previous, next, at } => {
                let moved = built(
                    Put::builder()
                        .table_name(&t.directory)
                        .set_item(Some(user_item(
                            next,
                            identifier_key(&next.tenant, &next.identifier),
                        )))
                        .condition_expression("user_id = :previous")
                        .expression_attribute_values(":previous", s(previous.id.as_str()))
                        .build(),
                )?;
                let mut actions = vec![
                    TransactWriteItem::builder().put(moved).build(),
                    put(
                        &t.directory,
                        user_item(next, user_key(&next.tenant, &next.id)),
                        Some(NOT_EXISTS),
                    )?,
                ];
                let remaining = previous.after_phone_reassigned(*at);
                for key in user_copies(&remaining) {
                    actions.push(identity_update(
                        &t.directory,
                        key,
                        &remaining,
                        "user_id = :user",
                        &previous.id,
                        Vec::new(),
                    )?);
                }
                Ok(actions)
            }
            Write::KeepUserEnabled { tenant, user } => one(check(
                &t.directory,
                user_key(tenant, user),
                "attribute_exists(pk) AND attribute_not_exists(disabled_at)",
                None,
            )),
            // Both items, each conditional on existing (an update would create it).
            Write::SetUserDisabled { user, disabled_at } => {
                let (expression, mut values) = match disabled_at {
                    Some(at) => ("SET disabled_at = :at", vec![(":at", n(at.0))]),
                    None => ("REMOVE disabled_at", vec![]),
                };
                values.push((":user", s(user.id.as_str())));
                user_copies(user)
                    .into_iter()
                    .map(|key| {
                        update(
                            &t.directory,
                            key,
                            expression,
                            Some("user_id = :user"),
                            values.clone(),
                        )
                    })
                    .collect()
            }
            // New identifiers' items must be free; every other item must still be this
            // enabled user's, and the item by id must still list what was read.
            Write::SetIdentifiers { user, next } => {
                let still = "user_id = :user AND attribute_not_exists(disabled_at)";
                let held = |u: &User| -> Vec<String> {
                    u.identifiers()
                        .iter()
                        .map(|i| i.matching_key().to_owned())
                        .collect()
                };
                let (was, will) = (held(user), held(next));
                let mut actions = Vec::new();
                for identifier in next.identifiers() {
                    let key = identifier_key(&user.tenant, identifier);
                    actions.push(if was.iter().any(|k| k == identifier.matching_key()) {
                        identity_update(&t.directory, key, next, still, &user.id, Vec::new())?
                    } else {
                        put(&t.directory, user_item(next, key), Some(NOT_EXISTS))?
                    });
                }
                for identifier in user.identifiers() {
                    if !will.iter().any(|k| k == identifier.matching_key()) {
                        let dropped = built(
                            Delete::builder()
                                .table_name(&t.directory)
                                .set_key(Some(identifier_key(&user.tenant, identifier)))
                                .condition_expression(still)
                                .expression_attribute_values(":user", s(user.id.as_str()))
                                .build(),
                        )?;
                        actions.push(TransactWriteItem::builder().delete(dropped).build());
                    }
                }
                let (unchanged, mut was_values) = match &user.second_identifier {
                    Some(second) => (
                        " AND identifier = :was AND second_identifier = :was_second",
                        vec![(":was_second", s(second.as_str()))],
                    ),
                    None => (
                        " AND identifier = :was AND attribute_not_exists(second_identifier)",
                        vec![],
                    ),
                };
                was_values.push((":was", s(user.identifier.as_str())));
                actions.push(identity_update(
                    &t.directory,
                    user_key(&user.tenant, &user.id),
                    next,
                    &format!("{still}{unchanged}"),
                    &user.id,
                    was_values,
                )?);
                Ok(actions)
            }
            // The item by id holds the condition; the one by identifier goes with it while
            // it still names the user.
            Write::DeleteUser(user) => user_copies(user)
                .into_iter()
                .enumerate()
                .map(|(index, key)| {
                    let condition = (index == 0).then_some("attribute_exists(pk)");
                    delete(&t.directory, key, condition)
                })
                .collect(),
            // The session, and its link beside the user's devices (how a user's sessions
            // are listed): one more action in the same transaction, no round trip.
            Write::InsertSession(family) => Ok(vec![
                put(&t.directory, family_item(family)?, Some(NOT_EXISTS))?,
                put(&t.devices, family_link(family), None)?,
            ]),
            Write::RotateSession {
                tenant,
                id,
                expected,
                next,
                now,
            } => one(update(
                &t.directory,
                family_key(tenant, id),
                "SET current_hash = :next, generation = generation + :one, rotated_at = :now",
                Some("current_hash = :expected AND attribute_not_exists(revoked_at)"),
                vec![
                    (":expected", s(expected.to_hex())),
                    (":next", s(next.to_hex())),
                    (":one", n(1)),
                    (":now", n(now.0)),
                ],
            )),
            Write::RevokeSession { tenant, id, now } => one(update(
                &t.directory,
                family_key(tenant, id),
                "SET revoked_at = if_not_exists(revoked_at, :now)",
                Some("attribute_exists(pk)"),
                vec![(":now", n(now.0))],
            )),
            Write::InsertDevice(device) => {
                one(put(&t.devices, device_item(device)?, Some(NOT_EXISTS)))
            }
            Write::RevokeDevice {
                tenant,
                user,
                id,
                now,
            } => one(update(
                &t.devices,
                device_key(tenant, user, id),
                "SET revoked_at = :now",
                Some("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
                vec![(":now", n(now.0))],
            )),
            // A revocation is a conditional write on the same device item, so it is ordered
            // before or after this as a whole: it lists the link, or this is refused.
            Write::RecordDeviceSignIn(sign_in) => Ok(vec![
                update(
                    &t.devices,
                    device_key(&sign_in.tenant, &sign_in.user, &sign_in.device),
                    "SET last_seen = :at",
                    Some("attribute_exists(pk) AND attribute_not_exists(revoked_at)"),
                    vec![(":at", n(sign_in.at.0))],
                )?,
                put(&t.devices, session_link(sign_in), None)?,
            ]),
            Write::ResetCounter { key: counter } => one(delete(
                &t.counters,
                key(counter.clone(), COUNTER_SK),
                None,
            )),
            Write::AddRefusals {
                tenant,
                reason,
                minute,
                count,
            } => one(update(
                &t.events,
                refusals_key(tenant, *reason, *minute),
                "ADD #count :count SET #tenant = :tenant, #reason = :reason, #minute = :minute, #ttl = :ttl",
                None,
                vec![
                    (":count", n(*count)),
                    (":tenant", s(tenant.as_str())),
                    (":reason", s(reason.as_str())),
                    (":minute", n(minute.0)),
                    (":ttl", n(refusals_ttl(*minute).0)),
                ],
            )),
        }
    }

    /// Sends one action as the conditional write it is. True when its condition held.
    async fn write_one(&self, action: TransactWriteItem) -> Result<bool, StoreError> {
        if let Some(put) = action.put {
            let written = self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await;
            return condition_held(written);
        }
        if let Some(update) = action.update {
            let written = self
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await;
            return condition_held(written);
        }
        if let Some(delete) = action.delete {
            let written = self
                .client
                .delete_item()
                .table_name(delete.table_name)
                .set_key(Some(delete.key))
                .set_condition_expression(delete.condition_expression)
                .set_expression_attribute_names(delete.expression_attribute_names)
                .set_expression_attribute_values(delete.expression_attribute_values)
                .send()
                .await;
            return condition_held(written);
        }
        Err(StoreError::Corrupt(
            "a condition check cannot be sent on its own".into(),
        ))
    }
}

#[async_trait]
impl ChangeStore for DynamoStore {
    async fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let mut actions = Vec::new();
        // For each action, the write it belongs to (events belong to none).
        let mut writes_of = Vec::new();
        for (index, write) in change.writes.iter().enumerate() {
            for action in self.actions(write)? {
                actions.push(action);
                writes_of.push(Some(index));
            }
        }
        for event in &change.events {
            actions.push(put(&self.tables.events, event_item(event)?, None)?);
            writes_of.push(None);
        }
        if actions.len() > MAX_ACTIONS {
            return Err(StoreError::Corrupt(format!(
                "a change of {} actions is more than one transaction takes",
                actions.len()
            )));
        }
        let single = actions.len() == 1 && actions[0].condition_check.is_none();
        if single {
            let action = actions.pop().expect("one action");
            return Ok(match self.write_one(action).await? {
                true => Applied::Done,
                false => Applied::Refused(vec![0]),
            });
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .client_request_token(crate::request_token())
            .send()
            .await;
        match transaction_outcome(sent)? {
            TransactionOutcome::Written => Ok(Applied::Done),
            TransactionOutcome::ConditionFailed(failed) => {
                let mut refused: Vec<usize> = failed
                    .into_iter()
                    .filter_map(|action| writes_of.get(action).copied().flatten())
                    .collect();
                refused.dedup();
                if refused.is_empty() {
                    return Err(StoreError::Corrupt(
                        "a transaction failed a condition no write has".into(),
                    ));
                }
                Ok(Applied::Refused(refused))
            }
        }
    }

    async fn recorded_event(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Event>, StoreError> {
        let item = self
            .consistent_item(&self.tables.events, event_key(tenant, id))
            .await?;
        item.as_ref().map(event_from_item).transpose()
    }
}
