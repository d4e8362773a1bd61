//! Identity service: users and their argon2id passwords, EdDSA access
//! tokens with rotating refresh tokens, and vendor profiles with their
//! verification status.
//!
//! `start` does everything that can fail at start-up (schema, migrations,
//! signing key, admin bootstrap) so a caller learns of it before it
//! announces the service; `Identity::serve` then runs until shutdown.
pub mod domain;
pub mod grpc;
pub mod passwords;
pub mod store;
pub mod tokens;

use common::StartupError;
use common::auth::KeyRing;
use common::config::{Infra, defaults};
use common::grpc_server::Serving;
use common::shutdown::CancellationToken;
use proto::identity::v1::identity_server::IdentityServer;
use sqlx::MySqlPool;
use tokio::net::TcpListener;

use crate::grpc::IdentityService;
use crate::store::Store;
use crate::tokens::{KeyPair, Signer};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();
pub const SCHEMA: &str = "identity";
pub const GRPC_NAME: &str = "marketplace.identity.v1.Identity";

/// The identity service's settings: each flag also reads the environment
/// variable named in `--help`.
#[derive(Clone, clap::Parser)]
#[command(name = "identity", version, about = "Identity service: users, passwords, access and refresh tokens, vendors")]
pub struct Config {
    #[command(flatten)]
    pub infra: Infra,
    #[command(flatten)]
    pub serving: Serving,
    /// gRPC listen address.
    #[arg(long, env = "GRPC_ADDR", default_value = defaults::identity::LISTEN)]
    pub grpc_addr: String,
    /// MySQL pool size.
    #[arg(long = "identity-db-connections", env = "IDENTITY_DB_CONNECTIONS", default_value = "10")]
    pub max_db_connections: u32,
    /// Access token (EdDSA JWT) lifetime, seconds.
    #[arg(long = "access-token-ttl", env = "ACCESS_TOKEN_TTL", default_value = "900")]
    pub access_ttl_secs: i64,
    /// Refresh token lifetime, seconds.
    #[arg(long = "refresh-token-ttl", env = "REFRESH_TOKEN_TTL", default_value = "604800")]
    pub refresh_ttl_secs: i64,
    /// PKCS#8 PEM of the Ed25519 key that signs access tokens; unset: the
    /// key kept in the schema (made on first start) is used.
    #[arg(long = "jwt-private-key-pem", env = "JWT_PRIVATE_KEY_PEM")]
    pub private_key_pem: Option<String>,
    #[command(flatten)]
    pub admin: Admin,
}

/// The admin made sure to exist at start-up (never overwritten), when both
/// are given.
#[derive(Clone, Default, clap::Args)]
pub struct Admin {
    /// Email of the admin created at start-up unless a user has it.
    #[arg(long = "admin-email", env = "ADMIN_EMAIL")]
    pub email: Option<String>,
    /// That admin's password (8 characters or more).
    #[arg(long = "admin-password", env = "ADMIN_PASSWORD")]
    pub password: Option<String>,
}

impl Admin {
    pub fn new(email: &str, password: &str) -> Self {
        Self { email: Some(email.to_owned()), password: Some(password.to_owned()) }
    }

    /// Email and password, when both are given.
    pub fn account(&self) -> Option<(&str, &str)> {
        self.email.as_deref().zip(self.password.as_deref())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and passwords stay out of logs.
        f.debug_struct("Config")
            .field("infra", &self.infra)
            .field("grpc_addr", &self.grpc_addr)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field("refresh_ttl_secs", &self.refresh_ttl_secs)
            .field("private_key_pem", &self.private_key_pem.as_ref().map(|_| "***"))
            .field("admin", &self.admin.account().map(|(email, _)| email))
            .finish()
    }
}

impl Config {
    /// From the environment alone, on `infra` (the fleet's, or a test's).
    pub fn from_env(infra: Infra) -> Result<Self, StartupError> {
        Self { infra, ..common::cli::from_env()? }.checked()
    }

    /// What clap cannot check: the shared settings, and the production
    /// profile's refusal of development secrets.
    pub fn checked(self) -> Result<Self, StartupError> {
        let infra = self.infra.checked()?;
        if let Some((_, password)) = self.admin.account() {
            infra.profile.refuse_development_secret("ADMIN_PASSWORD", password)?;
        }
        if let Some(pem) = &self.private_key_pem {
            infra.profile.refuse_development_secret("JWT_PRIVATE_KEY_PEM", pem)?;
        }
        Ok(Self { infra, ..self })
    }
}

/// A started identity service, ready to serve.
pub struct Identity {
    pool: MySqlPool,
    service: IdentityService,
    serving: Serving,
}

pub async fn connect(config: &Config) -> Result<MySqlPool, StartupError> {
    config.infra.mysql_pool(SCHEMA, config.max_db_connections, &MIGRATOR).await
}

fn startup(e: common::ApiError) -> StartupError {
    StartupError::Database(e.detail)
}

pub async fn start(config: &Config) -> Result<Identity, StartupError> {
    let pool = connect(config).await?;
    let store = Store::new(pool.clone());
    let pair = match &config.private_key_pem {
        Some(pem) => {
            let pair = KeyPair::from_private_pem(pem)
                .map_err(|_| StartupError::Config("JWT_PRIVATE_KEY_PEM is not a PKCS#8 Ed25519 key".into()))?;
            store.remember_public_key(&pair).await.map_err(startup)?;
            pair
        }
        None => store.primary_signing_key(&KeyPair::generate().map_err(startup)?).await.map_err(startup)?,
    };
    let keys = KeyRing::fixed(&store.public_keys().await.map_err(startup)?).map_err(startup)?;
    let signer = Signer::new(&pair, config.access_ttl_secs).map_err(startup)?;
    if let Some((email, password)) = config.admin.account() {
        ensure_admin(&store, email, password).await?;
    }
    let service = IdentityService::new(store, keys, signer, chrono::Duration::seconds(config.refresh_ttl_secs));
    Ok(Identity { pool, service, serving: config.serving.clone() })
}

/// Makes sure an admin with `email` exists; an existing user is left as is.
/// True when it was created.
pub async fn ensure_admin(store: &Store, email: &str, password: &str) -> Result<bool, StartupError> {
    let email = email.trim().to_lowercase();
    if !domain::is_valid_email(&email) {
        return Err(StartupError::Config(format!("admin email {email:?} is not a valid email address")));
    }
    if password.chars().count() < 8 {
        return Err(StartupError::Config("admin password must have at least 8 characters".into()));
    }
    let hash = passwords::hash(password.to_owned()).await.map_err(startup)?;
    let created = store.ensure_admin(&email, &hash).await.map_err(startup)?;
    if created {
        tracing::info!(%email, "admin created");
    }
    Ok(created)
}

/// Identity serving on a loopback port with an admin (`root-…@example.com`,
/// `password`), for other services' tests that need real tokens: its
/// address and the admin's email.
#[cfg(feature = "testkit")]
pub async fn serve_for_tests(
    infra: &Infra,
    password: &str,
    stop: CancellationToken,
) -> Result<(String, String), StartupError> {
    let mut config = Config::from_env(infra.clone())?;
    let admin_email = format!("root-{}@example.com", infra.schema_prefix.trim_end_matches('_').replace('_', "-"));
    config.admin = Admin::new(&admin_email, password);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(start(&config).await?.serve(listener, stop));
    Ok((addr, admin_email))
}

impl Identity {
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartupError> {
        let routes = tonic::service::Routes::new(IdentityServer::new(self.service));
        common::grpc_server::serve(GRPC_NAME, routes, listener, Some(self.pool), self.serving, shutdown).await
    }
}
