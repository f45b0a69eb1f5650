//! HTTPS through the proxy `HTTPS_PROXY` names: a `CONNECT` tunnel, TLS end to end with
//! the endpoint (its own test binary: the proxy settings are the process's environment).

mod support;

use std::sync::{Arc, Mutex};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use support::Behaviour;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A proxy that tunnels every `CONNECT` and notes its request line.
async fn tunnelling_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let noted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let noted = noted.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0];
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned();
                let target = line.split(' ').nth(1).unwrap().to_owned();
                noted.lock().unwrap().push(line);
                let mut server = TcpStream::connect(target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (port, requests)
}

#[tokio::test]
async fn https_goes_through_the_proxy_in_https_proxy() {
    let (address, seen) = support::serve(support::trusted(), |_| Behaviour::Answer).await;
    let (proxy, requests) = tunnelling_proxy().await;
    std::env::set_var("HTTPS_PROXY", format!("http://127.0.0.1:{proxy}"));
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let http = authkit_app::aws_http::https_client();
    let dynamodb = support::dynamodb(
        http,
        address,
        RetryConfig::disabled(),
        TimeoutConfig::builder().build(),
    );

    let tables = dynamodb
        .list_tables()
        .send()
        .await
        .expect("answered through the tunnel");
    assert_eq!(tables.table_names(), ["challenges"]);
    assert_eq!(
        *requests.lock().unwrap(),
        [format!("CONNECT localhost:{} HTTP/1.1", address.port())]
    );
    assert_eq!(seen.requests(), 1);
}
