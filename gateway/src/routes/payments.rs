//! `/payments/*`: initiation (with `Idempotency-Key`), reads, the
//! provider's signed webhook (raw body passed through untouched: the
//! signature covers its bytes) and the sandbox's "complete" button.
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::ApiError;
use common::status::{Named, PaymentStatus};
use proto::payment::v1 as pb;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::{AuthUser, CustomerUser};
use crate::body::{Form, JsonBody};
use crate::error::{HttpError, HttpResult};
use crate::idempotency::{self, KeyHeader};
use crate::openapi::schemas::{self, IdPath, Message};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(initiate))
        .routes(routes!(webhook))
        .routes(routes!(get_payment))
        .routes(routes!(complete_sandbox))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    id: i64,
    order: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    amount: String,
    currency: String,
    #[schema(value_type = crate::statuses::schema::PaymentStatus)]
    status: &'static str,
    provider: String,
    provider_payment_id: String,
    client_secret: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Option<String>,
}

impl From<pb::PaymentMessage> for Payment {
    fn from(p: pb::PaymentMessage) -> Self {
        Self {
            status: p.status().name(),
            id: p.id,
            order: p.order,
            amount: p.amount,
            currency: p.currency,
            provider: p.provider,
            provider_payment_id: p.provider_payment_id,
            client_secret: p.client_secret,
            created_at: rfc3339(p.created_at.as_ref()),
            updated_at: rfc3339(p.updated_at.as_ref()),
        }
    }
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct InitiateBody {
    /// A pending order of the caller's.
    #[schema(schema_with = schemas::id)]
    order_id: i64,
}

/// What a sandbox payment may end as.
const OUTCOMES: [PaymentStatus; 2] = [PaymentStatus::Succeeded, PaymentStatus::Failed];

#[allow(dead_code)]
#[derive(ToSchema)]
struct OutcomeBody {
    #[schema(schema_with = outcome)]
    outcome: String,
}

fn outcome() -> utoipa::openapi::schema::ObjectBuilder {
    schemas::choice(&OUTCOMES.map(Named::name), false)
}

/// What the gateway answers the provider.
#[allow(dead_code)]
#[derive(ToSchema)]
struct WebhookReceived {
    received: bool,
    /// What the event did: applied, or why it had no effect.
    outcome: String,
}

/// The order's open payment: made (201) or the existing one (200).
#[utoipa::path(post, path = "/payments/initiate/", tag = "payments", request_body = InitiateBody, security(("bearer" = [])),
    params(KeyHeader),
    responses((status = 201, description = "Created", body = Payment), (status = 200, description = "The order's open payment", body = Payment),
        (status = 400, description = "Invalid `order_id`, or `idempotency_key_invalid`"), (status = 403, description = "Not a customer"),
        (status = 404, description = "Not found, or not your order"),
        (status = 409, description = "`order_not_payable` (not pending), or `idempotency_key_in_flight`"),
        (status = 422, description = "`idempotency_key_reused`: the key was used with another request")))]
async fn initiate(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    headers: HeaderMap,
    body: JsonBody,
) -> HttpResult<Response> {
    let key = idempotency::key_of(&headers)?;
    let mut form = Form::new(JsonBody(body.0.clone()));
    let order_id = form.number_text("order_id");
    form.finish()?;
    let fingerprint_body = Value::Object(body.0);
    let run = || async {
        let d = &state.downstream;
        let mut client = d.payment.clone();
        let answer = d
            .call(client.initiate_payment(d.request(pb::InitiatePaymentRequest { order_id }, Some(&user.token))))
            .await?;
        let status = if answer.created { StatusCode::CREATED } else { StatusCode::OK };
        let payment = answer.payment.ok_or_else(|| ApiError::internal("payment service answered without a payment"))?;
        Ok((status, serde_json::to_value(Payment::from(payment)).map_err(ApiError::internal)?))
    };
    Ok(idempotency::once(&state, user.user_id, key, "POST", "/payments/initiate/", &fingerprint_body, run).await)
}

/// The payment provider's event, authenticated by its `Payment-Signature`.
#[utoipa::path(post, path = "/payments/webhook/", tag = "payments",
    request_body(content = Value, description = "The provider's event, signed as sent", content_type = "application/json"),
    params(("Payment-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")> (several v1 during a secret rotation)")),
    responses((status = 200, description = "Received: applied, or a replay or unknown payment with no effect", body = WebhookReceived),
        (status = 400, description = "`Invalid signature.` (missing, malformed, wrong or older than 300 s), or an amount or currency mismatch")))]
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> HttpResult<Json<Value>> {
    // Stripe names the same header `Stripe-Signature`.
    let signature = headers
        .get("payment-signature")
        .or_else(|| headers.get("stripe-signature"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let d = &state.downstream;
    let mut client = d.payment.clone();
    let message = pb::WebhookRequest { body: body.to_vec(), signature };
    let answer = d.call(client.handle_webhook(d.request(message, None))).await?;
    Ok(Json(json!({ "received": true, "outcome": answer.outcome })))
}

/// One payment (its owner or an admin).
#[utoipa::path(get, path = "/payments/{id}/", tag = "payments", security(("bearer" = [])), params(IdPath),
    responses((status = 200, description = "OK", body = Payment), (status = 403, description = "A vendor"),
        (status = 404, description = "Not found, or not yours")))]
async fn get_payment(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> HttpResult<Json<Payment>> {
    let message = pb::GetPaymentRequest { id: path_id(&id)? };
    let d = &state.downstream;
    let mut client = d.payment.clone();
    Ok(Json(d.call(client.get_payment(d.request(message, Some(&user.token)))).await?.into()))
}

/// Present only while the sandbox is the payment provider: otherwise the
/// route answers 404 to everyone, before authentication.
struct SandboxProvider;

impl FromRequestParts<AppState> for SandboxProvider {
    type Rejection = HttpError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        if state.config.sandbox_payments() { Ok(SandboxProvider) } else { Err(ApiError::not_found().into()) }
    }
}

/// Sandbox only: the provider sends the signed webhook for this outcome.
#[utoipa::path(post, path = "/payments/{id}/sandbox/complete/", tag = "payments", request_body = OutcomeBody,
    security(("bearer" = [])), params(IdPath),
    responses((status = 202, description = "The sandbox provider is sending the signed webhook", body = Message),
        (status = 400, description = "`outcome` missing or not a valid choice"), (status = 403, description = "Not a customer"),
        (status = 404, description = "Not found, not yours, or the sandbox is not the configured provider")))]
async fn complete_sandbox(
    _sandbox: SandboxProvider,
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<Value>)> {
    let id = path_id(&id)?;
    let mut form = Form::new(body);
    let outcome = form.status("outcome", &OUTCOMES, None);
    form.finish()?;
    let outcome = outcome.unwrap_or_default().into();
    let d = &state.downstream;
    let mut client = d.payment.clone();
    let message = pb::CompleteSandboxPaymentRequest { id, outcome };
    d.call(client.complete_sandbox_payment(d.request(message, Some(&user.token)))).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "detail": "The sandbox provider is sending the webhook." }))))
}
