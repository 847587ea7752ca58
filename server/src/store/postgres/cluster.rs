//! A throwaway PostgreSQL cluster for tests: one per test process, started
//! on first use, with a fresh database for each test.
//!
//! `initdb` into a temporary directory (once, then copied), then
//! `postgres` on a Unix socket in that directory (no TCP). Both run from a small shell wrapper whose
//! standard input is a pipe this process holds: when the process exits
//! (however it exits) the pipe closes, and the wrapper stops the cluster
//! and removes the directory. As root (CI), initdb and postgres refuse to
//! run, so they run as the `postgres` user (Debian's package creates it).
//!
//! Used by the server's own tests, and by the end-to-end tests through the
//! `test-cluster` feature:
//!
//! ```ignore
//! let url = authentiq_server::store::pg_cluster::fresh_database()?;
//! // AUTHENTIQ_DATABASE_URL=<url> for every server process that shares it
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::off_runtime;

/// The port only names the socket file (`.s.PGSQL.5432`) in our directory.
const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running cluster; it stops when this process exits.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    /// Holds the wrapper's standard input open while this process lives.
    _wrapper: Mutex<Child>,
    next_db: AtomicU32,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// This process's cluster, started on first use.
pub fn shared() -> Result<&'static Cluster, String> {
    SHARED
        .get_or_init(Cluster::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// The URL of a new, empty database in this process's cluster.
pub fn fresh_database() -> Result<String, String> {
    shared()?.create_database()
}

/// The directory holding initdb, postgres and pg_ctl.
fn bindir() -> Result<PathBuf, String> {
    let has_initdb = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Ok(dir);
        }
    }
    // Debian puts the server binaries in a versioned directory; the newest wins.
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL not found (no pg_config, no /usr/lib/postgresql: {e})"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| has_initdb(d))
        .collect();
    found.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .ok_or_else(|| "PostgreSQL not found: no initdb under /usr/lib/postgresql/*/bin".into())
}

/// This process's effective user id.
fn uid() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The wrapper: runs the cluster until its standard input closes.
///
/// initdb runs once per machine (and user, and PostgreSQL): into a
/// template directory, renamed into place when complete (so processes
/// starting at once use one, or each make their own and one wins); each
/// cluster starts from a copy (test processes are many: one per test
/// under nextest).
const WRAPPER: &str = r#"
as_owner() { if [ "$AQ_AS_POSTGRES" = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -d "$AQ_PGTEMPLATE/data" ]; then
    new="$AQ_PGTEMPLATE.$$"
    rm -rf "$new" && mkdir -m 700 "$new" || exit 1
    if [ "$AQ_AS_POSTGRES" = 1 ]; then chown postgres: "$new" || exit 1; fi
    if ! as_owner "$AQ_PGBIN/initdb" -D "$new/data" -U postgres -A trust -E UTF8 \
            --no-sync >"$AQ_PGDIR/initdb.log" 2>&1; then
        rm -rf "$new"
        exit 1
    fi
    mv -T "$new" "$AQ_PGTEMPLATE" 2>/dev/null || rm -rf "$new"
fi
as_owner cp -a "$AQ_PGTEMPLATE/data" "$AQ_PGDIR/data" 2>>"$AQ_PGDIR/initdb.log" || exit 1
as_owner "$AQ_PGBIN/postgres" -D "$AQ_PGDIR/data" -k "$AQ_PGDIR" -p 5432 \
    -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=300 >"$AQ_PGDIR/postgres.log" 2>&1 </dev/null &
server=$!
cat >/dev/null
pid=$(head -n 1 "$AQ_PGDIR/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null; fi
wait "$server"
rm -rf "$AQ_PGDIR"
"#;

fn log_tail(dir: &Path) -> String {
    let mut out = String::new();
    for name in ["initdb.log", "postgres.log"] {
        let mut text = String::new();
        if std::fs::File::open(dir.join(name))
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
        {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("\n--- {name} ---\n{tail}"));
        }
    }
    out
}

impl Cluster {
    fn start() -> Result<Self, String> {
        let bin = bindir()?;
        let uid = uid()?;
        let root = uid == "0";
        let template = std::env::temp_dir().join(format!(
            "authentiq-pg-template-{uid}-{}",
            bin.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        ));
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "authentiq-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if root {
            let chown = Command::new("chown")
                .args(["postgres:", &dir.to_string_lossy()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err("cannot give the cluster's directory to the postgres user".into());
            }
        }
        let wrapper = Command::new("sh")
            .args(["-c", WRAPPER])
            .env("AQ_PGBIN", &bin)
            .env("AQ_PGDIR", &dir)
            .env("AQ_PGTEMPLATE", &template)
            .env("AQ_AS_POSTGRES", if root { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the PostgreSQL wrapper: {e}"))?;
        let cluster = Cluster {
            dir,
            _wrapper: Mutex::new(wrapper),
            next_db: AtomicU32::new(0),
        };
        cluster.wait_ready()?;
        Ok(cluster)
    }
}

impl Cluster {
    /// The socket directory (also the cluster's directory), for
    /// `host=<dir>` connection strings.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A `postgres://` URL of `db` (through the socket): usable by any
    /// number of processes at once.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres:///{db}?host={}&port={PORT}&user={SUPERUSER}",
            self.dir.display()
        )
    }

    /// Runs `sql` in the `postgres` database (connected and closed on a
    /// thread of its own).
    fn admin(&self, sql: &str) -> Result<(), String> {
        let url = self.url("postgres");
        off_runtime(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            client.batch_execute(sql)
        })
        .map_err(|e| e.to_string())
    }

    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let last = match self.admin("SELECT 1") {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let exited = self
                ._wrapper
                .lock()
                .map_err(|_| "wrapper lock poisoned".to_string())?
                .try_wait()
                .map_err(|e| e.to_string())?;
            if exited.is_some() || started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the test PostgreSQL cluster did not start ({last}){}",
                    log_tail(&self.dir)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self) -> Result<String, String> {
        let name = format!("test_{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        self.admin(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }
}
