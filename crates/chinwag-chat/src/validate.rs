//! Input rules, checked before anything is stored.

use chinwag_protocol::Id;

use crate::error::{ChatError, Result};

/// Longest message content, in characters after trimming.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Longest community or channel name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest topic or description, in characters.
pub const MAX_TOPIC_CHARS: usize = 1024;
/// Shortest and longest username.
pub const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=32;
/// Shortest and longest password.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=256;
/// Longest reaction emoji, in bytes (a Unicode sequence or a custom name).
pub const MAX_EMOJI_BYTES: usize = chinwag_store::reactions::MAX_EMOJI_LEN;
/// Most distinct emoji on one message; a new one beyond it is refused.
pub const MAX_REACTIONS_PER_MESSAGE: usize = chinwag_store::reactions::MAX_DISTINCT_EMOJI;
/// Allowed history page sizes.
pub const HISTORY_LIMIT: std::ops::RangeInclusive<u32> = 1..=100;

/// `BAD_REQUEST` if text holds a NUL character: PostgreSQL cannot store
/// one in text, so no backend accepts it.
pub fn no_nul(what: &str, raw: &str) -> Result<()> {
    if raw.contains('\0') {
        Err(ChatError::invalid(format!(
            "{what} must not contain NUL characters"
        )))
    } else {
        Ok(())
    }
}

