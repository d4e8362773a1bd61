//! The load scenarios: `--clients` tokio tasks share one HTTP client, each
//! looping until `--duration` has passed (and never past a per-client request
//! cap), timing every request and checking every 2xx body; the recorders are
//! then merged into the scenario's report. The listing scenarios live here;
//! `run_all` hands the checkout ones to `checkout`, `hot` and `pay`.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::checks::{self, Expect, PriceOrder};
use crate::cli::{Args, Scenario};
use crate::client::Api;
use crate::error::{self, Result};
use crate::rng::Rng;
use crate::seed::Catalog;
use crate::stats::{Recorder, Report};
use crate::words::WORDS;
use crate::{checkout, hot, pay};

/// Hard cap on requests per client, whatever the duration.
const MAX_REQUESTS_PER_CLIENT: u64 = 10_000_000;
/// Longest chain of `next` cursors one client follows before a fresh query.
const MAX_CURSOR_CHAIN: usize = 20;
const ORDERINGS: [&str; 6] = ["price", "-price", "created_at", "-created_at", "name", "-name"];

/// What the clients draw their requests from.
struct Targets {
    catalog: Catalog,
    /// Each seeded category's subtree, for checking `category` filters.
    subtrees: HashMap<i64, Arc<HashSet<i64>>>,
    first_page_url: String,
}

/// Runs every scenario of `args` in turn over the seeded catalog, printing
/// each report; the total of their errors. The setup of a checkout scenario
/// that fails stops the run (an error).
pub async fn run_all(api: &Api, catalog: Catalog, args: &Args) -> Result<u64> {
    let subtrees = catalog.categories.iter().map(|c| (c.id, Arc::new(catalog.subtree(c.id)))).collect();
    let targets = Arc::new(Targets { catalog, subtrees, first_page_url: api.url("/products/") });
    let duration = Duration::from_secs(args.duration_secs);
    let mut errors = 0;
    for &scenario in &args.scenarios {
        let clients = args.clients_for(scenario);
        let report = match scenario {
            Scenario::ListFirstPage | Scenario::ListVaried | Scenario::ProductDetail | Scenario::Facets => {
                run(api, &targets, scenario, clients, duration).await
            }
            Scenario::CheckoutSpread => checkout::run(api, &targets.catalog, clients, args.customers, duration).await?,
            Scenario::CheckoutHot => hot::run(api, &targets.catalog).await?,
            Scenario::Pay => pay::run(api, &targets.catalog, clients, args.customers, duration).await?,
        };
        report.print();
        errors += report.errors;
    }
    Ok(errors)
}

async fn run(api: &Api, targets: &Arc<Targets>, scenario: Scenario, clients: usize, duration: Duration) -> Report {
    let started = Instant::now();
    let deadline = started + duration;
    let mut running = JoinSet::new();
    for client in 0..clients {
        running.spawn(client_loop(api.clone(), Arc::clone(targets), scenario, deadline, client as u64));
    }
    let mut merged = Recorder::default();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(recorder) => merged.merge(recorder),
            // A client that died lost its figures: count it as an error so the run fails.
            Err(e) => merged.transport_error(|| format!("client task failed: {e}")),
        }
    }
    Report::new(scenario.name(), &targets.catalog.tag, clients, duration.as_secs(), started.elapsed(), merged)
}

/// One client: requests back to back until the deadline.
async fn client_loop(api: Api, targets: Arc<Targets>, scenario: Scenario, deadline: Instant, client: u64) -> Recorder {
    let mut rng = Rng::from_clock(client);
    let mut recorder = Recorder::with_capacity(4096);
    let mut cursor: Option<Followed> = None;
    let mut sent = 0;
    while sent < MAX_REQUESTS_PER_CLIENT && Instant::now() < deadline {
        sent += 1;
        match scenario {
            Scenario::ListFirstPage => list_first_page(&api, &targets, &mut recorder).await,
            Scenario::ListVaried => cursor = list_varied(&api, &targets, &mut rng, cursor.take(), &mut recorder).await,
            Scenario::ProductDetail => product_detail(&api, &targets, &mut rng, &mut recorder).await,
            Scenario::Facets => facets(&api, &targets, &mut rng, &mut recorder).await,
            // Not listing scenarios: run_all never hands them here.
            Scenario::CheckoutSpread | Scenario::CheckoutHot | Scenario::Pay => break,
        }
    }
    recorder
}

