//! Django's `slugify`, so slugs match the original marketplace's: NFKD to
//! ASCII, drop everything but letters, digits, `_`, `-` and spaces,
//! lower-case, collapse runs of spaces and `-` into one `-`, strip `-`/`_`
//! from both ends.
use unicode_normalization::UnicodeNormalization;

pub fn slugify(value: &str) -> String {
    let ascii: String = value.nfkd().filter(char::is_ascii).collect();
    let kept: String = ascii
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || c.is_ascii_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let mut slug = String::with_capacity(kept.len());
    let mut in_run = false;
    for c in kept.trim().chars() {
        if c == '-' || c.is_ascii_whitespace() {
            if !in_run {
                slug.push('-');
            }
            in_run = true;
        } else {
            slug.push(c);
            in_run = false;
        }
    }
    slug.trim_matches(|c| c == '-' || c == '_').to_owned()
}

/// The `n`-th candidate for a slug: `base`, `base-2`, `base-3`…
/// An empty base (a name of symbols only) still yields a usable slug.
pub fn candidate(base: &str, n: u32) -> String {
    let base = if base.is_empty() { "item" } else { base };
    if n <= 1 { base.to_owned() } else { format!("{base}-{n}") }
}

/// The `LIKE` pattern matching every numbered candidate of `base`
/// (`base-2`, `base-3`…), with `%`, `_` and `\` escaped.
pub fn numbered_pattern(base: &str) -> String {
    let base = if base.is_empty() { "item" } else { base };
    let mut pattern: String = base
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    pattern.push_str("-%");
    pattern
}

/// The first free candidate after the ones taken (`taken` holds `base` and
/// any `base-N` already in use; other lookalikes are ignored).
pub fn next_free(base: &str, taken: &[String]) -> String {
    let root = candidate(base, 1);
    if !taken.contains(&root) {
        return root;
    }
    let highest =
        taken.iter().filter_map(|t| t.strip_prefix(&root)?.strip_prefix('-')?.parse::<u32>().ok()).max().unwrap_or(1);
    candidate(base, highest.max(1) + 1)
}

/// `count` free candidates for `base`, in order: `next_free`'s first, then
/// one past the highest taken each time (a file naming one product twice).
pub fn free_run(base: &str, taken: &[String], count: usize) -> Vec<String> {
    let root = candidate(base, 1);
    let mut run = Vec::with_capacity(count);
    let mut highest =
        taken.iter().filter_map(|t| t.strip_prefix(&root)?.strip_prefix('-')?.parse::<u32>().ok()).max().unwrap_or(1);
    if !taken.contains(&root) && count > 0 {
        run.push(root);
    }
    while run.len() < count {
        highest = highest.max(1) + 1;
        run.push(candidate(base, highest));
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_django() {
        assert_eq!(slugify("Hello World"), "hello-world");
        assert_eq!(slugify("  Crème Brûlée & Co.  "), "creme-brulee-co");
        assert_eq!(slugify("a -- b__c"), "a-b__c");
        assert_eq!(slugify("_-Leading and trailing-_"), "leading-and-trailing");
        assert_eq!(slugify("日本"), "");
    }

    #[test]
    fn the_next_free_slug_follows_the_highest_number() {
        assert_eq!(next_free("shop", &[]), "shop");
        assert_eq!(next_free("shop", &["shop".into()]), "shop-2");
        assert_eq!(next_free("shop", &["shop".into(), "shop-2".into(), "shop-9".into(), "shop-x".into()]), "shop-10");
        assert_eq!(numbered_pattern("a_b%"), "a\\_b\\%-%");
    }

    #[test]
    fn a_run_of_free_slugs_never_reuses_a_taken_one() {
        assert_eq!(free_run("shop", &[], 3), ["shop", "shop-2", "shop-3"]);
        assert_eq!(free_run("shop", &["shop-2".into()], 2), ["shop", "shop-3"]);
        assert_eq!(free_run("shop", &["shop".into(), "shop-4".into()], 2), ["shop-5", "shop-6"]);
        assert_eq!(free_run("shop", &["shop".into()], 0), Vec::<String>::new());
    }

    #[test]
    fn candidates_count_from_two() {
        assert_eq!(candidate("shop", 1), "shop");
        assert_eq!(candidate("shop", 2), "shop-2");
        assert_eq!(candidate("", 1), "item");
    }
}
