//! Chat test helpers on top of the gateway harness: a minimal HTTP/1.1
//! client over a real socket, the REST calls the chat tests use, and a
//! server per backend (SQLite always; PostgreSQL in its own schema when
//! `chinwag_testkit::Backend::Postgres` names one, always with CI=true).
//!
//! Include it with `#[path = "chat_support.rs"] mod chat_support;`; it
//! brings the gateway harness along as `chat_support::support`.
#![allow(dead_code)]

#[path = "support/mod.rs"]
pub(crate) mod support;

use std::future::Future;
use std::net::SocketAddr;

use chinwag_server::AppState;
use support::{TempDir, TestServer, test_config};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// The header lines, `name: value` with the name lowercased.
    pub headers: Vec<String>,
}

impl Reply {
    /// A header's value (`name` lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    }

    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Sends one request with `Connection: close` and reads the response.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    raw_with(addr, None, "", method, path, token, content_type, body).await
}

/// [`raw`] from a given loopback source address, with extra header lines
/// (each ending in `\r\n`).
#[allow(clippy::too_many_arguments)]
pub async fn raw_with(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    extra_headers: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let mut stream = match source {
        None => TcpStream::connect(addr).await.expect("connect"),
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.bind(SocketAddr::new(ip, 0)).expect("bind source");
            socket.connect(addr).await.expect("connect")
        }
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra_headers}",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading a large body; ignore a
    // write error then and read the answer.
    let _ = stream.write_all(body).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    parse(&buf)
}

fn parse(buf: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").expect("a full HTTP response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body))
    };
    let headers = head
        .lines()
        .skip(1)
        .map(|line| match line.split_once(':') {
            Some((name, value)) => format!("{}: {}", name.to_ascii_lowercase(), value.trim()),
            None => line.to_string(),
        })
        .collect();
    Reply {
        status,
        body,
        headers,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

/// A REST client for one server.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// The server's address.
    pub addr: SocketAddr,
}

