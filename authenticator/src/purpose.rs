//! What a request pushed to the device is for, in the words the CLI and
//! the notifications use. Every purpose is answered the same way (a signed
//! `SignInResponse`, the number matched); only the wording differs:
//!
//! - a sign-in: "Sign in to X";
//! - a verification (a client's backend asks for verified details, SDK
//!   verification flow): "Verify your details for X";
//! - a re-authentication (a client that knows the user asks them to confirm
//!   it is them, SDK "face authentication"): "Confirm it's you for X".

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
