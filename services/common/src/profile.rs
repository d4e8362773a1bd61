//! The deployment profile (`MARKETPLACE_ENV`): `development` (the default,
//! what `make run` needs) or `production`, under which every binary refuses
//! to start with a setting that is only fit for a developer's machine — a
//! known development secret, a database login without a password, an
//! implicit sandbox payment provider, links built from request headers.
//!
//! Each refusal is one line naming the variable, never its value.
use crate::StartupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Development,
    Production,
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Profile::Development),
            "production" | "prod" => Ok(Profile::Production),
            _ => Err("expected development or production".to_owned()),
        }
    }
}

impl Profile {
    pub fn is_production(self) -> bool {
        self == Profile::Production
    }

    /// In production, refuses `value` of `variable` when it is a known
    /// development secret (what the repository's own files ship).
    pub fn refuse_development_secret(self, variable: &str, value: &str) -> Result<(), StartupError> {
        if self.is_production() && is_development_secret(value) {
            return Err(refusal(format!("{variable} holds a development secret")));
        }
        Ok(())
    }

    /// In production, refuses a database URL without a password or with a
    /// development one (the default `mysql://root@…` has none).
    pub fn refuse_weak_database_url(self, variable: &str, url: &str) -> Result<(), StartupError> {
        if !self.is_production() {
            return Ok(());
        }
        match url_password(url) {
            None => Err(refusal(format!("{variable} has no password"))),
            Some(password) if is_development_secret(password) => {
                Err(refusal(format!("{variable} holds a development password")))
            }
            Some(_) => Ok(()),
        }
    }

    /// In production, a setting with a development default must be given.
    pub fn require(self, variable: &str, value: Option<&str>) -> Result<(), StartupError> {
        if self.is_production() && value.is_none_or(|v| v.trim().is_empty()) {
            return Err(refusal(format!("{variable} must be set")));
        }
        Ok(())
    }
}

pub fn refusal(reason: String) -> StartupError {
    StartupError::Config(format!("MARKETPLACE_ENV=production: {reason}"))
}

/// The secrets and passwords this repository ships for development, and
/// the placeholders of its example files.
pub fn is_development_secret(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    ["dev_only", "change-me", "changeme", "change_me", "demo-pass-2026"].iter().any(|marker| lower.contains(marker))
}

/// The password of `scheme://user:password@host…`, when it has one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, _host) = authority.rsplit_once('@')?;
    let (_user, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_accepts_everything() {
        let dev = Profile::Development;
        assert!(dev.refuse_development_secret("WEBHOOK_SECRET", "whsec_dev_only").is_ok());
        assert!(dev.refuse_weak_database_url("MYSQL_URL", "mysql://root@127.0.0.1:3306").is_ok());
        assert!(dev.require("PUBLIC_URL", None).is_ok());
    }

    #[test]
    fn production_refuses_shipped_secrets_and_missing_passwords() {
        let prod = Profile::Production;
        for secret in ["whsec_dev_only", "whsec_compose_dev_only", "CHANGE-ME", "Demo-Pass-2026"] {
            let error = prod.refuse_development_secret("WEBHOOK_SECRET", secret).expect_err(secret).to_string();
            assert!(error.contains("WEBHOOK_SECRET") && !error.contains(secret), "{error}");
        }
        assert!(prod.refuse_development_secret("WEBHOOK_SECRET", "whsec_4f9c0e1b7a2d").is_ok());
        for url in [
            "mysql://root@127.0.0.1:3306",
            "mysql://root:@db:3306",
            "mysql://identity:identity_dev_only@mariadb:3306",
            "redis://:redis_dev_only@redis:6379",
        ] {
            let error = prod.refuse_weak_database_url("MYSQL_URL", url).expect_err(url).to_string();
            assert!(error.contains("MYSQL_URL") && !error.contains("dev_only"), "{error}");
        }
        assert!(prod.refuse_weak_database_url("MYSQL_URL", "mysql://identity:s3cr%40t@db:3306/x").is_ok());
        assert!(prod.require("PUBLIC_URL", None).is_err());
        assert!(prod.require("PUBLIC_URL", Some(" ")).is_err());
        assert!(prod.require("PUBLIC_URL", Some("https://shop.example.com")).is_ok());
    }

    #[test]
    fn the_profile_parses() {
        assert_eq!("PRODUCTION".parse::<Profile>(), Ok(Profile::Production));
        assert_eq!("development".parse::<Profile>(), Ok(Profile::Development));
        assert!("staging".parse::<Profile>().is_err());
    }
}
