//! The admin's orders: every order, newest first, filtered by status and
//! customer and paged; an order's page with its lines, sub-orders and
//! payments, and a `Refund` button that asks for confirmation on a page of
//! its own before the order service applies the contract's refund rules
//! (stock restored once, a paid payment refunded, a cancelled order 409).
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use common::status::{Named, OrderStatus};
use proto::order::v1 as pb;
use proto::payment::v1 as payment_pb;
use serde::Deserialize;

use super::page::{self, Layout, Posted, Section};
use super::session::{Admin, Csrf, Session};
use crate::AppState;
use crate::statuses::{self, Choice};

const ORDERS_PER_PAGE: i64 = 25;

/// The table's filters, as the query string carries them.
#[derive(Debug, Default, Deserialize)]
pub struct OrderQuery {
    status: Option<String>,
    customer: Option<String>,
    page: Option<String>,
}

impl OrderQuery {
    fn status(&self) -> Option<&str> {
        self.status.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn customer(&self) -> Option<&str> {
        self.customer.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn page(&self) -> i64 {
        page::page_number(self.page.as_deref())
    }

    fn link(&self, page: i64) -> String {
        let page = page.to_string();
        let (status, customer) = (self.status().unwrap_or_default(), self.customer().unwrap_or_default());
        super::query_string(&[("status", status), ("customer", customer), ("page", &page)])
    }
}

pub struct OrderRow {
    id: i64,
    user: i64,
    status: &'static str,
    payment: &'static str,
    total: String,
    created: String,
}

impl From<&pb::OrderMessage> for OrderRow {
    fn from(o: &pb::OrderMessage) -> Self {
        Self {
            id: o.id,
            user: o.user,
            status: o.status().name(),
            payment: o.payment_status.map_or("none", |_| o.payment_status().name()),
            total: format!("{} {}", o.total_price, o.currency),
            created: page::when(o.created_at.as_ref()),
        }
    }
}

#[derive(Template)]
#[template(path = "console/orders.html")]
struct OrdersPage {
    layout: Layout,
    statuses: Vec<Choice>,
    customer: String,
    orders: Vec<OrderRow>,
    count: i64,
    page: i64,
    pages: i64,
    previous: Option<String>,
    next: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Query(query): Query<OrderQuery>,
) -> Response {
    let bad =
        |text: &str| page::message(StatusCode::BAD_REQUEST, Some(&session), &csrf, "Bad request", text.to_owned());
    let status = query.status().map(OrderStatus::from_name);
    if status.is_some_and(|s| s.is_none()) {
        return bad("Unknown order status.");
    }
    let customer = query.customer().map(|c| c.parse::<i64>().ok().filter(|id| *id >= 1));
    if customer.is_some_and(|c| c.is_none()) {
        return bad("A customer is a user id: a positive whole number.");
    }
    let page = query.page();
    let message = pb::ListOrdersRequest {
        limit: ORDERS_PER_PAGE,
        offset: (page - 1) * ORDERS_PER_PAGE,
        status: status.flatten().map(Into::into),
        user_id: customer.flatten(),
    };
    let d = &state.downstream;
    let mut orders = d.order.clone();
    let found = match d.call(orders.list_orders(d.request(message, Some(session.token())))).await {
        Ok(found) => found,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let pages = ((found.count + ORDERS_PER_PAGE - 1) / ORDERS_PER_PAGE).max(1);
    let layout = Layout::new("Orders", Some(&session), &csrf, Section::Orders);
    page::render(
        StatusCode::OK,
        &OrdersPage {
            layout,
            statuses: statuses::options::<OrderStatus>(query.status()),
            customer: query.customer().unwrap_or_default().to_owned(),
            orders: found.orders.iter().map(OrderRow::from).collect(),
            count: found.count,
            page,
            pages,
            previous: (page > 1).then(|| query.link(page - 1)),
            next: (page < pages).then(|| query.link(page + 1)),
        },
    )
}

pub struct LineRow {
    product: String,
    sku: String,
    vendor: String,
    unit_price: String,
    quantity: i64,
    line_total: String,
}

pub struct PaymentRow {
    id: i64,
    amount: String,
    status: &'static str,
    provider: String,
    created: String,
}

pub struct SubOrderRow {
    id: i64,
    vendor: String,
    subtotal: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "console/order.html")]
struct OrderPage {
    layout: Layout,
    order: OrderRow,
    lines: Vec<LineRow>,
    sub_orders: Vec<SubOrderRow>,
    payments: Vec<PaymentRow>,
    notice: Option<&'static str>,
    refundable: bool,
}

#[derive(Template)]
#[template(path = "console/refund.html")]
struct RefundPage {
    layout: Layout,
    order: OrderRow,
}

fn no_such_order(session: &Session, csrf: &Csrf) -> Response {
    page::message(StatusCode::NOT_FOUND, Some(session), csrf, "Not found", "No such order.")
}

async fn load(state: &AppState, session: &Session, id: i64) -> Result<pb::OrderMessage, common::ApiError> {
    let d = &state.downstream;
    let mut orders = d.order.clone();
    d.call(orders.get_order(d.request(pb::GetOrderRequest { id }, Some(session.token())))).await
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_order(&session, &csrf) };
    let order = match load(&state, &session, id).await {
        Ok(order) => order,
        Err(error) if error.kind == common::ErrorKind::NotFound => return no_such_order(&session, &csrf),
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let lines = order
        .items
        .iter()
        .map(|item| LineRow {
            product: item.product_name.clone(),
            sku: item.sku.clone(),
            vendor: item.vendor_name.clone(),
            unit_price: item.unit_price.clone(),
            quantity: item.quantity,
            line_total: item.line_total.clone(),
        })
        .collect();
    let sub_orders = order
        .vendor_orders
        .iter()
        .map(|v| SubOrderRow {
            id: v.id,
            vendor: v.vendor_name.clone(),
            subtotal: v.subtotal.clone(),
            status: v.status().name(),
        })
        .collect();
    let d = &state.downstream;
    let mut payment = d.payment.clone();
    let listed = payment_pb::ListOrderPaymentsRequest { order_id: id };
    let payments = match d.call(payment.list_order_payments(d.request(listed, Some(session.token())))).await {
        Ok(list) => list
            .payments
            .into_iter()
            .map(|p| PaymentRow {
                id: p.id,
                amount: format!("{} {}", p.amount, p.currency),
                status: p.status().name(),
                provider: p.provider,
                created: page::when(p.created_at.as_ref()),
            })
            .collect(),
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let notice = (done.done.as_deref() == Some("refund")).then_some("The order is refunded and its stock restored.");
    let layout = Layout::new(format!("Order #{id}"), Some(&session), &csrf, Section::Orders);
    let refundable = matches!(order.status(), OrderStatus::Pending | OrderStatus::Paid);
    page::render(
        StatusCode::OK,
        &OrderPage { layout, order: OrderRow::from(&order), lines, sub_orders, payments, notice, refundable },
    )
}

/// The confirmation asked before a refund.
pub async fn confirm_refund(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_order(&session, &csrf) };
    match load(&state, &session, id).await {
        Ok(order) => {
            let layout = Layout::new(format!("Refund order #{id}"), Some(&session), &csrf, Section::Orders);
            page::render(StatusCode::OK, &RefundPage { layout, order: OrderRow::from(&order) })
        }
        Err(error) if error.kind == common::ErrorKind::NotFound => no_such_order(&session, &csrf),
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn refund(
    State(state): State<AppState>,
    Admin(session, csrf): Admin,
    Path(id): Path<String>,
    Posted(Nothing {}): Posted<Nothing>,
) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_order(&session, &csrf) };
    let d = &state.downstream;
    let mut orders = d.order.clone();
    match d.call(orders.refund_order(d.request(pb::RefundOrderRequest { id }, Some(session.token())))).await {
        Ok(_) => Redirect::to(&format!("/admin/orders/{id}/?done=refund")).into_response(),
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}
