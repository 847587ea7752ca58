//! Scope strings: space-separated scope tokens (RFC 6749 §3.3), each
//! optionally followed by an Authentiq modifier: `~r` required, `~s` signed
//! by the issuer (verified), `~rs` both — e.g. `openid email~rs aq:push`.
//!
//! Unknown scopes are kept (and flagged by [`ScopeName::Unknown`]) so that a
//! caller decides what to do with them; they are never silently dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope token {0:?} has an empty name")]
    EmptyName(String),
    #[error("scope token {token:?} has modifier {modifier:?}; use ~r, ~s or ~rs")]
    InvalidModifier { token: String, modifier: String },
    #[error("scope token {0:?} contains a character RFC 6749 does not allow")]
    InvalidCharacter(String),
    #[error("the scope is too long: at most {MAX_TOKENS} tokens and {MAX_LEN} bytes")]
    TooLong,
}

/// Bounds that keep parsing cheap whatever a client sends.
pub const MAX_TOKENS: usize = 64;
pub const MAX_LEN: usize = 2048;

macro_rules! scope_names {
    ($($variant:ident => $text:literal, $doc:literal;)*) => {
        /// A scope name; the known ones get a variant of their own.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ScopeName {
            $(#[doc = $doc] $variant,)*
            /// Anything else, kept verbatim.
            Unknown(String),
        }

        impl ScopeName {
            pub fn as_str(&self) -> &str {
                match self {
                    $(ScopeName::$variant => $text,)*
                    ScopeName::Unknown(s) => s,
                }
            }

            fn from_name(s: &str) -> Self {
                match s {
                    $($text => ScopeName::$variant,)*
                    other => ScopeName::Unknown(other.to_string()),
                }
            }

            /// Every known scope, in a stable order (for discovery documents).
            pub const KNOWN: &'static [ScopeName] = &[$(ScopeName::$variant,)*];
        }
    };
}

scope_names! {
    OpenId => "openid", "OIDC: this is an OpenID Connect request.";
    Profile => "profile", "OIDC: name, family_name, given_name, …";
    Email => "email", "OIDC: email, email_verified.";
    Phone => "phone", "OIDC: phone_number, phone_number_verified.";
    Address => "address", "OIDC: address.";
    OfflineAccess => "offline_access", "OIDC: a refresh token.";
    AqName => "aq:name", "Authentiq: the user's name.";
    AqLocation => "aq:location", "Authentiq: the user's location.";
    AqUsername => "aq:username", "Authentiq: preferred username.";
    AqLocale => "aq:locale", "Authentiq: locale.";
    AqZoneinfo => "aq:zoneinfo", "Authentiq: time zone.";
    AqPush => "aq:push", "Authentiq: allow one-tap push sign-in next time.";
}

impl ScopeName {
    pub fn is_known(&self) -> bool {
        !matches!(self, ScopeName::Unknown(_))
    }
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scope with its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeItem {
    pub name: ScopeName,
    /// `~r`: the user cannot leave it out.
    pub required: bool,
    /// `~s`: the claim must carry the issuer's signature (verified).
    pub signed: bool,
}

impl ScopeItem {
    pub fn new(name: ScopeName) -> Self {
        Self {
            name,
            required: false,
            signed: false,
        }
    }
}

impl fmt::Display for ScopeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.as_str())?;
        match (self.required, self.signed) {
            (false, false) => Ok(()),
            (true, false) => f.write_str("~r"),
            (false, true) => f.write_str("~s"),
            (true, true) => f.write_str("~rs"),
        }
    }
}

fn valid_token_char(c: char) -> bool {
    // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

impl FromStr for ScopeItem {
    type Err = ScopeError;

    fn from_str(token: &str) -> Result<Self, ScopeError> {
        if !token.chars().all(valid_token_char) {
            return Err(ScopeError::InvalidCharacter(token.into()));
        }
        let (name, required, signed) = match token.rsplit_once('~') {
            None => (token, false, false),
            Some((name, modifier)) => match modifier {
                "r" => (name, true, false),
                "s" => (name, false, true),
                "rs" | "sr" => (name, true, true),
                _ => {
                    return Err(ScopeError::InvalidModifier {
                        token: token.into(),
                        modifier: modifier.into(),
                    });
                }
            },
        };
        if name.is_empty() {
            return Err(ScopeError::EmptyName(token.into()));
        }
        if name.contains('~') {
            return Err(ScopeError::InvalidModifier {
                token: token.into(),
                modifier: token[name.find('~').map_or(0, |i| i + 1)..].into(),
            });
        }
        Ok(Self {
            name: ScopeName::from_name(name),
            required,
            signed,
        })
    }
}

/// A parsed scope string: items in first-seen order, each name once (a
/// repeated name merges its modifiers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    items: Vec<ScopeItem>,
}

impl Scope {
    pub fn items(&self) -> &[ScopeItem] {
        &self.items
    }

    pub fn get(&self, name: &ScopeName) -> Option<&ScopeItem> {
        self.items.iter().find(|i| &i.name == name)
    }

    pub fn contains(&self, name: &ScopeName) -> bool {
        self.get(name).is_some()
    }

    /// Adds an item, merging modifiers into an existing item of that name.
    pub fn insert(&mut self, item: ScopeItem) {
        match self.items.iter_mut().find(|i| i.name == item.name) {
            Some(existing) => {
                existing.required |= item.required;
                existing.signed |= item.signed;
            }
            None => self.items.push(item),
        }
    }

