//! The webhook signature: `Payment-Signature: t=<unix>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<raw body>")>`, several `v1` allowed during a
//! secret rotation, 300 s tolerance, constant-time comparison.
//!
//! The header is unauthenticated input that drives an HMAC over up to
//! 1 MiB of body, so it is parsed strictly and bounded before any hashing:
//! one MAC is computed per configured secret, never one per header entry.
use common::ApiError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const TOLERANCE_SECS: u64 = 300;
/// Longer than any honest header (a timestamp and a few signatures).
pub const MAX_HEADER_BYTES: usize = 512;
/// `v1` entries accepted in one header: a rotation needs two or three.
pub const MAX_SIGNATURES: usize = 4;
/// Entries of any scheme (`t`, `v1`, and e.g. Stripe's `v0`).
const MAX_ENTRIES: usize = 8;
/// Seconds since 1970 in at most 12 digits: far beyond any real clock,
/// and never an overflow.
const MAX_TIMESTAMP_DIGITS: usize = 12;

fn invalid_signature() -> ApiError {
    ApiError::new(common::ErrorKind::Invalid, "Invalid signature.")
}

/// A header that parsed: its timestamp and its `v1` MACs.
#[derive(Debug, PartialEq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub signatures: Vec<[u8; 32]>,
}

/// Reads a header strictly: bounded length and entry count, exactly one
/// `t` of digits, every `v1` exactly 64 hex characters, at least one.
pub fn parse(header: &str) -> Result<SignatureHeader, ApiError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(invalid_signature());
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for (index, entry) in header.split(',').enumerate() {
        if index >= MAX_ENTRIES {
            return Err(invalid_signature());
        }
        let (scheme, value) = entry.trim().split_once('=').ok_or_else(invalid_signature)?;
        match scheme {
            "t" if timestamp.is_none() => timestamp = Some(parse_timestamp(value)?),
            "v1" if signatures.len() < MAX_SIGNATURES => {
                let mut mac = [0u8; 32];
                hex::decode_to_slice(value, &mut mac).map_err(|_| invalid_signature())?;
                signatures.push(mac);
            }
            "t" | "v1" => return Err(invalid_signature()),
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(SignatureHeader { timestamp, signatures }),
        _ => Err(invalid_signature()),
    }
}

fn parse_timestamp(value: &str) -> Result<i64, ApiError> {
    if value.is_empty() || value.len() > MAX_TIMESTAMP_DIGITS || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_signature());
    }
    value.parse().map_err(|_| invalid_signature())
}

/// The MAC state after `"<t>.<body>"`: cloning it and finishing is cheap,
/// so each secret hashes the body once whatever the number of `v1`s.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this cannot happen.
        <Hmac<Sha256> as KeyInit>::new_from_slice(b"-").expect("a one-byte key")
    });
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value a provider sends for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Checks a `Payment-Signature` header against any of `secrets`: a fresh
/// timestamp and at least one `v1` that matches, compared in constant time.
pub fn verify(header: &str, body: &[u8], secrets: &[String], now: i64) -> Result<(), ApiError> {
    let header = parse(header)?;
    if now.abs_diff(header.timestamp) > TOLERANCE_SECS {
        return Err(invalid_signature());
    }
    let valid = secrets.iter().any(|secret| {
        let expected = mac(secret, header.timestamp, body);
        header.signatures.iter().any(|sig| expected.clone().verify_slice(sig).is_ok())
    });
    if valid { Ok(()) } else { Err(invalid_signature()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd";

    #[test]
    fn signatures_verify_only_fresh_and_matching() {
        let secrets = vec!["whsec_new".to_owned()];
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_new", 1_000, body);
        assert!(verify(&header, body, &secrets, 1_100).is_ok());
        assert!(verify(&header, body, &secrets, 1_400).is_err(), "too old");
        assert!(verify(&header, body, &secrets, 699).is_err(), "too far ahead");
        assert!(verify(&header, b"{}", &secrets, 1_100).is_err(), "other body");
        assert!(verify("t=1000,v1=zz", body, &secrets, 1_000).is_err());
        assert!(verify(&format!("v1={SIG}"), body, &secrets, 1_000).is_err(), "no timestamp");
        // Rotation: the old secret's signature beside the new one's.
        let old = sign("whsec_old", 1_000, body);
        let both = format!("{header},{}", old.split(',').nth(1).expect("v1"));
        assert!(verify(&both, body, &["whsec_old".to_owned()], 1_000).is_ok());
        assert!(verify(&both, body, &["whsec_new".to_owned()], 1_000).is_ok());
    }

    #[test]
    fn headers_that_would_drive_work_are_refused_before_any_hashing() {
        // The measured attack: thousands of empty `v1` entries, each once a
        // full HMAC of a 1 MB body.
        let flood = format!("t=1000{}", ",v1=".repeat(2_000));
        assert!(parse(&flood).is_err(), "too long");
        let many = format!("t=1000{}", format!(",v1={SIG}").repeat(MAX_SIGNATURES + 1));
        assert!(many.len() <= MAX_HEADER_BYTES, "refused for its count, not its length");
        assert!(parse(&many).is_err(), "too many signatures");
        let entries = format!("t=1000,v1={SIG}{}", ",x=1".repeat(MAX_ENTRIES));
        assert!(parse(&entries).is_err(), "too many entries");
        for malformed in [
            "t=1000,v1=",
            "t=1000,v1=abc",
            &format!("t=1000,v1={SIG}00"),
            &format!("t=1000,v1={}", "zz".repeat(32)),
            &format!("t=1000,v1={SIG},"),
            &format!("t=1000,t=1001,v1={SIG}"),
            &format!("t=-1000,v1={SIG}"),
            &format!("t=+1000,v1={SIG}"),
            &format!("t=,v1={SIG}"),
            "t=1000",
            "",
        ] {
            assert!(parse(malformed).is_err(), "{malformed:?} parsed");
        }
        let parsed = parse(&format!("t=1000, v1={SIG},v0=anything")).expect("well-formed");
        assert_eq!(parsed.timestamp, 1000);
        assert_eq!(parsed.signatures.len(), 1);
    }

    #[test]
    fn extreme_timestamps_never_overflow() {
        let secrets = vec!["whsec".to_owned()];
        for t in ["-9223372036854775808", "9223372036854775807", "999999999999"] {
            let header = format!("t={t},v1={SIG}");
            assert!(verify(&header, b"{}", &secrets, 1_000).is_err());
            assert!(verify(&header, b"{}", &secrets, i64::MIN).is_err());
            assert!(verify(&header, b"{}", &secrets, i64::MAX).is_err());
        }
    }
}
