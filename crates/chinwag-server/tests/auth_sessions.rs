//! Signing a session out closes its live connections with 4012
//! SessionRevoked, on every node: logging out closes the connections whose
//! access token came from that session and no other, and a rotated refresh
//! token used again closes every connection of the user. The signed-out
//! session's access tokens are refused from then on, by REST (401) and at
//! connect (4012).

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::support::{Client, TempDir, TestServer, test_config};
use chat_support::{Api, each_backend, pg_cluster};
use chinwag_server::AppState;
use chinwag_testkit::Backend;
use serde_json::{Value, json};

const SESSION_REVOKED: u16 = 4012;
const PASSWORD: &str = "correct horse battery";

/// Registers `username` (its first session) on `api`.
async fn register(api: Api, username: &str) -> Value {
    sign_in(api, "register", 201, username).await
}

/// Logs `username` in again: a new session.
async fn login(api: Api, username: &str) -> Value {
    sign_in(api, "login", 200, username).await
}

/// `POST /auth/{action}` with `username`'s credentials, expecting `status`.
async fn sign_in(api: Api, action: &str, status: u16, username: &str) -> Value {
    let reply = api
        .call(
            "POST",
            &format!("/auth/{action}"),
            None,
            Some(json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, status, "{:?}", reply.body);
    reply.body
}

/// `POST /auth/{action}` with a session's refresh token.
async fn with_refresh(api: Api, action: &str, session: &Value) -> chat_support::Reply {
    api.call(
        "POST",
        &format!("/auth/{action}"),
        None,
        Some(json!({"refresh_token": session["refresh_token"]})),
    )
    .await
}

/// A stream opened with a session's access token, past `ready`.
async fn connect(server: &TestServer, session: &Value) -> Client {
    let token = session["access_token"].as_str().unwrap();
    let mut client = Client::connect(&server.url(&format!("?token={token}"))).await;
    assert_eq!(client.recv().await["op"], "hello");
    assert_eq!(client.recv().await["op"], "ready");
    client
}

/// `GET /users/@me` with a session's access token: the status.
async fn me_status(api: Api, session: &Value) -> u16 {
    let token = session["access_token"].as_str().unwrap();
    api.call("GET", "/users/@me", Some(token), None)
        .await
        .status
}

/// A stream opened with a session's access token: the close code it gets.
async fn refused(server: &TestServer, session: &Value) -> u16 {
    let token = session["access_token"].as_str().unwrap();
    let mut client = Client::connect(&server.url(&format!("?token={token}"))).await;
    assert_eq!(client.recv().await["op"], "hello");
    let error = client.recv().await;
    assert_eq!(error["code"], "UNAUTHORIZED", "{error}");
    client.closed().await
}

#[tokio::test]
async fn logging_out_closes_that_sessions_connections_only() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let phone = register(api, "erin").await;
        let laptop = login(api, "erin").await;
        let mut phone_ws = connect(&server, &phone).await;
        let mut laptop_ws = connect(&server, &laptop).await;
        let bystander = register(api, "frank").await;
        let mut bystander_ws = connect(&server, &bystander).await;

        assert_eq!(with_refresh(api, "logout", &phone).await.status, 204);
        assert_eq!(phone_ws.closed().await, SESSION_REVOKED);
        laptop_ws.roundtrip().await;
        bystander_ws.roundtrip().await;

        // The signed-out session's access token is refused; the others work.
        assert_eq!(me_status(api, &phone).await, 401);
        assert_eq!(refused(&server, &phone).await, SESSION_REVOKED);
        assert_eq!(me_status(api, &laptop).await, 200);
        assert_eq!(me_status(api, &bystander).await, 200);

        // Logging out again revokes nothing and closes nothing.
        assert_eq!(with_refresh(api, "logout", &phone).await.status, 204);
        laptop_ws.roundtrip().await;
    })
    .await;
}

#[tokio::test]
async fn a_refresh_token_used_twice_closes_every_connection_of_its_user() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let first = register(api, "gina").await;
        let other = login(api, "gina").await;
        let rotated = with_refresh(api, "refresh", &first).await;
        assert_eq!(rotated.status, 200, "{:?}", rotated.body);
        // The rotated session's new access token names the same session.
        let mut rotated_ws = connect(&server, &rotated.body).await;
        let mut other_ws = connect(&server, &other).await;
        let bystander = register(api, "hal").await;
        let mut bystander_ws = connect(&server, &bystander).await;
        // The user's tokens are refused if issued before the revocation's
        // second (`iat` counts seconds), so let one pass.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

        assert_eq!(with_refresh(api, "refresh", &first).await.status, 401);
        assert_eq!(rotated_ws.closed().await, SESSION_REVOKED);
        assert_eq!(other_ws.closed().await, SESSION_REVOKED);
        bystander_ws.roundtrip().await;

        // Every access token the user had is refused; signing in again works.
        assert_eq!(me_status(api, &other).await, 401);
        assert_eq!(me_status(api, &rotated.body).await, 401);
        assert_eq!(refused(&server, &other).await, SESSION_REVOKED);
        let again = login(api, "gina").await;
        assert_eq!(me_status(api, &again).await, 200);
        connect(&server, &again).await.roundtrip().await;
        assert_eq!(me_status(api, &bystander).await, 200);
    })
    .await;
}

