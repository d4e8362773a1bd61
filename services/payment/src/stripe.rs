//! Stripe as the payment provider (`PAYMENT_PROVIDER=stripe`): a
//! PaymentIntent per payment (`POST /v1/payment_intents`), refunds
//! (`POST /v1/refunds`), both with Stripe's `Idempotency-Key` so a retried
//! call never charges or refunds twice, and webhooks signed exactly as the
//! sandbox signs them (Stripe's `t=…,v1=…` scheme is the one we follow).
use std::time::Duration;

use common::{ApiError, ErrorKind};
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::domain;
use crate::provider::{Intent, PaymentProvider};
use crate::signature;

pub const DEFAULT_API_URL: &str = "https://api.stripe.com";

pub struct Stripe {
    secret_key: String,
    api_url: String,
    webhook_secrets: Vec<String>,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct IntentReply {
    id: String,
    client_secret: String,
}

#[derive(Debug, Deserialize)]
struct ErrorReply {
    error: ErrorBody,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

/// The form of a new PaymentIntent.
fn intent_form(order_id: i64, amount: Decimal, currency: &str) -> Vec<(&'static str, String)> {
    vec![
        ("amount", domain::minor_units(amount).to_string()),
        ("currency", currency.to_ascii_lowercase()),
        ("metadata[order_id]", order_id.to_string()),
        ("automatic_payment_methods[enabled]", "true".to_owned()),
    ]
}

fn refund_form(provider_payment_id: &str, amount: Decimal) -> Vec<(&'static str, String)> {
    vec![("payment_intent", provider_payment_id.to_owned()), ("amount", domain::minor_units(amount).to_string())]
}

/// Stripe's answer as ours: its client errors are ours to fix (500,
/// logged), anything else is the provider being unavailable (503).
fn provider_error(status: reqwest::StatusCode, body: &str) -> ApiError {
    let message = serde_json::from_str::<ErrorReply>(body).ok().and_then(|e| e.error.message).unwrap_or_default();
    tracing::error!(%status, message, "Stripe refused a call");
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        ApiError::new(ErrorKind::Unavailable, "The payment provider is unavailable; try again shortly.")
    } else {
        ApiError::internal(format!("Stripe answered {status}"))
    }
}

impl Stripe {
    pub fn new(
        secret_key: String,
        api_url: String,
        webhook_secrets: Vec<String>,
    ) -> Result<Self, common::StartupError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| common::StartupError::Config(format!("Stripe client: {e}")))?;
        Ok(Self { secret_key, api_url: api_url.trim_end_matches('/').to_owned(), webhook_secrets, http })
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&'static str, String)],
        idempotency_key: &str,
    ) -> Result<T, ApiError> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_url))
            .bearer_auth(&self.secret_key)
            .header("idempotency-key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|error| {
                tracing::error!(%error, "Stripe not reached");
                ApiError::new(ErrorKind::Unavailable, "The payment provider is unavailable; try again shortly.")
            })?;
        let status = response.status();
        let body = response.text().await.map_err(ApiError::internal)?;
        if !status.is_success() {
            return Err(provider_error(status, &body));
        }
        serde_json::from_str(&body).map_err(ApiError::internal)
    }
}

impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create_intent<'a>(
        &'a self,
        order_id: i64,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Intent, ApiError>> {
        Box::pin(async move {
            let form = intent_form(order_id, amount, currency);
            let reply: IntentReply = self.post("/v1/payment_intents", &form, idempotency_key).await?;
            Ok(Intent { provider_payment_id: reply.id, client_secret: reply.client_secret })
        })
    }

    fn refund<'a>(&'a self, provider_payment_id: &'a str, amount: Decimal) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let form = refund_form(provider_payment_id, amount);
            let key = format!("refund-{provider_payment_id}");
            self.post::<serde_json::Value>("/v1/refunds", &form, &key).await.map(drop)
        })
    }

    fn verify_webhook(&self, header: &str, body: &[u8], now: i64) -> Result<(), ApiError> {
        signature::verify(header, body, &self.webhook_secrets, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_carry_minor_units_and_the_order() {
        let form = intent_form(42, Decimal::new(1999, 2), "USD");
        assert!(form.contains(&("amount", "1999".to_owned())));
        assert!(form.contains(&("currency", "usd".to_owned())));
        assert!(form.contains(&("metadata[order_id]", "42".to_owned())));
        let refund = refund_form("pi_123", Decimal::new(500, 2));
        assert_eq!(refund, vec![("payment_intent", "pi_123".to_owned()), ("amount", "500".to_owned())]);
    }

    #[test]
    fn provider_outages_are_unavailable_and_our_mistakes_are_not() {
        let body = r#"{"error": {"message": "No such payment_intent", "type": "invalid_request_error"}}"#;
        assert_eq!(provider_error(reqwest::StatusCode::BAD_REQUEST, body).kind, ErrorKind::Internal);
        assert_eq!(provider_error(reqwest::StatusCode::BAD_GATEWAY, "").kind, ErrorKind::Unavailable);
        assert_eq!(provider_error(reqwest::StatusCode::TOO_MANY_REQUESTS, "").kind, ErrorKind::Unavailable);
    }
}
