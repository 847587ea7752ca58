//! `DesktopNotifier` against a notification daemon on a private session bus:
//! python-dbusmock's `notification_daemon` template, which logs every call.
//!
//! The notifier runs in child processes (see `support`): the probe entry
//! point below (ignored: no test of its own) is this binary run again with
//! `AQ_NOTIFY_PROBE` set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authentiq_authenticator::notifier::{
    DesktopNotifier, Notice, Notifier as _, NotifyError, OnScreen, notify_or_log,
};
use authentiq_authenticator::purpose::Purpose;
use support::{Activation, Bus, Home, Probe, probe_command, run_probe, this_binary, tool};

const PROBE_ENV: &str = "AQ_NOTIFY_PROBE";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";

/// The probe: `send <request id>` (prints `probe: sent`, or
/// `probe: error <kind>: <message>` and exits 20 for no daemon, 21 for
/// other failures), or `or-log <request id>` / `send-in-tokio <request id>`
/// (`notify_or_log`, directly or inside a tokio runtime: prints
/// `probe: shown <bool>`, logs to stderr, and exits 0 whatever happened).
#[test]
#[ignore = "not a test: the probe the other tests run as a child process"]
fn notifier_probe_entry_point() {
    let Ok(op) = std::env::var(PROBE_ENV) else {
        support::not_a_test(PROBE_ENV);
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let args: Vec<&str> = op.split(' ').collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let notice = |id: &str| Notice {
        id: id.to_owned(),
        client_name: "Example Shop".to_owned(),
        purpose: Purpose::SignIn,
        backchannel: false,
        binding_message: None,
        requester_ip: "203.0.113.7".to_owned(),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".to_owned()),
        expires_at: i64::try_from(now).expect("time") + 120,
    };
    let notifier = DesktopNotifier::new();
    let (line, code) = match args.as_slice() {
        ["send", id] => match notifier.sign_in_request(&notice(id)) {
            Ok(()) => ("sent".to_owned(), 0),
            Err(e @ NotifyError::NoDaemon(_)) => (format!("error NoDaemon: {e}"), 20),
            Err(e @ NotifyError::Failed(_)) => (format!("error Failed: {e}"), 21),
        },
        // A verification and a re-authentication request.
        ["send-purposes", id] => {
            let sent = [Purpose::Verification, Purpose::Reauthentication]
                .into_iter()
                .map(|purpose| {
                    notifier.sign_in_request(&Notice {
                        purpose,
                        ..notice(id)
                    })
                })
                .collect::<Result<Vec<()>, _>>();
            match sent {
                Ok(_) => ("sent".to_owned(), 0),
                Err(e) => (format!("error {e}"), 21),
            }
        }
        // A backchannel (CIBA) sign-in, its message with markup in it.
        ["send-backchannel", id] => {
            let n = Notice {
                backchannel: true,
                binding_message: Some("Order <i>1234</i> & more".to_owned()),
                user_agent: None,
                ..notice(id)
            };
            match notifier.sign_in_request(&n) {
                Ok(()) => ("sent".to_owned(), 0),
                Err(e) => (format!("error {e}"), 21),
            }
        }
        // From async code on a single-threaded tokio runtime, as `aq watch`
        // does: the blocking send must neither panic nor deadlock there.
        ["send-in-tokio", id] => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let shown = rt.block_on(async { notify_or_log(&notifier, &notice(id)) });
            (format!("shown {shown}"), 0)
        }
        ["or-log", id] => (
            format!("shown {}", notify_or_log(&notifier, &notice(id))),
            0,
        ),
        // Shown, then waited on until clicked or closed.
        ["show-wait", id] => match OnScreen::default().show_and_wait(&notifier, &notice(id)) {
            Ok(opened) => (format!("opened {opened}"), 0),
            Err(e) => (format!("error {e}"), 21),
        },
        // Shown, then withdrawn by the app: the wait must end.
        ["show-withdraw", id] => {
            let on_screen = std::sync::Arc::new(OnScreen::default());
            let (tx, rx) = std::sync::mpsc::channel();
            let waiting = on_screen.clone();
            let n = notice(id);
            std::thread::spawn(move || {
                let _ = tx.send(waiting.show_and_wait(&DesktopNotifier::new(), &n));
            });
            // Withdrawn as soon as it is on screen (the waiter listens to
            // the daemon's signals from before it showed it).
            let start = Instant::now();
            while on_screen.is_empty() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            on_screen.withdraw_except(&[]);
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(opened)) => (
                    format!("withdrawn opened={opened} left={}", on_screen.len()),
                    0,
                ),
                Ok(Err(e)) => (format!("error {e}"), 21),
                Err(_) => ("still waiting 10 s after the withdrawal".to_owned(), 22),
            }
        }
        _ => panic!("bad probe operation {op:?}"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\nprobe: {line}");
    let _ = out.flush();
    std::process::exit(code);
}

