//! A bulk import's lines between the wire and the store: each line is
//! validated like a single create, and errors travel by line number.
use common::FieldErrors;
use proto::catalog::v1 as pb;

use crate::domain;
use crate::grpc::raw_product;
use crate::store::ImportRow;

/// Products one import may hold (the contract's bound).
pub const MAX_LINES: usize = 10_000;

/// The lines that pass a single create's validation, and the errors of
/// those that do not.
pub fn validate(lines: Vec<pb::ImportLine>) -> (Vec<ImportRow>, Vec<(u32, FieldErrors)>) {
    let mut rows = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    for line in lines {
        match domain::validate_product(&raw_product(line.fields), true) {
            Ok(change) => rows.push(ImportRow { line: line.line, change }),
            Err(error) => errors.push((line.line, error.fields)),
        }
    }
    (rows, errors)
}

pub fn from_message(invalid: Vec<pb::LineErrors>) -> Vec<(u32, FieldErrors)> {
    invalid
        .into_iter()
        .map(|line| {
            let mut errors = FieldErrors::new();
            for field in line.fields {
                for message in field.messages {
                    errors.add(&field.field, message);
                }
            }
            (line.line, errors)
        })
        .collect()
}

/// Errors by line, first line first.
pub fn to_message(mut errors: Vec<(u32, FieldErrors)>) -> Vec<pb::LineErrors> {
    errors.sort_by_key(|(line, _)| *line);
    errors
        .into_iter()
        .map(|(line, errors)| pb::LineErrors {
            line,
            fields: errors
                .iter()
                .map(|(field, messages)| pb::FieldError { field: field.clone(), messages: messages.clone() })
                .collect(),
        })
        .collect()
}
