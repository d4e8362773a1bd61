//! The Payment gRPC service: initiation for the order's owner, reads,
//! the provider's webhooks, and the sandbox's "pay now" button.
use std::sync::Arc;

use chrono::Utc;
use common::ApiError;
use common::auth::{KeyRing, Principal, Role};
use common::proto_time::timestamp;
use common::status::{self, OrderStatus, PaymentStatus};
use proto::payment::v1 as pb;
use tonic::{Request, Response, Status};

use crate::clients::Orders;
use crate::domain::{self, EventKind};
use crate::provider::{PaymentProvider, Sandbox, SandboxPayment};
use crate::store::{Applied, NewPayment, PaymentRow, Store};

type RpcResult<T> = Result<Response<T>, Status>;

pub struct PaymentService {
    store: Store,
    keys: Arc<KeyRing>,
    orders: Orders,
    provider: Arc<dyn PaymentProvider>,
    sandbox: Option<Arc<Sandbox>>,
}

fn payment_message(p: PaymentRow) -> pb::PaymentMessage {
    pb::PaymentMessage {
        id: p.id,
        order: p.order_id,
        amount: common::money::to_text(p.amount),
        currency: p.currency,
        status: status::stored::<PaymentStatus>(&p.status).into(),
        provider: p.provider,
        provider_payment_id: p.provider_payment_id,
        client_secret: p.client_secret,
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
    }
}

impl PaymentService {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        orders: Orders,
        provider: Arc<dyn PaymentProvider>,
        sandbox: Option<Arc<Sandbox>>,
    ) -> Self {
        Self { store, keys, orders, provider, sandbox }
    }

    /// A payment its owner (customer) or an admin may see.
    async fn visible(&self, principal: &Principal, id: i64) -> Result<PaymentRow, ApiError> {
        let payment = match principal.role {
            Role::Vendor => return Err(ApiError::forbidden()),
            _ => self.store.payment(id).await?.ok_or_else(ApiError::not_found)?,
        };
        if principal.is_admin() || payment.user_id == principal.user_id {
            Ok(payment)
        } else {
            Err(ApiError::not_found())
        }
    }
}

#[tonic::async_trait]
impl pb::payment_server::Payment for PaymentService {
    async fn initiate_payment(
        &self,
        request: Request<pb::InitiatePaymentRequest>,
    ) -> RpcResult<pb::InitiatePaymentResponse> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Customer)?;
        let order_id = match request.into_inner().order_id.as_deref().map(str::trim) {
            None | Some("") => return Err(ApiError::field("order_id", "This field is required.").into()),
            Some(raw) => raw.parse::<i64>().map_err(|_| ApiError::field("order_id", "A valid integer is required."))?,
        };
        let order = self.orders.order(&principal.token, order_id).await?;
        if order.status() != OrderStatus::Pending {
            return Err(ApiError::conflict("This order is not awaiting payment.", "order_not_payable").into());
        }
        // Amount and currency come from the order, never from the client.
        let amount = common::money::from_text("total_price", &order.total_price)
            .map_err(|e| ApiError::internal(format!("order {order_id}: {e}")))?;
        let intent =
            self.provider.create_intent(order_id, amount, &order.currency, &format!("order-{order_id}")).await?;
        let new = NewPayment {
            order_id,
            user_id: principal.user_id,
            amount,
            currency: &order.currency,
            provider: self.provider.name(),
            provider_payment_id: &intent.provider_payment_id,
            client_secret: &intent.client_secret,
        };
        let (payment, created) = self.store.open(&new).await?;
        Ok(Response::new(pb::InitiatePaymentResponse { payment: Some(payment_message(payment)), created }))
    }

    async fn get_payment(&self, request: Request<pb::GetPaymentRequest>) -> RpcResult<pb::PaymentMessage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        Ok(Response::new(payment_message(self.visible(&principal, request.into_inner().id).await?)))
    }

    async fn list_order_payments(&self, request: Request<pb::ListOrderPaymentsRequest>) -> RpcResult<pb::PaymentList> {
        self.keys.require_principal(request.metadata()).await?.require_role(Role::Admin)?;
        let rows = self.store.order_payments(request.into_inner().order_id).await?;
        Ok(Response::new(pb::PaymentList { payments: rows.into_iter().map(payment_message).collect() }))
    }

    async fn handle_webhook(&self, request: Request<pb::WebhookRequest>) -> RpcResult<pb::WebhookResponse> {
        let body = request.into_inner();
        self.provider.verify_webhook(&body.signature, &body.body, Utc::now().timestamp())?;
        let event = domain::parse_event(&body.body)?;
        let kind = EventKind::parse(&event.event_type);
        let outcome = match self.store.apply(&event, kind).await? {
            Applied::Applied => "applied",
            Applied::Duplicate => "duplicate",
            Applied::Ignored => {
                tracing::info!(
                    event = event.id,
                    kind = event.event_type,
                    "provider event ignored (unknown payment or stale)"
                );
                "ignored"
            }
            Applied::Mismatch => {
                return Err(ApiError::bad_request(
                    "Amount or currency does not match the payment.",
                    "payment_mismatch",
                )
                .into());
            }
        };
        Ok(Response::new(pb::WebhookResponse { outcome: outcome.to_owned() }))
    }

    async fn complete_sandbox_payment(
        &self,
        request: Request<pb::CompleteSandboxPaymentRequest>,
    ) -> RpcResult<pb::CompleteSandboxPaymentResponse> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Customer)?;
        let body = request.into_inner();
        let payment = self.visible(&principal, body.id).await?;
        let sandbox =
            self.sandbox.as_ref().filter(|_| payment.provider == "sandbox").ok_or_else(ApiError::not_found)?;
        let kind = domain::sandbox_outcome(body.outcome)?;
        sandbox.deliver(
            SandboxPayment {
                provider_payment_id: payment.provider_payment_id,
                order_id: payment.order_id,
                amount: payment.amount,
                currency: payment.currency,
            },
            kind,
        );
        Ok(Response::new(pb::CompleteSandboxPaymentResponse {}))
    }
}
