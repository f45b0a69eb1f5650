//! `authkit-local`: AuthKit on one machine. By default every route on one port over the
//! embedded store, with messages going to the dev outbox (printed here and served at
//! `GET /dev/outbox`). Configuration comes from the same environment variables as the
//! Lambda functions (docs/configuration.md), so it can also run against DynamoDB, SNS and
//! SES — real ones, moto or LocalStack.

use std::net::SocketAddr;
use std::process::ExitCode;

use authkit_api::OperatorAuth;
use authkit_app::{App, Config};
use authkit_local::{admin, dev, operator, DEFAULT_LISTEN};

const USAGE: &str = "\
usage:
  authkit-local [serve] [--listen ADDR]    run every route on one port (default 127.0.0.1:8080;
                                            port 0 picks a free one, the banner names it)
  authkit-local create-tables               create the DynamoDB tables (AUTHKIT_STORE=dynamodb)
  authkit-local migrate                     bring stored items to this release (docs/upgrades.md)
  authkit-local help | --help | -h          this text
tenants and keys are managed through the operator API: the `authkit` CLI
  (`authkit --url http://127.0.0.1:8080 tenants create --id acme --name Acme`)
configuration: environment variables, see docs/configuration.md
";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .with_target(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("authkit-local: {message}\n\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    // Asking for help reads no configuration and starts nothing, whatever else is given.
    if args.first().is_some_and(|first| first == "help")
        || args.iter().any(|arg| arg == "--help" || arg == "-h")
    {
        print!("{USAGE}");
        return Ok(());
    }
    let (command, rest) = match args.split_first() {
        Some((command, rest)) if !command.starts_with('-') => (command.as_str(), rest),
        _ => ("serve", args),
    };
    let config = || Config::from_env().map_err(|error| error.to_string());
    match command {
        "serve" => {
            let address = listen_address(rest)?;
            serve(config()?, address).await
        }
        "create-tenant" => Err(
            "create-tenant is replaced by the operator API, so that a running server sees \
             the tenant: `authkit --url <server> tenants create --id ID --name NAME` \
             (docs/deploy.md)"
                .to_owned(),
        ),
        "create-tables" => admin::create_tables(config()?).await,
        "migrate" => admin::migrate(config()?).await,
        other => Err(format!("unknown command `{other}`")),
    }
}

fn listen_address(args: &[String]) -> Result<SocketAddr, String> {
    let raw = match args {
        [] => std::env::var("AUTHKIT_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned()),
        [flag, value] if flag == "--listen" => value.clone(),
        _ => return Err(format!("unexpected arguments: {}", args.join(" "))),
    };
    raw.parse()
        .map_err(|_| format!("`{raw}` is not a socket address (AUTHKIT_LISTEN / --listen)"))
}

/// Binds first, then builds: the service learns its issuer from the address it really
/// listens on (port 0 included) before anything can issue a token or send a link.
async fn serve(config: Config, address: SocketAddr) -> Result<(), String> {
    let policy = dev::demo_policy()?;
    let redirect_uris = dev::demo_redirect_uris()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    let url = authkit_local::base_url_for(listener.local_addr().map_err(|e| e.to_string())?);
    // Locally, sign-up is open unless AUTHKIT_SIGNUP says otherwise: the server is one's own.
    let config = config
        .with_default_base_url(&url)
        .with_default_signup(authkit_domain::service::SignupMode::Open);
    let app = App::build(config)
        .await
        .map_err(|error| error.to_string())?;
    let demo = dev::ensure_demo_tenant(&app, policy, redirect_uris).await?;
    let console = dev::ensure_console_tenant(&app).await?;
    let token_file = operator::token_file();
    let token = operator::issue(&token_file)?;
    let router = authkit_local::router(&app, OperatorAuth::token(&token.reveal()));
    let banner = dev::OperatorBanner {
        token: &token.reveal(),
        file: &token_file,
    };
    dev::print_banner(&url, &app, demo.as_ref(), console.as_ref(), &banner);
    authkit_local::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
