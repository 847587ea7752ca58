//! What a notification says: its title and body for a sign-in request or a
//! device notice, with the requester's strings clipped and escaped, and a
//! binding message as plain text.

use super::Notice;
use crate::purpose;

/// The title: what the request is for, and from whom; for a backchannel
/// request, with the client's message ("Sign-in requested by X: “Order
/// 1234”"), which is what the user checks.
pub(super) fn summary(n: &Notice) -> String {
    let client = clip(&n.client_name, 80);
    let label = purpose::request_label(n.purpose, n.backchannel, &client);
    match n.binding_message.as_deref().filter(|_| n.backchannel) {
        Some(m) => format!("{label}: “{}”", plain(m)),
        None => format!("{label}?"),
    }
}

/// The body: where the request comes from, and what to do. Servers may
/// interpret a subset of HTML in bodies, so the requester's strings are
/// escaped (and clipped: a user agent is whatever the requester sent). A
/// backchannel request's body starts with what to check (the binding
/// message, as [`plain`] text) and asks for no number.
pub(super) fn body(n: &Notice) -> String {
    let client = escape(&clip(&n.client_name, 80));
    let mut body = String::new();
    if n.backchannel {
        let message = n.binding_message.as_deref().map(plain);
        if let Some(check) = purpose::binding_check(true, &client, message.as_deref()) {
            body.push_str(&check);
            body.push('\n');
        }
    }
    body.push_str(&format!("From {}", escape(&clip(&n.requester_ip, 64))));
    if let Some(ua) = n.user_agent.as_deref().filter(|ua| !ua.trim().is_empty()) {
        body.push_str(&format!(" ({})", escape(&clip(ua, 120))));
    }
    if n.backchannel {
        body.push_str("\nOpen Authentiq to approve or deny: there is no number to pick.");
    } else {
        body.push_str("\nOpen Authentiq to pick the number shown on the page.");
    }
    body
}

/// A device notice's body: each line clipped and escaped (the requester's
/// strings are in it).
pub(super) fn device_body(body: &str) -> String {
    body.lines()
        .map(|l| escape(&clip(l, 160)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A binding message for a notification: one clipped line with `<`, `>`
/// and `&` left out. It is untrusted text the user compares with what the
/// client shows, and daemons differ — some read markup in bodies (even in
/// titles), where an escaped `&amp;` shows as `&`, others show it as
/// `&amp;` — so rather than escape it, what could be markup is dropped. The
/// app and `aq` show the message exactly.
pub(super) fn plain(message: &str) -> String {
    let kept: String = message
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&'))
        .collect();
    clip(
        kept.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
        64,
    )
}

pub(super) fn clip(s: &str, max_chars: usize) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
