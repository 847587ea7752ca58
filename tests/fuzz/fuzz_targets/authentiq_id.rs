#![no_main]
//! `AuthentiqId` from a string (and from raw key bytes): whatever parses has
//! exactly one spelling, the one it was parsed from.
use authentiq_protocol::AuthentiqId;
use authentiq_protocol::id::ENCODED_LEN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = <&[u8; 32]>::try_from(data.get(..32).unwrap_or_default()) {
        if let Ok(id) = AuthentiqId::from_bytes(bytes) {
            assert_eq!(id.as_bytes(), bytes);
            assert!(!id.verifying_key().is_weak());
            let text = id.to_string();
            assert_eq!(text.len(), ENCODED_LEN);
            assert_eq!(text.parse::<AuthentiqId>(), Ok(id));
        }
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = s.parse::<AuthentiqId>();
    if let Ok(id) = parsed {
        // Canonical base64url of a canonical point: the one spelling.
        assert_eq!(id.to_string(), s);
        assert_eq!(AuthentiqId::from_bytes(id.as_bytes()), Ok(id));
        assert_eq!(AuthentiqId::from_verifying_key(*id.verifying_key()), Ok(id));
    }
    // serde reads the same strings as FromStr.
    let json = serde_json::to_string(s).unwrap();
    let via_serde = serde_json::from_str::<AuthentiqId>(&json);
    assert_eq!(via_serde.ok(), parsed.ok(), "{s:?}");
});
