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
    let (client, tables) = dynamodb(&config, "create-tables").await?;
    authkit_dynamodb::create_tables(&client, &tables)
        .await
        .map_err(|e| e.to_string())?;
    println!("tables ready");
    Ok(())
}

/// Brings stored items to this release's version (docs/upgrades.md): idempotent, safe
/// while the previous release still serves.
pub async fn migrate(config: Config) -> Result<(), String> {
    let (client, tables) = dynamodb(&config, "migrate").await?;
    let report = authkit_dynamodb::migrate(client, tables)
        .await
        .map_err(|e| format!("migration stopped: {e}"))?;
    println!(
        "tables at version {} (were at {}): {} items written, {} conflicts",
        report.to_version, report.from_version, report.written, report.conflicts
    );
    if report.conflicts > 0 {
        return Err(format!(
            "{} identifier items could not be re-keyed because another user holds the new key; see docs/upgrades.md",
            report.conflicts
        ));
    }
    Ok(())
}

/// The DynamoDB client and table names an operator command works on.
async fn dynamodb(
    config: &Config,
    command: &str,
) -> Result<(aws_sdk_dynamodb::Client, authkit_dynamodb::TableNames), String> {
    if !config.uses_dynamodb() {
        return Err(format!("{command} needs AUTHKIT_STORE=dynamodb"));
    }
    let tables = authkit_dynamodb::TableNames::from_env().map_err(|e| e.to_string())?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(authkit_app::aws_http::https_client())
        .load()
        .await;
    Ok((aws_sdk_dynamodb::Client::new(&sdk), tables))
}
