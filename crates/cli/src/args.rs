//! The command line, parsed into what to call. Each command is one request to the
//! operator API (a listing with `--all` follows its cursor).

use std::path::PathBuf;

use serde_json::{json, Map, Value};

pub const USAGE: &str = "\
usage: authkit [--url URL] [--token TOKEN | --token-file FILE] [--region REGION] COMMAND

  tenants create --id ID --name NAME [--redirect-uri URI]... [--origin ORIGIN]...
                 [--ip CIDR]... [--policy FILE] [--idempotency-key KEY]
  tenants list [--limit N] [--starting-after ID] [--all]
  tenants get ID
  tenants update ID [--name NAME] [--redirect-uri URI]... [--origin ORIGIN]... [--ip CIDR]...
                 [--policy FILE] [--if-match ETAG]
  tenants suspend ID | reactivate ID | delete ID
  keys list TENANT
  keys create TENANT --kind publishable|secret [--idempotency-key KEY]
  keys rotate TENANT KEY_ID [--overlap SECONDS] [--idempotency-key KEY]
  keys revoke TENANT KEY_ID
  console bootstrap [--origin ORIGIN]...   (creates the console tenant members sign in to)
  owners restore TENANT --email EMAIL      (invites EMAIL as the tenant's owner)

Prints the API's JSON answer; a refusal's problem goes to stderr and the exit status is 1.

where:  --url, or AUTHKIT_ADMIN_URL: the local server (http://127.0.0.1:8080) or a
        deployment's admin API (`terraform output admin_api_url`).
who:    the local server: its operator token, from --token or AUTHKIT_OPERATOR_TOKEN, else
        the file it wrote (--token-file, AUTHKIT_OPERATOR_TOKEN_FILE, default
        .authkit/operator-token). A deployment: requests are signed with SigV4 using
        your AWS credentials (the default chain: environment, profile, SSO, role); the
        region is the admin API's, or --region / AWS_REGION.
retries: creating commands send an Idempotency-Key (one per run, or --idempotency-key),
        so retrying (the CLI does, on network errors and 5xx) never creates twice.
";

/// Where and as whom to call.
#[derive(Debug, Default, PartialEq)]
pub struct Target {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub region: Option<String>,
}

/// One request to the operator API.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
    /// Creating requests carry an Idempotency-Key: this one, or a fresh one per run.
    pub creates: bool,
    pub idempotency_key: Option<String>,
    pub if_match: Option<String>,
    /// Follow `has_more` and print every page as one list.
    pub all_pages: bool,
}

impl Call {
    fn new(method: &'static str, path: String) -> Call {
        Call {
            method,
            path,
            body: None,
            creates: false,
            idempotency_key: None,
            if_match: None,
            all_pages: false,
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Help,
    Run(Target, Box<Call>),
}

/// Flags after the command's positional arguments, by name; repeatable ones collect.
#[derive(Default)]
struct Flags {
    values: Vec<(String, String)>,
    switches: Vec<String>,
}

impl Flags {
    fn one(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .rev()
            .find(|(flag, _)| flag == name)
            .map(|(_, value)| value.clone())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(flag, _)| flag == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    fn required(&self, name: &str) -> Result<String, String> {
        self.one(name)
            .ok_or_else(|| format!("--{name} is required"))
    }
}

const SWITCHES: [&str; 1] = ["all"];

pub fn parse(args: &[String]) -> Result<Parsed, String> {
    if args.is_empty()
        || args
            .iter()
            .any(|arg| matches!(arg.as_str(), "-h" | "--help" | "help"))
    {
        return Ok(Parsed::Help);
    }
    let mut target = Target::default();
    let mut positional = Vec::new();
    let mut flags = Flags::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--") else {
            positional.push(arg.clone());
            continue;
        };
        if SWITCHES.contains(&name) {
            flags.switches.push(name.to_owned());
            continue;
        }
        let value = rest
            .next()
            .ok_or_else(|| format!("`--{name}` needs a value"))?
            .clone();
        match name {
            "url" => target.url = Some(value),
            "token" => target.token = Some(value),
            "token-file" => target.token_file = Some(PathBuf::from(value)),
            "region" => target.region = Some(value),
            _ => flags.values.push((name.to_owned(), value)),
        }
    }
    let words: Vec<&str> = positional.iter().map(String::as_str).collect();
    let call = command(&words, &flags)?;
    Ok(Parsed::Run(target, Box::new(call)))
}

fn command(words: &[&str], flags: &Flags) -> Result<Call, String> {
    let tenant = |id: &str| format!("/admin/v1/tenants/{}", segment(id));
    let call = match words {
        ["tenants", "create"] => {
            let mut settings = settings(flags)?;
            settings.insert("id".into(), json!(flags.required("id")?));
            settings.insert("name".into(), json!(flags.required("name")?));
            Call {
                body: Some(Value::Object(settings)),
                creates: true,
                ..Call::new("POST", "/admin/v1/tenants".into())
            }
        }
        ["tenants", "list"] => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if let Some(limit) = flags.one("limit") {
                query.append_pair("limit", &limit);
            }
            if let Some(after) = flags.one("starting-after") {
                query.append_pair("starting_after", &after);
            }
            let query = query.finish();
            let path = match query.is_empty() {
                true => "/admin/v1/tenants".to_owned(),
                false => format!("/admin/v1/tenants?{query}"),
            };
            Call {
                all_pages: flags.switches.iter().any(|s| s == "all"),
                ..Call::new("GET", path)
            }
        }
        ["tenants", "get", id] => Call::new("GET", tenant(id)),
        ["tenants", "update", id] => {
            let mut settings = settings(flags)?;
            if let Some(name) = flags.one("name") {
                settings.insert("name".into(), json!(name));
            }
            if settings.is_empty() {
                return Err(
                    "nothing to update: give --name, --redirect-uri, --origin, --ip or --policy"
                        .into(),
                );
            }
            Call {
                body: Some(Value::Object(settings)),
                if_match: flags.one("if-match"),
                ..Call::new("PATCH", tenant(id))
            }
        }
        ["tenants", action @ ("suspend" | "reactivate"), id] => {
            Call::new("POST", format!("{}/{action}", tenant(id)))
        }
        ["tenants", "delete", id] => Call::new("DELETE", tenant(id)),
        ["keys", "list", id] => Call::new("GET", format!("{}/api_keys", tenant(id))),
        ["keys", "create", id] => Call {
            body: Some(json!({"kind": flags.required("kind")?})),
            creates: true,
            ..Call::new("POST", format!("{}/api_keys", tenant(id)))
        },
        ["keys", "rotate", id, key] => {
            let mut body = Map::new();
            if let Some(overlap) = flags.one("overlap") {
                let secs: u32 = overlap
                    .parse()
                    .map_err(|_| format!("--overlap `{overlap}` is not a number of seconds"))?;
                body.insert("expires_in_secs".into(), json!(secs));
            }
            Call {
                body: Some(Value::Object(body)),
                creates: true,
                ..Call::new(
                    "POST",
                    format!("{}/api_keys/{}/rotate", tenant(id), segment(key)),
                )
            }
        }
        ["keys", "revoke", id, key] => Call::new(
            "POST",
            format!("{}/api_keys/{}/revoke", tenant(id), segment(key)),
        ),
        ["console", "bootstrap"] => Call {
            body: Some(json!({"allowed_origins": flags.all("origin")})),
            ..Call::new("POST", "/admin/v1/console".into())
        },
        ["owners", "restore", id] => Call {
            body: Some(json!({"email": flags.required("email")?})),
            ..Call::new("POST", format!("{}/owners", tenant(id)))
        },
        other => return Err(format!("unknown command `{}`", other.join(" "))),
    };
    Ok(Call {
        idempotency_key: flags.one("idempotency-key"),
        ..call
    })
}

/// The settings flags of create and update, as the members of the request body.
fn settings(flags: &Flags) -> Result<Map<String, Value>, String> {
    let mut settings = Map::new();
    for (flag, member) in [
        ("redirect-uri", "allowed_redirect_uris"),
        ("origin", "allowed_origins"),
        ("ip", "ip_allowlist"),
    ] {
        let values = flags.all(flag);
        if !values.is_empty() {
            settings.insert(member.into(), json!(values));
        }
    }
    if let Some(path) = flags.one("policy") {
        let raw = std::fs::read_to_string(&path).map_err(|e| format!("--policy `{path}`: {e}"))?;
        let policy: Value =
            serde_json::from_str(&raw).map_err(|e| format!("--policy `{path}`: {e}"))?;
        settings.insert("policy".into(), policy);
    }
    Ok(settings)
}

/// An id as one path segment: anything that is not an id's character is escaped.
fn segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<(Target, Call), String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match parse(&args)? {
            Parsed::Run(target, call) => Ok((target, *call)),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn the_console_is_bootstrapped_and_an_owner_restored() {
        let (_, call) = run(&[
            "console",
            "bootstrap",
            "--origin",
            "https://console.example",
        ])
        .unwrap();
        assert_eq!(
            (call.method, call.path.as_str()),
            ("POST", "/admin/v1/console")
        );
        assert_eq!(
            call.body,
            Some(json!({"allowed_origins": ["https://console.example"]}))
        );
        let (_, call) = run(&["owners", "restore", "acme", "--email", "o@example.com"]).unwrap();
        assert_eq!(
            (call.method, call.path.as_str()),
            ("POST", "/admin/v1/tenants/acme/owners")
        );
        assert_eq!(call.body, Some(json!({"email": "o@example.com"})));
    }

    #[test]
    fn commands_become_operator_api_calls() {
        let (target, call) = run(&[
            "--url",
            "http://127.0.0.1:8080",
            "tenants",
            "create",
            "--id",
            "acme",
            "--name",
            "Acme",
            "--origin",
            "https://a.example",
            "--origin",
            "https://b.example",
        ])
        .unwrap();
        assert_eq!(target.url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(
            (call.method, call.path.as_str(), call.creates),
            ("POST", "/admin/v1/tenants", true)
        );
        assert_eq!(
            call.body,
            Some(json!({"id": "acme", "name": "Acme",
                        "allowed_origins": ["https://a.example", "https://b.example"]}))
        );
        let (_, call) = run(&["keys", "rotate", "acme", "key_1", "--overlap", "60"]).unwrap();
        assert_eq!(call.path, "/admin/v1/tenants/acme/api_keys/key_1/rotate");
        assert_eq!(call.body, Some(json!({"expires_in_secs": 60})));
        let (_, call) = run(&[
            "tenants",
            "list",
            "--limit",
            "5",
            "--starting-after",
            "acme",
            "--all",
        ])
        .unwrap();
        assert_eq!(call.path, "/admin/v1/tenants?limit=5&starting_after=acme");
        assert!(call.all_pages);
        let (_, call) = run(&["tenants", "get", "../admin"]).unwrap();
        assert_eq!(
            call.path, "/admin/v1/tenants/..%2Fadmin",
            "ids cannot climb paths"
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert!(run(&["tenants", "create", "--id", "acme"])
            .unwrap_err()
            .contains("--name"));
        assert!(run(&["tenants", "fly"])
            .unwrap_err()
            .contains("unknown command"));
        assert!(run(&["keys", "rotate", "a", "b", "--overlap", "soon"])
            .unwrap_err()
            .contains("--overlap"));
        assert!(run(&["tenants", "update", "acme"])
            .unwrap_err()
            .contains("nothing to update"));
        assert_eq!(parse(&["--help".to_owned()]), Ok(Parsed::Help));
    }
}