impl Api {
    /// A JSON request to `/api/v1{path}`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let ct = (!bytes.is_empty()).then_some("application/json");
        raw(
            self.addr,
            method,
            &format!("/api/v1{path}"),
            token,
            ct,
            &bytes,
        )
        .await
    }

    /// Like [`Api::call`], asserting the status.
    pub async fn ok(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let reply = self.call(method, path, Some(token), body).await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.body);
        reply.body
    }

    /// Opens the caller's DM with `other`; its channel id.
    pub async fn dm(&self, token: &str, other: i64) -> i64 {
        let body = Some(json!({"recipient_id": other.to_string()}));
        id(&self.ok(200, "POST", "/dms", token, body).await["id"])
    }

    /// Opens a DM between users who share nothing yet, the way a client
    /// must: `a` creates a community, `b` joins it by invite, `a` opens the
    /// DM, and `b` leaves the community again. The DM is then all the two
    /// share. Its channel id.
    pub async fn dm_via_community(&self, a_token: &str, b_token: &str, b: i64) -> i64 {
        let community = self.community(a_token, "Introductions").await;
        let code = self.invite(a_token, community).await;
        self.join(b_token, &code).await;
        let dm = self.dm(a_token, b).await;
        let leave = format!("/users/@me/communities/{community}");
        self.ok(204, "DELETE", &leave, b_token, None).await;
        dm
    }

    /// Registers a user; returns (user id, access token).
    pub async fn register(&self, username: &str) -> (i64, String) {
        let reply = self
            .call(
                "POST",
                "/auth/register",
                None,
                Some(json!({"username": username, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        (
            id(&reply.body["user"]["id"]),
            reply.body["access_token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a community; returns its id.
    pub async fn community(&self, token: &str, name: &str) -> i64 {
        id(&self
            .ok(
                201,
                "POST",
                "/communities",
                token,
                Some(json!({"name": name})),
            )
            .await["id"])
    }

    /// Creates a channel; returns its id.
    pub async fn channel(&self, token: &str, community: i64, name: &str, private: bool) -> i64 {
        id(&self
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/channels"),
                token,
                Some(json!({"name": name, "private": private})),
            )
            .await["id"])
    }

    /// Creates an invite; returns its code.
    pub async fn invite(&self, token: &str, community: i64) -> String {
        self.ok(
            201,
            "POST",
            &format!("/communities/{community}/invites"),
            token,
            Some(json!({"max_uses": 10, "max_age_secs": 3600})),
        )
        .await["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Joins through an invite; returns the response.
    pub async fn join(&self, token: &str, code: &str) -> Value {
        self.ok(200, "POST", &format!("/invites/{code}/join"), token, None)
            .await
    }

    /// Sends a message over REST; returns it.
    pub async fn send(&self, token: &str, channel: i64, content: &str) -> Value {
        self.ok(
            201,
            "POST",
            &format!("/channels/{channel}/messages"),
            token,
            Some(json!({"content": content})),
        )
        .await
    }

    /// Replies in `parent`'s thread over REST; returns the reply.
    pub async fn reply(&self, token: &str, channel: i64, parent: &Value, content: &str) -> Value {
        self.ok(
            201,
            "POST",
            &format!("/channels/{channel}/messages"),
            token,
            Some(json!({"content": content, "thread_parent_id": parent["id"]})),
        )
        .await
    }

    /// A page of history.
    pub async fn history(&self, token: &str, channel: i64, query: &str) -> Vec<Value> {
        self.ok(
            200,
            "GET",
            &format!("/channels/{channel}/messages{query}"),
            token,
            None,
        )
        .await
        .as_array()
        .unwrap()
        .clone()
    }
}

/// Where several chat tests start: alice owns the community "Guild" with
/// the public channels `general` and `staff`; bob and carol joined it by
/// invite. Users are `(id, token)`.
pub struct Guild {
    /// The owner.
    pub alice: (i64, String),
    /// A member.
    pub bob: (i64, String),
    /// Another member.
    pub carol: (i64, String),
    /// The community's id (also its `@everyone` role's).
    pub community: i64,
    /// A channel.
    pub general: i64,
    /// Another channel, which tests restrict as they need.
    pub staff: i64,
}

impl Api {
    /// Builds a [`Guild`].
    pub async fn guild(&self) -> Guild {
        let alice = self.register("alice").await;
        let bob = self.register("bob").await;
        let carol = self.register("carol").await;
        let community = self.community(&alice.1, "Guild").await;
        let general = self.channel(&alice.1, community, "general", false).await;
        let staff = self.channel(&alice.1, community, "staff", false).await;
        let code = self.invite(&alice.1, community).await;
        self.join(&bob.1, &code).await;
        self.join(&carol.1, &code).await;
        Guild {
            alice,
            bob,
            carol,
            community,
            general,
            staff,
        }
    }
}

/// An id (a decimal string on the wire) as a number.
pub fn id(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .parse()
        .unwrap()
}

/// Runs `test` against a server on SQLite, then on PostgreSQL (in a
/// schema of its own, dropped afterwards) when this run uses it.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestServer::start().await).await;
    if let Some(pg) = chinwag_store::testing::postgres_store().await {
        let dir = TempDir::new();
        let config = test_config(&dir);
        let state = AppState::with_store(config.clone(), pg.store.clone())
            .await
            .expect("state on PostgreSQL");
        test(TestServer::serve(state, config, dir).await).await;
        pg.drop_schema().await;
    }
}

/// `n` nodes named `node-0`, `node-1`, ... sharing one PostgreSQL schema
/// and `engine`'s broker under a prefix of their own; `None` when this run
/// skips either service. Drop the nodes before the schema.
pub async fn pg_cluster(
    engine: chinwag_testkit::Backend,
    n: usize,
) -> Option<(Vec<TestServer>, chinwag_store::testing::PgSchema)> {
    let engine_url = engine.url()?;
    let pg = chinwag_store::testing::postgres_store().await?;
    let prefix = format!("c{:x}", rand::random::<u64>());
    let mut nodes = Vec::new();
    for i in 0..n {
        let dir = TempDir::new();
        let mut config = test_config(&dir);
        config.engine = engine_url.clone();
        config.engine_prefix = prefix.clone();
        config.node_name = Some(format!("node-{i}"));
        let state = AppState::with_store(config.clone(), pg.store.clone())
            .await
            .expect("node state");
        nodes.push(TestServer::serve(state, config, dir).await);
    }
    Some((nodes, pg))
}

/// Whether `client`'s connection is in `channel`'s room. It sends `typing`
/// there, then a `ping` whose `pong` marks the end of the answer. Outside
/// the room, `typing` is refused with "not a member of that channel".
/// Inside, it is broadcast, or refused for want of access: a connection
/// left in a room it lost access to still counts as in it. Every frame read
/// on the way goes to `seen`.
pub async fn probe_room(
    client: &mut support::Client,
    channel: i64,
    mut seen: impl FnMut(&Value),
) -> bool {
    client
        .send(json!({"op": "typing", "channel_id": channel.to_string()}))
        .await;
    client
        .send(json!({"op": "ping", "nonce": "after-probe"}))
        .await;
    let mut inside = true;
    loop {
        let frame = client.recv().await;
        seen(&frame);
        if frame["op"] == "error" && frame["message"] == "not a member of that channel" {
            inside = false;
        }
        if frame["op"] == "pong" && frame["nonce"] == "after-probe" {
            return inside;
        }
    }
}

/// The next `event` frame of type `ty` in `room`, skipping everything else.
pub async fn next_event(client: &mut support::Client, room: &str, ty: &str) -> Value {
    loop {
        let frame = client.recv_in(room).await;
        if frame["type"] == ty {
            return frame;
        }
    }
}

/// Reads frames until the pong of a fresh ping, and returns every `event`
/// frame seen on the way (so a test can assert what did NOT arrive).
pub async fn drain(client: &mut support::Client) -> Vec<Value> {
    client.send(json!({"op": "ping", "nonce": "drain"})).await;
    let mut events = Vec::new();
    loop {
        let frame = client.recv().await;
        if frame["op"] == "pong" && frame["nonce"] == "drain" {
            return events;
        }
        if frame["op"] == "event" {
            events.push(frame);
        }
    }
}
