//! Allocation-free field extraction from compact JSON frames, for the
//! receive hot path (ten thousand clients must not each run a full parser).
//!
//! Keys are searched with a [`Finder`] built once per call site by
//! [`key!`](crate::key): building one costs more than searching a frame,
//! and a profile of the workers at 800k deliveries/s showed them spending
//! 30% of their time doing it on every call.

pub use memchr::memmem::Finder;

/// The [`Finder`] for a byte-string literal, built on first use and kept in
/// a static at the call site: `scan::find_u64(frame, key!(br#""seq":"#))`.
#[macro_export]
macro_rules! key {
    ($needle:literal) => {{
        static FINDER: ::std::sync::LazyLock<$crate::scan::Finder<'static>> =
            ::std::sync::LazyLock::new(|| $crate::scan::Finder::new($needle));
        &*FINDER
    }};
}

/// The unsigned integer that follows `key` (which includes the quotes and
/// colon, e.g. `"seq":`), if any.
#[inline]
pub fn find_u64(hay: &[u8], key: &Finder<'_>) -> Option<u64> {
    let at = key.find(hay)? + key.needle().len();
    let digits = &hay[at..];
    let mut v: u64 = 0;
    let mut n = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        n += 1;
    }
    (n > 0).then_some(v)
}

/// The string value (without escapes) that follows `key`, e.g. `"epoch":`.
pub fn find_str<'a>(hay: &'a [u8], key: &Finder<'_>) -> Option<&'a str> {
    let at = key.find(hay)? + key.needle().len();
    let rest = hay.get(at..)?;
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// Whether `hay` contains `needle`.
#[inline]
pub fn contains(hay: &[u8], needle: &Finder<'_>) -> bool {
    needle.find(hay).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &[u8] = br#"{"op":"event","room":"topic:public.bench","epoch":"e1","offset":42,"type":"TOPIC_MESSAGE","data":{"topic":"public.bench","from":"7","origin_node":"n","data":{"ts":1700000000123456,"seq":17}}}"#;

    #[test]
    fn finds_numbers() {
        assert_eq!(find_u64(EVENT, key!(b"\"seq\":")), Some(17));
        assert_eq!(
            find_u64(EVENT, key!(b"\"ts\":")),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(find_u64(EVENT, key!(b"\"offset\":")), Some(42));
        assert_eq!(find_u64(EVENT, key!(b"\"missing\":")), None);
        assert_eq!(find_u64(br#"{"seq":"x"}"#, key!(b"\"seq\":")), None);
        assert_eq!(
            find_u64(br#"{"seq":99999999999999999999999}"#, key!(b"\"seq\":")),
            None
        );
    }

    #[test]
    fn key_must_match_whole() {
        assert_eq!(
            find_u64(br#"{"parts":3,"ts":5}"#, key!(b"\"ts\":")),
            Some(5)
        );
    }

    #[test]
    fn finds_strings() {
        assert_eq!(find_str(EVENT, key!(b"\"epoch\":")), Some("e1"));
        assert_eq!(find_str(EVENT, key!(b"\"offset\":")), None);
        assert!(contains(EVENT, key!(b"\"op\":\"event\"")));
    }
}
