#![no_main]
//! The scope grammar: `Scope` and `ScopeItem` from any string, and the
//! normal form `Display` promises (parse → to_string → parse is the same
//! scope, and to_string is a fixed point).
use authentiq_protocol::scope::{MAX_LEN, MAX_TOKENS, Scope, ScopeItem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(item) = s.parse::<ScopeItem>() {
        let text = item.to_string();
        assert_eq!(text.parse::<ScopeItem>().as_ref(), Ok(&item), "{s:?}");
    }
    let Ok(scope) = s.parse::<Scope>() else {
        return;
    };
    assert!(scope.items().len() <= MAX_TOKENS);
    for (i, item) in scope.items().iter().enumerate() {
        let name = item.name.as_str();
        assert!(!name.is_empty() && !name.contains(['~', ' ']), "{s:?}");
        assert!(
            scope.items()[..i].iter().all(|o| o.name != item.name),
            "{s:?}: {name} twice"
        );
    }
    let text = scope.to_string();
    // The normal form is never longer (merged duplicates, single spaces,
    // `~sr` as `~rs`), so it never trips the length limit on the way back.
    assert!(text.len() <= s.len() && text.len() <= MAX_LEN, "{s:?}");
    let again: Scope = match text.parse() {
        Ok(again) => again,
        Err(e) => panic!("{s:?} formats as {text:?}, which does not parse: {e}"),
    };
    assert_eq!(again, scope, "{s:?} -> {text:?}");
    assert_eq!(again.to_string(), text);
    let json = serde_json::to_string(&scope).unwrap();
    assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
});
