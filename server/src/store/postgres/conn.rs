//! A pooled connection and the statements it has prepared: each SQL text
//! is prepared once per connection (one round trip to parse and describe
//! it) and from then on runs in one round trip, where a query given as
//! text costs two every time.
//!
//! The SQL modules take `&mut impl Sql`: a connection in autocommit
//! ([`Conn`]) or a transaction on one ([`Tx`]), with the same methods as
//! the `postgres` client's.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, Error, GenericClient, NoTls, Row, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;

/// Prepared statements of one connection, by their SQL text.
pub(super) type Statements = HashMap<String, Statement>;

/// The SQL texts kept prepared per connection at most (they are the
/// store's own, a few dozen; the bound is only a safeguard).
const MAX_STATEMENTS: usize = 512;

/// A connection with its prepared statements.
pub(super) struct Conn {
    pub(super) client: Client,
    statements: Statements,
}

impl Conn {
    /// Opens a transaction on this connection (rolled back when dropped
    /// without [`Tx::commit`]).
    pub(super) fn transaction(&mut self) -> Result<Tx<'_>, Error> {
        Ok(Tx {
            t: self.client.transaction()?,
            statements: &mut self.statements,
        })
    }
}

/// A transaction, sharing its connection's prepared statements.
pub(super) struct Tx<'a> {
    t: Transaction<'a>,
    statements: &'a mut Statements,
}

impl Tx<'_> {
    pub(super) fn commit(self) -> Result<(), Error> {
        self.t.commit()
    }
}

/// Opens [`Conn`]s for the pool.
#[derive(Debug)]
pub(super) struct Manager(pub(super) PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn, Error> {
        Ok(Conn {
            client: self.0.connect()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// The statement for `sql` on `client`, prepared on first use.
fn prepared(
    client: &mut impl GenericClient,
    statements: &mut Statements,
    sql: &str,
) -> Result<Statement, Error> {
    if let Some(s) = statements.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    if statements.len() >= MAX_STATEMENTS {
        statements.clear();
    }
    statements.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// What the SQL modules run statements on: the `postgres` client's
/// methods, with each statement prepared once per connection.
pub(super) trait Sql {
    type Client: GenericClient;

    /// The client and the connection's statements.
    fn parts(&mut self) -> (&mut Self::Client, &mut Statements);

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let (c, statements) = self.parts();
        let s = prepared(c, statements, sql)?;
        c.execute(&s, params)
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let (c, statements) = self.parts();
        let s = prepared(c, statements, sql)?;
        c.query(&s, params)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let (c, statements) = self.parts();
        let s = prepared(c, statements, sql)?;
        c.query_one(&s, params)
    }

    fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let (c, statements) = self.parts();
        let s = prepared(c, statements, sql)?;
        c.query_opt(&s, params)
    }
}

impl Sql for Conn {
    type Client = Client;
    fn parts(&mut self) -> (&mut Client, &mut Statements) {
        (&mut self.client, &mut self.statements)
    }
}

impl<'a> Sql for Tx<'a> {
    type Client = Transaction<'a>;
    fn parts(&mut self) -> (&mut Transaction<'a>, &mut Statements) {
        (&mut self.t, self.statements)
    }
}
