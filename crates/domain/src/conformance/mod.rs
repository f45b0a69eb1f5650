//! The behaviour every store must have, as one suite run against each implementation (the
//! embedded store in this crate's tests, DynamoDB in `authkit-dynamodb`'s). Each check
//! panics with a message naming the broken rule. Checks use fresh ids, so one set of
//! stores (one set of tables) serves the whole suite.

mod challenges;
mod changes;
mod counters;
mod directory;
mod first_owner;
mod fixtures;
mod members;
mod service;
mod tenant_registry;
mod users;

use crate::challenge::{
    Challenge, ChallengeId, ChallengeKind, ChallengePurpose, ChallengeState, ResponseMode,
};
use crate::clock::{Clock, OsRandomness, SystemClock, Timestamp};
use crate::identifier::{Channel, Identifier};
use crate::secret::{CodeLength, Pepper};
use crate::store::{Applied, Change, Stores, Write};
use crate::tenant::TenantId;

pub use challenges::*;
pub use changes::*;
pub use counters::*;
pub use directory::*;
pub use service::*;
pub use users::*;

/// Every check, one after another.
pub async fn check_all(stores: &Stores) {
    challenges_are_inserted_once_and_read_back(stores).await;
    a_bound_magic_link_reads_back_with_its_binding(stores).await;
    attempts_are_counted_only_while_a_challenge_is_live(stores).await;
    a_challenge_is_verified_and_consumed_once(stores).await;
    a_failed_delivery_allows_a_resend_at_once(stores).await;
    a_resend_supersedes_atomically_within_cooldown_and_cap(stores).await;
    a_challenge_keeps_its_purpose_through_a_resend(stores).await;
    challenges_are_erased_by_owner_and_no_others(stores).await;
    failures_are_reserved_up_to_the_cap_released_expire_and_reset(stores).await;
    parallel_reservations_stop_exactly_at_the_cap(stores).await;
    admission_counts_in_every_counter_or_in_none(stores).await;
    parallel_admissions_never_exceed_the_limit(stores).await;
    concurrent_first_sign_ins_create_one_user(stores).await;
    an_address_in_another_case_finds_the_same_user(stores).await;
    devices_are_listed_in_order_record_sign_ins_and_are_revoked_once(stores).await;
    refresh_families_rotate_only_from_the_current_token(stores).await;
    tenants_and_api_keys_are_found_by_id_and_hash(stores).await;
    a_change_is_applied_whole_with_its_events_or_not_at_all(stores).await;
    refusals_add_up_per_tenant_reason_and_minute(stores).await;
    audit_entries_come_back_newest_first_once_each(stores).await;
    tenant_registry::check_all(stores).await;
    members::check_all(stores).await;
    first_owner::check_all(stores).await;
    a_disabled_user_is_kept_from_new_sessions_until_enabled(stores).await;
    a_recycled_phone_number_moves_to_a_new_user_and_the_old_one_stays(stores).await;
    a_recycled_phone_number_leaves_the_other_identifier_to_its_user(stores).await;
    an_identifier_changes_only_to_a_free_one_and_moves_whole(stores).await;
    a_users_sessions_are_listed_and_erased_with_their_devices(stores).await;
    the_audit_log_is_read_by_filter_and_page_and_pseudonymised(stores).await;
    parallel_answers_never_exceed_the_attempt_limit(stores.clone()).await;
    the_right_answer_after_the_limit_is_refused(stores.clone()).await;
    parallel_wrong_answers_are_all_counted_and_the_cap_judges_no_more(stores.clone()).await;
    parallel_first_sign_ins_by_code_share_one_user(stores.clone()).await;
    concurrent_refreshes_of_one_token_rotate_it_once(stores.clone()).await;
}

pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

pub(crate) fn tenant() -> TenantId {
    let mut bytes = [0u8; 6];
    crate::Randomness::fill(&OsRandomness, &mut bytes);
    TenantId::parse(&format!("conformance-{}", hex::encode(bytes))).expect("a valid tenant id")
}

fn challenge(tenant: &TenantId, at: Timestamp) -> Challenge {
    let id = ChallengeId::generate(&OsRandomness);
    let pepper = Pepper::generate(&OsRandomness);
    Challenge {
        secret_hash: pepper.hash(&Challenge::secret_context(&id), b"123456"),
        id,
        tenant: tenant.clone(),
        identifier: Identifier::parse("someone@example.com", None).expect("valid"),
        channel: Channel::Email,
        kind: ChallengeKind::Code {
            length: CodeLength::DEFAULT,
        },
        state: ChallengeState::Pending,
        attempts: 0,
        max_attempts: 3,
        resends: 0,
        max_resends: 1,
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

/// Applies writes without events.
async fn apply(stores: &Stores, writes: Vec<Write>) -> Applied {
    stores
        .changes
        .apply(&Change {
            writes,
            events: Vec::new(),
        })
        .await
        .expect("the store answers")
}

async fn insert(stores: &Stores, challenge: &Challenge) {
    assert_eq!(
        apply(stores, vec![Write::InsertChallenge(challenge.clone())]).await,
        Applied::Done,
        "a new challenge is inserted"
    );
}
