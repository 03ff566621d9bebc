//! The host side of the `sql` import: resources in the store's table, calls forwarded to the
//! connector's [`SqlBroker`](crate::brokers::SqlBroker), and conversions between its values
//! and the contract's.

use wasmtime::component::Resource;

use super::bindings::since_v0_1::inlet::connector::{sql, types};
use super::host_state::HostState;
use crate::brokers::{FailureKind, SqlFailure, Value};
use crate::sql_resources::{Connection, Rows};
use inlet_policy::guest_output::Level;

fn to_error(f: SqlFailure) -> types::ConnectorError {
    types::ConnectorError {
        kind: match f.kind {
            FailureKind::Config => types::ErrorKind::Config,
            FailureKind::Auth => types::ErrorKind::Auth,
            FailureKind::Network => types::ErrorKind::Network,
            FailureKind::Source => types::ErrorKind::Source,
        },
        message: f.message,
    }
}

fn internal(message: impl std::fmt::Display) -> types::ConnectorError {
    types::ConnectorError {
        kind: types::ErrorKind::Internal,
        message: message.to_string(),
    }
}

fn from_wit(v: sql::SqlValue) -> Value {
    use sql::SqlValue as W;
    match v {
        W::Null => Value::Null,
        W::Bool(b) => Value::Bool(b),
        W::Int(i) => Value::Int(i),
        W::Float(f) => Value::Float(f),
        W::Decimal(s) => Value::Decimal(s),
        W::Text(s) => Value::Text(s),
        W::Bytes(b) => Value::Bytes(b),
        W::Timestamp(s) => Value::Timestamp(s),
        W::Date(s) => Value::Date(s),
        W::Time(s) => Value::Time(s),
        W::Json(s) => Value::Json(s),
    }
}

fn to_wit(v: Value) -> sql::SqlValue {
    use sql::SqlValue as W;
    match v {
        Value::Null => W::Null,
        Value::Bool(b) => W::Bool(b),
        Value::Int(i) => W::Int(i),
        Value::Float(f) => W::Float(f),
        Value::Decimal(s) => W::Decimal(s),
        Value::Text(s) => W::Text(s),
        Value::Bytes(b) => W::Bytes(b),
        Value::Timestamp(s) => W::Timestamp(s),
        Value::Date(s) => W::Date(s),
        Value::Time(s) => W::Time(s),
        Value::Json(s) => W::Json(s),
    }
}

impl HostState {
    /// A refused open or statement is logged through the plugin's log budget (a plugin sending
    /// refused statements in a loop cannot flood the log); other failures are the source's
    /// and go back to the plugin only.
    fn refused(&self, f: SqlFailure) -> types::ConnectorError {
        if f.kind == FailureKind::Config {
            self.log.host_event(Level::Warn, &f.message);
        }
        to_error(f)
    }
}

impl sql::Host for HostState {}

impl sql::HostConnection for HostState {
    async fn open(&mut self, name: String) -> Result<Resource<Connection>, types::ConnectorError> {
        let Some(access) = &self.sql else {
            return Err(to_error(SqlFailure::new(
                FailureKind::Config,
                "no databases in this context (plugin inspection)",
            )));
        };
        let conn = access.open(&name).map_err(|f| self.refused(f))?;
        self.table.push(Connection(conn)).map_err(internal)
    }

    async fn query(
        &mut self,
        this: Resource<Connection>,
        statement: String,
        params: Vec<sql::SqlValue>,
    ) -> Result<Resource<Rows>, types::ConnectorError> {
        let conn = self.table.get(&this).map_err(internal)?;
        let params = params.into_iter().map(from_wit).collect();
        // Rows the host buffers for this stream are charged to the instance's host budget.
        let stream = conn
            .0
            .query(statement, params, &self.budget)
            .await
            .map_err(|f| self.refused(f))?;
        self.table.push(Rows(stream)).map_err(internal)
    }

    async fn dialect(&mut self, this: Resource<Connection>) -> String {
        self.table
            .get(&this)
            .map(|c| c.0.dialect().to_owned())
            .unwrap_or_default()
    }

    async fn drop(&mut self, rep: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl sql::HostRowStream for HostState {
    async fn columns(&mut self, this: Resource<Rows>) -> Vec<sql::Column> {
        self.table
            .get(&this)
            .map(|s| {
                s.0.columns()
                    .into_iter()
                    .map(|c| sql::Column {
                        name: c.name,
                        db_type: c.db_type,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn next_batch(
        &mut self,
        this: Resource<Rows>,
        max_rows: u32,
    ) -> Result<Option<Vec<Vec<sql::SqlValue>>>, types::ConnectorError> {
        let stream = self.table.get_mut(&this).map_err(internal)?;
        let batch = stream.0.next_batch(max_rows).await.map_err(to_error)?;
        Ok(batch.map(|rows| {
            rows.into_iter()
                .map(|r| r.into_iter().map(to_wit).collect())
                .collect()
        }))
    }

    async fn drop(&mut self, rep: Resource<Rows>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}
