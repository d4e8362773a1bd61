//! `/users/*`: registration, login, token refresh, logout and profile.

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use common::{ApiError, ErrorKind};
use proto::identity::v1 as pb;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{detail, rfc3339};
use crate::AppState;
use crate::auth::AuthUser;
use crate::body::{Form, JsonBody};
use crate::client_ip::client_ip;
use crate::error::{HttpError, HttpResult};
use crate::origin::Connection;
use crate::rate_limit::Reservation;

const LOGIN_WINDOW_SECS: i64 = 60;
const REGISTER_WINDOW_SECS: i64 = 3600;
const LOGIN_BUSY: &str = "Too many login attempts in progress; try again shortly.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(refresh))
        .routes(routes!(profile, update_profile))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    id: i64,
    email: String,
    role: String,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    is_active: bool,
    created_at: Option<String>,
}

impl From<pb::User> for User {
    fn from(u: pb::User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role,
            first_name: u.first_name,
            last_name: u.last_name,
            phone: u.phone,
            is_active: u.is_active,
            created_at: rfc3339(u.created_at.as_ref()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    access: String,
    refresh: String,
}

impl From<pb::TokenPair> for TokenPair {
    fn from(t: pb::TokenPair) -> Self {
        Self { access: t.access, refresh: t.refresh }
    }
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct RegisterBody {
    email: String,
    password: String,
    password_confirm: String,
    /// `customer` (default) or `vendor`.
    role: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// `^\+?[1-9]\d{7,14}$`; `""` means none.
    phone: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct LoginBody {
    email: String,
    password: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct RefreshBody {
    refresh: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct ProfileBody {
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

/// Register a customer or vendor account.
#[utoipa::path(post, path = "/users/register/", tag = "users", request_body = RegisterBody,
    responses((status = 201, description = "Created", body = User), (status = 400, description = "Validation errors per field"), (status = 429, description = "Too many registrations from this IP")))]
async fn register(
    State(state): State<AppState>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    headers: HeaderMap,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<User>)> {
    let ip = client_ip(connection.peer.ip(), &headers, &state.config.trusted_proxies);
    if let Some(retry_after_secs) =
        state.limiter.take(&format!("register:ip:{ip}"), REGISTER_WINDOW_SECS, state.config.register_rate_limit).await
    {
        return Err(HttpError::Throttled { retry_after_secs });
    }
    let mut form = Form::new(body);
    let message = pb::RegisterRequest {
        email: form.string("email"),
        password: form.string("password"),
        password_confirm: form.string("password_confirm"),
        role: form.string("role"),
        first_name: form.string("first_name"),
        last_name: form.string("last_name"),
        phone: form.nullable_string("phone"),
    };
    form.finish()?;
    let mut client = state.downstream.identity.clone();
    let user = state.downstream.call(client.register(state.downstream.request(message, None))).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Exchange email and password for an access and a refresh token.
#[utoipa::path(post, path = "/users/login/", tag = "users", request_body = LoginBody,
    responses((status = 200, description = "OK", body = TokenPair), (status = 401, description = "Bad credentials"), (status = 429, description = "Too many failed logins")))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    headers: HeaderMap,
    body: JsonBody,
) -> HttpResult<Json<TokenPair>> {
    let ip = client_ip(connection.peer.ip(), &headers, &state.config.trusted_proxies);
    let mut form = Form::new(body);
    let message = pb::LoginRequest { email: form.string("email"), password: form.string("password") };
    form.finish()?;
    let mut windows = vec![format!("login:ip:{ip}")];
    if let Some(email) = message.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty()) {
        windows.push(format!("login:email:{email}"));
    }
    let attempt = match state.limiter.reserve(&windows, LOGIN_WINDOW_SECS, state.config.login_failure_limit).await {
        Reservation::Granted(attempt) => attempt,
        Reservation::Throttled(retry_after_secs) => return Err(HttpError::Throttled { retry_after_secs }),
        Reservation::Busy => return Err(ApiError::new(ErrorKind::Unavailable, LOGIN_BUSY).into()),
    };
    let mut client = state.downstream.identity.clone();
    let answer = state.downstream.call(client.login(state.downstream.request(message, None))).await;
    if let Some(attempt) = attempt {
        let failed = matches!(&answer, Err(error) if error.kind == ErrorKind::Unauthenticated);
        attempt.finish(failed).await;
    }
    Ok(Json(answer?.into()))
}

/// Revoke a refresh token (and its whole login family).
#[utoipa::path(post, path = "/users/logout/", tag = "users", request_body = RefreshBody, security(("bearer" = [])),
    responses((status = 200, description = "Logged out"), (status = 400, description = "Token invalid or someone else's"), (status = 401, description = "Not authenticated or token not valid")))]
async fn logout(State(state): State<AppState>, AuthUser(user): AuthUser, body: JsonBody) -> HttpResult<Json<Value>> {
    let mut form = Form::new(body);
    let message = pb::LogoutRequest { refresh: form.string("refresh") };
    form.finish()?;
    let mut client = state.downstream.identity.clone();
    state.downstream.call(client.logout(state.downstream.request(message, Some(&user.token)))).await?;
    Ok(Json(detail("Successfully logged out.")))
}

/// Rotate a refresh token: the old one dies, a reused dead one revokes its family.
#[utoipa::path(post, path = "/users/token/refresh/", tag = "users", request_body = RefreshBody,
    responses((status = 200, description = "OK", body = TokenPair), (status = 401, description = "Token invalid, expired or reused")))]
async fn refresh(State(state): State<AppState>, body: JsonBody) -> HttpResult<Json<TokenPair>> {
    let mut form = Form::new(body);
    let message = pb::RefreshTokenRequest { refresh: form.string("refresh") };
    form.finish()?;
    let mut client = state.downstream.identity.clone();
    let tokens = state.downstream.call(client.refresh_token(state.downstream.request(message, None))).await?;
    Ok(Json(tokens.into()))
}

/// The caller's own profile.
#[utoipa::path(get, path = "/users/profile/", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = User), (status = 401, description = "Not authenticated or token not valid")))]
async fn profile(State(state): State<AppState>, AuthUser(user): AuthUser) -> HttpResult<Json<User>> {
    let mut client = state.downstream.identity.clone();
    let profile = state
        .downstream
        .call(client.get_profile(state.downstream.request(pb::GetProfileRequest {}, Some(&user.token))))
        .await?;
    Ok(Json(profile.into()))
}

/// Change `first_name`, `last_name` or `phone`; other fields are ignored.
#[utoipa::path(patch, path = "/users/profile/", tag = "users", request_body = ProfileBody, security(("bearer" = [])),
    responses((status = 200, description = "OK", body = User), (status = 400, description = "Validation error"), (status = 401, description = "Not authenticated or token not valid")))]
async fn update_profile(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: JsonBody,
) -> HttpResult<Json<User>> {
    let mut form = Form::new(body);
    let message = pb::UpdateProfileRequest {
        first_name: form.string("first_name"),
        last_name: form.string("last_name"),
        phone: form.nullable_string("phone"),
    };
    form.finish()?;
    let mut client = state.downstream.identity.clone();
    let profile =
        state.downstream.call(client.update_profile(state.downstream.request(message, Some(&user.token)))).await?;
    Ok(Json(profile.into()))
}
