//! Errors of the warehouse crate.

/// Everything that can go wrong in the warehouse crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The table spec is invalid.
    #[error("table spec: {0}")]
    Spec(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("local warehouse database: {context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The existing database was created for a different table spec.
    #[error("the database at {path} was created for a different table spec: {detail}")]
    SpecMismatch {
        /// Database path.
        path: String,
        /// What differs.
        detail: String,
    },
    /// An oracle file could not be read.
    #[error("oracle file: {0}")]
    Oracle(String),
    /// A task batch was aborted on purpose (failure injection in tests).
    #[error("task batch aborted: {0}")]
    Aborted(String),
}

pub(crate) trait SqlContext<T> {
    fn ctx(self, context: &str) -> Result<T, Error>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &str) -> Result<T, Error> {
        self.map_err(|source| Error::Sqlite {
            context: context.to_string(),
            source,
        })
    }
}
