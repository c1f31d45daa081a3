//! JWT access tokens: HS256 only (so `alg: none` and every other algorithm
//! are refused), with an expiry, checked at connect and on `reauth`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use chinwag_protocol::Id;
use chinwag_protocol::model::UserRole;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a decimal string.
    pub sub: String,
    /// The user's role.
    pub role: UserRole,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch).
    pub exp: u64,
    /// The sign-in session (decimal id) whose refresh token obtained this
    /// token; signing it out closes the connections that use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Who a valid token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user_id: Id,
    /// The role.
    pub role: UserRole,
    /// Expiry, in milliseconds since the epoch.
    pub expires_at_ms: i64,
    /// The sign-in session the token belongs to, if it names one.
    pub session: Option<Id>,
    /// When the token was issued, in seconds since the epoch.
    pub issued_at_secs: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
    /// Malformed, wrongly signed, wrong algorithm, or bad claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Its session was signed out (see [`chinwag_realtime::Revocations`]).
    #[error("token revoked: its session was signed out")]
    Revoked,
}

/// Signs and verifies access tokens. Cheap to clone (every connection's
/// session holds one).
#[derive(Clone)]
pub struct TokenKeys {
    inner: std::sync::Arc<KeysInner>,
}

struct KeysInner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ttl_secs", &self.inner.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// How far ahead of this node's clock a token's `iat` may be: nodes'
/// clocks differ a little.
const MAX_CLOCK_SKEW_SECS: u64 = 60;

impl TokenKeys {
    /// Keys from a secret; tokens live `ttl_secs`.
    pub fn new(secret: &[u8], ttl_secs: u64) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            inner: std::sync::Arc::new(KeysInner {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                validation,
                ttl_secs,
            }),
        }
    }

    /// Issues a token for a user's sign-in session.
    pub fn issue(&self, user: Id, role: UserRole, session: Option<Id>) -> (String, i64) {
        self.issue_with_ttl(user, role, session, self.inner.ttl_secs)
    }

    /// Issues a token with an explicit lifetime; returns it and its expiry
    /// in milliseconds.
    pub fn issue_with_ttl(
        &self,
        user: Id,
        role: UserRole,
        session: Option<Id>,
        ttl_secs: u64,
    ) -> (String, i64) {
        let iat = now_secs();
        let claims = Claims {
            sub: user.to_string(),
            role,
            iat,
            exp: iat + ttl_secs,
            sid: session.map(|s| s.to_string()),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .expect("HS256 encoding of plain claims cannot fail");
        (token, (claims.exp * 1000) as i64)
    }

    /// Verifies a token.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    other => TokenError::Invalid(refusal(other)),
                })?;
        // The library accepts a token during the second of its `exp`; a
        // token is expired from `exp` on (RFC 7519 §4.1.4), as the reaper
        // and `ready.token_expires_at` count it.
        let now = now_secs();
        if data.claims.exp <= now {
            return Err(TokenError::Expired);
        }
        // Revocations compare `iat` with when a session was signed out, so
        // a token must not claim to come from the future.
        if data.claims.iat > now + MAX_CLOCK_SKEW_SECS {
            return Err(TokenError::Invalid("issued in the future (iat)".into()));
        }
        let user_id = data
            .claims
            .sub
            .parse()
            .map_err(|_| TokenError::Invalid("sub is not an id".into()))?;
        let session = data
            .claims
            .sid
            .map(|sid| sid.parse())
            .transpose()
            .map_err(|_| TokenError::Invalid("sid is not an id".into()))?;
        Ok(Identity {
            user_id,
            role: data.claims.role,
            expires_at_ms: (data.claims.exp * 1000) as i64,
            session,
            issued_at_secs: data.claims.iat,
        })
    }
}

/// Reads the secret from `<dir>/jwt_secret`, creating it (32 random bytes,
/// hex, mode 0600) on first start.
pub fn load_or_create_secret(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("jwt_secret");
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(secret.trim().to_string()),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is shorter than 32 characters", path.display()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)?;
    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new JWT signing secret");
    Ok(secret)
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Why the library refused a token, in words a client can act on (its
/// own error is a parser's debug text, e.g. `Json(Error("unknown variant
/// ...`).
fn refusal(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the algorithm must be HS256".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim `{claim}`"),
        ErrorKind::ImmatureSignature => "not valid yet (nbf)".into(),
        _ => "malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_refusals() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let (token, _) = keys.issue(Id(5), UserRole::User, Some(Id(9)));
        let who = keys.verify(&token).unwrap();
        assert_eq!((who.user_id, who.session), (Id(5), Some(Id(9))));
        let (no_session, _) = keys.issue(Id(5), UserRole::User, None);
        assert_eq!(keys.verify(&no_session).unwrap().session, None);

        let other = TokenKeys::new(b"another-secret-another-secret-xx", 60);
        assert_eq!(
            other.verify(&token),
            Err(TokenError::Invalid("bad signature".into()))
        );
        for garbage in ["abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
            assert_eq!(
                keys.verify(garbage),
                Err(TokenError::Invalid("malformed".into())),
                "{garbage}"
            );
        }

        let claims = Claims {
            sub: "5".into(),
            role: UserRole::User,
            iat: 1,
            exp: 2,
            sid: None,
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(keys.verify(&expired), Err(TokenError::Expired));
        // Not yet valid (`nbf`), or claiming to be issued in the future.
        let sign = |claims: &serde_json::Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
            )
            .unwrap()
        };
        let now = now_secs();
        let later = serde_json::json!({"sub": "5", "role": "user", "iat": now, "exp": now + 600, "nbf": now + 300});
        assert_eq!(
            keys.verify(&sign(&later)),
            Err(TokenError::Invalid("not valid yet (nbf)".into()))
        );
        let future =
            serde_json::json!({"sub": "5", "role": "user", "iat": now + 3600, "exp": now + 7200});
        assert_eq!(
            keys.verify(&sign(&future)),
            Err(TokenError::Invalid("issued in the future (iat)".into()))
        );
        let skewed = serde_json::json!({"sub": "5", "role": "user", "iat": now + 30, "exp": now + 600, "nbf": now});
        assert_eq!(keys.verify(&sign(&skewed)).unwrap().user_id, Id(5));
        // Expired from the second of `exp` on, not after it.
        let (ends_now, _) = keys.issue_with_ttl(Id(5), UserRole::User, None, 0);
        assert_eq!(keys.verify(&ends_now), Err(TokenError::Expired));
    }

    #[test]
    fn secret_is_created_once() {
        let dir = std::env::temp_dir().join(format!("chinwag-secret-{}", rand::random::<u64>()));
        let a = load_or_create_secret(&dir).unwrap();
        let b = load_or_create_secret(&dir).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
