//! `OsKeyring` against a real Secret Service: gnome-keyring-daemon on a
//! private session bus, in a private home, run by each test for itself.
//!
//! The key store runs in child processes (see `support`): the probe entry
//! point below (ignored: no test of its own) is this binary run again with
//! `AQ_KEYSTORE_PROBE` set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use authentiq_authenticator::keystore::{KeyStore, KeyStoreError, OsKeyring};
use support::{
    Activation, Bus, Home, Probe, probe_args, probe_command, run_probe, this_binary, tool,
};

const PROBE_ENV: &str = "AQ_KEYSTORE_PROBE";
const SERVICE: &str = "io.authentiq.test";
const SECRETS: &str = "org.freedesktop.secrets";
const PASSWORD: &str = "correct horse";

/// The probe: `store <account> <hex seed>`, `load <account>`,
/// `delete <account>`, or `put-raw <account> <text>` (a value written
/// through `keyring` directly, as another program might). Prints
/// `probe: <result>` and exits 0, or `probe: error <kind>: <message>` and
/// exits 10 (no Secret Service), 11 (locked), 12 (corrupt), 13 (other).
#[test]
#[ignore = "not a test: the probe the other tests run as a child process"]
fn keystore_probe_entry_point() {
    let Ok(op) = std::env::var(PROBE_ENV) else {
        support::not_a_test(PROBE_ENV);
    };
    let args: Vec<&str> = op.split(' ').collect();
    let ks = OsKeyring::with_service(SERVICE);
    let result = match args.as_slice() {
        ["store", account, hex] => ks.store(account, &from_hex(hex)).map(|()| "stored".into()),
        ["load", account] => ks.load(account).map(|seed| match seed {
            Some(seed) => format!("seed {}", to_hex(&seed[..])),
            None => "none".into(),
        }),
        ["delete", account] => ks.delete(account).map(|()| "deleted".into()),
        ["put-raw", account, text] => {
            let entry = keyring::Entry::new(SERVICE, account).expect("entry");
            entry.set_password(text).expect("set_password");
            Ok("put".into())
        }
        _ => panic!("bad probe operation {op:?}"),
    };
    let (line, code) = match result {
        Ok(line) => (line, 0),
        Err(e) => {
            let (kind, code) = match e {
                KeyStoreError::NoSecretService(_) => ("NoSecretService", 10),
                KeyStoreError::Locked(_) => ("Locked", 11),
                KeyStoreError::Corrupt(_) => ("Corrupt", 12),
                KeyStoreError::Other(_) => ("Other", 13),
            };
            (format!("error {kind}: {e}"), code)
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\nprobe: {line}");
    let _ = out.flush();
    std::process::exit(code);
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(hex: &str) -> [u8; 32] {
    let mut seed = [0u8; 32];
    assert_eq!(hex.len(), 64, "a seed is 64 hex digits");
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    seed
}

fn seed_hex(fill: u8) -> String {
    to_hex(&std::array::from_fn::<u8, 32, _>(|i| fill ^ (i as u8)))
}

/// Runs the probe with `op` through `cmd` (which sets up the environment).
fn probe(cmd: Command, op: &[&str]) -> Probe {
    let start = Instant::now();
    let p = run_probe(probe_command(
        cmd,
        "keystore_probe_entry_point",
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

fn probe_on(bus: &Bus, home: &Home, op: &[&str]) -> Probe {
    probe(bus.command(home, this_binary()), op)
}

/// How to run gnome-keyring-daemon.
#[derive(Debug, Clone, Copy)]
enum Keyring<'a> {
    /// A new daemon that unlocks (or creates) the "login" keyring.
    Unlocked(&'a str),
    /// A new daemon, with "login" left locked.
    Locked,
    /// Replaces the running daemon with one that unlocks (or creates)
    /// "login". (Plain `--unlock` does not reach a running daemon: it finds
    /// it, does nothing, and exits 0.)
    ReplaceUnlocked(&'a str),
}

/// Runs gnome-keyring-daemon on `bus` and waits until it serves
/// `org.freedesktop.secrets` (it forks itself, returns before it owns the
/// name, and leaves when the bus stops).
fn gnome_keyring(bus: &Bus, home: &Home, how: Keyring<'_>) {
    let previous = bus.owner(home, SECRETS);
    let (args, password): (&[&str], _) = match how {
        Keyring::Unlocked(pw) => (&["--unlock"], Some(pw)),
        Keyring::Locked => (&["--start"], None),
        Keyring::ReplaceUnlocked(pw) => (&["--replace", "--unlock"], Some(pw)),
    };
    let mut cmd = bus.command(home, tool("gnome-keyring-daemon"));
    cmd.args(args)
        .arg("--components=secrets")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start gnome-keyring-daemon");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(password) = password {
        stdin.write_all(password.as_bytes()).expect("password");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("gnome-keyring-daemon");
    assert!(
        out.status.success(),
        "gnome-keyring-daemon {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bus.wait_for_owner(home, SECRETS, previous.as_deref());
}

#[test]
fn seed_stored_by_one_process_is_loaded_by_another_and_after_a_restart() {
    let home = Home::new();
    let seed = seed_hex(0x5a);
    {
        let bus = Bus::start(&home, Activation::Off);
        gnome_keyring(&bus, &home, Keyring::Unlocked(PASSWORD));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "none"));
        let p = probe_on(&bus, &home, &["store", "alice", &seed]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "stored"));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line), (Some(0), format!("seed {seed}")));
        // Another account is another item.
        let p = probe_on(&bus, &home, &["load", "bob"]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "none"));
    }
    // The bus and the keyring daemon are gone; the seed is on disk, in the
    // encrypted "login" keyring, not in clear.
    let file = home.path().join("data/keyrings/login.keyring");
    let on_disk = std::fs::read(&file).expect("login.keyring written");
    let stored_form = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(from_hex(&seed))
    };
    assert!(
        !String::from_utf8_lossy(&on_disk).contains(&stored_form),
        "the seed is in clear in {}",
        file.display()
    );
    {
        let bus = Bus::start(&home, Activation::Off);
        gnome_keyring(&bus, &home, Keyring::Unlocked(PASSWORD));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line), (Some(0), format!("seed {seed}")));
        // Replacing, then deleting (twice: deleting nothing is fine).
        let other = seed_hex(0xa5);
        let p = probe_on(&bus, &home, &["store", "alice", &other]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "stored"));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line), (Some(0), format!("seed {other}")));
        for _ in 0..2 {
            let p = probe_on(&bus, &home, &["delete", "alice"]);
            assert_eq!((p.code, p.line.as_str()), (Some(0), "deleted"));
        }
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "none"));
    }
}