fn probe(cmd: Command, op: &[&str]) -> Probe {
    let start = Instant::now();
    let p = run_probe(probe_command(
        cmd,
        "notifier_probe_entry_point",
        PROBE_ENV,
        op,
    ));
    eprintln!(
        "  probe {op:?}: exit {:?} in {:?}: {}",
        p.code,
        start.elapsed(),
        p.line
    );
    p
}

/// Starts the mock notification daemon on `bus`, logging to `log`.
fn mock_daemon(bus: &mut Bus, home: &Home, log: &std::path::Path) {
    let python = tool("python3");
    let check = Command::new(&python)
        .args(["-c", "import dbusmock"])
        .output()
        .expect("run python3");
    assert!(
        check.status.success(),
        "this test needs python-dbusmock for /usr/bin/python3 (Debian package \
         `python3-dbusmock`): run `bash .ci/setup test`"
    );
    let child = bus
        .command(home, python)
        .args(["-m", "dbusmock", "--template", "notification_daemon", "-l"])
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start python3 -m dbusmock");
    bus.keep(child);
    bus.wait_for_owner(home, NOTIFICATIONS, None);
}

/// The `Notify` calls in the mock's log, once there are `n` (or after 10 s).
/// Each call is one record `<time> Notify <args…>`; a body with a newline
/// spans lines.
fn notify_calls(log: &std::path::Path, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let mut records: Vec<String> = Vec::new();
        for line in text.lines() {
            let starts_record = line
                .split_once(' ')
                .is_some_and(|(time, _)| time.parse::<f64>().is_ok());
            match records.last_mut() {
                Some(record) if !starts_record => {
                    record.push('\n');
                    record.push_str(line);
                }
                _ => records.push(line.to_owned()),
            }
        }
        let calls: Vec<String> = records
            .into_iter()
            .filter(|r| r.split(' ').nth(1) == Some("Notify"))
            .collect();
        if calls.len() >= n || start.elapsed() > Duration::from_secs(10) {
            return calls;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sign_in_request_reaches_the_notification_daemon() {
    let home = Home::new();
    let mut bus = Bus::start(&home, Activation::Off);
    let log = home.path().join("notify.log");
    mock_daemon(&mut bus, &home, &log);

    let p = probe(bus.command(&home, this_binary()), &["send", "job-42"]);
    assert_eq!((p.code, p.line.as_str()), (Some(0), "sent"));

    let calls = notify_calls(&log, 1);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    // app name, replaces id, icon, summary, body, actions, hints, timeout
    for part in [
        "Notify \"Authentiq\" 0 \"dialog-password\" \"Sign in to Example Shop?\"",
        "\"From 203.0.113.7 (Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0)\n\
         Open Authentiq to pick the number shown on the page.\"",
        "[\"default\", \"Open Authentiq\", \"open\", \"Open\"]",
        "\"x-authentiq-request\": \"job-42\"",
        "\"urgency\": 1",
    ] {
        assert!(call.contains(part), "no {part:?} in {call}");
    }
    // The timeout runs until the request expires (120 s, give or take one).
    let timeout: i64 = call
        .rsplit(' ')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no timeout at the end of {call}"));
    assert!((118_000..=120_000).contains(&timeout), "timeout {timeout}");

    // notify_or_log says it was shown, also when called from async code.
    let p = probe(bus.command(&home, this_binary()), &["or-log", "job-43"]);
    assert_eq!((p.code, p.line.as_str()), (Some(0), "shown true"));
    let p = probe(
        bus.command(&home, this_binary()),
        &["send-in-tokio", "job-44"],
    );
    assert_eq!((p.code, p.line.as_str()), (Some(0), "shown true"));
    let calls = notify_calls(&log, 3);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(calls[2].contains("\"x-authentiq-request\": \"job-44\""));
}

#[test]
fn the_title_says_what_the_request_is_for() {
    let home = Home::new();
    let mut bus = Bus::start(&home, Activation::Off);
    let log = home.path().join("notify.log");
    mock_daemon(&mut bus, &home, &log);
    let p = probe(
        bus.command(&home, this_binary()),
        &["send-purposes", "job-5"],
    );
    assert_eq!((p.code, p.line.as_str()), (Some(0), "sent"));
    let calls = notify_calls(&log, 2);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for (call, title) in calls.iter().zip([
        "Verify your details for Example Shop?",
        "Confirm it's you for Example Shop?",
    ]) {
        let part = format!("\"dialog-password\" \"{title}\"");
        assert!(call.contains(&part), "no {part:?} in {call}");
        assert!(
            call.contains("\"x-authentiq-request\": \"job-5\""),
            "{call}"
        );
    }
}

#[test]
fn a_backchannel_request_shows_its_message_as_plain_text() {
    let home = Home::new();
    let mut bus = Bus::start(&home, Activation::Off);
    let log = home.path().join("notify.log");
    mock_daemon(&mut bus, &home, &log);
    let p = probe(
        bus.command(&home, this_binary()),
        &["send-backchannel", "job-6"],
    );
    assert_eq!((p.code, p.line.as_str()), (Some(0), "sent"));
    let calls = notify_calls(&log, 1);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    for part in [
        "\"dialog-password\" \"Sign-in requested by Example Shop: “Order i1234/i more”\"",
        "\"Check that Example Shop shows: Order i1234/i more\nFrom 203.0.113.7\n\
         Open Authentiq to approve or deny: there is no number to pick.\"",
        "\"x-authentiq-request\": \"job-6\"",
    ] {
        assert!(call.contains(part), "no {part:?} in {call}");
    }
    assert!(!call.contains("<i>") && !call.contains("&amp;"), "{call}");
}

/// The mock's log records of `method`.
fn calls_to(log: &std::path::Path, method: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(1) == Some(method))
        .count()
}

#[test]
fn a_withdrawn_notification_is_closed_and_a_clicked_one_opens() {
    let home = Home::new();
    let mut bus = Bus::start(&home, Activation::Off);
    let log = home.path().join("notify.log");
    mock_daemon(&mut bus, &home, &log);

    // Withdrawn (its request was answered): CloseNotification reaches the
    // daemon, and the thread waiting for a click ends, not opened.
    let p = probe(
        bus.command(&home, this_binary()),
        &["show-withdraw", "job-7"],
    );
    assert_eq!(
        (p.code, p.line.as_str()),
        (Some(0), "withdrawn opened=false left=0")
    );
    assert_eq!(calls_to(&log, "CloseNotification"), 1);

    // Clicked ("open" on notification 2, the mock's second): the wait ends,
    // opened. As soon as the daemon has it: the waiter listens to the
    // daemon's signals from before it showed it.
    let cmd = bus.command(&home, this_binary());
    let waiter = std::thread::spawn(move || probe(cmd, &["show-wait", "job-8"]));
    assert_eq!(notify_calls(&log, 2).len(), 2);
    let click = bus
        .command(&home, tool("python3"))
        .args([
            "-c",
            "import dbus; o = dbus.SessionBus().get_object('org.freedesktop.Notifications', \
             '/org/freedesktop/Notifications'); o.EmitSignal('org.freedesktop.Notifications', \
             'ActionInvoked', 'us', [dbus.UInt32(2), 'open'], \
             dbus_interface='org.freedesktop.DBus.Mock')",
        ])
        .output()
        .expect("run python3");
    assert!(
        click.status.success(),
        "{}",
        String::from_utf8_lossy(&click.stderr)
    );
    let p = waiter.join().unwrap();
    assert_eq!((p.code, p.line.as_str()), (Some(0), "opened true"));
}

/// A missing daemon is `NoDaemon`, and never fatal through `notify_or_log`.
fn assert_no_daemon(cmd: impl Fn() -> Command, starts: &str) {
    let p = probe(cmd(), &["send", "job-1"]);
    assert_eq!(p.code, Some(20), "{}", p.line);
    assert!(
        p.line.starts_with(&format!("error NoDaemon: {starts}")),
        "{}",
        p.line
    );
    let p = probe(cmd(), &["or-log", "job-1"]);
    assert_eq!((p.code, p.line.as_str()), (Some(0), "shown false"));
    let stderr = String::from_utf8_lossy(&p.output.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("sign-in notification not shown"),
        "no warning logged: {stderr}"
    );
    assert!(stderr.contains(starts), "{stderr}");
}

#[test]
fn no_notification_daemon_is_no_daemon_and_not_fatal() {
    let home = Home::new();
    let bus = Bus::start(&home, Activation::Off);
    assert_no_daemon(
        || bus.command(&home, this_binary()),
        "No notification daemon is running on the session bus",
    );
}

#[test]
fn no_session_bus_is_no_daemon_and_not_fatal() {
    let home = Home::new();
    assert_no_daemon(
        || {
            let mut cmd = Command::new(this_binary());
            home.apply(&mut cmd);
            cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
            cmd
        },
        "There is no D-Bus session bus",
    );
    // No address at all: zbus looks for $XDG_RUNTIME_DIR/bus (none here).
    assert_no_daemon(
        || {
            let mut cmd = Command::new(this_binary());
            home.apply(&mut cmd);
            cmd
        },
        "There is no D-Bus session bus",
    );
}
