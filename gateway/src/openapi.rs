//! The OpenAPI 3.1 document of every route, served at `/api/schema/` as
//! JSON or, with `?format=yaml`, YAML; and Swagger UI at `/api/docs/`, its
//! assets compiled into the binary (no CDN, no download at build time).
//!
//! utoipa collects each handler's `#[utoipa::path]`; `document` then adds
//! what the project says about itself (`info`), the bearer scheme, and the
//! responses every route shares (`responses`). The document is checked
//! against the running server by `scripts/schemathesis.sh`: every status a
//! route can answer is listed, and request schemas accept exactly what the
//! server accepts (`schemas`).
mod responses;
pub mod schemas;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::PartialSchema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::AppState;

/// The document, rendered once at start-up in both formats.
pub struct Rendered {
    pub json: Bytes,
    pub yaml: Bytes,
}

impl Rendered {
    pub fn new(api: &OpenApi) -> Result<Self, String> {
        Ok(Self {
            json: api.to_json().map_err(|e| format!("OpenAPI as JSON: {e}"))?.into(),
            yaml: api.to_yaml().map_err(|e| format!("OpenAPI as YAML: {e}"))?.into(),
        })
    }
}

pub fn document(mut api: OpenApi) -> OpenApi {
    // The workspace's own name, version and licence; utoipa would fill in
    // its own crate's author and licence otherwise.
    api.info = InfoBuilder::new()
        .title("Marketplace API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Multi-vendor marketplace: a DRF-compatible REST API. Errors are `{\"detail\": ..., \"code\"?: ...}` \
             or `{\"<field>\": [messages]}`; unknown JSON fields are ignored.",
        ))
        .license(Some(
            LicenseBuilder::new().name(env!("CARGO_PKG_LICENSE")).identifier(Some(env!("CARGO_PKG_LICENSE"))).build(),
        ))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    components.schemas.insert("Error".into(), schemas::ErrorBody::schema());
    responses::add_to(&mut api);
    api
}

#[derive(Deserialize)]
pub struct SchemaQuery {
    format: Option<String>,
}

pub async fn schema(State(state): State<AppState>, Query(query): Query<SchemaQuery>) -> Response {
    if query.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("yaml")) {
        ([(header::CONTENT_TYPE, "application/yaml")], state.openapi.yaml.clone()).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], state.openapi.json.clone()).into_response()
    }
}

pub fn swagger_ui() -> Router<AppState> {
    SwaggerUi::new("/api/docs").config(Config::new(["/api/schema/"])).into()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::openapi()).expect("the document serialises")
    }

    #[test]
    fn info_is_the_projects_own() {
        let info = &document()["info"];
        assert_eq!(info["license"]["name"], "MIT");
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert!(info.get("contact").is_none(), "{info}");
    }

    #[test]
    fn shared_responses_reach_every_operation() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (verb, operation) in item.as_object().expect("operations") {
                let responses = &operation["responses"];
                for status in ["503", "504"] {
                    assert!(responses[status].is_object(), "{verb} {path} lacks {status}");
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "413", "415"] {
                        assert!(responses[status]["content"]["application/json"].is_object(), "{verb} {path} {status}");
                    }
                }
                if operation["security"].as_array().is_some_and(|all| all.iter().all(|s| s != &serde_json::json!({}))) {
                    assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object(), "{verb} {path} 401");
                }
            }
        }
    }

    #[test]
    fn yaml_starts_with_the_openapi_version() {
        let rendered = super::Rendered::new(&crate::openapi()).expect("renders");
        assert!(rendered.yaml.starts_with(b"openapi: 3.1"));
        assert!(rendered.json.starts_with(b"{\"openapi\":\"3.1"));
    }
}
