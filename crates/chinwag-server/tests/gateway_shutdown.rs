//! Graceful shutdown: every client is told to reconnect and closed with
//! 4011, and the server finishes draining.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use support::TestServer;

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
