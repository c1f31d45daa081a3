//! Shared test harness: a real server on port 0 and real WebSocket clients.
#![allow(dead_code)]

pub mod process;

use std::net::SocketAddr;
use std::time::Duration;

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use chinwag_server::{AppState, Config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// The signing secret every test server uses.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// How long a test waits for a frame before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("chinwag-test-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The config tests start from.
pub fn test_config(dir: &TempDir) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.0.clone(),
        ..Config::default()
    };
    config.auth.jwt_secret = Some(SECRET.into());
    config.presence.offline_grace_ms = 50;
    // Tests register many users from one address; `http_throttle` tests
    // the limit itself.
    config.auth.attempts_per_minute = 0;
    config.auth.writes_per_minute = 0;
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = TempDir::new();
        let mut config = test_config(&dir);
        tweak(&mut config);
        let state = AppState::open(config.clone()).await.unwrap();
        Self::serve(state, config, dir).await
    }

    pub async fn serve(state: AppState, config: Config, dir: TempDir) -> TestServer {
        let server = Server::bind(config.listen, state.clone()).await.unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn token(&self, user: i64) -> String {
        self.state.keys.issue(Id(user), UserRole::User, None).0
    }

    pub fn url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.addr)
    }

    /// Connects with the token in the URL and reads `hello` and `ready`.
    pub async fn client(&self, user: i64) -> Client {
        let mut client = Client::connect(&self.url(&format!("?token={}", self.token(user)))).await;
        assert_eq!(client.recv().await["op"], "hello");
        let ready = client.recv().await;
        assert_eq!(ready["op"], "ready", "{ready}");
        client.ready = ready;
        client
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server drained in time")
                .unwrap()
                .unwrap();
        }
    }
}

/// A WebSocket client speaking JSON.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub ready: Value,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = connect_async(url).await.expect("websocket connect");
        Client {
            ws,
            ready: Value::Null,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// The next text frame as JSON; fails on close or timeout.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("frame in time")
                .expect("stream open")
                .expect("frame ok");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame with this `op`, skipping others.
    pub async fn recv_op(&mut self, op: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["op"] == op {
                return frame;
            }
        }
    }

    /// The next `event` frame.
    pub async fn recv_event(&mut self) -> Value {
        self.recv_op("event").await
    }

    /// The next `event` frame in `room`, skipping others.
    pub async fn recv_in(&mut self, room: &str) -> Value {
        loop {
            let event = self.recv_event().await;
            if event["room"] == room {
                return event;
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time");
            match msg {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(Message::Close(None))) | None => return 1005,
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("error instead of close: {err}"),
            }
        }
    }

    /// Subscribes to a topic and waits for the ack.
    pub async fn subscribe(&mut self, topic: &str) -> Value {
        self.send(json!({"op":"subscribe","topic":topic,"nonce":"sub"}))
            .await;
        loop {
            let reply = self.recv().await;
            if reply["op"] == "event" {
                continue;
            }
            assert_eq!(reply["op"], "ack", "{reply}");
            return reply;
        }
    }

    /// Sends a ping and waits for its pong, proving the connection is alive
    /// and everything sent before the pong has been read.
    pub async fn roundtrip(&mut self) {
        self.send(json!({"op":"ping","nonce":"rt"})).await;
        self.recv_op("pong").await;
    }
}

/// A policy whose room grants tests change at will, and which can veto
/// replayed events whose data carries `"secret": true`.
#[derive(Default)]
pub struct TestPolicy {
    pub rooms: std::sync::Mutex<std::collections::HashMap<i64, Vec<chinwag_realtime::RoomId>>>,
    /// Set by [`TestPolicy::hold_next_grants`].
    hold: std::sync::Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

impl TestPolicy {
    /// Makes the next `rooms_for` stop after reading the grants: the first
    /// receiver resolves once it has read them, and it returns them when
    /// the sender is used (or dropped).
    pub fn hold_next_grants(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (reached, on_reached) = oneshot::channel();
        let (release, on_release) = oneshot::channel();
        *self.hold.lock().unwrap() = Some((reached, on_release));
        (on_reached, release)
    }

