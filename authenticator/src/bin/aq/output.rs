//! What `aq` prints: a value as JSON (`--json`) or as text, and a request
//! or an answer to one, in both forms.

use authentiq_authenticator::app;
use authentiq_authenticator::local::Request;
use serde_json::{Value, json};

#[allow(clippy::print_stdout)] // a CLI prints
pub(super) fn show(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

fn when(t: i64) -> String {
    let secs = t - app::now();
    if secs > 0 {
        format!("expires in {}:{:02}", secs / 60, secs % 60)
    } else {
        "expired".into()
    }
}

/// A request as `--json` shows it: the inbox's record, with its `label`
/// ("Sign in to X", "Verify your details for X", "Confirm it's you for X").
pub(super) fn request_json(r: &Request) -> Value {
    let mut v = json!(r);
    if let Some(o) = v.as_object_mut() {
        o.insert("label".into(), json!(r.label()));
    }
    v
}

/// What `aq approve` / `aq deny` did, as `--json` shows it.
pub(super) fn answered_json(r: &Request, result: &str) -> Value {
    json!({
        "id": r.id,
        "result": result,
        "purpose": r.purpose,
        "backchannel": r.backchannel,
        "binding_message": r.binding_message,
        "label": r.label(),
    })
}

pub(super) fn describe(r: &Request) -> String {
    let head = format!(
        "{}  {}{}\n        from {} ({})\n        asks for: {}",
        r.id,
        r.label(),
        r.client_uri
            .as_deref()
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default(),
        r.ip,
        r.user_agent.as_deref().unwrap_or(if r.backchannel {
            "unknown client"
        } else {
            "unknown browser"
        }),
        r.scope,
    );
    match r.binding_check() {
        // No page shows a number: what to check is the client's message.
        Some(check) => format!(
            "{head}\n        backchannel: started by {}'s backend, no number to match\n        \
             {check}   {}\n        approve with: aq approve {}",
            r.client_name,
            when(r.expires_at),
            r.id,
        ),
        None => format!(
            "{head}\n        numbers: {} {} {}   {}",
            r.numbers[0],
            r.numbers[1],
            r.numbers[2],
            when(r.expires_at),
        ),
    }
}