/// GET /products/ with no query: the cached first page.
async fn list_first_page(api: &Api, targets: &Targets, recorder: &mut Recorder) {
    let url = &targets.first_page_url;
    if let Some(body) = fetch(api, url, recorder).await
        && let Err(mismatch) = checks::check_page(&body, &Expect::default())
    {
        recorder.mismatch(|| format!("GET {url}: {mismatch}"));
    }
}

/// A `next` link to follow and what its pages must satisfy.
struct Followed {
    url: String,
    expect: Expect,
    depth: usize,
}

/// GET /products/ with a random query, or the `next` page of the previous
/// one; returns the `next` link of this answer, if any.
async fn list_varied(
    api: &Api,
    targets: &Targets,
    rng: &mut Rng,
    previous: Option<Followed>,
    recorder: &mut Recorder,
) -> Option<Followed> {
    let Followed { url, expect, depth } = match previous {
        Some(followed) if followed.depth < MAX_CURSOR_CHAIN && rng.chance(40) => followed,
        _ => {
            let (path, expect) = varied_query(targets, rng);
            Followed { url: api.url(&path), expect, depth: 0 }
        }
    };
    let body = fetch(api, &url, recorder).await?;
    let next = match checks::check_page(&body, &expect) {
        Ok(page) => page.next?,
        Err(mismatch) => {
            recorder.mismatch(|| format!("GET {url}: {mismatch}"));
            return None;
        }
    };
    match api.rebase(&next) {
        Ok(next_url) => Some(Followed { url: next_url, expect, depth: depth + 1 }),
        Err(e) => {
            recorder.mismatch(|| format!("GET {url}: {e}"));
            None
        }
    }
}

/// A random mix of the list filters (mostly cache misses), and what it implies.
fn varied_query(targets: &Targets, rng: &mut Rng) -> (String, Expect) {
    let catalog = &targets.catalog;
    let mut query: Vec<String> = Vec::new();
    let mut expect = Expect::default();
    if rng.chance(30)
        && let Some(word) = rng.pick(WORDS)
    {
        query.push(format!("search={word}"));
    }
    if rng.chance(30)
        && let Some(category) = rng.pick(&catalog.categories)
    {
        query.push(format!("category={}", category.id));
        expect.categories = targets.subtrees.get(&category.id).cloned();
    }
    if rng.chance(25)
        && let Some(&vendor) = rng.pick(&catalog.vendor_ids)
    {
        query.push(format!("vendor={vendor}"));
        expect.vendor = Some(vendor);
    }
    if rng.chance(30) {
        let min = rng.between(100, 30_000) as i64;
        let max = rng.between(min as u64, 50_000) as i64;
        // Sometimes only one bound.
        match rng.between(0, 2) {
            0 => expect.min_cents = Some(min),
            1 => expect.max_cents = Some(max),
            _ => (expect.min_cents, expect.max_cents) = (Some(min), Some(max)),
        }
        if let Some(min) = expect.min_cents {
            query.push(format!("min_price={}", money(min)));
        }
        if let Some(max) = expect.max_cents {
            query.push(format!("max_price={}", money(max)));
        }
    }
    let searched = query.first().is_some_and(|q| q.starts_with("search="));
    if searched && rng.chance(25) {
        query.push("ordering=relevance".to_owned());
    } else if rng.chance(60)
        && let Some(&ordering) = rng.pick(&ORDERINGS)
    {
        query.push(format!("ordering={ordering}"));
        expect.price_order = match ordering {
            "price" => Some(PriceOrder::Ascending),
            "-price" => Some(PriceOrder::Descending),
            _ => None,
        };
    }
    if rng.chance(60) {
        let page_size = rng.between(10, checks::MAX_PAGE_SIZE as u64) as usize;
        query.push(format!("page_size={page_size}"));
        expect.page_size = page_size;
    }
    let path = if query.is_empty() { "/products/".to_owned() } else { format!("/products/?{}", query.join("&")) };
    (path, expect)
}

