use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, duplex};

use super::*;

/// A masked client frame with FIN set.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [9, 8, 7, 6];
    let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads one unmasked server frame: (opcode, payload).
async fn server_frame(client: &mut (impl AsyncRead + Unpin)) -> (u8, Vec<u8>) {
    let mut head = [0; 2];
    client.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0] & 0x80, 0x80, "FIN");
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => usize::from(client.read_u16().await.unwrap()),
        127 => client.read_u64().await.unwrap() as usize,
        n => usize::from(n),
    };
    let mut payload = vec![0; len];
    client.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0f, payload)
}

#[tokio::test]
async fn many_frames_survive_partial_writes() {
    // A 64-byte pipe forces short writes in the middle of headers and
    // payloads; the queue's last 2 KiB go out through the copied write.
    let (server, mut client) = duplex(64);
    let mut socket: Socket<_> = Socket::new(server, 1024);
    let big = Bytes::from(vec![b'x'; 300]);
    for i in 0..100u8 {
        socket.feed(OpCode::Binary, Bytes::from(vec![i; usize::from(i)]));
        socket.feed(OpCode::Text, big.clone());
    }
    let reader = tokio::spawn(async move {
        for i in 0..100u8 {
            assert_eq!(
                server_frame(&mut client).await,
                (2, vec![i; usize::from(i)])
            );
            assert_eq!(server_frame(&mut client).await, (1, vec![b'x'; 300]));
        }
    });
    socket.flush().await.unwrap();
    reader.await.unwrap();
    assert_eq!(socket.queue.capacity(), 0, "an idle socket keeps no queue");
}

#[tokio::test]
async fn answers_pings_and_the_closing_handshake() {
    let (server, mut client) = duplex(1024);
    let mut socket: Socket<_> = Socket::new(server, 1024);
    let mut bytes = client_frame(9, b"are you there");
    bytes.extend(client_frame(1, b"{\"op\":\"ping\"}"));
    bytes.extend(client_frame(8, &1001u16.to_be_bytes()));
    client.write_all(&bytes).await.unwrap();

    assert_eq!(socket.recv().await.unwrap().unwrap(), Message::Control);
    let text = socket.recv().await.unwrap().unwrap();
    assert_eq!(
        text,
        Message::Text(Bytes::from_static(b"{\"op\":\"ping\"}"))
    );
    assert!(socket.recv().await.is_none(), "the close ends the stream");
    assert_eq!(
        server_frame(&mut client).await,
        (0xa, b"are you there".to_vec())
    );
    assert_eq!(
        server_frame(&mut client).await,
        (8, 1001u16.to_be_bytes().to_vec())
    );
    assert_eq!(
        socket.read_buf.capacity(),
        0,
        "an idle socket keeps no buffer"
    );
}

#[tokio::test]
async fn close_sends_code_and_reason_once_and_ends_the_stream() {
    let (server, mut client) = duplex(1024);
    let mut socket: Socket<_> = Socket::new(server, 1024);
    socket.close(4010, "slow consumer").await;
    socket.feed(OpCode::Text, Bytes::from_static(b"too late"));
    socket.flush().await.unwrap();
    let (opcode, payload) = server_frame(&mut client).await;
    assert_eq!(opcode, 8);
    assert_eq!(payload[..2], 4010u16.to_be_bytes());
    assert_eq!(&payload[2..], b"slow consumer");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the close frame: {rest:?}");
}

#[tokio::test]
async fn a_protocol_error_is_reported() {
    let (server, mut client) = duplex(1024);
    let mut socket: Socket<_> = Socket::new(server, 1024);
    // Unmasked.
    client.write_all(&[0x81, 0x01, b'a']).await.unwrap();
    let err = socket.recv().await.unwrap().unwrap_err();
    assert!(
        matches!(err, SocketError::Frame(FrameError::Protocol(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_lingering_close_reaches_a_client_that_reads_late() {
    // A client that sent something the server never read, and reads its
    // own input only later: megabytes still sit in the server's send
    // buffer when the close frame is queued behind them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    client
        .write_all(&client_frame(1, b"{\"op\":\"ping\"}"))
        .await
        .unwrap();
    let mut socket: Socket<_> = Socket::new(server, 1024);
    let chunk = Bytes::from(vec![b'x'; 60_000]);
    for _ in 0..50 {
        socket.feed(OpCode::Binary, chunk.clone());
    }
    let closing = tokio::spawn(async move {
        socket.close(4010, "slow consumer").await;
        socket.linger().await;
    });
    // The client reads everything, then answers the close.
    for _ in 0..50 {
        assert_eq!(server_frame(&mut client).await.0, 2);
    }
    let (opcode, payload) = server_frame(&mut client).await;
    assert_eq!((opcode, &payload[..2]), (8, &4010u16.to_be_bytes()[..]));
    client
        .write_all(&client_frame(8, &4010u16.to_be_bytes()))
        .await
        .unwrap();
    closing.await.unwrap();
}