    /// Scopes this crate does not know, for the caller to refuse or ignore openly.
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match &i.name {
            ScopeName::Unknown(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    /// Tokens are separated by one or more spaces (RFC 6749 uses `%x20`).
    fn from_str(s: &str) -> Result<Self, ScopeError> {
        if s.len() > MAX_LEN {
            return Err(ScopeError::TooLong);
        }
        let mut scope = Scope::default();
        for (i, token) in s.split(' ').filter(|t| !t.is_empty()).enumerate() {
            if i >= MAX_TOKENS {
                return Err(ScopeError::TooLong);
            }
            scope.insert(token.parse()?);
        }
        Ok(scope)
    }
}

impl FromIterator<ScopeItem> for Scope {
    fn from_iter<I: IntoIterator<Item = ScopeItem>>(iter: I) -> Self {
        let mut scope = Scope::default();
        for item in iter {
            scope.insert(item);
        }
        scope
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_modifiers_and_known_names() {
        let s: Scope = "openid email~rs phone~s aq:name~r aq:push".parse().unwrap();
        let items = s.items();
        assert_eq!(items.len(), 5);
        assert_eq!(items[0], ScopeItem::new(ScopeName::OpenId));
        assert_eq!(
            items[1],
            ScopeItem {
                name: ScopeName::Email,
                required: true,
                signed: true
            }
        );
        assert!(items[2].signed && !items[2].required);
        assert_eq!(items[3].name, ScopeName::AqName);
        assert!(items[3].required && !items[3].signed);
        assert_eq!(items[4].name, ScopeName::AqPush);
        assert_eq!(s.to_string(), "openid email~rs phone~s aq:name~r aq:push");
    }

    #[test]
    fn unknown_scopes_are_kept_and_flagged() {
        let s: Scope = "openid https://api.example/read aq:other~r"
            .parse()
            .unwrap();
        assert_eq!(s.items().len(), 3);
        assert_eq!(
            s.unknown().collect::<Vec<_>>(),
            ["https://api.example/read", "aq:other"]
        );
        assert!(!s.items()[1].name.is_known());
        assert!(s.items()[2].required);
        assert_eq!(s.to_string(), "openid https://api.example/read aq:other~r");
    }

    #[test]
    fn duplicates_merge_their_modifiers() {
        let s: Scope = "email~r openid email~s".parse().unwrap();
        assert_eq!(s.to_string(), "email~rs openid");
    }

    #[test]
    fn sr_is_read_as_rs_and_extra_spaces_are_ignored() {
        let s: Scope = "  openid   email~sr ".parse().unwrap();
        assert_eq!(s.to_string(), "openid email~rs");
    }

    #[test]
    fn rejects_bad_modifiers_and_names() {
        assert_eq!(
            "email~x".parse::<Scope>().unwrap_err(),
            ScopeError::InvalidModifier {
                token: "email~x".into(),
                modifier: "x".into()
            }
        );
        assert!(matches!(
            "email~".parse::<Scope>().unwrap_err(),
            ScopeError::InvalidModifier { .. }
        ));
        assert_eq!(
            "~r".parse::<Scope>().unwrap_err(),
            ScopeError::EmptyName("~r".into())
        );
        assert_eq!(
            "open\"id".parse::<Scope>().unwrap_err(),
            ScopeError::InvalidCharacter("open\"id".into())
        );
        assert_eq!(
            "openid\temail".parse::<Scope>().unwrap_err(),
            ScopeError::InvalidCharacter("openid\temail".into())
        );
    }

    #[test]
    fn a_name_cannot_hold_a_tilde() {
        assert!(matches!(
            "email~r~s".parse::<Scope>().unwrap_err(),
            ScopeError::InvalidModifier { .. }
        ));
    }

    #[test]
    fn long_scopes_are_refused() {
        let many = (0..65)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(many.parse::<Scope>().unwrap_err(), ScopeError::TooLong);
        let wide = "x".repeat(MAX_LEN + 1);
        assert_eq!(wide.parse::<Scope>().unwrap_err(), ScopeError::TooLong);
        let ok = (0..64)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(ok.parse::<Scope>().unwrap().items().len(), 64);
    }

    #[test]
    fn empty_scope_is_empty() {
        assert!("".parse::<Scope>().unwrap().is_empty());
    }

    #[test]
    fn serde_is_the_string_form() {
        let s: Scope = serde_json::from_str("\"openid email~rs\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"openid email~rs\"");
        assert!(serde_json::from_str::<Scope>("\"email~q\"").is_err());
    }

    fn name() -> impl Strategy<Value = ScopeName> {
        prop_oneof![
            proptest::sample::select(ScopeName::KNOWN.to_vec()),
            // Unknown names: token characters without '~'.
            "[!#-\\[\\]-}]{1,12}".prop_map(|s| ScopeName::from_name(&s)),
        ]
    }

    fn item() -> impl Strategy<Value = ScopeItem> {
        (name(), any::<bool>(), any::<bool>()).prop_map(|(name, required, signed)| ScopeItem {
            name,
            required,
            signed,
        })
    }

    proptest! {
        #[test]
        fn scope_round_trips(items in proptest::collection::vec(item(), 0..8)) {
            let scope: Scope = items.into_iter().collect();
            let text = scope.to_string();
            let parsed: Scope = text.parse().unwrap();
            prop_assert_eq!(&parsed, &scope);
            prop_assert_eq!(parsed.to_string(), text);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
            if let Ok(scope) = s.parse::<Scope>() {
                // Whatever parses, formats to something that parses the same.
                let again: Scope = scope.to_string().parse().unwrap();
                prop_assert_eq!(again, scope);
            }
        }
    }
}
