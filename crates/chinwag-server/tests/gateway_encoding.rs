//! MessagePack negotiated with `?encoding=msgpack`: binary frames both ways,
//! the same frames as JSON; an unknown encoding, or any malformed query, is
//! refused before the upgrade with the JSON error.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::client::{ClientFrame, TopicCommand};
use chinwag_protocol::{Encoding, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use support::TestServer;
use tokio_tungstenite::tungstenite::Message;

async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("frame in time")
            .unwrap()
            .unwrap();
        match msg {
            Message::Binary(bytes) => return Encoding::MsgPack.decode(&bytes).unwrap(),
            Message::Text(text) => panic!("text frame on a msgpack connection: {text}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn msgpack_connection_speaks_binary_frames() {
    let server = TestServer::start().await;
    let url = server.url(&format!("?encoding=msgpack&token={}", server.token(1)));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(matches!(next_frame(&mut ws).await, ServerFrame::Hello(_)));
    assert!(matches!(next_frame(&mut ws).await, ServerFrame::Ready(_)));

    let subscribe = ClientFrame::Subscribe(TopicCommand {
        topic: "public.pack".into(),
        nonce: Some("s".into()),
    });
    let bytes = Encoding::MsgPack.encode(&subscribe).unwrap();
    ws.send(Message::Binary(bytes.into())).await.unwrap();
    loop {
        if let ServerFrame::Ack(ack) = next_frame(&mut ws).await {
            assert_eq!(ack.nonce, "s");
            break;
        }
    }
    server
        .state
        .hub
        .bus_publish("public.pack", None, serde_json::json!({"k": [1, 2]}))
        .await
        .unwrap();
    loop {
        if let ServerFrame::Event(event) = next_frame(&mut ws).await
            && event.room == "topic:public.pack"
        {
            assert_eq!(event.offset, Some(1));
            let chinwag_protocol::Event::TopicMessage(message) = event.event else {
                panic!("wrong event")
            };
            assert_eq!(message.data["k"][1], 2);
            break;
        }
    }
}

#[tokio::test]
async fn a_malformed_query_is_refused_with_the_json_error() {
    let server = TestServer::start().await;
    for query in ["?encoding=xml", "?token=a&token=b"] {
        let err = tokio_tungstenite::connect_async(server.url(query))
            .await
            .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("{query}: expected an HTTP refusal, got {err}");
        };
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value =
            serde_json::from_slice(response.body().as_deref().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{query}: not JSON: {e}"));
        assert_eq!(body["error"]["code"], "BAD_REQUEST", "{query}: {body}");
    }
}
