//! Plays Amazon Cognito's part in CUSTOM_AUTH, as its documentation describes it, so the
//! triggers can be proven without an AWS account (no emulator here runs Cognito triggers).
//! It keeps each sign-in's session list and calls Define → Create → (answer) → Verify →
//! Define in Cognito's order, with events shaped like AWS's own samples, and hands out a
//! stand-in token when Define says issueTokens.
//!
//! The triggers run behind [`TriggerRunner`]: in process (the handler functions, events
//! round-tripped through JSON) or as the real Lambda binaries under the Runtime API.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{json, Value};

const DEFINE: &str = include_str!("../../crates/cognito/tests/fixtures/example-cognito-event-userpools-define-auth-challenge.json");
const CREATE: &str = include_str!("../../crates/cognito/tests/fixtures/example-cognito-event-userpools-create-auth-challenge.json");
const VERIFY: &str = include_str!("../../crates/cognito/tests/fixtures/example-cognito-event-userpools-verify-auth-challenge.json");
const PRE_SIGN_UP: &str = include_str!(
    "../../crates/cognito/tests/fixtures/example-cognito-event-userpools-presignup.json"
);

#[async_trait]
pub trait TriggerRunner: Send + Sync {
    async fn define(&self, event: Value) -> Result<Value, Value>;
    async fn create(&self, event: Value) -> Result<Value, Value>;
    async fn verify(&self, event: Value) -> Result<Value, Value>;
    async fn pre_sign_up(&self, event: Value) -> Result<Value, Value>;
}

/// Where a sign-in stands after a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Cognito asks the client to answer; these are the public challenge parameters.
    Challenge(HashMap<String, String>),
    /// Define said issueTokens; Cognito would issue its own tokens here.
    Tokens(String),
    /// Define said failAuthentication (NotAuthorizedException for the client).
    Failed,
    /// A trigger returned an error; Cognito fails the call.
    TriggerFailed(Value),
}

/// One user's sign-in: what Cognito keeps between InitiateAuth and RespondToAuthChallenge.
pub struct Session {
    username: String,
    attributes: HashMap<String, String>,
    user_not_found: bool,
    rounds: Vec<Value>,
    private: Value,
    metadata: Option<String>,
}

impl Session {
    /// The user's attributes as the next trigger will see them (a user may change them
    /// between rounds, e.g. in another tab).
    pub fn attributes_mut(&mut self) -> &mut HashMap<String, String> {
        &mut self.attributes
    }
}

pub struct CognitoDriver<R> {
    pub runner: R,
    /// The `userPoolId` every event carries.
    pub user_pool_id: String,
}

fn template(
    raw: &str,
    pool: &str,
    username: &str,
    attributes: &HashMap<String, String>,
    user_not_found: bool,
) -> Value {
    let mut event: Value = serde_json::from_str(raw).expect("AWS's sample event parses");
    event["userPoolId"] = json!(pool);
    event["userName"] = json!(username);
    event["callerContext"]["clientId"] = json!("authkit-test-client");
    event["request"]["userAttributes"] = json!(attributes);
    event["request"]["userNotFound"] = json!(user_not_found);
    event
}

impl<R: TriggerRunner> CognitoDriver<R> {
    /// Asks PreSignUp, as Cognito does before it creates a user: `trigger_source` is
    /// `PreSignUp_SignUp` for the public SignUp API, `PreSignUp_AdminCreateUser` for
    /// AdminCreateUser. The trigger's response, or its error (Cognito then creates nothing).
    pub async fn pre_sign_up(
        &self,
        trigger_source: &str,
        username: &str,
        attributes: HashMap<String, String>,
    ) -> Result<Value, Value> {
        let mut event = template(
            PRE_SIGN_UP,
            &self.user_pool_id,
            username,
            &attributes,
            false,
        );
        event["triggerSource"] = json!(trigger_source);
        event["response"] =
            json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false});
        self.runner.pre_sign_up(event).await
    }

    /// `InitiateAuth` with `AuthFlow=CUSTOM_AUTH`.
    pub async fn initiate_auth(
        &self,
        username: &str,
        attributes: HashMap<String, String>,
        client_metadata: HashMap<String, String>,
    ) -> (Session, Step) {
        let user_not_found = attributes.is_empty();
        let mut session = Session {
            username: username.to_owned(),
            attributes,
            user_not_found,
            rounds: Vec::new(),
            private: json!({}),
            metadata: None,
        };
        let step = self.next_round(&mut session, &client_metadata).await;
        (session, step)
    }

    /// `RespondToAuthChallenge` with `ChallengeResponses.ANSWER`.
    pub async fn respond(
        &self,
        session: &mut Session,
        answer: &str,
        client_metadata: HashMap<String, String>,
    ) -> Step {
        let mut verify = template(
            VERIFY,
            &self.user_pool_id,
            &session.username,
            &session.attributes,
            session.user_not_found,
        );
        verify["request"]["privateChallengeParameters"] = session.private.clone();
        verify["request"]["challengeAnswer"] = json!(answer);
        verify["request"]["clientMetadata"] = json!(client_metadata);
        verify["response"] = json!({});
        let verified = match self.runner.verify(verify).await {
            Ok(event) => event,
            Err(error) => return Step::TriggerFailed(error),
        };
        let correct = verified["response"]["answerCorrect"]
            .as_bool()
            .unwrap_or(false);
        session.rounds.push(json!({"challengeName": "CUSTOM_CHALLENGE", "challengeResult": correct, "challengeMetadata": session.metadata}));
        self.next_round(session, &client_metadata).await
    }

    async fn next_round(
        &self,
        session: &mut Session,
        client_metadata: &HashMap<String, String>,
    ) -> Step {
        let mut define = template(
            DEFINE,
            &self.user_pool_id,
            &session.username,
            &session.attributes,
            session.user_not_found,
        );
        define["request"]["session"] = json!(session.rounds);
        define["request"]["clientMetadata"] = json!(client_metadata);
        define["response"] = json!({});
        let decided = match self.runner.define(define).await {
            Ok(event) => event,
            Err(error) => return Step::TriggerFailed(error),
        };
        let response = &decided["response"];
        if response["issueTokens"].as_bool() == Some(true) {
            return Step::Tokens(format!("stand-in-cognito-token-for-{}", session.username));
        }
        if response["failAuthentication"].as_bool() == Some(true)
            || response["challengeName"] != "CUSTOM_CHALLENGE"
        {
            return Step::Failed;
        }
        let mut create = template(
            CREATE,
            &self.user_pool_id,
            &session.username,
            &session.attributes,
            session.user_not_found,
        );
        create["request"]["challengeName"] = json!("CUSTOM_CHALLENGE");
        create["request"]["session"] = json!(session.rounds);
        create["request"]["clientMetadata"] = json!(client_metadata);
        create["response"] = json!({});
        let created = match self.runner.create(create).await {
            Ok(event) => event,
            Err(error) => return Step::TriggerFailed(error),
        };
        session.private = created["response"]["privateChallengeParameters"].clone();
        session.metadata = created["response"]["challengeMetadata"]
            .as_str()
            .map(str::to_owned);
        let public: HashMap<String, String> =
            serde_json::from_value(created["response"]["publicChallengeParameters"].clone())
                .unwrap_or_default();
        Step::Challenge(public)
    }

    /// The private parameters of the current round (what Cognito keeps from the client).
    pub fn private_parameters(session: &Session) -> &Value {
        &session.private
    }
}

