//! The example nginx config in `deploy/nginx/chinwag.conf`, run for real in
//! front of three nodes on Redis: clients are spread over the nodes and a
//! broadcast reaches every one of them exactly once.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chinwag_testkit::Backend;
use serde_json::json;
use support::{Client, TempDir, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> Option<std::path::PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_nginx(binary: &std::path::Path, dir: &TempDir, front: u16, nodes: &[u16]) -> Nginx {
    let example = include_str!("../../../deploy/nginx/chinwag.conf");
    let site = example
        .replace("127.0.0.1:7400", &format!("127.0.0.1:{front}"))
        .replace("127.0.0.1:7401", &format!("127.0.0.1:{}", nodes[0]))
        .replace("127.0.0.1:7402", &format!("127.0.0.1:{}", nodes[1]))
        .replace("127.0.0.1:7403", &format!("127.0.0.1:{}", nodes[2]));
    let root = dir.0.display();
    std::fs::write(dir.0.join("chinwag.conf"), site).unwrap();
    let main = format!(
        "worker_processes 1;\ndaemon off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n  \
         fastcgi_temp_path {root}/fastcgi;\n  uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n  \
         include {root}/chinwag.conf;\n}}\n"
    );
    std::fs::write(dir.0.join("nginx.conf"), main).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    // Owned at once, so every exit path stops it.
    let nginx = Nginx(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", front))
            .await
            .is_ok()
        {
            return nginx;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not start; see {root}/error.log");
}

async fn http_get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn example_nginx_config_balances_a_three_node_cluster() {
    let Some(binary) = nginx_binary() else {
        assert!(
            !chinwag_testkit::in_ci(),
            "CI must have nginx (.ci/run installs it)"
        );
        eprintln!("skipping: nginx is not installed");
        return;
    };
    let Some(url) = Backend::Redis.url() else {
        return;
    };
    let prefix = format!("n{:x}", rand::random::<u64>());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (url, prefix) = (url.clone(), prefix.clone());
        nodes.push(
            TestServer::start_with(move |c| {
                c.engine = url;
                c.engine_prefix = prefix;
            })
            .await,
        );
    }
    let ports: Vec<u16> = nodes.iter().map(|n| n.addr.port()).collect();
    let dir = TempDir::new();
    let front = free_port();
    let _nginx = start_nginx(&binary, &dir, front, &ports).await;

    let ready = http_get(front, "/readyz").await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let mut clients = Vec::new();
    let mut seen_nodes = HashSet::new();
    for user in 1..=6 {
        let url = format!("ws://127.0.0.1:{front}/ws?token={}", nodes[0].token(user));
        let mut client = Client::connect(&url).await;
        let hello = client.recv().await;
        seen_nodes.insert(hello["node_id"].as_str().unwrap().to_string());
        client.recv_op("ready").await;
        client.subscribe("public.lb").await;
        clients.push(client);
    }
    assert!(
        seen_nodes.len() >= 2,
        "nginx sent everyone to {seen_nodes:?}"
    );
    clients[0]
        .send(json!({"op":"publish","topic":"public.lb","data":{"hi":true}}))
        .await;
    for client in &mut clients {
        let event = client.recv_in("topic:public.lb").await;
        assert_eq!(event["offset"], 1);
        client.roundtrip().await;
    }
}