    pub fn grant(&self, user: i64, room: chinwag_realtime::RoomId) {
        self.rooms
            .lock()
            .unwrap()
            .entry(user)
            .or_default()
            .push(room);
    }

    pub fn revoke(&self, user: i64, room: &chinwag_realtime::RoomId) {
        if let Some(rooms) = self.rooms.lock().unwrap().get_mut(&user) {
            rooms.retain(|r| r != room);
        }
    }
}

impl chinwag_server::Policy for TestPolicy {
    fn rooms_for<'a>(
        &'a self,
        who: &'a chinwag_server::auth::Identity,
    ) -> chinwag_server::policy::BoxFuture<
        'a,
        Result<Vec<chinwag_realtime::RoomId>, chinwag_server::ApiError>,
    > {
        let rooms = self
            .rooms
            .lock()
            .unwrap()
            .get(&who.user_id.0)
            .cloned()
            .unwrap_or_default();
        let hold = self.hold.lock().unwrap().take();
        Box::pin(async move {
            if let Some((reached, release)) = hold {
                let _ = reached.send(());
                let _ = release.await;
            }
            Ok(rooms)
        })
    }

    fn can_subscribe<'a>(
        &'a self,
        _who: &'a chinwag_server::auth::Identity,
        topic: &'a str,
    ) -> chinwag_server::policy::BoxFuture<'a, bool> {
        Box::pin(async move { chinwag_server::policy::is_public_topic(topic) })
    }

    fn can_publish<'a>(
        &'a self,
        _who: &'a chinwag_server::auth::Identity,
        topic: &'a str,
    ) -> chinwag_server::policy::BoxFuture<'a, bool> {
        Box::pin(async move { chinwag_server::policy::is_public_topic(topic) })
    }

    fn can_replay(
        &self,
        _who: &chinwag_server::auth::Identity,
        frame: &chinwag_realtime::SharedFrame,
    ) -> bool {
        match frame.event() {
            chinwag_protocol::Event::TopicMessage(m) => m.data["secret"] != true,
            _ => true,
        }
    }

    fn presence_rooms<'a>(
        &'a self,
        _user: Id,
    ) -> chinwag_server::policy::BoxFuture<'a, Vec<chinwag_realtime::RoomId>> {
        Box::pin(async { Vec::new() })
    }
}

impl TestServer {
    /// A server whose room grants come from a [`TestPolicy`].
    pub async fn with_policy(
        tweak: impl FnOnce(&mut Config),
    ) -> (TestServer, std::sync::Arc<TestPolicy>) {
        let dir = TempDir::new();
        let mut config = test_config(&dir);
        tweak(&mut config);
        let policy = std::sync::Arc::new(TestPolicy::default());
        let state = AppState::build(config.clone(), policy.clone())
            .await
            .unwrap();
        (Self::serve(state, config, dir).await, policy)
    }
}

/// `n` nodes in this process sharing `backend`'s engine under a prefix of
/// their own, named `node-0`, `node-1`, ...; `None` when this run skips
/// the backend.
pub async fn cluster(backend: chinwag_testkit::Backend, n: usize) -> Option<Vec<TestServer>> {
    let url = backend.url()?;
    let prefix = format!("t{:x}", rand::random::<u64>());
    let mut nodes = Vec::new();
    for i in 0..n {
        let (url, prefix) = (url.clone(), prefix.clone());
        nodes.push(
            TestServer::start_with(move |c| {
                c.engine = url;
                c.engine_prefix = prefix;
                c.node_name = Some(format!("node-{i}"));
            })
            .await,
        );
    }
    Some(nodes)
}

/// A message on room `room` as the hub would publish it from a server.
pub fn note(n: u64) -> chinwag_protocol::Event {
    chinwag_protocol::Event::TopicMessage(chinwag_protocol::event::topic::TopicMessage {
        topic: "note".into(),
        from: None,
        origin_node: "test".into(),
        data: json!({"n": n}),
    })
}

/// The `ready` frame's position for a room: (epoch, offset).
pub fn position(ready: &Value, room: &str) -> (String, u64) {
    let entry = ready["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room"] == room)
        .unwrap_or_else(|| panic!("{room} not in {ready}"));
    (
        entry["epoch"].as_str().unwrap().to_string(),
        entry["offset"].as_u64().unwrap(),
    )
}
