//! Engine.IO v4 / Socket.IO v5 framing over WebSocket, written by hand:
//! one Engine.IO packet per WebSocket text frame (`0{..}` open, `2`/`3`
//! ping/pong, `4…` message), and Socket.IO packets inside messages
//! (`40{..}` connect, `42["event",...]` emit, `43` ack, `44{..}` error).

use anyhow::{Result, bail};
use serde_json::Value;

/// An Engine.IO packet, borrowing from the frame text.
#[derive(Debug, PartialEq, Eq)]
pub enum EioPacket<'a> {
    /// `0{...}`: the handshake (sid, pingInterval, ...).
    Open(&'a str),
    /// `1`.
    Close,
    /// `2` (server heartbeat; answer with `3`).
    Ping,
    /// `3`.
    Pong,
    /// `4...`: a Socket.IO packet.
    Message(SioPacket<'a>),
    /// `6`.
    Noop,
}

/// Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioKind {
    /// `0`.
    Connect,
    /// `1`.
    Disconnect,
    /// `2`.
    Event,
    /// `3`.
    Ack,
    /// `4`.
    ConnectError,
}

/// A Socket.IO packet.
#[derive(Debug, PartialEq, Eq)]
pub struct SioPacket<'a> {
    /// Packet type.
    pub kind: SioKind,
    /// Namespace (`/` when absent).
    pub nsp: &'a str,
    /// Acknowledgement id.
    pub ack: Option<u64>,
    /// The JSON payload (may be empty).
    pub data: &'a str,
}

/// Parses one WebSocket text frame.
pub fn parse(text: &str) -> Result<EioPacket<'_>> {
    let Some(first) = text.as_bytes().first() else {
        bail!("empty engine.io packet");
    };
    Ok(match first {
        b'0' => EioPacket::Open(&text[1..]),
        b'1' => EioPacket::Close,
        b'2' => EioPacket::Ping,
        b'3' => EioPacket::Pong,
        b'4' => EioPacket::Message(parse_sio(&text[1..])?),
        b'6' => EioPacket::Noop,
        other => bail!("unsupported engine.io packet type {:?}", *other as char),
    })
}

fn parse_sio(s: &str) -> Result<SioPacket<'_>> {
    let b = s.as_bytes();
    let kind = match b.first() {
        Some(b'0') => SioKind::Connect,
        Some(b'1') => SioKind::Disconnect,
        Some(b'2') => SioKind::Event,
        Some(b'3') => SioKind::Ack,
        Some(b'4') => SioKind::ConnectError,
        Some(c) => bail!("unsupported socket.io packet type {:?}", *c as char),
        None => bail!("empty socket.io packet"),
    };
    let mut i = 1;
    let mut nsp = "/";
    if b.get(i) == Some(&b'/') {
        let end = s[i..].find(',').map_or(s.len(), |p| i + p);
        nsp = &s[i..end];
        i = (end + 1).min(s.len());
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let ack = if i > start {
        s[start..i].parse().ok()
    } else {
        None
    };
    Ok(SioPacket {
        kind,
        nsp,
        ack,
        data: &s[i..],
    })
}

/// `40{auth}`: connect to the default namespace with an auth payload.
pub fn connect(auth: &Value) -> String {
    format!("40{auth}")
}

/// `42[ack]["event",args...]`: an emit, optionally asking for an ack.
pub fn event(name: &str, args: &[Value], ack: Option<u64>) -> String {
    let mut arr = Vec::with_capacity(args.len() + 1);
    arr.push(Value::String(name.to_owned()));
    arr.extend(args.iter().cloned());
    let ack = ack.map(|a| a.to_string()).unwrap_or_default();
    format!("42{ack}{}", Value::Array(arr))
}

/// The name of an event payload `["name",...]`.
pub fn event_name(data: &str) -> Option<&str> {
    let rest = data.strip_prefix("[\"")?;
    Some(&rest[..rest.find('"')?])
}

/// The last argument of an event when it is a plain string: the offset that
/// Socket.IO's connection-state recovery appends to every broadcast.
pub fn last_string_arg(data: &str) -> Option<&str> {
    let body = data.strip_suffix("\"]")?;
    let start = body.rfind('"')?;
    if !body[..start].ends_with(',') {
        return None;
    }
    Some(&body[start + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_engine_packets() {
        assert_eq!(
            parse(r#"0{"sid":"a","pingInterval":25000}"#).unwrap(),
            EioPacket::Open(r#"{"sid":"a","pingInterval":25000}"#)
        );
        assert_eq!(parse("2").unwrap(), EioPacket::Ping);
        assert_eq!(parse("3").unwrap(), EioPacket::Pong);
        assert_eq!(parse("1").unwrap(), EioPacket::Close);
        assert!(parse("").is_err());
        assert!(parse("9").is_err());
    }

    #[test]
    fn parses_socketio_packets() {
        let EioPacket::Message(p) = parse(r#"40{"sid":"x"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(
            (p.kind, p.nsp, p.ack, p.data),
            (SioKind::Connect, "/", None, r#"{"sid":"x"}"#)
        );

        let EioPacket::Message(p) = parse(r#"431[{"ok":true}]"#).unwrap() else {
            panic!()
        };
        assert_eq!(
            (p.kind, p.ack, p.data),
            (SioKind::Ack, Some(1), r#"[{"ok":true}]"#)
        );

        let EioPacket::Message(p) = parse(r#"42/admin,7["m",1]"#).unwrap() else {
            panic!()
        };
        assert_eq!(
            (p.kind, p.nsp, p.ack, p.data),
            (SioKind::Event, "/admin", Some(7), r#"["m",1]"#)
        );

        let EioPacket::Message(p) = parse(r#"44{"message":"bad token"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(p.kind, SioKind::ConnectError);
        let EioPacket::Message(p) = parse("41").unwrap() else {
            panic!()
        };
        assert_eq!((p.kind, p.data), (SioKind::Disconnect, ""));
    }

    #[test]
    fn encodes_packets() {
        assert_eq!(connect(&json!({"token":"t"})), r#"40{"token":"t"}"#);
        assert_eq!(
            event("subscribe", &[json!("bench")], Some(3)),
            r#"423["subscribe","bench"]"#
        );
        assert_eq!(
            event("publish", &[json!({"a":1})], None),
            r#"42["publish",{"a":1}]"#
        );
    }

    #[test]
    fn event_helpers() {
        assert_eq!(event_name(r#"["message",{"x":1}]"#), Some("message"));
        assert_eq!(
            last_string_arg(r#"["message",{"x":1},"MjI1Nw-1"]"#),
            Some("MjI1Nw-1")
        );
        assert_eq!(last_string_arg(r#"["message",{"x":"y"}]"#), None);
        assert_eq!(last_string_arg(r#"["message"]"#), None);
    }
}
