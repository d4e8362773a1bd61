//! Command-line arguments, parsed by hand: flags with their defaults and
//! bounds, the admin credentials' fallbacks, the scenario names and groups,
//! and how many clients each scenario runs.
use crate::error::{BenchError, Result};

pub const USAGE: &str = "\
usage: bench [--base-url URL] [--clients N] [--duration SECS] [--vendors N] [--categories N]
             [--products N] [--customers N] [--admin-email E] [--admin-password P] SCENARIO...

scenarios: list-first-page  GET /products/ with no query (the cached first page)
           list-varied      GET /products/ with random filters, orderings, page sizes and next cursors
           product-detail   GET /products/{id}/ for random seeded products
           facets           GET /products/facets/ with the random filters of list-varied
           all              the four above, in that order
           checkout-spread  --customers customers, --clients workers: add 1-3 random products to the cart,
                            POST /orders/create/, again, for --duration seconds
           checkout-hot     200 customers buy 1 unit each of one product with 100 units, 64 in flight;
                            fails on any oversold unit, unconserved stock or 5xx
           pay              --customers customers, --clients workers: add 1 random product, POST /orders/create/,
                            POST /payments/initiate/, sandbox complete, poll the order every 20 ms until paid
                            (10 s at most); headline: sandbox complete sent -> paid seen
           checkout         the three above, in that order

defaults:  --base-url http://127.0.0.1:8000 (loopback 127.0.0.0/8 only)  --duration 10
           --clients 32 (checkout-spread, pay: 16; checkout-hot always runs 64 in flight)
           --vendors 20  --categories 10  --products 2000  --customers 64
           --admin-email / --admin-password: env ADMIN_EMAIL / ADMIN_PASSWORD, else admin@example.com / Admin-Pass-2026
checkout registers customers: run the fleet with REGISTER_RATE_LIMIT=0 (or high enough);
checkout-spread leaves every order unpaid: run the fleet with MAX_PENDING_ORDERS=0";

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";
pub const DEFAULT_ADMIN_PASSWORD: &str = "Admin-Pass-2026";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    ListFirstPage,
    ListVaried,
    ProductDetail,
    Facets,
    CheckoutSpread,
    CheckoutHot,
    Pay,
}

impl Scenario {
    /// The group `all`: the listing scenarios.
    pub const ALL: [Scenario; 4] =
        [Scenario::ListFirstPage, Scenario::ListVaried, Scenario::ProductDetail, Scenario::Facets];
    /// The group `checkout`.
    pub const CHECKOUT: [Scenario; 3] = [Scenario::CheckoutSpread, Scenario::CheckoutHot, Scenario::Pay];
    /// Every scenario, each selectable by its name.
    const NAMED: [Scenario; 7] = [
        Scenario::ListFirstPage,
        Scenario::ListVaried,
        Scenario::ProductDetail,
        Scenario::Facets,
        Scenario::CheckoutSpread,
        Scenario::CheckoutHot,
        Scenario::Pay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::ListFirstPage => "list-first-page",
            Scenario::ListVaried => "list-varied",
            Scenario::ProductDetail => "product-detail",
            Scenario::Facets => "facets",
            Scenario::CheckoutSpread => "checkout-spread",
            Scenario::CheckoutHot => "checkout-hot",
            Scenario::Pay => "pay",
        }
    }

    /// Clients when `--clients` is not given.
    fn default_clients(self) -> usize {
        match self {
            Scenario::ListFirstPage | Scenario::ListVaried | Scenario::ProductDetail | Scenario::Facets => 32,
            Scenario::CheckoutSpread | Scenario::Pay => 16,
            Scenario::CheckoutHot => crate::hot::IN_FLIGHT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub base_url: String,
    /// `--clients`, when given; see [`Args::clients_for`].
    pub clients: Option<usize>,
    pub duration_secs: u64,
    pub vendors: usize,
    pub categories: usize,
    pub products: usize,
    pub customers: usize,
    pub admin_email: String,
    pub admin_password: String,
    pub scenarios: Vec<Scenario>,
}

/// What the command line asked for: a run, or the usage text.
#[derive(Debug)]
pub enum Command {
    Run(Args),
    Help,
}

/// Parses `argv` without the program name. `env` looks up environment
/// variables (injected so tests do not depend on the real environment).
pub fn parse(argv: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command> {
    let mut args = Args {
        base_url: DEFAULT_BASE_URL.to_owned(),
        clients: None,
        duration_secs: 10,
        vendors: 20,
        categories: 10,
        products: 2000,
        customers: 64,
        admin_email: env("ADMIN_EMAIL").filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned()),
        admin_password: env("ADMIN_PASSWORD")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.to_owned()),
        scenarios: Vec::new(),
    };
    let mut rest = argv.iter();
    while let Some(arg) = rest.next() {
        // `--flag=value` and `--flag value` are both accepted.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String> {
            inline
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| BenchError::new(format!("{flag} needs a value")))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--base-url" => args.base_url = value()?,
            "--clients" => args.clients = Some(number(flag, &value()?, 1, 4096)?),
            "--duration" => args.duration_secs = number(flag, &value()?, 1, 3600)? as u64,
            "--vendors" => args.vendors = number(flag, &value()?, 1, 250)?,
            "--categories" => args.categories = number(flag, &value()?, 1, 1000)?,
            "--products" => args.products = number(flag, &value()?, 1, 1_000_000)?,
            "--customers" => args.customers = number(flag, &value()?, 1, 10_000)?,
            "--admin-email" => args.admin_email = value()?,
            "--admin-password" => args.admin_password = value()?,
            "all" => args.scenarios.extend(Scenario::ALL),
            "checkout" => args.scenarios.extend(Scenario::CHECKOUT),
            name if !name.starts_with('-') => {
                let scenario = Scenario::NAMED
                    .into_iter()
                    .find(|s| s.name() == name)
                    .ok_or_else(|| BenchError::new(format!("unknown scenario {name:?}")))?;
                args.scenarios.push(scenario);
            }
            other => return Err(BenchError::new(format!("unknown flag {other:?}"))),
        }
    }
    if args.scenarios.is_empty() {
        return Err(BenchError::new("no scenario given"));
    }
    // Each scenario runs once, in the order first named.
    let mut unique = Vec::with_capacity(Scenario::NAMED.len());
    for scenario in args.scenarios.drain(..) {
        if !unique.contains(&scenario) {
            unique.push(scenario);
        }
    }
    args.scenarios = unique;
    Ok(Command::Run(args))
}

