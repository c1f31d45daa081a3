//! Password hashing (argon2) and refresh-token hashing (SHA-256).

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

/// Runs `f` with this thread's argon2 working memory, at least `count`
/// blocks. Each hash needs ~19 MiB; allocating and freeing that per hash
/// makes glibc raise its mmap threshold, after which freed memory of every
/// thread stays in the process (seen: 315 MiB RSS after 1,000
/// registrations). Keeping one buffer per hashing thread avoids that.
fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    thread_local! {
        static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        f(&mut blocks[..count])
    })
}

/// The argon2 output for `password` under `hasher`'s parameters and a salt.
fn derive(hasher: &Argon2<'_>, password: &str, salt: &Salt<'_>) -> Result<Output> {
    let failed = |e: String| StoreError::PasswordHash(e);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(e.to_string()))?;
    let params = hasher.params();
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    with_blocks(params.block_count(), |blocks| {
        Output::init_with(len, |out| {
            hasher
                .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
                .map_err(password_hash::Error::from)
        })
    })
    .map_err(|e| failed(e.to_string()))
}

/// Hashes a password with argon2id and a random salt, giving a PHC string
/// (`$argon2id$v=19$…`) to store in the user row.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = Argon2::default();
    let output = derive(&hasher, password, &salt.as_salt())?;
    let params = ParamsString::try_from(hasher.params())
        .map_err(|e| StoreError::PasswordHash(e.to_string()))?;
    let hash = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a PHC hash made by [`hash_password`] (any
/// argon2 variant and parameters). A malformed hash counts as a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let hasher = (|| {
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let params = Params::try_from(&parsed).ok()?;
        Some(Argon2::new(algorithm, version.ok()?, params))
    })();
    // `Output`'s equality is constant-time.
    hasher.is_some_and(|hasher| derive(&hasher, password, &salt).is_ok_and(|out| out == expected))
}

/// A new random refresh token (32 bytes, base64url without padding). Hand
/// it to the client; the store keeps only [`hash_token`] of it.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a token, base64url without padding: what the store keeps.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_tokens_hash_stably() {
        let hash = hash_password("hunter2").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("hunter2", &hash));
        assert!(!verify_password("hunter3", &hash));
        assert!(!verify_password("hunter2", "not a hash"));
        // A hash made by the argon2 crate's own hasher still verifies, and
        // ours verifies with the crate's verifier.
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"hunter2", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("hunter2", &theirs));
        assert!(!verify_password("hunter3", &theirs));
        let ours = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"hunter2", &ours).is_ok());
        // Other parameters (here cheaper ones) verify too.
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"hunter2", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password("hunter2", &cheap));
        assert!(!verify_password("hunter2!", &cheap));
        let token = generate_token();
        assert_eq!(token.len(), 43);
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token(&token), hash_token(&generate_token()));
    }
}
