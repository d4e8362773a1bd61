//! Command-line arguments, through clap: flags with their defaults and
//! bounds, the admin credentials' fallbacks to the environment, the
//! scenario names and groups, and how many clients each scenario runs.
use clap::builder::RangedU64ValueParser;
use clap::{CommandFactory, FromArgMatches, ValueEnum};

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8000";
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";
pub const DEFAULT_ADMIN_PASSWORD: &str = "Admin-Pass-2026";

const NOTES: &str = "\
checkout registers customers: run the fleet with REGISTER_RATE_LIMIT=0 (or high enough);
checkout-spread leaves every order unpaid: run the fleet with MAX_PENDING_ORDERS=0";

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

/// A scenario or a group of them, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Pick {
    /// GET /products/ with no query (the cached first page)
    ListFirstPage,
    /// GET /products/ with random filters, orderings, page sizes and next cursors
    ListVaried,
    /// GET /products/{id}/ for random seeded products
    ProductDetail,
    /// GET /products/facets/ with the random filters of list-varied
    Facets,
    /// The four above, in that order
    All,
    /// --customers customers, --clients workers: add 1-3 random products to the cart, POST /orders/create/, again,
    /// for --duration seconds
    CheckoutSpread,
    /// 200 customers buy 1 unit each of one product with 100 units, 64 in flight; fails on any oversold unit,
    /// unconserved stock or 5xx
    CheckoutHot,
    /// --customers customers, --clients workers: add 1 random product, POST /orders/create/, POST
    /// /payments/initiate/, sandbox complete, poll the order every 20 ms until paid (10 s at most); headline:
    /// sandbox complete sent -> paid seen
    Pay,
    /// The three above, in that order
    Checkout,
}

impl Pick {
    fn scenarios(self) -> &'static [Scenario] {
        match self {
            Pick::ListFirstPage => &[Scenario::ListFirstPage],
            Pick::ListVaried => &[Scenario::ListVaried],
            Pick::ProductDetail => &[Scenario::ProductDetail],
            Pick::Facets => &[Scenario::Facets],
            Pick::All => &Scenario::ALL,
            Pick::CheckoutSpread => &[Scenario::CheckoutSpread],
            Pick::CheckoutHot => &[Scenario::CheckoutHot],
            Pick::Pay => &[Scenario::Pay],
            Pick::Checkout => &Scenario::CHECKOUT,
        }
    }
}

/// The command line as clap reads it.
#[derive(Debug, clap::Parser)]
#[command(
    name = "bench",
    version,
    about = "Seeds a running marketplace on loopback, then drives it and checks its answers",
    after_help = NOTES
)]
struct Cli {
    /// Origin of the gateway (loopback 127.0.0.0/8 only).
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Concurrent clients of every scenario but checkout-hot, whose burst of
    /// 64 is fixed [default: 32; checkout-spread, pay: 16].
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096))]
    clients: Option<usize>,
    /// Seconds per scenario.
    #[arg(
        long = "duration",
        value_name = "SECS",
        default_value = "10",
        value_parser = RangedU64ValueParser::<u64>::new().range(1..=3600)
    )]
    duration_secs: u64,
    /// Vendors to register and approve.
    #[arg(long, default_value = "20", value_parser = RangedU64ValueParser::<usize>::new().range(1..=250))]
    vendors: usize,
    /// Categories.
    #[arg(long, default_value = "10", value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    categories: usize,
    /// Products, spread over vendors and categories.
    #[arg(long, default_value = "2000", value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    products: usize,
    /// Customers of checkout-spread, and as many again of pay.
    #[arg(long, default_value = "64", value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    customers: usize,
    /// The admin who approves vendors and creates categories.
    #[arg(long, env = "ADMIN_EMAIL", default_value = DEFAULT_ADMIN_EMAIL)]
    admin_email: String,
    /// That admin's password.
    #[arg(long, env = "ADMIN_PASSWORD", default_value = DEFAULT_ADMIN_PASSWORD, hide_env_values = true)]
    admin_password: String,
    /// What to run; each runs once, in the order first named.
    #[arg(value_enum, required = true, value_name = "SCENARIO")]
    scenarios: Vec<Pick>,
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

/// The process's arguments; `--help`, `--version` and bad input exit here
/// as clap does (0, 0 and 2 with its message).
pub fn parse() -> Args {
    let mut command = blank_env_is_unset(Cli::command());
    let matches = command.get_matches_mut();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli.into(),
        Err(error) => error.format(&mut command).exit(),
    }
}

/// clap takes a variable set to "" as the value ""; an empty
/// `ADMIN_EMAIL` or `ADMIN_PASSWORD` means the default instead.
fn blank_env_is_unset(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| match arg.get_env().and_then(std::env::var_os) {
        Some(value) if value.is_empty() => arg.env(None::<&str>),
        _ => arg,
    })
}

impl From<Cli> for Args {
    fn from(cli: Cli) -> Self {
        let mut scenarios = Vec::new();
        for scenario in cli.scenarios.iter().flat_map(|pick| pick.scenarios()) {
            if !scenarios.contains(scenario) {
                scenarios.push(*scenario);
            }
        }
        Args {
            base_url: cli.base_url,
            clients: cli.clients,
            duration_secs: cli.duration_secs,
            vendors: cli.vendors,
            categories: cli.categories,
            products: cli.products,
            customers: cli.customers,
            admin_email: cli.admin_email,
            admin_password: cli.admin_password,
            scenarios,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsed as the binary would, but with the environment the test says
    /// instead of the process's.
    fn parse_with(s: &str, env: &[(&str, &str)]) -> Result<Args, clap::Error> {
        let command = Cli::command().mut_args(|arg| {
            let value = arg.get_env().and_then(|name| env.iter().find(|(k, _)| name == *k)).map(|(_, v)| v.to_string());
            match value {
                Some(value) => arg.env(None::<&str>).default_value(value),
                None => arg.env(None::<&str>),
            }
        });
        let matches = command.try_get_matches_from(std::iter::once("bench").chain(s.split_whitespace()))?;
        Ok(Cli::from_arg_matches(&matches)?.into())
    }

    fn run(s: &str) -> Args {
        match parse_with(s, &[]) {
            Ok(args) => args,
            Err(e) => panic!("expected a run, got {e}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
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
        let env = [("ADMIN_EMAIL", "boss@example.com"), ("ADMIN_PASSWORD", "S3cret-Env")];
        let args = parse_with("--admin-password Flag-Pass-1 all", &env).expect("a run");
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
            assert!(parse_with(bad, &[]).is_err(), "{bad:?} should be refused");
        }
        let help = parse_with("--help", &[]).err().map(|e| e.kind());
        assert_eq!(help, Some(clap::error::ErrorKind::DisplayHelp));
    }
}
