//! `authkit`: the operator API from a terminal. Against the local server it sends the
//! operator token the server wrote at start; against a deployment it signs requests with
//! SigV4 using the caller's AWS credentials (the admin API authorizes by IAM). See `USAGE`.

mod args;
mod client;
mod sigv4;

use std::process::ExitCode;

use serde_json::{json, Value};

use args::{Call, Parsed, USAGE};
use client::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("authkit: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: &[String]) -> Result<ExitCode, String> {
    let (target, call) = match args::parse(args)? {
        Parsed::Help => {
            print!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Parsed::Run(target, call) => (target, call),
    };
    let client = Client::new(&target).await.map_err(|e| e.to_string())?;
    let idempotency_key = call.idempotency_key.clone().unwrap_or_else(fresh_key);
    let (status, answer) = if call.all_pages {
        every_page(&client, &call, &idempotency_key).await?
    } else {
        client.send(&call, &call.path, &idempotency_key).await?
    };
    let pretty = serde_json::to_string_pretty(&answer).unwrap_or_default();
    if (200..300).contains(&status) {
        println!("{pretty}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{pretty}");
        Ok(ExitCode::FAILURE)
    }
}

/// Follows `has_more` with `starting_after`, and answers every page as one list.
async fn every_page(client: &Client, call: &Call, key: &str) -> Result<(u16, Value), String> {
    let mut data = Vec::new();
    let mut path = call.path.clone();
    loop {
        let (status, page) = client.send(call, &path, key).await?;
        if status != 200 {
            return Ok((status, page));
        }
        let items = page["data"].as_array().cloned().unwrap_or_default();
        let last = items
            .last()
            .and_then(|item| item["id"].as_str())
            .map(str::to_owned);
        data.extend(items);
        match (page["has_more"].as_bool(), last) {
            (Some(true), Some(last)) => path = after(&call.path, &last),
            _ => {
                return Ok((
                    200,
                    json!({"object": "list", "data": data, "has_more": false}),
                ))
            }
        }
    }
}

/// `path` asking for the page after `last` (any earlier cursor replaced).
fn after(path: &str, last: &str) -> String {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name != "starting_after" {
            pairs.append_pair(&name, &value);
        }
    }
    pairs.append_pair("starting_after", last);
    format!("{route}?{}", pairs.finish())
}

/// One idempotency key per run: the CLI's own retries reuse it.
fn fresh_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system has randomness");
    format!("cli-{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_page_replaces_the_cursor() {
        assert_eq!(
            super::after("/admin/v1/tenants?limit=5&starting_after=a", "b"),
            "/admin/v1/tenants?limit=5&starting_after=b"
        );
        assert_eq!(
            super::after("/admin/v1/tenants", "b"),
            "/admin/v1/tenants?starting_after=b"
        );
    }
}
