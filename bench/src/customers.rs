//! Customer accounts of the checkout scenarios: registered and logged in
//! through the API, a few at a time (both hash a password with argon2), then
//! dealt out to workers so that no two workers ever share a cart.
use crate::client::Api;
use crate::error::Result;
use crate::seed;

/// Registrations (and logins) in flight: CPU-bound on the server.
const REGISTER_CONCURRENCY: usize = 4;
/// Password of every bench customer: valid by the contract's rules and unlike the seeded emails.
const CUSTOMER_PASSWORD: &str = "Walnut-Meadow-2741";

/// A bench customer and its current access token.
#[derive(Debug, Clone)]
pub struct Customer {
    pub email: String,
    pub token: String,
}

impl Customer {
    /// Logs in again (the 15-minute access token expired during a long run).
    pub async fn relogin(&mut self, api: &Api) -> Result<()> {
        self.token = seed::login(api, &self.email, CUSTOMER_PASSWORD).await?;
        Ok(())
    }
}

/// Registers and logs in `count` customers `bench-<tag>-<kind><i>@example.com`,
/// [`REGISTER_CONCURRENCY`] at a time. `kind` keeps the scenarios' customers apart.
pub async fn register(api: &Api, tag: &str, kind: &str, count: usize) -> Result<Vec<Customer>> {
    seed::bounded(count, REGISTER_CONCURRENCY, |i| {
        let api = api.clone();
        let email = format!("bench-{tag}-{kind}{i}@example.com");
        async move {
            seed::register(&api, &email, CUSTOMER_PASSWORD, "customer").await?;
            let token = seed::login(&api, &email, CUSTOMER_PASSWORD).await?;
            Ok(Customer { email, token })
        }
    })
    .await
}

/// Deals `items` round-robin into `parts` groups (fewer when there are fewer
/// items, never an empty group): disjoint, together all of `items`, sizes
/// differing by at most one.
pub fn deal<T>(items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let parts = parts.clamp(1, items.len().max(1));
    let mut groups: Vec<Vec<T>> = std::iter::repeat_with(Vec::new).take(parts).collect();
    for (i, item) in items.into_iter().enumerate() {
        if let Some(group) = groups.get_mut(i % parts) {
            group.push(item);
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn deal_is_disjoint_complete_and_even() {
        for (items, parts) in [(64, 16), (64, 5), (10, 16), (1, 1), (7, 7), (100, 1)] {
            let groups = deal((0..items).collect::<Vec<usize>>(), parts);
            assert_eq!(groups.len(), parts.min(items), "{items} items into {parts}");
            assert!(groups.iter().all(|g| !g.is_empty()));
            let seen: HashSet<usize> = groups.iter().flatten().copied().collect();
            assert_eq!(seen.len(), items, "no item twice, none lost");
            assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), items);
            let (small, large) = (groups.iter().map(Vec::len).min(), groups.iter().map(Vec::len).max());
            assert!(large.zip(small).is_some_and(|(l, s)| l - s <= 1), "{items} into {parts}: {small:?}..{large:?}");
        }
        assert!(deal(Vec::<u8>::new(), 4).is_empty());
    }
}
