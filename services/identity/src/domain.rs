//! Identity's rules as pure functions: what a valid registration, profile
//! change and vendor profile look like (Django's validators, message for
//! message). No I/O here; the vendor status is `common::status::VendorStatus`.
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use common::auth::Role;
use common::{ApiError, FieldErrors};

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";

/// Django's list of 20,000 common passwords (the same file it ships).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().map(str::trim).collect());

/// A validated registration, password still in clear (hashed by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub role: Role,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
}

/// The raw fields of a registration; `None` means "not sent".
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub email: Option<String>,
    pub password: Option<String>,
    pub password_confirm: Option<String>,
    pub role: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// A required, non-blank string field (blank: only whitespace).
pub fn required<'a>(errors: &mut FieldErrors, field: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value {
        None => {
            errors.add(field, REQUIRED);
            None
        }
        Some(v) if v.trim().is_empty() => {
            errors.add(field, BLANK);
            None
        }
        Some(v) => Some(v),
    }
}

fn max_length(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> bool {
    if value.chars().count() > max {
        errors.add(field, format!("Ensure this field has no more than {max} characters."));
        false
    } else {
        true
    }
}

/// A plain but strict email check: one `@`, a dotted domain of
/// letters/digits/hyphens, no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
}

/// `^\+?[1-9]\d{7,14}$`
pub fn is_valid_phone(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    digits.len() >= 8 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
}

/// Python's `SequenceMatcher.quick_ratio()`: an upper bound on similarity
/// from the multiset of characters both strings share.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut available: HashMap<char, i32> = HashMap::new();
    for c in &b {
        *available.entry(*c).or_default() += 1;
    }
    let mut matches = 0;
    for c in &a {
        if let Some(n) = available.get_mut(c)
            && *n > 0
        {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / (a.len() + b.len()) as f64
}

/// Django's `UserAttributeSimilarityValidator` over the email (0.7).
fn too_similar_to_email(password: &str, email: &str) -> bool {
    const MAX_SIMILARITY: f64 = 0.7;
    let password = password.to_lowercase();
    let email = email.to_lowercase();
    let mut parts: Vec<&str> =
        email.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|p| !p.is_empty()).collect();
    parts.push(&email);
    parts.iter().any(|part| {
        let (pwd_len, part_len) = (password.chars().count() as f64, part.chars().count() as f64);
        // Django skips parts far shorter than the password.
        let exceeds_ratio = pwd_len >= 10.0 * part_len && part_len < MAX_SIMILARITY / 2.0 * pwd_len;
        !exceeds_ratio && quick_ratio(&password, part) >= MAX_SIMILARITY
    })
}

/// Django's default password validators, in Django's order.
pub fn password_problems(password: &str, email: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(email) = email
        && too_similar_to_email(password, email)
    {
        problems.push("The password is too similar to the email.".to_owned());
    }
    if password.chars().count() < 8 {
        problems.push("This password is too short. It must contain at least 8 characters.".to_owned());
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().trim()) {
        problems.push("This password is too common.".to_owned());
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".to_owned());
    }
    problems
}

/// A profile name field (≤ 150 characters, trimmed; may be blank).
fn name_field(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    max_length(errors, field, value, 150).then(|| value.to_owned())
}

/// `Some(None)` clears the phone (`""`), `Some(Some(p))` sets it.
fn phone_field(errors: &mut FieldErrors, value: Option<&str>) -> Option<Option<String>> {
    let value = value?.trim();
    if value.is_empty() {
        return Some(None);
    }
    if is_valid_phone(value) {
        Some(Some(value.to_owned()))
    } else {
        errors.add("phone", "Enter a valid phone number: an optional '+' and 8 to 15 digits, not starting with 0.");
        None
    }
}

pub fn validate_registration(input: &RegistrationInput) -> Result<Registration, ApiError> {
    let mut errors = FieldErrors::new();
    let email = required(&mut errors, "email", input.email.as_deref()).map(|e| e.trim().to_lowercase()).filter(|e| {
        if e.len() > 254 {
            errors.add("email", "Ensure this field has no more than 254 characters.");
            false
        } else if !is_valid_email(e) {
            errors.add("email", "Enter a valid email address.");
            false
        } else {
            true
        }
    });
    let password = required(&mut errors, "password", input.password.as_deref());
    let confirm = required(&mut errors, "password_confirm", input.password_confirm.as_deref());
    if let Some(password) = password {
        for problem in password_problems(password, email.as_deref()) {
            errors.add("password", problem);
        }
        if let Some(confirm) = confirm
            && confirm != password
        {
            errors.add("password_confirm", "Passwords do not match.");
        }
    }
    let role = match input.role.as_deref().map(str::trim) {
        None | Some("") => Some(Role::Customer),
        Some(value) => match Role::parse(value) {
            Some(role @ (Role::Customer | Role::Vendor)) => Some(role),
            _ => {
                errors.add("role", format!("\"{value}\" is not a valid choice."));
                None
            }
        },
    };
    let first_name = name_field(&mut errors, "first_name", input.first_name.as_deref());
    let last_name = name_field(&mut errors, "last_name", input.last_name.as_deref());
    let phone = phone_field(&mut errors, input.phone.as_deref());
    errors.into_result()?;
    match (email, password, role) {
        (Some(email), Some(password), Some(role)) => Ok(Registration {
            email,
            password: password.to_owned(),
            role,
            first_name: first_name.unwrap_or_default(),
            last_name: last_name.unwrap_or_default(),
            phone: phone.flatten(),
        }),
        _ => Err(ApiError::internal("registration validated without its fields")),
    }
}

