//! The desktop app's window exists only while it is shown, and the app
//! outlives it: launched as the login item does (`--hidden`) it opens no
//! window and runs no WebKit process, yet its device channel is up; a
//! second hidden launch changes nothing (checked once the app says it took
//! it: no sleeps before "nothing happened"), a plain second launch hands over
//! to it (single instance) and the window opens and paints; the window manager's close (`WM_DELETE_WINDOW`) destroys
//! the window and WebKit's web process with it, while the app and its
//! channel stay; another launch brings a new window; a launch with a dead
//! sign-in link is reported, the session kept out of the log. Revoked elsewhere (on
//! the server, as `aq revoke` does), the app forgets the ID and closes its
//! channel.
//!
//! The real app binary under Xvfb, started as a user would (no WebDriver),
//! against the provider in process; needs a session bus with an unlocked
//! Secret Service (`bash .ci/test` provides it).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authentiq_authenticator::app::Authenticator;
use authentiq_authenticator::client::ServerClient;
use authentiq_authenticator::keystore::OsKeyring;
use authentiq_tests::desktop_app::{Launcher, Running, built_app};
use authentiq_tests::procs::{self, Usage, Xvfb, connected_to};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

use crate::support::provider::Provider;

const TITLE: &[u8] = b"Authentiq";
const STEP: Duration = Duration::from_secs(30);

/// Polls `f` until it holds or `within` passes.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The app's viewable top-level windows titled "Authentiq" on the display.
fn app_windows(x: &RustConnection, root: Window) -> Vec<Window> {
    let Ok(tree) = x.query_tree(root).unwrap().reply() else {
        return Vec::new();
    };
    tree.children
        .into_iter()
        .filter(|&w| {
            let title = x
                .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 64)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|p| p.value)
                .unwrap_or_default();
            let viewable = x
                .get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE);
            title == TITLE && viewable
        })
        .collect()
}

