//! Tests of the notifications' wording, expiry and error classes.

use super::desktop::classify;
use super::text::{body, clip, device_body, plain, summary};
use super::*;

fn notice() -> Notice {
    Notice {
        id: "job-1".into(),
        client_name: "Example <Shop>".into(),
        purpose: Purpose::SignIn,
        backchannel: false,
        binding_message: None,
        requester_ip: "203.0.113.7".into(),
        user_agent: Some("Mozilla/5.0 <b>x</b> & co".into()),
        expires_at: 1_800_000_120,
    }
}

#[test]
fn body_names_the_requester_escaped_and_says_what_to_do() {
    let b = body(&notice());
    assert!(b.starts_with("From 203.0.113.7 (Mozilla/5.0 &lt;b&gt;x&lt;/b&gt; &amp; co)"));
    assert!(b.ends_with("Open Authentiq to pick the number shown on the page."));
    let no_ua = body(&Notice {
        user_agent: None,
        ..notice()
    });
    assert!(no_ua.starts_with("From 203.0.113.7\n"), "{no_ua}");
}

#[test]
fn the_title_says_what_the_request_is_for() {
    let with = |purpose| {
        summary(&Notice {
            purpose,
            ..notice()
        })
    };
    assert_eq!(with(Purpose::SignIn), "Sign in to Example <Shop>?");
    assert_eq!(
        with(Purpose::Verification),
        "Verify your details for Example <Shop>?"
    );
    assert_eq!(
        with(Purpose::Reauthentication),
        "Confirm it's you for Example <Shop>?"
    );
    let long = Notice {
        client_name: "x".repeat(200),
        purpose: Purpose::Verification,
        ..notice()
    };
    assert_eq!(
        summary(&long),
        format!("Verify your details for {}…?", "x".repeat(80))
    );
}

#[test]
fn a_backchannel_request_says_what_to_check_and_asks_for_no_number() {
    let ciba = Notice {
        client_name: "Example Shop".into(),
        backchannel: true,
        binding_message: Some("Order <b>1234</b> & co".into()),
        ..notice()
    };
    assert_eq!(
        summary(&ciba),
        "Sign-in requested by Example Shop: “Order b1234/b co”"
    );
    let b = body(&ciba);
    assert!(
        b.starts_with("Check that Example Shop shows: Order b1234/b co\nFrom 203.0.113.7 ("),
        "{b}"
    );
    assert!(
        b.ends_with("Open Authentiq to approve or deny: there is no number to pick."),
        "{b}"
    );
    assert!(!b.contains("pick the number"), "{b}");
    // No markup the message brought survives, escaped or not.
    let message = b.lines().next().unwrap();
    assert!(!message.contains(['<', '>', '&']), "{message}");

    let quiet = Notice {
        binding_message: None,
        ..ciba.clone()
    };
    assert_eq!(summary(&quiet), "Sign-in requested by Example Shop?");
    assert!(
        body(&quiet).starts_with("Example Shop sent no message to check"),
        "{}",
        body(&quiet)
    );
    // A message on a request matched by number is not shown.
    let page = Notice {
        backchannel: false,
        ..ciba
    };
    assert_eq!(summary(&page), "Sign in to Example Shop?");
    assert!(!body(&page).contains("Order"));
    // Clipped, on one line.
    assert_eq!(
        plain(&format!("a\n{}", "b".repeat(100))),
        format!("a {}…", "b".repeat(62))
    );
}

#[test]
fn a_device_notice_keeps_its_lines_escaped_and_ends_when_moot() {
    assert_eq!(
        device_body("“<b>Laptop</b>” from 192.0.2.1\nOpen Authentiq"),
        "“&lt;b&gt;Laptop&lt;/b&gt;” from 192.0.2.1\nOpen Authentiq"
    );
    let n = DeviceNotice {
        id: "https://id.example/link/p1".into(),
        title: "A new device asks to join your Authentiq ID".into(),
        body: "x".into(),
        expires_at: 1_800_000_100,
    };
    let d = DesktopNotifier::new();
    assert!(d.build_device(&n, 1_800_000_000).is_some());
    assert!(d.build_device(&n, 1_800_000_100).is_none());
}

#[test]
fn long_or_control_text_is_clipped() {
    assert_eq!(clip("ab\ncd", 10), "abcd");
    assert_eq!(clip(&"é".repeat(10), 3), "ééé…");
}

#[test]
fn times_out_at_expiry_and_expired_is_not_shown() {
    let d = DesktopNotifier::new();
    assert!(d.build(&notice(), 1_800_000_000).is_some());
    assert!(d.build(&notice(), 1_800_000_120).is_none());
    assert!(d.build(&notice(), i64::MIN).is_none());
    let far = Notice {
        expires_at: i64::MAX,
        ..notice()
    };
    assert!(d.build(&far, 0).is_some());
}

#[test]
fn errors_are_classified() {
    let e = classify(
        "org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.Notifications \
         was not provided by any .service files",
    );
    assert!(matches!(e, NotifyError::NoDaemon(_)));
    assert!(e.to_string().starts_with("No notification daemon"));
    let e = classify("I/O error: No such file or directory (os error 2)");
    assert!(matches!(e, NotifyError::NoDaemon(_)));
    assert!(e.to_string().starts_with("There is no D-Bus session bus"));
    assert!(matches!(classify("other"), NotifyError::Failed(_)));
}

#[derive(Debug)]
struct Broken;
impl Notifier for Broken {
    fn sign_in_request(&self, _: &Notice) -> Result<(), NotifyError> {
        Err(NotifyError::NoDaemon("none".into()))
    }
}

#[test]
fn notify_or_log_is_never_fatal() {
    assert!(!notify_or_log(&Broken, &notice()));
}
