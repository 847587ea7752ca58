//! What a request pushed to the device is for, in the words the CLI and
//! the notifications use. Every purpose is answered the same way (a signed
//! `SignInResponse`, the number matched); only the wording differs:
//!
//! - a sign-in: "Sign in to X";
//! - a verification (a client's backend asks for verified details, SDK
//!   verification flow): "Verify your details for X";
//! - a re-authentication (a client that knows the user asks them to confirm
//!   it is them, SDK "face authentication"): "Confirm it's you for X".
//!
//! A request may also be a *backchannel* one (OpenID Connect CIBA): the
//! client's backend started it for a user it knows, with no browser page
//! showing a number, so there is no number to match. It reads "Sign-in
//! requested by X", and the client's binding message — a short text the
//! client showed the user, such as an order number — is what the user
//! checks instead ([`binding_check`]). The message is the client's text,
//! untrusted: kept as plain text, cleaned of control and bidirectional
//! formatting characters ([`clean_binding_message`]).

pub use authentiq_protocol::payloads::Purpose;

/// The heading of a request from `client`: "Sign in to X", "Verify your
/// details for X", "Confirm it's you for X".
pub fn label(purpose: Purpose, client: &str) -> String {
    match purpose {
        Purpose::SignIn => format!("Sign in to {client}"),
        Purpose::Verification => format!("Verify your details for {client}"),
        Purpose::Reauthentication => format!("Confirm it's you for {client}"),
    }
}

/// The heading of a request from `client`, started by the client's
/// backend (`backchannel`: CIBA) or not: [`label`], except that a
/// backchannel sign-in reads "Sign-in requested by X" — the user did not
/// start it on a sign-in page, X did.
pub fn request_label(purpose: Purpose, backchannel: bool, client: &str) -> String {
    match (backchannel, purpose) {
        (true, Purpose::SignIn) => format!("Sign-in requested by {client}"),
        _ => label(purpose, client),
    }
}

/// What a backchannel request asks the user to check in place of a number:
/// "Check that X shows: MESSAGE", or, when the client sent no message, to
/// approve only a sign-in they asked X for. `None` for other requests
/// (they match a number).
pub fn binding_check(backchannel: bool, client: &str, message: Option<&str>) -> Option<String> {
    if !backchannel {
        return None;
    }
    Some(match message {
        Some(m) => format!("Check that {client} shows: {m}"),
        None => format!(
            "{client} sent no message to check: approve only if you just asked {client} for this"
        ),
    })
}

/// Longest binding message kept (characters; the server allows 64, CIBA
/// Core §7.1 asks for short ones): a longer one is clipped, marked `…`.
pub const BINDING_MESSAGE_MAX: usize = 64;

/// A binding message as received, made safe to show as plain text: control
/// characters (newlines, terminal escapes) and bidirectional formatting
/// characters (which could reorder what is shown) removed, whitespace runs
/// made one space, trimmed, clipped to [`BINDING_MESSAGE_MAX`]. `None`
/// when nothing is left.
pub fn clean_binding_message(message: Option<&str>) -> Option<String> {
    let kept: String = message?
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let words: Vec<&str> = kept.split(' ').filter(|w| !w.is_empty()).collect();
    let one = words.join(" ");
    if one.is_empty() {
        return None;
    }
    Some(match one.char_indices().nth(BINDING_MESSAGE_MAX) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    })
}

/// Unicode's bidirectional formatting characters (marks, embeddings,
/// overrides, isolates), and the zero-width ones that hide text.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// The purpose as the wire, the local database and `--json` spell it.
pub fn as_str(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::SignIn => "sign-in",
        Purpose::Verification => "verification",
        Purpose::Reauthentication => "reauthentication",
    }
}

/// [`as_str`] read back. Anything else (a purpose a newer version wrote)
/// reads as a sign-in, as rows from before purposes were kept do.
pub fn parse(s: &str) -> Purpose {
    match s {
        "verification" => Purpose::Verification,
        "reauthentication" => Purpose::Reauthentication,
        _ => Purpose::SignIn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Purpose; 3] = [
        Purpose::SignIn,
        Purpose::Verification,
        Purpose::Reauthentication,
    ];

    #[test]
    fn labels_name_the_client() {
        let labels: Vec<String> = ALL.iter().map(|p| label(*p, "Test Shop")).collect();
        assert_eq!(
            labels,
            [
                "Sign in to Test Shop",
                "Verify your details for Test Shop",
                "Confirm it's you for Test Shop"
            ]
        );
    }

    #[test]
    fn a_backchannel_sign_in_is_requested_by_the_client() {
        assert_eq!(
            request_label(Purpose::SignIn, true, "Test Shop"),
            "Sign-in requested by Test Shop"
        );
        assert_eq!(
            request_label(Purpose::SignIn, false, "Test Shop"),
            "Sign in to Test Shop"
        );
        // Other purposes already say the client asks.
        assert_eq!(
            request_label(Purpose::Reauthentication, true, "Test Shop"),
            "Confirm it's you for Test Shop"
        );
    }

    #[test]
    fn the_binding_message_is_what_to_check() {
        assert_eq!(
            binding_check(true, "Test Shop", Some("Order 1234")).as_deref(),
            Some("Check that Test Shop shows: Order 1234")
        );
        let none = binding_check(true, "Test Shop", None).unwrap();
        assert!(none.starts_with("Test Shop sent no message"), "{none}");
        assert_eq!(binding_check(false, "Test Shop", Some("x")), None);
    }

    #[test]
    fn binding_messages_are_cleaned_to_one_line_of_plain_text() {
        let clean = |s: &str| clean_binding_message(Some(s));
        assert_eq!(clean("Order 1234").as_deref(), Some("Order 1234"));
        assert_eq!(clean("  Order\n\t1234  ").as_deref(), Some("Order 1234"));
        // A terminal escape, a right-to-left override, a zero-width space.
        assert_eq!(
            clean("\u{1b}[31mRed\u{1b}[0m \u{202E}321\u{202C} a\u{200B}b").as_deref(),
            Some("[31mRed[0m 321 ab")
        );
        // Markup is text: kept as it is (escaped where it is shown).
        assert_eq!(
            clean("<b>Tom & Jerry</b>").as_deref(),
            Some("<b>Tom & Jerry</b>")
        );
        assert_eq!(clean(" \n\u{202E} "), None);
        assert_eq!(clean_binding_message(None), None);
        let long = clean(&"é".repeat(100)).unwrap();
        assert_eq!(long, format!("{}…", "é".repeat(BINDING_MESSAGE_MAX)));
    }

    #[test]
    fn spelled_as_the_protocol_spells_it_and_read_back() {
        for p in ALL {
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(as_str(p))
            );
            assert_eq!(parse(as_str(p)), p);
        }
        assert_eq!(parse("something-newer"), Purpose::SignIn);
        assert_eq!(parse(""), Purpose::SignIn);
    }
}