#[test]
fn platform_md_recipe_with_dbus_run_session_works() {
    // The recipe of PLATFORM.md as it stands, standard bus configuration
    // included: `dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon
    // --unlock --components=secrets >/dev/null; <store>; <load>'`.
    let home = Home::new();
    let probe_args = probe_args("keystore_probe_entry_point").join(" ");
    let seed = seed_hex(0x11);
    let script = format!(
        "echo -n pw | \"$GKD\" --unlock --components=secrets >/dev/null; \
         {PROBE_ENV}='store carol {seed}' \"$PROBE\" {probe_args}; \
         {PROBE_ENV}='load carol' \"$PROBE\" {probe_args}"
    );
    let mut cmd = Command::new(tool("dbus-run-session"));
    home.apply(&mut cmd);
    cmd.args(["--", "/bin/sh", "-c", &script])
        .env("PROBE", this_binary())
        .env("GKD", tool("gnome-keyring-daemon"))
        .stdin(Stdio::null());
    let out = cmd.output().expect("dbus-run-session");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("probe: "))
        .collect();
    assert_eq!(
        lines,
        ["stored".to_owned(), format!("seed {seed}")],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_no_secret_service(p: &Probe, starts: &str) {
    assert_eq!(p.code, Some(10), "{}", p.line);
    let msg = p
        .line
        .strip_prefix("error NoSecretService: ")
        .unwrap_or_else(|| panic!("not NoSecretService: {}", p.line));
    assert!(msg.starts_with(starts), "{msg}");
    // It says what to do.
    assert!(
        msg.contains(
            "on a headless machine run under `dbus-run-session` with \
             `gnome-keyring-daemon --unlock`"
        ),
        "{msg}"
    );
}

#[test]
fn no_session_bus_is_no_secret_service() {
    let home = Home::new();
    for op in [&["load", "alice"][..], &["store", "alice", &seed_hex(1)]] {
        let mut cmd = Command::new(this_binary());
        home.apply(&mut cmd);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");
        let p = probe(cmd, op);
        assert_no_secret_service(&p, "There is no D-Bus session bus");
    }
    // No address at all (and no display to autolaunch a bus for).
    let mut cmd = Command::new(this_binary());
    home.apply(&mut cmd);
    let p = probe(cmd, &["load", "alice"]);
    assert_no_secret_service(&p, "There is no D-Bus session bus");
}

#[test]
fn bus_without_secret_service_is_no_secret_service() {
    // A bus that cannot start services on demand (see the next test).
    let home = Home::new();
    let bus = Bus::start(&home, Activation::Off);
    for op in [&["load", "alice"][..], &["store", "alice", &seed_hex(2)]] {
        let p = probe_on(&bus, &home, op);
        assert_no_secret_service(&p, "No Secret Service is running on the session bus");
    }
    assert!(!bus.has_owner(&home, SECRETS));
}

#[test]
fn standard_bus_activates_gnome_keyring_which_has_no_default_keyring_yet() {
    // `dbus-run-session -- probe` uses the standard service directories, where
    // gnome-keyring installs `org.freedesktop.secrets.service`: the first call
    // starts gnome-keyring-daemon on demand. (Emptying XDG_DATA_DIRS does not
    // prevent that: dbus-daemon always adds /usr/share/dbus-1/services; the
    // other tests use a bus configuration without service directories.) In a
    // new home that daemon has no "login" keyring, hence no default one.
    let home = Home::new();
    let bus = Bus::start(&home, Activation::Standard);
    assert!(!bus.has_owner(&home, SECRETS));
    for op in [&["load", "alice"][..], &["store", "alice", &seed_hex(3)]] {
        let p = probe_on(&bus, &home, op);
        assert_eq!(p.code, Some(10), "{}", p.line);
        let msg = p.line.as_str();
        assert!(
            msg.starts_with(
                "error NoSecretService: The Secret Service on the session bus has no default \
                 keyring"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("`gnome-keyring-daemon --replace --unlock --components=secrets`"),
            "{msg}"
        );
    }
    assert!(bus.has_owner(&home, SECRETS), "gnome-keyring not activated");
    // Doing what the message says helps.
    gnome_keyring(&bus, &home, Keyring::ReplaceUnlocked(PASSWORD));
    let p = probe_on(&bus, &home, &["store", "alice", &seed_hex(3)]);
    assert_eq!((p.code, p.line.as_str()), (Some(0), "stored"));
    let p = probe_on(&bus, &home, &["load", "alice"]);
    assert_eq!((p.code, p.line), (Some(0), format!("seed {}", seed_hex(3))));
}

#[test]
fn locked_keyring_is_locked_until_unlocked() {
    let home = Home::new();
    let seed = seed_hex(4);
    {
        // An earlier, unlocked session creates the "login" keyring with a
        // password and stores a seed in it.
        let bus = Bus::start(&home, Activation::Off);
        gnome_keyring(&bus, &home, Keyring::Unlocked(PASSWORD));
        let p = probe_on(&bus, &home, &["store", "alice", &seed]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "stored"));
    }
    for activation in [Activation::Off, Activation::Standard] {
        // A new session starts the daemon without the password: "login" is
        // locked. To read, replace or delete an item `keyring` asks for an
        // unlock, which gnome-keyring answers with a prompt: with activation
        // off no prompter can start, with the standard directories
        // gcr-prompter starts but has no display; either way the prompt is
        // dismissed at once. Creating an item in the locked collection fails
        // with org.freedesktop.Secret.Error.IsLocked.
        let bus = Bus::start(&home, activation);
        gnome_keyring(&bus, &home, Keyring::Locked);
        for op in [
            &["load", "alice"][..],
            &["store", "alice", &seed_hex(5)],
            &["store", "bob", &seed_hex(6)],
            &["delete", "alice"],
        ] {
            let p = probe_on(&bus, &home, op);
            assert_eq!(p.code, Some(11), "{activation:?} {op:?}: {}", p.line);
            assert!(
                p.line.starts_with(
                    "error Locked: The keyring is locked: unlock it (log in to your desktop \
                     session, or unlock it in \"Passwords and Keys\"; on a headless machine \
                     restart GNOME Keyring unlocked with `gnome-keyring-daemon --replace \
                     --unlock --components=secrets`"
                ),
                "{activation:?} {op:?}: {}",
                p.line
            );
        }
        // Doing what the message says helps; the seed is intact.
        gnome_keyring(&bus, &home, Keyring::ReplaceUnlocked(PASSWORD));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!((p.code, p.line), (Some(0), format!("seed {seed}")));
    }
}

#[test]
fn corrupt_value_is_corrupt() {
    let home = Home::new();
    let bus = Bus::start(&home, Activation::Off);
    gnome_keyring(&bus, &home, Keyring::Unlocked(PASSWORD));
    let standard_alphabet = format!("{}+", "A".repeat(42));
    for bad in [
        "not-a-seed",
        &"A".repeat(42),
        &"A".repeat(44),
        &standard_alphabet,
    ] {
        let p = probe_on(&bus, &home, &["put-raw", "alice", bad]);
        assert_eq!((p.code, p.line.as_str()), (Some(0), "put"));
        let p = probe_on(&bus, &home, &["load", "alice"]);
        assert_eq!(p.code, Some(12), "{}", p.line);
        assert!(
            p.line.starts_with(
                "error Corrupt: The key stored in the OS keyring for account \"alice\" \
                 (service \"io.authentiq.test\") is not an Authentiq key"
            ),
            "{}",
            p.line
        );
        assert!(!p.line.contains(bad), "the message shows the stored value");
    }
    // The damaged item can be replaced.
    let p = probe_on(&bus, &home, &["store", "alice", &seed_hex(7)]);
    assert_eq!((p.code, p.line.as_str()), (Some(0), "stored"));
    let p = probe_on(&bus, &home, &["load", "alice"]);
    assert_eq!((p.code, p.line), (Some(0), format!("seed {}", seed_hex(7))));
}
