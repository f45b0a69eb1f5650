//! Operator commands that need table credentials rather than the operator API: creating
//! the DynamoDB tables, and reading a tenant policy file. Tenants are created and managed
//! through the operator API (the `authkit` CLI), so a running server sees them.

use authkit_app::Config;
use authkit_domain::tenant::TenantPolicy;

/// A tenant policy from a JSON file; fields left out keep their defaults. `what` names the
/// flag or variable that gave the path, for the error message.
pub fn read_policy(path: &str, what: &str) -> Result<TenantPolicy, String> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{what} `{path}`: {e}"))?;
    let policy: TenantPolicy =
        serde_json::from_str(&raw).map_err(|e| format!("{what} `{path}`: {e}"))?;
    policy
        .validate()
        .map_err(|e| format!("{what} `{path}`: {e}"))?;
    Ok(policy)
}

pub async fn create_tables(config: Config) -> Result<(), String> {
    if !config.uses_dynamodb() {
        return Err("create-tables needs AUTHKIT_STORE=dynamodb".to_owned());
    }
    let tables = authkit_dynamodb::TableNames::from_env().map_err(|e| e.to_string())?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    authkit_dynamodb::create_tables(&client, &tables)
        .await
        .map_err(|e| e.to_string())?;
    println!("tables ready");
    Ok(())
}