/// What a window manager's close button sends.
fn close_window(x: &RustConnection, w: Window) {
    let atom = |name: &str| {
        x.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let event = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
    x.send_event(false, w, EventMask::NO_EVENT, event).unwrap();
    x.flush().unwrap();
}

fn web_processes(app: &Running) -> usize {
    app.processes()
        .into_iter()
        .filter_map(Usage::read)
        .filter(|m| m.name == "WebKitWebProcess")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_lives_only_while_shown_and_the_app_outlives_it() {
    let xvfb_bin = procs::tool("Xvfb", &[], "install Debian's xvfb");
    let bin = built_app();
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run the tests with `bash .ci/test` (it starts dbus-run-session and \
         gnome-keyring, which the app keeps its key in)"
    );
    let _one = tokio::task::spawn_blocking(procs::one_window_at_a_time)
        .await
        .unwrap()
        .unwrap();
    let p = Provider::demo().await;
    let port = url::Url::parse(&p.url).unwrap().port().unwrap();
    let home = tempfile::tempdir().unwrap();
    // A profile of its own (the keyring is shared by the tests), with an ID.
    let profile = format!("window-{}", authentiq_server::secrets::new_job_id());
    let (id, secret) =
        Authenticator::init(home.path(), &profile, &p.url, Arc::new(OsKeyring::new()))
            .await
            .unwrap();
    let pk = id.profile().pk.clone();
    drop(id);
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/desktop-window");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    let xvfb = Xvfb::start(&xvfb_bin, &logs.join("xvfb.log")).unwrap();
    let (x, screen) = x11rb::connect(Some(&xvfb.display)).unwrap();
    let root = x.setup().roots[screen].root;

    let env = [("AQ_PROFILE", profile.as_str()), ("AQ_LOG", "info")];
    let launcher = |log: &str| Launcher {
        bin: &bin,
        display: &xvfb.display,
        home: home.path(),
        server: &p.url,
        log: logs.join(log),
        env: &env,
    };
    // Another launch: it hands over to the running app and exits.
    let launch_again_with = |log: &str, args: &[&str]| {
        let mut second = launcher(log).spawn(args).unwrap();
        let status = second.wait_exit(STEP);
        assert!(
            status.is_some_and(|s| s.success()),
            "a second launch should hand over and exit 0: {status:?}; its log:\n{}",
            procs::tail(&second.log, 20)
        );
    };
    let launch_again = |log: &str| launch_again_with(log, &[]);

    let mut app = launcher("app.log").spawn(&["--hidden"]).unwrap();
    assert!(
        eventually(STEP, || connected_to(&app.processes(), port)),
        "started hidden, the app should still open its device channel; its log:\n{}",
        procs::tail(&app.log, 20)
    );
    assert!(
        app_windows(&x, root).is_empty(),
        "started hidden: no window"
    );
    assert_eq!(
        web_processes(&app),
        0,
        "started hidden: no WebKit web process"
    );
    // The login item again (e.g. a second session start): it stays quiet.
    // Once the app's event loop has done what that launch asked of it (it
    // says so), a window it made would be there.
    let app_log = app.log.clone();
    let log = || std::fs::read_to_string(&app_log).unwrap_or_default();
    let handed_over = || log().matches("a second launch handed over").count();
    launch_again_with("second-hidden.log", &["--hidden"]);
    assert!(
        eventually(STEP, || handed_over() == 1),
        "the app should say it took the second launch; its log:\n{}",
        procs::tail(&app.log, 20)
    );
    assert!(
        app_windows(&x, root).is_empty() && web_processes(&app) == 0,
        "a hidden second launch opens no window: windows {:?}, web processes {}",
        app_windows(&x, root),
        web_processes(&app)
    );

    launch_again("second.log");
    let paint = app.first_paint(STEP).unwrap();
    assert!(paint.from_run > Duration::ZERO);
    assert!(
        eventually(STEP, || app_windows(&x, root).len() == 1
            && web_processes(&app) == 1),
        "the second launch should open the first one's window: windows {:?}, web processes {}",
        app_windows(&x, root),
        web_processes(&app)
    );

    close_window(&x, app_windows(&x, root)[0]);
    assert!(
        eventually(STEP, || app_windows(&x, root).is_empty()
            && web_processes(&app) == 0),
        "closing the window should destroy it and its web process: windows {:?}, web processes {}",
        app_windows(&x, root),
        web_processes(&app)
    );
    assert_eq!(
        app.wait_exit(Duration::ZERO),
        None,
        "closing the window must not quit the app"
    );
    assert!(
        connected_to(&app.processes(), port),
        "the channel outlives the window"
    );

    launch_again("third.log");
    assert!(
        eventually(STEP, || app_windows(&x, root).len() == 1
            && web_processes(&app) == 1),
        "a launch after the close should open a new window: windows {:?}",
        app_windows(&x, root)
    );

    // A link to a sign-in that does not exist: the app says why (and its
    // log names the kind of failure, never the session, a bearer secret).
    let missing = format!("{}/sign-in/AAAAAAAAAAAAAAAAAAAA", p.url);
    let link = format!(
        "authentiq://sign-in?session={}",
        url::form_urlencoded::byte_serialize(missing.as_bytes()).collect::<String>()
    );
    launch_again_with("link.log", &[link.as_str()]);
    // And one whose session is not even a URI (its error quotes it).
    launch_again_with(
        "link-bad.log",
        &["authentiq://sign-in?session=AAAAAAAAAAAAAAAAAAAA-not-a-uri"],
    );
    assert!(
        eventually(STEP, || log()
            .matches("cannot open the sign-in link")
            .count()
            == 2),
        "the app should report the dead link; its log:\n{}",
        procs::tail(&app.log, 20)
    );
    assert!(
        !log().contains("AAAAAAAAAAAAAAAAAAAA"),
        "the session must stay out of the log:\n{}",
        log()
    );

    // Revoked elsewhere: the server tells the app over its channel.
    ServerClient::new(&p.url)
        .unwrap()
        .revoke(&pk, &secret)
        .await
        .unwrap();
    let profile_file = home.path().join(&profile).join("profile.json");
    assert!(
        eventually(STEP, || !profile_file.exists()
            && !connected_to(&app.processes(), port)),
        "revoked elsewhere, the app should forget the ID and close its channel; its log:\n{}",
        procs::tail(&app.log, 20)
    );
    assert_eq!(app.wait_exit(Duration::ZERO), None, "and keep running");
    app.stop();
}