/// Trims message content and checks it is 1..=4000 characters without NUL.
pub fn content(raw: &str) -> Result<String> {
    no_nul("content", raw)?;
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if len == 0 {
        return Err(ChatError::invalid("content must not be empty"));
    }
    if len > MAX_CONTENT_CHARS {
        return Err(ChatError::invalid(format!(
            "content must be at most {MAX_CONTENT_CHARS} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Trims a name and checks it is 1..=100 characters, with no control
/// characters (newlines, escapes) or direction overrides, embeddings and
/// isolates (which flip the text shown after the name), and at least one
/// visible character. Direction marks and joiners stay allowed: scripts
/// written right to left, and joined scripts, need them.
pub fn name(what: &str, raw: &str) -> Result<String> {
    no_nul(what, raw)?;
    let trimmed = raw.trim();
    let len = trimmed.chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&len) {
        return Err(ChatError::invalid(format!(
            "{what} must be 1..={MAX_NAME_CHARS} characters"
        )));
    }
    let flips = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if trimmed.chars().any(|c| c.is_control() || flips(c)) {
        return Err(ChatError::invalid(format!(
            "{what} must not hold control characters or direction overrides"
        )));
    }
    let visible = |c: char| !(c.is_whitespace() || is_invisible_format(c) || c == ZWJ);
    if !trimmed.chars().any(visible) {
        return Err(ChatError::invalid(format!(
            "{what} must hold a visible character"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Checks an optional free-text field (topic, description, bio, URLs, a
/// ban reason): at most 1024 characters, no NUL; blank becomes `None`.
pub fn text(what: &str, raw: Option<String>) -> Result<Option<String>> {
    if let Some(t) = &raw {
        no_nul(what, t)?;
    }
    match raw {
        Some(t) if t.chars().count() > MAX_TOPIC_CHARS => Err(ChatError::invalid(format!(
            "{what} must be at most {MAX_TOPIC_CHARS} characters"
        ))),
        Some(t) if t.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Checks a username: 3..=32 of `[a-z0-9_]`.
pub fn username(raw: &str) -> Result<()> {
    let ok = USERNAME_CHARS.contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ChatError::invalid(
            "username must be 3..=32 characters of a-z, 0-9 and _",
        ))
    }
}

/// Checks a password's length (8..=256 characters).
pub fn password(raw: &str) -> Result<()> {
    if PASSWORD_CHARS.contains(&raw.chars().count()) {
        Ok(())
    } else {
        Err(ChatError::invalid("password must be 8..=256 characters"))
    }
}

/// Checks a reaction emoji: 1..=64 bytes, with no whitespace, control or
/// invisible formatting characters (a Unicode emoji sequence, or a custom
/// name like `party_cat`). The zero-width joiner may only join two
/// characters, as in emoji sequences.
pub fn emoji(raw: &str) -> Result<()> {
    no_nul("emoji", raw)?;
    let chars: Vec<char> = raw.chars().collect();
    let joins_two = |i: usize| i > 0 && i + 1 < chars.len() && chars[i + 1] != ZWJ;
    let ok = (1..=MAX_EMOJI_BYTES).contains(&raw.len())
        && chars.iter().enumerate().all(|(i, &c)| {
            !(c.is_whitespace() || c.is_control() || is_invisible_format(c))
                && (c != ZWJ || joins_two(i))
        });
    if ok {
        Ok(())
    } else {
        Err(ChatError::invalid(format!(
            "emoji must be 1..={MAX_EMOJI_BYTES} bytes with no whitespace, control or invisible characters"
        )))
    }
}

/// The zero-width joiner of emoji sequences.
const ZWJ: char = '\u{200D}';

/// Invisible formatting characters that could make a reaction look blank
/// or flip the text around it: soft hyphen, zero-width spaces and
/// non-joiner, direction marks, embeddings, overrides and isolates, word
/// joiners and invisible operators, the byte order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Checks a role color: 0xRRGGBB, at most 0xFFFFFF.
pub fn color(color: Option<u32>) -> Result<()> {
    match color {
        Some(c) if c > 0xFF_FFFF => Err(ChatError::invalid("color must be 0..=0xFFFFFF")),
        _ => Ok(()),
    }
}

/// Checks a history page size.
pub fn limit(limit: u32) -> Result<u32> {
    if HISTORY_LIMIT.contains(&limit) {
        Ok(limit)
    } else {
        Err(ChatError::invalid("limit must be within 1..=100"))
    }
}

/// A mention's id: a positive decimal number written plainly (no sign, no
/// leading zero), as ids are.
fn mention_id(text: &str) -> Option<Id> {
    let plain =
        !text.is_empty() && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| text.parse().ok().map(Id)).flatten()
}

/// The user ids mentioned as `<@id>` in content, each once, in order.
pub fn mentions(content: &str) -> Vec<Id> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('>') else { break };
        if let Some(id) = mention_id(&rest[..end])
            && !out.contains(&id)
        {
            out.push(id);
        }
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(content("  hi \n").unwrap(), "hi");
        assert!(content("   ").is_err());
        assert!(content(&"x".repeat(4000)).is_ok());
        assert!(content(&"x".repeat(4001)).is_err());
        assert!(content(&format!("  {}  ", "é".repeat(4000))).is_ok());
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(username("ab").is_err());
        assert!(username("alice_01").is_ok());
        assert!(username("Alice").is_err());
        assert!(username("al ice").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(password("short").is_err());
        assert!(password("longenough").is_ok());
    }

    #[test]
    fn nul_is_refused_in_every_stored_text() {
        assert!(content("a\0b").is_err());
        assert!(name("name", "a\0b").is_err());
        assert!(text("bio", Some("a\0b".into())).is_err());
        assert!(text("bio", Some("ok".into())).is_ok());
    }

    #[test]
    fn emoji_are_bounded_and_printable() {
        for good in ["👍", "party_cat", "👨‍👩‍👧", "🇫🇷", "+1", "❤\u{FE0F}"] {
            assert!(emoji(good).is_ok(), "{good}");
        }
        let long = "x".repeat(MAX_EMOJI_BYTES + 1);
        for bad in ["", " ", "a b", "\0", "a\tb", "\u{7f}", long.as_str()] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
        // Invisible or direction-flipping characters, alone or inside.
        for bad in [
            "\u{200B}",
            "\u{00AD}",
            "a\u{202E}b",
            "\u{200E}x",
            "x\u{FEFF}",
            "\u{2060}",
            "\u{180E}",
            "\u{200D}",
            "👍\u{200D}",
            "\u{200D}👍",
            "👍\u{200D}\u{200D}👍",
        ] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
        assert!(emoji(&"x".repeat(MAX_EMOJI_BYTES)).is_ok());
    }

    #[test]
    fn names_refuse_control_characters_overrides_and_blanks() {
        assert_eq!(name("name", "  Café ").unwrap(), "Café");
        // Right-to-left text with its marks, and a joined script, pass.
        assert!(name("name", "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F}").is_ok());
        assert!(name("name", "\u{0928}\u{094D}\u{200D}\u{092F}").is_ok());
        for bad in [
            "red\u{1b}[31m",
            "two\nlines",
            "bell\u{7}",
            "evil\u{202E}gnp.exe",
            "iso\u{2067}late",
            "\u{200B}\u{200B}",
            "\u{200F}\u{200E}",
        ] {
            assert!(name("name", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn colors_are_24_bits() {
        assert!(color(None).is_ok() && color(Some(0xFF_FFFF)).is_ok());
        assert!(color(Some(0x100_0000)).is_err());
    }

    #[test]
    fn mentions_are_parsed_once_each() {
        assert_eq!(
            mentions("hi <@12> and <@34>, <@12> <@x> <@5"),
            vec![Id(12), Id(34)]
        );
        // Only ids as they are written: positive, no sign, no leading zero.
        assert_eq!(mentions("<@-5> <@0> <@+7> <@007> <@ 8> <@9>"), vec![Id(9)]);
        assert!(mentions("no mentions").is_empty());
    }
}
