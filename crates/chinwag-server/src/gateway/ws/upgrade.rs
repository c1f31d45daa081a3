//! The HTTP/1.1 upgrade handshake (RFC 6455 §4.2): checks the request,
//! answers 101 with the accept key, and hands over the raw connection.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};

/// The connection after the upgrade.
pub type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// RFC 6455's key suffix.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// An accepted upgrade: the response to send, and the connection once the
/// response is out.
#[derive(Debug)]
pub struct Handshake {
    /// The 101 response.
    pub response: Response,
    /// Resolves to the upgraded connection.
    pub upgraded: OnUpgrade,
}

/// Accepts `request` as a WebSocket upgrade, or says why not.
pub fn accept(request: &mut Request) -> Result<Handshake, &'static str> {
    let headers = request.headers();
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err("Connection: upgrade is required");
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err("Upgrade: websocket is required");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err("Sec-WebSocket-Version: 13 is required");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or("Sec-WebSocket-Key is required")?;
    let accept = accept_key(key.as_bytes());
    let upgraded = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or("this connection cannot be upgraded")?;
    let response = (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, HeaderValue::from_static("upgrade")),
            (header::UPGRADE, HeaderValue::from_static("websocket")),
            (header::SEC_WEBSOCKET_ACCEPT, accept),
        ],
    )
        .into_response();
    Ok(Handshake { response, upgraded })
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for a client key.
fn accept_key(key: &[u8]) -> HeaderValue {
    let digest = Sha1::new().chain_update(key).chain_update(GUID).finalize();
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    HeaderValue::try_from(encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_the_rfc_example() {
        // RFC 6455 §1.3.
        let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn requests_without_the_upgrade_headers_are_refused() {
        let base = || {
            Request::builder()
                .header("connection", "keep-alive, Upgrade")
                .header("upgrade", "WebSocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        };
        let mut plain = Request::new(axum::body::Body::empty());
        assert_eq!(
            accept(&mut plain).unwrap_err(),
            "Connection: upgrade is required"
        );
        let mut old = base().body(axum::body::Body::empty()).unwrap();
        old.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(
            accept(&mut old).unwrap_err(),
            "Sec-WebSocket-Version: 13 is required"
        );
        // Valid headers, but no connection to take over (not served by
        // hyper).
        let mut detached = base().body(axum::body::Body::empty()).unwrap();
        assert_eq!(
            accept(&mut detached).unwrap_err(),
            "this connection cannot be upgraded"
        );
    }
}
