//! The gateway's own WebSocket transport against an independent client
//! (tungstenite) and raw TCP: the handshake, pings, fragments, large
//! frames, the closing handshake and protocol errors.

#[path = "support/mod.rs"]
mod support;

use chinwag_protocol::CloseCode;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::{TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn pings_are_answered_and_fragmented_commands_reassembled() {
    let server = TestServer::start().await;
    let mut client = server.client(1).await;
    client.ws.send(Message::Ping("hi".into())).await.unwrap();
    let command = json!({"op":"ping","nonce":"split"}).to_string();
    let (head, tail) = command.as_bytes().split_at(7);
    let first = Frame::message(head.to_vec(), OpCode::Data(Data::Text), false);
    let rest = Frame::message(tail.to_vec(), OpCode::Data(Data::Continue), true);
    client.ws.send(Message::Frame(first)).await.unwrap();
    client.ws.send(Message::Frame(rest)).await.unwrap();

    let pong = loop {
        let next = tokio::time::timeout(WAIT, client.ws.next()).await.unwrap();
        match next.unwrap().unwrap() {
            Message::Text(_) => continue,
            other => break other,
        }
    };
    assert_eq!(pong, Message::Pong("hi".into()));
    assert_eq!(client.recv_op("pong").await["nonce"], "split");
}

#[tokio::test]
async fn events_over_64_kib_use_the_long_length_form() {
    let server = TestServer::start_with(|c| c.gateway.max_frame_bytes = 256 * 1024).await;
    let mut alice = server.client(1).await;
    let mut bob = server.client(2).await;
    bob.subscribe("public.big").await;
    let big = "x".repeat(100_000);
    alice
        .send(json!({"op":"publish","topic":"public.big","data":{"text":big}}))
        .await;
    let event = bob.recv_in("topic:public.big").await;
    assert_eq!(
        event["data"]["data"]["text"].as_str().unwrap().len(),
        100_000
    );
}

#[tokio::test]
async fn a_client_close_is_answered_with_its_code() {
    let server = TestServer::start().await;
    let mut client = server.client(1).await;
    client.ws.close(None).await.unwrap();
    // The server answers the close (echoing its empty code); the client's
    // stream then ends without an error.
    let rest = tokio::time::timeout(WAIT, async {
        let mut frames = Vec::new();
        while let Some(frame) = client.ws.next().await {
            frames.push(frame.unwrap());
        }
        frames
    })
    .await
    .expect("closed in time");
    assert!(
        matches!(rest.last(), Some(Message::Close(None))),
        "{rest:?}"
    );
}

/// Performs the handshake over raw TCP; returns the socket after the 101.
async fn raw_upgrade(server: &TestServer) -> TcpStream {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.token(1)
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_until(&mut tcp, b"\r\n\r\n").await;
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    tcp
}

async fn read_until(tcp: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    while !got.ends_with(end) {
        let byte = tokio::time::timeout(WAIT, tcp.read_u8())
            .await
            .unwrap()
            .unwrap();
        got.push(byte);
    }
    got
}

#[tokio::test]
async fn unmasked_client_frames_close_with_4002() {
    let server = TestServer::start().await;
    let mut tcp = raw_upgrade(&server).await;
    // An unmasked text frame: clients must mask.
    tcp.write_all(&[0x81, 0x02, b'{', b'}']).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let frames = server_frames(&rest);
    let (opcode, payload) = frames.last().expect("a close frame");
    assert_eq!(*opcode, 0x8, "{frames:?}");
    assert_eq!(payload[..2], CloseCode::InvalidFrames.code().to_be_bytes());
}

/// Splits unmasked server frames: (opcode, payload) each.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while let [b0, b1, rest @ ..] = bytes {
        let (len, rest) = match b1 & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([rest[0], rest[1]])),
                &rest[2..],
            ),
            127 => (
                u64::from_be_bytes(rest[..8].try_into().unwrap()) as usize,
                &rest[8..],
            ),
            n => (usize::from(n), rest),
        };
        frames.push((b0 & 0x0f, rest[..len].to_vec()));
        bytes = &rest[len..];
    }
    frames
}

#[tokio::test]
async fn a_request_without_upgrade_headers_gets_400() {
    let server = TestServer::start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("Connection: upgrade is required"),
        "{response}"
    );
}
