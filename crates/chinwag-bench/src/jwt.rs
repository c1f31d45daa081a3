//! HS256 access tokens, minted with the same secret the server checks.

use anyhow::Result;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The claims Chinwag (and every peer here) checks at connect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id as a decimal string.
    pub sub: String,
    /// `user` or `bot`.
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Mints a token for `uid`, valid for a day.
pub fn mint(secret: &str, uid: u64) -> Result<String> {
    let iat = now_secs();
    let claims = Claims {
        sub: uid.to_string(),
        role: "user".into(),
        iat,
        exp: iat + 86_400,
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// Checks a token and returns its claims (used by the peer servers).
pub fn verify(secret: &str, token: &str) -> Result<Claims> {
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &Validation::new(Algorithm::HS256),
    )?;
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = mint("s3cret", 42).unwrap();
        let c = verify("s3cret", &t).unwrap();
        assert_eq!((c.sub.as_str(), c.role.as_str()), ("42", "user"));
        assert!(verify("other", &t).is_err());
    }
}
