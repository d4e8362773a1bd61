//! The one error type of the bench: a message for the operator, built from
//! whatever went wrong (bad arguments, refused host, transport, an API answer
//! that does not follow the contract).
use std::fmt;

#[derive(Debug)]
pub struct BenchError(pub String);

pub type Result<T> = std::result::Result<T, BenchError>;

impl BenchError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<reqwest::Error> for BenchError {
    fn from(error: reqwest::Error) -> Self {
        Self(format!("transport error: {}", chain(&error)))
    }
}

/// An error and its sources, `: `-separated (reqwest's own message omits the cause,
/// e.g. "connection refused").
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    // Bounded: error chains are short, but never trust a cycle.
    for _ in 0..8 {
        let Some(cause) = source else { break };
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
