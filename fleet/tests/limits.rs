//! Rate limits under other settings than the defaults: a small
//! registration limit, the login limit switched off, and no trusted
//! proxies (so a forged `X-Forwarded-For` changes nothing).
mod support;

use std::process::ExitCode;
use std::sync::Arc;

use common::cases;
use support::Ctx;

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
            config.gateway.trusted_proxies.clear();
        },
    )
}

async fn registrations_per_ip_are_limited_and_forged_addresses_do_not_help(ctx: Arc<Ctx>) {
    // Every client sends its own X-Forwarded-For, but the peer (127.0.0.1)
    // is not a trusted proxy, so they all count as one client.
    for _ in 0..3 {
        ctx.api().register(&ctx.unique_email("r"), "customer").await.expect(201);
    }
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
