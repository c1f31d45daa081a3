//! Graceful shutdown: every client is told to reconnect and closed with
//! 4011, and the server finishes draining. A node that lost membership
//! changes closes its clients the same way, with 4013.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use support::{Client, TestServer};

#[tokio::test]
async fn shutdown_tells_every_client_to_reconnect_and_drains() {
    let mut server = TestServer::start().await;
    let mut clients = Vec::new();
    for user in 1..=5 {
        clients.push(server.client(user).await);
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let reconnect = client.recv_op("reconnect").await;
                assert_eq!(reconnect["reason"], "shutdown");
                client.closed().await
            })
        })
        .collect();
    server.stop().await;
    for reader in readers {
        assert_eq!(reader.await.unwrap(), CloseCode::ServerShutdown.code());
    }
    // New connections are refused once the server has stopped.
    let url = server.url("");
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn a_client_that_has_not_identified_is_told_to_reconnect_too() {
    let mut server = TestServer::start().await;
    // No token in the URL: the session waits for `identify`.
    let mut waiting = Client::connect(&server.url("")).await;
    assert_eq!(waiting.recv_op("hello").await["op"], "hello");
    let reader = tokio::spawn(async move {
        let reconnect = waiting.recv_op("reconnect").await;
        assert_eq!(reconnect["reason"], "shutdown");
        waiting.closed().await
    });
    server.stop().await;
    // Not 4001 (identify timeout): shutdown did not wait for the deadline.
    assert_eq!(reader.await.unwrap(), CloseCode::ServerShutdown.code());
}

#[tokio::test]
async fn a_node_that_lost_membership_changes_makes_its_clients_rejoin() {
    let server = TestServer::start().await;
    let mut client = server.client(1).await;
    // What the hub does when its engine reports control messages it could
    // not recover (`ControlMsg::Lost`).
    server.state.hub.close_all(CloseCode::Rejoin);
    let reconnect = client.recv_op("reconnect").await;
    assert_eq!(reconnect["reason"], "rejoin");
    assert_eq!(client.closed().await, CloseCode::Rejoin.code());
    // The client comes back and is served as before.
    let again = server.client(1).await;
    assert_eq!(again.ready["op"], "ready");
}