impl Args {
    /// The concurrent clients of `scenario`: `--clients` if given, else its
    /// default. `checkout-hot` always runs its fixed burst.
    pub fn clients_for(&self, scenario: Scenario) -> usize {
        match (scenario, self.clients) {
            (Scenario::CheckoutHot, _) | (_, None) => scenario.default_clients(),
            (_, Some(clients)) => clients,
        }
    }

    /// Idle connections to keep: enough for the busiest scenario of the run.
    pub fn pool_size(&self) -> usize {
        self.scenarios.iter().map(|&s| self.clients_for(s)).max().unwrap_or(1)
    }
}

fn number(flag: &str, raw: &str, low: usize, high: usize) -> Result<usize> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| BenchError::new(format!("{flag} must be an integer in {low}..={high}, got {raw:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn run(s: &str) -> Args {
        match parse(&argv(s), |_| None) {
            Ok(Command::Run(args)) => args,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_all() {
        let args = run("all");
        assert_eq!(args.base_url, DEFAULT_BASE_URL);
        assert_eq!(
            (args.clients, args.duration_secs, args.vendors, args.categories, args.products, args.customers),
            (None, 10, 20, 10, 2000, 64)
        );
        assert_eq!(args.clients_for(Scenario::ListVaried), 32);
        assert_eq!(args.admin_email, DEFAULT_ADMIN_EMAIL);
        assert_eq!(args.admin_password, DEFAULT_ADMIN_PASSWORD);
        assert_eq!(args.scenarios, Scenario::ALL.to_vec());
    }

    #[test]
    fn flags_both_spellings_and_dedup() {
        let args = run("--clients 8 --duration=3 product-detail list-varied product-detail");
        assert_eq!((args.clients, args.duration_secs), (Some(8), 3));
        assert_eq!(args.scenarios, vec![Scenario::ProductDetail, Scenario::ListVaried]);
    }

    #[test]
    fn checkout_group_and_its_clients() {
        let args = run("--products 500 checkout");
        assert_eq!(args.scenarios, vec![Scenario::CheckoutSpread, Scenario::CheckoutHot, Scenario::Pay]);
        assert_eq!(args.products, 500);
        assert_eq!((args.clients_for(Scenario::CheckoutSpread), args.clients_for(Scenario::CheckoutHot)), (16, 64));
        assert_eq!(args.clients_for(Scenario::Pay), 16);
        assert_eq!(args.pool_size(), 64);

        let args = run("--clients 4 --customers=12 checkout-spread list-first-page");
        assert_eq!(args.scenarios, vec![Scenario::CheckoutSpread, Scenario::ListFirstPage]);
        assert_eq!(args.customers, 12);
        assert_eq!((args.clients_for(Scenario::CheckoutSpread), args.clients_for(Scenario::ListFirstPage)), (4, 4));
        assert_eq!(args.clients_for(Scenario::CheckoutHot), 64, "the hot burst is fixed");
        assert_eq!(args.pool_size(), 4);

        // `all` stays the listing scenarios.
        assert_eq!(run("all").scenarios, Scenario::ALL.to_vec());
        assert_eq!(run("all checkout").scenarios.len(), 7);

        let args = run("--vendors 3 --products 30 --customers 8 --clients 4 --duration 3 pay");
        assert_eq!(args.scenarios, vec![Scenario::Pay]);
        assert_eq!((args.clients_for(Scenario::Pay), args.customers, args.duration_secs), (4, 8, 3));
        assert_eq!(run("pay checkout").scenarios, vec![Scenario::Pay, Scenario::CheckoutSpread, Scenario::CheckoutHot]);
    }

    #[test]
    fn admin_from_env_unless_flag() {
        let env = |k: &str| match k {
            "ADMIN_EMAIL" => Some("boss@example.com".to_owned()),
            "ADMIN_PASSWORD" => Some("S3cret-Env".to_owned()),
            _ => None,
        };
        let Ok(Command::Run(args)) = parse(&argv("--admin-password Flag-Pass-1 all"), env) else {
            panic!("expected a run");
        };
        assert_eq!(args.admin_email, "boss@example.com");
        assert_eq!(args.admin_password, "Flag-Pass-1");
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "all --clients 0",
            "all --clients",
            "nope",
            "all --frobnicate 1",
            "all --duration 99999",
            "checkout --customers 0",
            "checkouts",
        ] {
            assert!(parse(&argv(bad), |_| None).is_err(), "{bad:?} should be refused");
        }
        assert!(matches!(parse(&argv("--help"), |_| None), Ok(Command::Help)));
    }
}
