//! The OpenAPI 3 document of every route (collected by utoipa from the
//! handlers), served at `/api/schema/` as JSON or, with `?format=yaml`,
//! YAML; and Swagger UI at `/api/docs/`, its assets compiled into the
//! binary (no CDN, no download at build time).
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::AppState;

pub fn document(mut api: OpenApi) -> OpenApi {
    api.info.title = "Marketplace API".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Multi-vendor marketplace. DRF-compatible REST; errors are `{\"detail\"}` or `{\"<field>\": [...]}`.".into(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    api
}

#[derive(Deserialize)]
pub struct SchemaQuery {
    format: Option<String>,
}

pub async fn schema(State(state): State<AppState>, Query(query): Query<SchemaQuery>) -> Response {
    if query.format.as_deref().is_some_and(|f| f.eq_ignore_ascii_case("yaml")) {
        let mut yaml = String::from("---\n");
        write_yaml(&state.openapi_json, 0, &mut yaml);
        ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], state.openapi_json.to_string()).into_response()
    }
}

pub fn swagger_ui() -> Router<AppState> {
    SwaggerUi::new("/api/docs").config(Config::new(["/api/schema/"])).into()
}

/// Block-style YAML of a JSON value. Strings are written as JSON strings,
/// which YAML reads as double-quoted scalars, so no escaping is lost.
fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                out.push_str(&format!("{pad}{}:", Value::String(key.clone())));
                write_nested(item, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                write_nested(item, indent, out);
            }
        }
        scalar => out.push_str(&format!("{pad}{scalar}\n")),
    }
}

fn write_nested(item: &Value, indent: usize, out: &mut String) {
    match item {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_yaml(item, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_yaml(item, indent + 2, out);
        }
        scalar => out.push_str(&format!(" {scalar}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_nests_maps_and_lists() {
        let mut out = String::new();
        write_yaml(&json!({"a": {"b": [1, "x"], "c": {}}, "d": []}), 0, &mut out);
        assert_eq!(out, "\"a\":\n  \"b\":\n    - 1\n    - \"x\"\n  \"c\": {}\n\"d\": []\n");
    }
}
