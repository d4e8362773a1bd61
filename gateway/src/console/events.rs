//! The admin's parked events: what every consuming service's consumers
//! gave up on (stream, type, error, when), with `Replay` (the consumer's
//! own handler applies it once, through the service's `ParkedEvents`) and
//! `Discard`.
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use common::ApiError;
use proto::events::v1 as pb;
use serde::Deserialize;

use super::page::{self, Layout, Posted, Section};
use super::session::{Admin, Csrf, Session};
use crate::AppState;
use crate::routes::rfc3339;

pub struct ParkedRow {
    service: &'static str,
    consumer: String,
    event_id: String,
    stream: String,
    event_type: String,
    error: String,
    attempts: u32,
    parked: String,
}

/// Every consuming service's parked events, newest first.
pub async fn parked(state: &AppState, token: &str) -> Result<Vec<ParkedRow>, ApiError> {
    let d = &state.downstream;
    let mut rows = Vec::new();
    for (service, client) in &d.parked_events {
        let mut client = client.clone();
        let list = d.call(client.list_parked(d.request(pb::ListParkedRequest {}, Some(token)))).await?;
        rows.extend(list.events.into_iter().map(|e| {
            let parked = rfc3339(e.parked_at.as_ref()).unwrap_or_default();
            ParkedRow {
                service,
                consumer: e.consumer,
                event_id: e.event_id,
                stream: e.stream,
                event_type: e.event_type,
                error: e.error,
                attempts: e.attempts,
                parked,
            }
        }));
    }
    rows.sort_by(|a, b| b.parked.cmp(&a.parked));
    Ok(rows)
}

#[derive(Template)]
#[template(path = "console/events.html")]
struct EventsPage {
    layout: Layout,
    events: Vec<ParkedRow>,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn events_page(
    state: &AppState,
    session: &Session,
    csrf: &Csrf,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let events = match parked(state, session.token()).await {
        Ok(events) => events,
        Err(error) => return page::failure(Some(session), csrf, error),
    };
    let layout = Layout::new("Parked events", Some(session), csrf, Section::Events);
    page::render(status, &EventsPage { layout, events, notice, error })
}

pub async fn list(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let notice = match params.get("done").map(String::as_str) {
        Some("applied") => Some("The event is replayed: its consumer applied it."),
        Some("duplicate") => Some("The event had been applied already; it is off the list."),
        Some("discarded") => Some("The event is discarded."),
        _ => None,
    };
    events_page(&state, &session, &csrf, StatusCode::OK, notice, None).await
}

/// Which parked event a button is for.
#[derive(Deserialize)]
pub struct EventKey {
    #[serde(default)]
    service: String,
    #[serde(default)]
    consumer: String,
    #[serde(default)]
    event_id: String,
}

/// The client of the service a posted key names.
fn client_of<'s>(
    state: &'s AppState,
    service: &str,
) -> Option<&'s pb::parked_events_client::ParkedEventsClient<common::grpc_client::ServiceChannel>> {
    state.downstream.parked_events.iter().find(|(name, _)| *name == service).map(|(_, client)| client)
}

pub enum Action {
    Replay,
    Discard,
}

async fn act(state: &AppState, session: &Session, key: &EventKey, action: Action) -> Result<String, ApiError> {
    let client = client_of(state, &key.service).ok_or_else(|| ApiError::field("service", "Unknown service."))?;
    let mut client = client.clone();
    let message = pb::ParkedKey { consumer: key.consumer.clone(), event_id: key.event_id.clone() };
    let d = &state.downstream;
    match action {
        Action::Replay => Ok(d.call(client.replay_parked(d.request(message, Some(session.token())))).await?.outcome),
        Action::Discard => {
            d.call(client.discard_parked(d.request(message, Some(session.token())))).await?;
            Ok("discarded".to_owned())
        }
    }
}

async fn answer(state: &AppState, session: &Session, csrf: &Csrf, key: EventKey, action: Action) -> Response {
    match act(state, session, &key, action).await {
        Ok(outcome) => {
            Redirect::to(&format!("/admin/events/{}", super::query_string(&[("done", &outcome)]))).into_response()
        }
        Err(error) if crate::error::status_of(error.kind).is_client_error() => {
            let status = crate::error::status_of(error.kind);
            let text = match error.kind {
                common::ErrorKind::NotFound => "That event is no longer parked.".to_owned(),
                _ => page::explain(&error),
            };
            events_page(state, session, csrf, status, None, Some(text)).await
        }
        Err(error) => page::failure(Some(session), csrf, error),
    }
}

pub async fn replay(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Posted(key): Posted<EventKey>,
) -> Response {
    answer(&state, &session, &csrf, key, Action::Replay).await
}

pub async fn discard(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Posted(key): Posted<EventKey>,
) -> Response {
    answer(&state, &session, &csrf, key, Action::Discard).await
}
