//! Rate limits under other settings than the defaults: a small
//! registration limit, the login limit switched off, and no trusted
//! proxies (so a forged `X-Forwarded-For` changes nothing).
mod support;

use std::process::ExitCode;
use std::sync::Arc;

use common::cases;
use support::{Ctx, race};

fn main() -> ExitCode {
    support::run_suite(
        "limits",
        cases![Ctx;
            registrations_per_ip_are_limited_and_forged_addresses_do_not_help,
            login_limit_of_zero_is_off,
        ],
        |config| {
            config.gateway.register_rate_limit = 3;
            config.gateway.login_failure_limit = 0;
            config.gateway.trusted_proxies = gateway::client_ip::Cidrs::default();
        },
    )
}

async fn registrations_per_ip_are_limited_and_forged_addresses_do_not_help(ctx: Arc<Ctx>) {
    // Every client sends its own X-Forwarded-For, but the peer (127.0.0.1)
    // is not a trusted proxy, so they all count as one client. Ten at once
    // against a limit of three: each takes its slot before any work, so
    // exactly three get through.
    let replies = race(10, |_| async { ctx.api().register(&ctx.unique_email("r"), "customer").await }).await;
    let count = |status| replies.iter().filter(|r| r.status == status).count();
    assert_eq!((count(201), count(429)), (3, 7), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let reply = ctx.api().register(&ctx.unique_email("r"), "customer").await;
    let retry_after: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry_after > 3000 && retry_after <= 3600, "{retry_after}");
    let body = reply.expect(429);
    assert!(body["detail"].as_str().expect("detail").starts_with("Request was throttled."));
}

async fn login_limit_of_zero_is_off(ctx: Arc<Ctx>) {
    let api = ctx.api();
    for _ in 0..15 {
        api.login(&ctx.unique_email("nobody"), "Wrong-Horse-92").await.expect(401);
    }
}