/// The triggers as functions in this process, with every event round-tripped through JSON
/// so shapes are checked as strictly as the Lambda runtime checks them.
pub struct InProcess {
    pub triggers: std::sync::Arc<authkit_cognito::Triggers>,
    pub max_rounds: u32,
}

fn typed<T: serde::de::DeserializeOwned>(event: Value) -> Result<T, Value> {
    serde_json::from_value(event)
        .map_err(|e| json!({"errorType": "InvalidEvent", "errorMessage": e.to_string()}))
}

fn untyped<T: serde::Serialize>(event: T) -> Value {
    serde_json::to_value(event).expect("events serialise")
}

fn trigger_error(error: authkit_cognito::TriggerError) -> Value {
    json!({"errorType": "TriggerError", "errorMessage": error.to_string()})
}

#[async_trait]
impl TriggerRunner for InProcess {
    async fn define(&self, event: Value) -> Result<Value, Value> {
        Ok(untyped(authkit_cognito::define_auth_challenge(
            self.max_rounds,
            typed(event)?,
        )))
    }

    async fn create(&self, event: Value) -> Result<Value, Value> {
        authkit_cognito::create_auth_challenge(&self.triggers, typed(event)?)
            .await
            .map(untyped)
            .map_err(trigger_error)
    }

    async fn verify(&self, event: Value) -> Result<Value, Value> {
        authkit_cognito::verify_auth_challenge(&self.triggers, typed(event)?)
            .await
            .map(untyped)
            .map_err(trigger_error)
    }

    async fn pre_sign_up(&self, event: Value) -> Result<Value, Value> {
        authkit_cognito::pre_sign_up(typed(event)?)
            .map(untyped)
            .map_err(trigger_error)
    }
}

/// The real trigger binaries under the emulated Runtime API.
pub struct Binaries {
    pub define: crate::lambda_runtime_api::LambdaFunction,
    pub create: crate::lambda_runtime_api::LambdaFunction,
    pub verify: crate::lambda_runtime_api::LambdaFunction,
    pub pre_sign_up: crate::lambda_runtime_api::LambdaFunction,
}

impl Binaries {
    /// Starts every trigger binary with `env`.
    pub async fn start(env: &[(String, String)]) -> Binaries {
        use crate::lambda_runtime_api::{binary_path, LambdaFunction};
        let start = |name: &'static str| async move {
            LambdaFunction::start(&binary_path(name), env).await
        };
        Binaries {
            define: start("authkit-define-auth-challenge").await,
            create: start("authkit-create-auth-challenge").await,
            verify: start("authkit-verify-auth-challenge").await,
            pre_sign_up: start("authkit-pre-sign-up").await,
        }
    }
}

#[async_trait]
impl TriggerRunner for Binaries {
    async fn define(&self, event: Value) -> Result<Value, Value> {
        self.define.invoke(event).await
    }

    async fn create(&self, event: Value) -> Result<Value, Value> {
        self.create.invoke(event).await
    }

    async fn verify(&self, event: Value) -> Result<Value, Value> {
        self.verify.invoke(event).await
    }

    async fn pre_sign_up(&self, event: Value) -> Result<Value, Value> {
        self.pre_sign_up.invoke(event).await
    }
}
