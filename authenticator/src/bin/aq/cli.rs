//! `aq`'s command line: the commands and their arguments as clap reads
//! them, with the help text, and what clap cannot check ([`usage_problem`]).

use clap::{Parser, Subcommand};

use super::devices;

#[derive(Debug, Parser)]
#[command(
    name = "aq",
    version,
    about = "Authentiq in your terminal: your passwordless sign-in key, verified email and phone, and sign-in approvals.",
    after_help = "Examples:
  aq init --server https://id.example.com      create your Authentiq ID (shows the revocation secret once)
  aq verify email me@example.com               send a code to the address
  aq verify email me@example.com --code 123456 confirm it
  aq watch                                     wait for sign-in requests (notifies)
  aq inbox                                     list pending requests
  aq approve 7 --number 47 --share phone       approve request 7, picking the number shown on the page
  aq approve 8                                 approve request 8, started by the website's backend with
                                               no page (backchannel): no number, check its message first
  aq deny 7 --report                           deny, and report it was not you
  aq signout --all                             sign out everywhere: end every session and refresh token
                                               of your ID; websites that asked for it are told
  aq revoke --secret - < secret.txt            revoke, the secret read from standard input
                                               (typed or piped: never in shell history or ps)

Exit codes: 0 ok, 1 error, 2 usage (also: approve without --number, or with it for a backchannel
request), 3 keyring unavailable or locked, 4 refused by the server, 5 server unreachable, 6 no such
or expired request, 7 no identity yet."
)]
pub(super) struct Cli {
    /// Where profiles are kept (default: $AQ_HOME, $XDG_DATA_HOME/authentiq or ~/.local/share/authentiq).
    #[arg(long, global = true, env = "AQ_HOME")]
    pub(super) home: Option<std::path::PathBuf>,
    /// One identity per profile.
    #[arg(long, global = true, default_value = "default", env = "AQ_PROFILE")]
    pub(super) profile: String,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub(super) json: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Create your Authentiq ID on a server.
    Init {
        #[arg(long)]
        server: String,
    },
    /// Show your Authentiq ID, with a QR code.
    Id,
    /// Verify an email address or phone number.
    Verify {
        #[command(subcommand)]
        what: Verify,
    },
    /// List pending requests — sign-ins, verifications, re-authentications —
    /// after catching up with the server.
    Inbox,
    /// Approve a request with the number shown on the sign-in page; a
    /// backchannel request (started by the website's backend: no page, no
    /// number) without one, once its message is what the website shows.
    Approve {
        id: String,
        /// The number shown on the sign-in page (one of the request's three).
        /// Not for a backchannel request: it has none.
        #[arg(long)]
        number: Option<u16>,
        /// Share an optional claim too (required ones are always shared). Repeatable.
        #[arg(long)]
        share: Vec<String>,
        /// Remember this browser: next time the request comes by itself.
        #[arg(long)]
        remember: bool,
    },
    /// Deny a request.
    Deny {
        id: String,
        /// Report it: this wasn't me.
        #[arg(long)]
        report: bool,
    },
    /// Open a request from its QR code or link: the session URI, or an
    /// `authentiq://sign-in?session=…` link.
    Open { session: String },
    /// Stay connected and show requests as they arrive (with a notification).
    Watch,
    /// Sign out everywhere (--all): end every session and token of your ID at every website.
    ///
    /// The server ends every sign-in session and every refresh token of your
    /// Authentiq ID, and tells the websites that registered for it
    /// (back-channel logout). Websites then ask you to sign in again; the ID
    /// stays. Exit codes as for every command (4: the server refused).
    Signout {
        /// Every session and token of the ID, everywhere (the only kind: aq
        /// holds no browser sessions of its own).
        #[arg(long)]
        all: bool,
    },
    /// Your decisions.
    History {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Link this computer to an existing Authentiq ID: shows a number that a
    /// device of the ID approves (`aq devices approve`), then waits.
    Link {
        #[arg(long)]
        server: String,
        /// The ID to link to.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// What to call this device.
        #[arg(long, default_value = "Linked device")]
        name: String,
    },
    /// The ID's devices: list, rename, remove; approve or deny a new one.
    Devices {
        #[command(subcommand)]
        what: Option<devices::Devices>,
    },
    /// Recover your ID on a new device when every device is lost: the
    /// recovery secret and the codes sent to its email (and phone); it
    /// completes after a waiting period during which its devices may cancel.
    Recover {
        #[command(subcommand)]
        what: devices::Recover,
    },
    /// Revoke your Authentiq ID: with its revocation secret, or — device
    /// lost — with the email and phone bound to it (a code is emailed first).
    Revoke {
        /// The revocation secret, or `-` to read it from standard input (a
        /// secret on the command line is seen by `ps` and kept in your
        /// shell's history).
        #[arg(
            long,
            value_name = "SECRET|-",
            allow_hyphen_values = true,
            conflicts_with_all = ["email", "phone"],
            required_unless_present = "email"
        )]
        secret: Option<String>,
        #[arg(long, requires = "phone")]
        email: Option<String>,
        #[arg(long, requires = "email")]
        phone: Option<String>,
        /// The code from the email (second call).
        #[arg(long, requires = "email")]
        code: Option<String>,
        /// The server, when this device has no profile for it.
        #[arg(long)]
        server: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Verify {
    /// Send a code to ADDR, or confirm with --code.
    Email {
        addr: String,
        #[arg(long)]
        code: Option<String>,
        /// Ask the server to keep the code in its outbox (test servers).
        #[arg(long, hide = true)]
        test: bool,
    },
    /// Send a code to NUMBER (international form, +…), or confirm with --code.
    Phone {
        number: String,
        #[arg(long)]
        code: Option<String>,
        #[arg(long, hide = true)]
        test: bool,
    },
}
/// What clap cannot say: arguments that parse but ask for nothing aq does.
pub(super) fn usage_problem(command: &Command) -> Option<&'static str> {
    match command {
        Command::Signout { all: false } => Some(
            "`aq signout` needs --all: it signs your ID out everywhere (every website's \
             session and refresh token). aq holds no browser sessions of its own, so there is no \
             narrower sign-out; to leave one website, sign out there.",
        ),
        _ => None,
    }
}
