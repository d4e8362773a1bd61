//! The responses every operation shares, added to the document in one
//! pass so that each handler's `#[utoipa::path]` lists only what is
//! particular to it: any route may shed load or find a service down (503)
//! or slow (504); a route that reads a JSON body may refuse it (400, 413,
//! 415); a route that requires a token answers 401 without a good one.
//! Every error response gets its DRF body (`Error` or `ValidationErrors`)
//! and the headers the gateway sends with it (`WWW-Authenticate` on 401,
//! `Retry-After` on 429 and, when load is shed, on 503).
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};

use super::schemas;

const JSON: &str = "application/json";

/// Statuses added where a handler did not document them itself.
const ANY_ROUTE: [(&str, &str); 2] = [
    ("503", "A service this route needs is unavailable, or the gateway is shedding load (then with `Retry-After`)."),
    ("504", "A service this route needs did not answer within its deadline."),
];
const WITH_BODY: [(&str, &str); 3] = [
    ("400", "Malformed JSON (`JSON parse error - …`), a body that is not an object, or invalid fields."),
    ("413", "The body is larger than 1 MiB."),
    ("415", "The body is not JSON (`Content-Type` is not `application/json`)."),
];
const UNAUTHENTICATED: (&str, &str) = (
    "401",
    "No credentials (`Authentication credentials were not provided.`), or a token that is invalid, expired or tampered with (`token_not_valid`).",
);

pub fn add_to(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            let mut shared = ANY_ROUTE.to_vec();
            if operation.request_body.is_some() {
                shared.extend(WITH_BODY);
            }
            if requires_token(operation) {
                shared.push(UNAUTHENTICATED);
            }
            let responses = &mut operation.responses.responses;
            for (status, description) in shared {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
            }
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(response) = response {
                    describe_error(status, response);
                }
            }
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    components.schemas.insert("ValidationErrors".into(), schemas::validation_errors().into());
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete].into_iter().flatten()
}

/// True when no security requirement of the operation is the empty one
/// (`{}`, "no credentials needed").
fn requires_token(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|all| !all.is_empty() && all.iter().all(|requirement| requirement != &Default::default()))
}

/// Gives an error response its DRF body and its headers, unless the
/// handler described the body itself.
fn describe_error(status: &str, response: &mut Response) {
    let Ok(code) = status.parse::<u16>() else { return };
    if code < 400 {
        return;
    }
    if response.content.is_empty() {
        let schema: RefOr<_> =
            if code == 400 { schemas::bad_request().into() } else { Ref::from_schema_name("Error").into() };
        response.content.insert(JSON.into(), RefOr::T(ContentBuilder::new().schema(Some(schema)).build()));
    }
    match code {
        401 => header(response, "WWW-Authenticate", Type::String, "`Bearer realm=\"api\"`."),
        429 => header(response, "Retry-After", Type::Integer, "Seconds until a request may succeed."),
        503 => header(response, "Retry-After", Type::Integer, "Seconds to wait, when the gateway sheds load."),
        _ => {}
    }
}

fn header(response: &mut Response, name: &str, kind: Type, description: &str) {
    let header: Header = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(kind)))
        .description(Some(description))
        .build();
    response.headers.entry(name.to_owned()).or_insert(RefOr::T(header));
}
