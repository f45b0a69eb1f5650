//! What the run left in the tables, read straight from the emulator (not through the
//! proxy or AuthKit), in the layout docs/data-model.md describes.

use std::collections::{BTreeMap, HashMap};

use authkit_tests::{emulator_sdk, TestApp};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

type Item = HashMap<String, AttributeValue>;

struct ChallengeRow {
    id: String,
    identifier: String,
    state: String,
}

struct EventRow {
    kind: String,
    challenge_id: Option<String>,
    user_id: Option<String>,
}

pub struct StoreView {
    challenges: Vec<ChallengeRow>,
    /// identifier → user id
    users: HashMap<String, String>,
    /// user id → refresh families (sessions)
    sessions: HashMap<String, u64>,
    events: Vec<EventRow>,
}

/// Events that mark a challenge started (a resend starts a new one), verified, and a
/// session opened.
const STARTED: [&str; 2] = ["challenge_started", "challenge_resent"];
const VERIFIED: [&str; 2] = ["challenge_verified", "magic_link_confirmed"];
const SESSION: [&str; 1] = ["session_opened"];

fn table(app: &TestApp, variable: &str) -> String {
    app.env
        .iter()
        .find(|(name, _)| name == variable)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("{variable} is set for an emulator app"))
}

async fn scan(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|error| panic!("scan {table}: {error:?}"));
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return items,
        }
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|value| value.as_s().ok()).cloned()
}

pub async fn read(app: &TestApp, endpoint: &str) -> StoreView {
    let client = aws_sdk_dynamodb::Client::new(&emulator_sdk(endpoint).await);
    let challenges = scan(&client, &table(app, "AUTHKIT_TABLE_CHALLENGES"))
        .await
        .iter()
        .filter_map(|item| {
            Some(ChallengeRow {
                id: text(item, "id")?,
                identifier: text(item, "identifier")?,
                state: text(item, "state")?,
            })
        })
        .collect();
    let directory = scan(&client, &table(app, "AUTHKIT_TABLE_DIRECTORY")).await;
    let mut users = HashMap::new();
    let mut sessions: HashMap<String, u64> = HashMap::new();
    for item in &directory {
        let pk = text(item, "pk").unwrap_or_default();
        match (text(item, "sk").as_deref(), text(item, "user_id")) {
            (Some("user"), Some(user)) if pk.contains("#identifier#") => {
                if let Some(identifier) = text(item, "identifier") {
                    users.insert(identifier, user);
                }
            }
            (Some("family"), Some(user)) => *sessions.entry(user).or_default() += 1,
            _ => {}
        }
    }
    // The events table is the record every change writes in its own transaction (the
    // outbox the stream consumers read); refusal counts have no `event` and are skipped.
    let events = scan(&client, &table(app, "AUTHKIT_TABLE_EVENTS"))
        .await
        .iter()
        .filter_map(|item| {
            let event: Value = serde_json::from_str(&text(item, "event")?).ok()?;
            Some(EventRow {
                kind: event["kind"].as_str()?.to_owned(),
                challenge_id: event["challenge_id"].as_str().map(str::to_owned),
                user_id: event["user_id"].as_str().map(str::to_owned),
            })
        })
        .collect();
    StoreView {
        challenges,
        users,
        sessions,
        events,
    }
}

impl StoreView {
    fn verified(&self) -> impl Iterator<Item = &ChallengeRow> {
        self.challenges
            .iter()
            .filter(|c| c.state == "verified" || c.state == "consumed")
    }

    pub fn verified_without_session(&self) -> Vec<String> {
        self.verified()
            .filter(|challenge| {
                let user = self.users.get(&challenge.identifier);
                user.and_then(|u| self.sessions.get(u))
                    .copied()
                    .unwrap_or(0)
                    == 0
            })
            .map(|challenge| {
                let why = if self.users.contains_key(&challenge.identifier) {
                    "user exists, no session"
                } else {
                    "no user, no session"
                };
                format!(
                    "{} ({}) {}: {why}",
                    challenge.id, challenge.identifier, challenge.state
                )
            })
            .collect()
    }

    /// Lost or duplicated events, by kind. Events are written in their change's
    /// transaction, so the table is exact at once: nothing to wait for.
    pub fn event_failures(&self) -> Vec<String> {
        let count = |kinds: &[&str], matches: &dyn Fn(&EventRow) -> bool| {
            self.events
                .iter()
                .filter(|e| kinds.contains(&e.kind.as_str()) && matches(e))
                .count() as u64
        };
        let mut problems: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut note = |what: String, example: &str| {
            let entry = problems.entry(what).or_insert((0, example.to_owned()));
            entry.0 += 1;
        };
        for challenge in &self.challenges {
            let of_it = |e: &EventRow| e.challenge_id.as_deref() == Some(challenge.id.as_str());
            match count(&STARTED, &of_it) {
                1 => {}
                0 => note(
                    format!("started event lost ({} challenge)", challenge.state),
                    &challenge.id,
                ),
                _ => note("started event duplicated".to_owned(), &challenge.id),
            }
        }
        for challenge in self.verified() {
            let of_it = |e: &EventRow| e.challenge_id.as_deref() == Some(challenge.id.as_str());
            match count(&VERIFIED, &of_it) {
                1 => {}
                0 => note("verified event lost".to_owned(), &challenge.id),
                _ => note("verified event duplicated".to_owned(), &challenge.id),
            }
        }
        for (user, sessions) in &self.sessions {
            let of_them = |e: &EventRow| e.user_id.as_deref() == Some(user.as_str());
            let events = count(&SESSION, &of_them);
            if events < *sessions {
                note("session event lost".to_owned(), user);
            } else if events > *sessions {
                note("session event duplicated".to_owned(), user);
            }
        }
        problems
            .into_iter()
            .map(|(what, (n, example))| format!("{what}: {n}× (e.g. {example})"))
            .collect()
    }

    pub fn summary(&self) -> String {
        let mut states: BTreeMap<&str, u64> = BTreeMap::new();
        for challenge in &self.challenges {
            *states.entry(challenge.state.as_str()).or_default() += 1;
        }
        format!(
            "in the tables: challenges {states:?}, {} users, {} sessions, {} events",
            self.users.len(),
            self.sessions.values().sum::<u64>(),
            self.events.len()
        )
    }
}
