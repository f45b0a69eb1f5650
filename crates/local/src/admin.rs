//! Operator commands until tenant management has an API: create a tenant with its keys,
//! create the DynamoDB tables.

use authkit_app::{App, Config};
use authkit_domain::service::NewTenant;
use authkit_domain::tenant::{TenantId, TenantPolicy};

pub async fn create_tenant(config: Config, args: &[String]) -> Result<(), String> {
    let mut id = None;
    let mut name = None;
    let mut redirects = Vec::new();
    let mut policy = TenantPolicy::default();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--id" => id = Some(TenantId::parse(value).map_err(|e| format!("--id: {e}"))?),
            "--name" => name = Some(value.clone()),
            "--redirect-uri" => {
                let uri =
                    url::Url::parse(value).map_err(|e| format!("--redirect-uri `{value}`: {e}"))?;
                redirects.push(uri.to_string());
            }
            "--policy" => policy = read_policy(value, "--policy")?,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    let new = NewTenant {
        id: id.ok_or("--id is required")?,
        name: name.ok_or("--name is required")?,
        allowed_redirect_uris: redirects,
        policy,
    };
    // Creating a tenant issues no token and sends no link, so the URLs are never seen; the
    // service still needs them, and the default listen address is what a server would use.
    let config = config.with_default_base_url(&format!("http://{}", crate::DEFAULT_LISTEN));
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let created = app
        .authkit
        .create_tenant(new)
        .await
        .map_err(|e| e.to_string())?;
    println!("tenant:          {}", created.tenant.id);
    println!("publishable key: {}", created.publishable_key.reveal());
    println!("secret key:      {}", created.secret_key.reveal());
    println!("(keys are stored hashed and cannot be shown again)");
    Ok(())
}

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
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok((aws_sdk_dynamodb::Client::new(&sdk), tables))
}
