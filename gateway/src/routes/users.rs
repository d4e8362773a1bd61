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
use crate::openapi::schemas::Message;
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
    #[schema(format = Email)]
    email: String,
    #[schema(value_type = Role)]
    role: String,
    first_name: String,
    last_name: String,
    /// E.164-ish, or null when none is set.
    phone: Option<String>,
    is_active: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
}

/// A user's role.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
enum Role {
    Customer,
    Vendor,
    Admin,
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
    /// Unique case-insensitively; stored lower-case.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// At least 8 characters, not entirely numeric, not a common password,
    /// not similar to the email.
    #[schema(min_length = 8)]
    password: String,
    /// The same password again.
    #[schema(min_length = 1)]
    password_confirm: String,
    /// `customer` (the default, also when empty) or `vendor`; upper-case is accepted.
    #[schema(required = false, schema_with = role_choice)]
    role: String,
    /// At most 150 characters (after trimming).
    #[schema(required = false, max_length = 150)]
    first_name: String,
    /// At most 150 characters (after trimming).
    #[schema(required = false, max_length = 150)]
    last_name: String,
    /// `^\+?[1-9]\d{7,14}$`, unique; `""` or null means none.
    #[schema(pattern = "^(|\\+?[1-9][0-9]{7,14})$")]
    phone: Option<String>,
}

fn role_choice() -> utoipa::openapi::schema::ObjectBuilder {
    crate::openapi::schemas::choice(&["customer", "vendor"], true)
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct LoginBody {
    #[schema(min_length = 1)]
    email: String,
    #[schema(min_length = 1)]
    password: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct RefreshBody {
    /// A refresh token from login or an earlier refresh.
    #[schema(min_length = 1)]
    refresh: String,
}

/// Only these fields may change; others are ignored.
#[allow(dead_code)]
#[derive(ToSchema)]
struct ProfileBody {
    /// At most 150 characters (after trimming).
    #[schema(required = false, max_length = 150)]
    first_name: String,
    /// At most 150 characters (after trimming).
    #[schema(required = false, max_length = 150)]
    last_name: String,
    /// `^\+?[1-9]\d{7,14}$`, unique; `""` or null removes it.
    #[schema(pattern = "^(|\\+?[1-9][0-9]{7,14})$")]
    phone: Option<String>,
}

/// Register a customer or vendor account.
#[utoipa::path(post, path = "/users/register/", tag = "users", request_body = RegisterBody,
    responses((status = 201, description = "Created", body = User),
        (status = 400, description = "Invalid fields, e.g. `{\"email\": [\"user with this email already exists.\"]}`"),
        (status = 429, description = "Too many registrations from this client IP (`REGISTER_RATE_LIMIT` per hour)"),
        (status = 503, description = "Password hashing is saturated (with `Retry-After`), or a service is unavailable")))]
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
    responses((status = 200, description = "OK", body = TokenPair), (status = 400, description = "`email` or `password` missing or blank"),
        (status = 401, description = "`No active account found with the given credentials`"),
        (status = 429, description = "Too many failed logins from this client IP or for this email in the last 60 s, whatever the password"),
        (status = 503, description = "Password hashing is saturated (with `Retry-After`), or a service is unavailable")))]
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
    Ok(Json(login_counted(&state, ip, message).await?.into()))
}

/// A login under the failed-login limits (per client IP and per email):
/// the REST route's and the console's.
pub(crate) async fn login_counted(
    state: &AppState,
    ip: std::net::IpAddr,
    message: pb::LoginRequest,
) -> HttpResult<pb::TokenPair> {
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
    Ok(answer?)
}

/// Revoke a refresh token (and its whole login family).
#[utoipa::path(post, path = "/users/logout/", tag = "users", request_body = RefreshBody, security(("bearer" = [])),
    responses((status = 200, description = "`Successfully logged out.` (also for a token already logged out)", body = Message),
        (status = 400, description = "`refresh` missing, or the token invalid or someone else's (`token_not_valid`)")))]
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
    responses((status = 200, description = "A new pair; the token sent is dead from now on", body = TokenPair),
        (status = 400, description = "`refresh` missing or blank"),
        (status = 401, description = "Token invalid, expired, an access token, or reused (which revokes its whole login family)")))]
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
    responses((status = 200, description = "OK", body = User)))]
async fn profile(State(state): State<AppState>, AuthUser(user): AuthUser) -> HttpResult<Json<User>> {
    let mut client = state.downstream.identity.clone();
    let profile = state
        .downstream
        .call(client.get_profile(state.downstream.request(pb::GetProfileRequest {}, Some(&user.token))))
        .await?;
    Ok(Json(profile.into()))
}

/// Change `first_name`, `last_name` or `phone`; other fields are ignored.
#[utoipa::path(patch, path = "/users/profile/", tag = "users", request_body = Option<ProfileBody>, security(("bearer" = [])),
    responses((status = 200, description = "OK", body = User), (status = 400, description = "Invalid fields, or the phone is taken")))]
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