#[tokio::test]
async fn a_node_started_after_a_logout_refuses_that_sessions_tokens() {
    // Two nodes on one SQLite database, the second started after the
    // logout: it has not heard the revocation, it reads it from the store.
    let dir = TempDir::new();
    let config = test_config(&dir);
    let start = || async {
        let state = AppState::open(config.clone()).await.unwrap();
        TestServer::serve(state, config.clone(), TempDir::new()).await
    };
    let first = start().await;
    let api = Api { addr: first.addr };
    let phone = register(api, "jolene").await;
    let laptop = login(api, "jolene").await;
    assert_eq!(with_refresh(api, "logout", &phone).await.status, 204);

    let later = start().await;
    let api = Api { addr: later.addr };
    assert_eq!(me_status(api, &phone).await, 401);
    assert_eq!(refused(&later, &phone).await, SESSION_REVOKED);
    assert_eq!(me_status(api, &laptop).await, 200);
}

#[tokio::test]
async fn a_node_deletes_long_expired_refresh_tokens_and_keeps_recent_sign_outs() {
    let dir = TempDir::new();
    let config = test_config(&dir);
    let state = AppState::open(config.clone()).await.unwrap();
    let store = state.chat.store().clone();
    let user = chinwag_store::testing::user(&store, "keziah").await;
    let now = chinwag_store::id::now_ms();
    let lifetime_ms = i64::try_from(config.auth.access_ttl_secs * 1000).unwrap();
    // Two signed-out sessions whose refresh tokens expired: one longer ago
    // than an access token lives, one a second ago.
    let mut sessions = Vec::new();
    for expired_at in [now - 2 * lifetime_ms, now - 1_000] {
        let token = chinwag_store::generate_token();
        let created = store
            .create_refresh_token(user.id, &token, expired_at)
            .await
            .unwrap();
        store.revoke_refresh_token(&token).await.unwrap().unwrap();
        sessions.push(created.session_id);
    }
    let sessions: [_; 2] = sessions.try_into().unwrap();
    let signed_out = || async {
        let rows = store.signed_out_sessions(0).await.unwrap();
        sessions.map(|s| rows.iter().any(|(row, _)| *row == s))
    };
    assert_eq!(signed_out().await, [true, true]);

    // The sweep runs as the node starts.
    let _node = TestServer::serve(state, config, TempDir::new()).await;
    let deadline = tokio::time::Instant::now() + chat_support::support::WAIT;
    while signed_out().await[0] {
        assert!(tokio::time::Instant::now() < deadline, "old token kept");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(signed_out().await, [false, true]);
}

/// Logging out on node A closes the session's connection on node B.
async fn logout_across_nodes(engine: Backend) {
    let Some((nodes, pg)) = pg_cluster(engine, 2).await else {
        return;
    };
    let api = Api {
        addr: nodes[0].addr,
    };
    let phone = register(api, "ivy").await;
    let laptop = login(api, "ivy").await;
    let mut phone_ws = connect(&nodes[1], &phone).await;
    let mut laptop_ws = connect(&nodes[1], &laptop).await;

    assert_eq!(with_refresh(api, "logout", &phone).await.status, 204);
    assert_eq!(phone_ws.closed().await, SESSION_REVOKED);
    laptop_ws.roundtrip().await;
    // Node B heard it (the close above), so it refuses the token too.
    let b = Api {
        addr: nodes[1].addr,
    };
    assert_eq!(me_status(b, &phone).await, 401);
    assert_eq!(refused(&nodes[1], &phone).await, SESSION_REVOKED);
    assert_eq!(me_status(b, &laptop).await, 200);
    drop(nodes);
    pg.drop_schema().await;
}

#[tokio::test]
async fn redis_logout_closes_the_session_on_another_node() {
    logout_across_nodes(Backend::Redis).await;
}

#[tokio::test]
async fn nats_logout_closes_the_session_on_another_node() {
    logout_across_nodes(Backend::Nats).await;
}
