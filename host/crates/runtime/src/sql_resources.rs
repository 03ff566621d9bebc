//! The `sql` import's resources as a store's table holds them, apart from their host side
//! (`sql_host`) because the bindings name them: `bindings` → here ← `sql_host`.
//!
//! Both types are `pub` because the bindings' `with` re-exports them; the module is private, so
//! nothing outside the crate can name them.
#![allow(unreachable_pub)]

use crate::brokers::{Database, RowStream};

/// A guest's `sql.connection`: the database its broker opened.
pub struct Connection(pub(crate) Box<dyn Database>);

/// A guest's `sql.row-stream`: the rows of one statement.
pub struct Rows(pub(crate) Box<dyn RowStream>);