/// A validated profile change; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProfileChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<Option<String>>,
}

pub fn validate_profile_change(
    first_name: Option<&str>,
    last_name: Option<&str>,
    phone: Option<&str>,
) -> Result<ProfileChange, ApiError> {
    let mut errors = FieldErrors::new();
    let change = ProfileChange {
        first_name: name_field(&mut errors, "first_name", first_name),
        last_name: name_field(&mut errors, "last_name", last_name),
        phone: phone_field(&mut errors, phone),
    };
    errors.into_result()?;
    Ok(change)
}

/// A vendor profile's shop name and description, validated. For an update
/// either may be absent (`None` keeps the current value).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VendorFields {
    pub shop_name: Option<String>,
    pub description: Option<String>,
}

pub fn validate_vendor_fields(
    shop_name: Option<&str>,
    description: Option<&str>,
    creating: bool,
) -> Result<VendorFields, ApiError> {
    let mut errors = FieldErrors::new();
    let shop_name = match shop_name {
        None if creating => {
            errors.add("shop_name", REQUIRED);
            None
        }
        None => None,
        Some(name) => {
            let name = name.trim();
            let len = name.chars().count();
            if len == 0 {
                errors.add("shop_name", BLANK);
                None
            } else if len < 2 {
                errors.add("shop_name", "Ensure this field has at least 2 characters.");
                None
            } else if max_length(&mut errors, "shop_name", name, 100) {
                Some(name.to_owned())
            } else {
                None
            }
        }
    };
    let description =
        description.map(str::trim).filter(|d| max_length(&mut errors, "description", d, 1000)).map(str::to_owned);
    errors.into_result()?;
    Ok(VendorFields { shop_name, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(email: &str, password: &str) -> RegistrationInput {
        RegistrationInput {
            email: Some(email.into()),
            password: Some(password.into()),
            password_confirm: Some(password.into()),
            ..Default::default()
        }
    }

    fn password_errors(result: Result<Registration, ApiError>) -> Vec<String> {
        let error = result.expect_err("should be rejected");
        error.fields.iter().find(|(f, _)| f == "password").map(|(_, m)| m.clone()).unwrap_or_default()
    }

    #[test]
    fn a_good_registration_is_a_lower_cased_customer() {
        let r = validate_registration(&input("  Ann.Lee@Example.COM ", "Tr1cky-Horse-92")).expect("valid");
        assert_eq!(r.email, "ann.lee@example.com");
        assert_eq!(r.role, Role::Customer);
        assert_eq!(r.phone, None);
    }

    #[test]
    fn passwords_follow_djangos_validators() {
        assert!(
            password_errors(validate_registration(&input("a@b.io", "Ab1!"))).iter().any(|m| m.contains("too short"))
        );
        assert!(
            password_errors(validate_registration(&input("a@b.io", "password123")))
                .iter()
                .any(|m| m.contains("too common"))
        );
        let numeric = password_errors(validate_registration(&input("a@b.io", "84736291057")));
        assert!(numeric.iter().any(|m| m.contains("entirely numeric")));
        let similar = password_errors(validate_registration(&input("johnsmith@example.com", "johnsmith1")));
        assert!(similar.iter().any(|m| m.contains("too similar")), "{similar:?}");
    }

    #[test]
    fn missing_fields_are_required_and_admin_is_refused() {
        let error = validate_registration(&RegistrationInput { role: Some("ADMIN".into()), ..Default::default() })
            .expect_err("invalid");
        assert!(error.fields.has("email") && error.fields.has("password") && error.fields.has("password_confirm"));
        assert!(error.fields.has("role"));
    }

    #[test]
    fn mismatched_confirmation_is_reported_on_confirm() {
        let mut i = input("a@b.io", "Tr1cky-Horse-92");
        i.password_confirm = Some("Tr1cky-Horse-93".into());
        let error = validate_registration(&i).expect_err("invalid");
        assert_eq!(
            error.fields.iter().next().map(|(f, m)| (f.as_str(), m[0].as_str())),
            Some(("password_confirm", "Passwords do not match."))
        );
    }

    #[test]
    fn emails_and_phones() {
        assert!(is_valid_email("a.b+c@shop.example.org"));
        assert!(!is_valid_email("no-at-sign"));
        assert!(!is_valid_email("a@b"));
        assert!(!is_valid_email("a b@c.io"));
        assert!(is_valid_phone("+14155550123"));
        assert!(is_valid_phone("14155550"));
        assert!(!is_valid_phone("+0123456789"));
        assert!(!is_valid_phone("1234567"));
        assert!(!is_valid_phone("+1-415-555"));
    }

    #[test]
    fn empty_phone_means_none() {
        let change = validate_profile_change(None, None, Some("")).expect("valid");
        assert_eq!(change.phone, Some(None));
    }

    #[test]
    fn shop_names_need_two_characters() {
        assert!(validate_vendor_fields(Some("A"), None, true).is_err());
        assert!(validate_vendor_fields(None, None, true).is_err());
        assert!(validate_vendor_fields(None, None, false).is_ok());
    }
}
