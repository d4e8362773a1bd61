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
    fn candidates_count_from_two() {
        assert_eq!(candidate("shop", 1), "shop");
        assert_eq!(candidate("shop", 2), "shop-2");
        assert_eq!(candidate("", 1), "item");
    }
}
