//! `authentiq-server account …`: accounts, against the database (the
//! server may be running). Passwords are read from standard input, never
//! taken as arguments (they would land in shell history and `ps`).

use std::io::BufRead;

use clap::Subcommand;

use crate::accounts::{Role, admin};
use crate::config::Config;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum AccountAction {
    /// Add an account; its password is the first line of standard input.
    ///
    /// Example: echo "$PASSWORD" | authentiq-server account add --email you@example.com --role admin
    Add {
        #[arg(long)]
        email: String,
        /// admin, user or guest.
        #[arg(long, default_value = "user", value_parser = ["admin", "user", "guest"])]
        role: String,
    },
    /// List the accounts.
    List,
    /// Change an account's role (the last active admin stays one).
    Role {
        #[arg(long)]
        email: String,
        #[arg(value_parser = ["admin", "user", "guest"])]
        role: String,
    },
    /// Deactivate an account: it cannot sign in, its sessions end, its
    /// clients stop working. `--undo` reactivates it.
    Deactivate {
        #[arg(long)]
        email: String,
        #[arg(long)]
        undo: bool,
    },
}

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).ok_or_else(|| anyhow::anyhow!("no such role {s}"))
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        anyhow::bail!(
            "give the password on standard input (e.g. echo \"$PASSWORD\" | authentiq-server account add …)"
        );
    }
    Ok(pw)
}

#[allow(clippy::print_stdout)] // the point of these commands is their output
pub async fn run(config: &Config, action: AccountAction) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store =
        crate::store::open(config).map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let store: &dyn Store = &*store;
    let show = |a: &crate::store::Account| {
        let state = if a.deactivated_at.is_some() {
            "deactivated"
        } else {
            "active"
        };
        println!("{}  {:<5}  {state:<11}  {}", a.id, a.role, a.email);
    };
    match action {
        AccountAction::Add { email, role: r } => {
            let account = admin::add(store, &email, role(&r)?, read_password()?).await?;
            show(&account);
        }
        AccountAction::List => {
            for a in store.list_accounts().map_err(|e| anyhow::anyhow!("{e}"))? {
                show(&a);
            }
        }
        AccountAction::Role { email, role: r } => show(&admin::set_role(store, &email, role(&r)?)?),
        AccountAction::Deactivate { email, undo } => show(&admin::set_active(store, &email, undo)?),
    }
    Ok(())
}
