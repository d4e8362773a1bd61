//! `bench`: seeds a running marketplace through its REST API, then drives it
//! with concurrent clients and checks what it answers. This file: arguments
//! to a run, the run's order (preflight, seed, scenarios) and the exit code.
mod checkout;
mod checks;
mod cli;
mod client;
mod customers;
mod error;
mod hot;
mod pay;
mod rng;
mod scenarios;
mod seed;
mod stats;
mod words;

use std::process::ExitCode;

use crate::cli::Args;
use crate::client::Api;
use crate::error::{BenchError, Result};

#[tokio::main]
async fn main() -> ExitCode {
    match run(cli::parse()).await {
        Ok(0) => {
            println!("bench: no errors");
            ExitCode::SUCCESS
        }
        Ok(errors) => {
            eprintln!(
                "bench: {errors} errors (5xx, transport errors, contract mismatches, a failed checkout-hot verdict, \
                 or orders not paid in time and unexpected statuses of pay), see above"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole run; the total error count of the scenarios.
async fn run(args: Args) -> Result<u64> {
    let api = Api::new(&args.base_url, args.pool_size())?;
    preflight(&api).await?;
    let plan = seed::Plan { vendors: args.vendors, categories: args.categories, products: args.products };
    let catalog = seed::seed(&api, plan, &args.admin_email, &args.admin_password).await?;
    scenarios::run_all(&api, catalog, &args).await
}

/// Something must answer /healthz before we seed anything.
async fn preflight(api: &Api) -> Result<()> {
    let url = api.url("/healthz");
    match api.get(&url).await {
        Ok((200, _)) => Ok(()),
        Ok((status, _)) => Err(BenchError::new(format!("GET {url} answered {status}: is the fleet healthy?"))),
        Err(e) => Err(BenchError::new(format!(
            "nothing answers at {}: start the fleet with `make run` ({})",
            api.origin(),
            error::chain(&e)
        ))),
    }
}
