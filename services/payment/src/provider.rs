//! The payment provider seam, and the sandbox provider built in.
//!
//! The sandbox is modelled on Stripe's PaymentIntents: it hands out
//! `pi_…` ids and client secrets, refunds at once, and — when asked to
//! "complete" a payment — POSTs a correctly signed `evt_…` webhook to the
//! configured URL over real HTTP from a background task, retrying with
//! backoff while the receiver answers non-2xx, as a real provider does.
use std::time::Duration;

use common::ApiError;
use futures::future::BoxFuture;
use rand_core::{OsRng, RngCore};
use rust_decimal::Decimal;
use serde_json::json;
use tracing::Instrument;

use crate::domain::{self, EventKind};
use crate::signature;

/// What the provider gave for a new payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub provider_payment_id: String,
    pub client_secret: String,
}

pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;

    /// A new payment intent. `idempotency_key` makes a retried call return
    /// the same intent at providers that honour it.
    fn create_intent<'a>(
        &'a self,
        order_id: i64,
        amount: Decimal,
        currency: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Intent, ApiError>>;

    /// Gives a succeeded payment's money back.
    fn refund<'a>(&'a self, provider_payment_id: &'a str, amount: Decimal) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Checks a webhook's signature header against the raw body.
    fn verify_webhook(&self, signature: &str, body: &[u8], now: i64) -> Result<(), ApiError>;
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// The built-in sandbox provider.
pub struct Sandbox {
    /// Accepted secrets (the first one signs what the sandbox sends).
    secrets: Vec<String>,
    webhook_url: String,
    http: reqwest::Client,
}

/// A payment as the sandbox needs it to build its webhook.
#[derive(Debug, Clone)]
pub struct SandboxPayment {
    pub provider_payment_id: String,
    pub order_id: i64,
    pub amount: Decimal,
    pub currency: String,
}

const DELIVERY_ATTEMPTS: u32 = 8;

impl Sandbox {
    pub fn new(secrets: Vec<String>, webhook_url: String) -> Result<Self, common::StartupError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| common::StartupError::Config(format!("webhook client: {e}")))?;
        Ok(Self { secrets, webhook_url, http })
    }

    /// The provider event for a payment and outcome, as JSON bytes.
    pub fn event(payment: &SandboxPayment, kind: EventKind, created: i64) -> Vec<u8> {
        json!({
            "id": format!("evt_{}", random_hex(12)),
            "type": kind.event_type(),
            "created": created,
            "data": {"object": {
                "id": payment.provider_payment_id,
                "amount": domain::minor_units(payment.amount),
                "currency": payment.currency.to_lowercase(),
                "metadata": {"order_id": payment.order_id.to_string()},
            }},
        })
        .to_string()
        .into_bytes()
    }

    /// Sends the outcome's webhook in the background, retrying with
    /// backoff until the receiver answers 2xx (or attempts run out). The
    /// delivery is a span under the caller's, and each request carries its
    /// `traceparent`, as a provider that traces would: the webhook's
    /// handling and everything it causes join the caller's trace.
    pub fn deliver(&self, payment: SandboxPayment, kind: EventKind) {
        let http = self.http.clone();
        let url = self.webhook_url.clone();
        let secret = self.secrets.first().cloned().unwrap_or_default();
        let span = tracing::info_span!(
            "sandbox.webhook",
            otel.name = format!("sandbox webhook {}", kind.event_type()),
            otel.kind = "client",
            payment = %payment.provider_payment_id,
        );
        let delivery = async move {
            let body = Self::event(&payment, kind, chrono::Utc::now().timestamp());
            let mut trace = reqwest::header::HeaderMap::new();
            common::trace_context::inject(&tracing::Span::current(), &mut trace);
            let mut pause = Duration::from_millis(200);
            for attempt in 1..=DELIVERY_ATTEMPTS {
                // Signed per attempt: a retry carries a fresh timestamp.
                let signature = signature::sign(&secret, chrono::Utc::now().timestamp(), &body);
                let sent = http
                    .post(&url)
                    .headers(trace.clone())
                    .header("content-type", "application/json")
                    .header("payment-signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => return,
                    Ok(response) => {
                        tracing::warn!(attempt, status = %response.status(), "sandbox webhook refused; retrying")
                    }
                    Err(error) => tracing::warn!(attempt, %error, "sandbox webhook not delivered; retrying"),
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            tracing::error!(payment = payment.provider_payment_id, "sandbox webhook given up");
        };
        tokio::spawn(delivery.instrument(span));
    }
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_intent<'a>(
        &'a self,
        _order_id: i64,
        _amount: Decimal,
        _currency: &'a str,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Intent, ApiError>> {
        Box::pin(async move {
            let id = format!("pi_{}", random_hex(12));
            let client_secret = format!("{id}_secret_{}", random_hex(12));
            Ok(Intent { provider_payment_id: id, client_secret })
        })
    }

    fn refund<'a>(&'a self, provider_payment_id: &'a str, amount: Decimal) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            tracing::info!(payment = provider_payment_id, %amount, "sandbox refund");
            Ok(())
        })
    }

    fn verify_webhook(&self, signature: &str, body: &[u8], now: i64) -> Result<(), ApiError> {
        signature::verify(signature, body, &self.secrets, now)
    }
}