/// GET /products/facets/ with the filters of a random listing query.
async fn facets(api: &Api, targets: &Targets, rng: &mut Rng, recorder: &mut Recorder) {
    let (path, _) = varied_query(targets, rng);
    let filters: Vec<&str> = path
        .split_once('?')
        .map(|(_, query)| {
            query.split('&').filter(|p| !p.starts_with("ordering=") && !p.starts_with("page_size=")).collect()
        })
        .unwrap_or_default();
    let url = api.url(&format!("/products/facets/?{}", filters.join("&")));
    if let Some(body) = fetch(api, &url, recorder).await
        && let Err(mismatch) = checks::check_facets(&body)
    {
        recorder.mismatch(|| format!("GET {url}: {mismatch}"));
    }
}

/// GET /products/{id}/ of a random seeded product.
async fn product_detail(api: &Api, targets: &Targets, rng: &mut Rng, recorder: &mut Recorder) {
    let Some(&id) = rng.pick(&targets.catalog.product_ids) else {
        recorder.mismatch(|| "no seeded products to read".to_owned());
        return;
    };
    let url = api.url(&format!("/products/{id}/"));
    if let Some(body) = fetch(api, &url, recorder).await
        && let Err(mismatch) = checks::check_detail(&body, id)
    {
        recorder.mismatch(|| format!("GET {url}: {mismatch}"));
    }
}

/// One timed GET, recorded; the body when the status is 2xx.
async fn fetch(api: &Api, url: &str, recorder: &mut Recorder) -> Option<Vec<u8>> {
    let started = Instant::now();
    match api.get(url).await {
        Ok((status, body)) => {
            recorder.response(status, started.elapsed(), || format!("GET {url} answered {status}: {}", excerpt(&body)));
            (200..300).contains(&status).then_some(body)
        }
        Err(e) => {
            recorder.transport_error(|| format!("GET {url}: {}", error::chain(&e)));
            None
        }
    }
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The first 200 bytes of a body, for error samples.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    if body.len() > 200 { format!("{text}…") } else { text.into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Category;

    fn targets() -> Targets {
        let catalog = Catalog {
            tag: "t".into(),
            vendor_ids: vec![11, 12],
            categories: vec![Category { id: 1, parent: None }, Category { id: 2, parent: Some(1) }],
            product_ids: vec![100, 101],
            vendors: Arc::default(),
        };
        let subtrees = catalog.categories.iter().map(|c| (c.id, Arc::new(catalog.subtree(c.id)))).collect();
        Targets { catalog, subtrees, first_page_url: "http://127.0.0.1:8000/products/".into() }
    }

    #[test]
    fn varied_queries_match_their_expectations() {
        let targets = targets();
        let mut rng = Rng::seeded(3);
        for _ in 0..500 {
            let (path, expect) = varied_query(&targets, &mut rng);
            assert!(path.starts_with("/products/"));
            assert!((checks::DEFAULT_PAGE_SIZE..=checks::MAX_PAGE_SIZE).contains(&expect.page_size));
            assert_eq!(path.contains("vendor="), expect.vendor.is_some());
            assert_eq!(path.contains("category="), expect.categories.is_some());
            assert_eq!(path.contains("min_price="), expect.min_cents.is_some());
            assert_eq!(
                path.contains("ordering=price") || path.contains("ordering=-price"),
                expect.price_order.is_some()
            );
            if let (Some(min), Some(max)) = (expect.min_cents, expect.max_cents) {
                assert!(min <= max);
            }
        }
    }

    #[test]
    fn money_has_two_places() {
        assert_eq!(money(100), "1.00");
        assert_eq!(money(50_005), "500.05");
    }
}
