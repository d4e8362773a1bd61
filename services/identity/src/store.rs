//! All of identity's SQL. Uniqueness is left to unique keys (never
//! check-then-insert), and every multi-statement change is one transaction.
use chrono::{DateTime, Utc};
use common::ApiError;
use common::auth::Role;
use common::db::retry_transient;
use common::error::{StoreError, UniqueKey};
use common::slug;
use sqlx::{FromRow, MySqlPool};
use tracing::instrument;

use common::status::{Named, VendorStatus};

use crate::domain::{ProfileChange, Registration, VendorFields};
use crate::tokens::KeyPair;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn role(&self) -> Result<Role, ApiError> {
        Role::parse(&self.role).ok_or_else(|| ApiError::internal(format!("user {} has role {:?}", self.id, self.role)))
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct VendorRow {
    pub id: i64,
    pub user_id: i64,
    pub shop_name: String,
    pub slug: String,
    pub description: String,
    pub status: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A vendor with its owner's email, for the admin's list.
#[derive(Debug, sqlx::FromRow)]
pub struct OwnedVendorRow {
    #[sqlx(flatten)]
    pub vendor: VendorRow,
    pub email: String,
}

/// What an admin's vendor list asks for.
pub struct VendorSearch<'a> {
    pub status: Option<VendorStatus>,
    /// Found anywhere in the shop name or the owner's email.
    pub words: Option<&'a str>,
    /// Only this vendor; 0: any.
    pub vendor_id: i64,
    pub limit: i64,
    pub offset: i64,
}

impl VendorSearch<'_> {
    /// Binds the filters of `search_vendors!` (each twice or thrice, so a
    /// missing one matches everything); `pattern` is the words' LIKE pattern.
    fn bind<'q, O>(
        &self,
        query: sqlx::query::QueryAs<'q, sqlx::MySql, O, sqlx::mysql::MySqlArguments>,
        pattern: &'q Option<String>,
    ) -> sqlx::query::QueryAs<'q, sqlx::MySql, O, sqlx::mysql::MySqlArguments> {
        let status = self.status.map(VendorStatus::name);
        query
            .bind(status)
            .bind(status)
            .bind(self.vendor_id)
            .bind(self.vendor_id)
            .bind(pattern)
            .bind(pattern)
            .bind(pattern)
    }
}

/// `text` matched literally by `LIKE … ESCAPE '!'`.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            escaped.push('!');
        }
        escaped.push(c);
    }
    escaped
}

/// What presenting a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; it is now rotated and the new one stored.
    Rotated { user_id: i64 },
    /// The token had already been rotated: its family is now revoked.
    Reused,
    /// Unknown, revoked or expired.
    Invalid,
}

/// `SELECT <every user column> <rest>`, as one literal.
macro_rules! select_users {
    ($rest:literal) => {
        concat!("SELECT id, email, password_hash, role, first_name, last_name, phone, is_active, created_at ", $rest)
    };
}

/// `SELECT <every vendor column> <rest>`, as one literal.
macro_rules! select_vendors {
    ($rest:literal) => {
        concat!("SELECT id, user_id, shop_name, slug, description, status, verified_at, created_at, updated_at ", $rest)
    };
}
/// The admin's vendor search: status, id and words, each bound twice or
/// thrice so that a missing one matches everything.
macro_rules! search_vendors {
    ($select:literal, $rest:literal) => {
        concat!(
            $select,
            " FROM vendors v JOIN users u ON u.id = v.user_id \
             WHERE (? IS NULL OR v.status = ?) AND (? = 0 OR v.id = ?) \
             AND (? IS NULL OR v.shop_name LIKE ? ESCAPE '!' OR u.email LIKE ? ESCAPE '!') ",
            $rest
        )
    };
}
const SLUG_ATTEMPTS: u32 = 50;

/// Identity's unique keys (migrations name them); a write that breaks one
/// reports which, and the gRPC layer words it for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    Email,
    Phone,
    /// A user's one vendor profile.
    VendorOfUser,
    ShopName,
    /// Every slug candidate of a shop name was taken.
    VendorSlug,
}

impl UniqueKey for Unique {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("users_email", Unique::Email),
        ("users_phone", Unique::Phone),
        ("vendors_user", Unique::VendorOfUser),
        ("vendors_shop_name", Unique::ShopName),
        ("vendors_slug", Unique::VendorSlug),
    ];
}

type Written<T> = Result<T, StoreError<Unique>>;

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    // ---- users ----

    #[instrument(name = "identity.insert_user", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn insert_user(&self, registration: &Registration, password_hash: &str) -> Written<UserRow> {
        let result = sqlx::query(
            "INSERT INTO users (email, password_hash, role, first_name, last_name, phone) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&registration.email)
        .bind(password_hash)
        .bind(registration.role.as_str())
        .bind(&registration.first_name)
        .bind(&registration.last_name)
        .bind(&registration.phone)
        .execute(&self.pool)
        .await?;
        let user = self.user(result.last_insert_id() as i64).await?;
        Ok(user.ok_or_else(|| ApiError::internal("inserted user vanished"))?)
    }

    #[instrument(name = "identity.user", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn user(&self, id: i64) -> Result<Option<UserRow>, ApiError> {
        Ok(sqlx::query_as(select_users!("FROM users WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?)
    }

    #[instrument(name = "identity.user_by_email", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, ApiError> {
        Ok(sqlx::query_as(select_users!("FROM users WHERE email = ?"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "identity.update_profile", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn update_profile(&self, id: i64, change: &ProfileChange) -> Written<UserRow> {
        let (set_phone, phone) = match &change.phone {
            Some(phone) => (true, phone.clone()),
            None => (false, None),
        };
        sqlx::query(
            "UPDATE users SET first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name), \
             phone = IF(?, ?, phone) WHERE id = ?",
        )
        .bind(&change.first_name)
        .bind(&change.last_name)
        .bind(set_phone)
        .bind(phone)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(self.user(id).await?.ok_or_else(ApiError::not_found)?)
    }

    /// Creates the admin unless a user with that email exists (whose
    /// password is then left alone). True when it was created.
    #[instrument(name = "identity.ensure_admin", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn ensure_admin(&self, email: &str, password_hash: &str) -> Result<bool, ApiError> {
        let result = sqlx::query("INSERT IGNORE INTO users (email, password_hash, role) VALUES (?, ?, 'admin')")
            .bind(email.trim().to_lowercase())
            .bind(password_hash)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    // ---- refresh tokens ----

    #[instrument(name = "identity.insert_refresh_token", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn insert_refresh_token(
        &self,
        user_id: i64,
        family_id: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(family_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Rotates a refresh token: the old row is locked, so two concurrent
    /// refreshes of one token cannot both succeed (the second one sees a
    /// rotated token and revokes the family, as a thief's replay would).
    #[instrument(name = "identity.rotate_refresh_token", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Rotation, ApiError> {
        Ok(retry_transient(|| self.rotate_once(token_hash, new_hash, new_expires_at, now)).await?)
    }

    /// One attempt: a waiting `FOR UPDATE` on the token row can make the
    /// winner's insert deadlock (InnoDB's gap rules), hence the retries.
    async fn rotate_once(
        &self,
        token_hash: &str,
        new_hash: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Rotation, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(i64, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT user_id, family_id, state, expires_at FROM refresh_tokens WHERE token_hash = ? FOR UPDATE",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, family_id, state, expires_at)) = row else {
            return Ok(Rotation::Invalid);
        };
        match state.as_str() {
            "active" if expires_at > now => {
                sqlx::query("UPDATE refresh_tokens SET state = 'rotated' WHERE token_hash = ? AND state = 'active'")
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (?, ?, ?, ?)",
                )
                .bind(new_hash)
                .bind(user_id)
                .bind(&family_id)
                .bind(new_expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Rotation::Rotated { user_id })
            }
            "rotated" => {
                sqlx::query("UPDATE refresh_tokens SET state = 'revoked' WHERE family_id = ? AND state <> 'revoked'")
                    .bind(&family_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Rotation::Reused)
            }
            _ => Ok(Rotation::Invalid),
        }
    }

    /// Revokes the family of a token owned by `user_id`. False when the
    /// token is unknown, expired or someone else's.
    #[instrument(name = "identity.revoke_family", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn revoke_family(&self, token_hash: &str, user_id: i64, now: DateTime<Utc>) -> Result<bool, ApiError> {
        let row: Option<(i64, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT user_id, family_id, expires_at FROM refresh_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        let Some((owner, family_id, expires_at)) = row else {
            return Ok(false);
        };
        if owner != user_id || expires_at <= now {
            return Ok(false);
        }
        sqlx::query("UPDATE refresh_tokens SET state = 'revoked' WHERE family_id = ? AND state <> 'revoked'")
            .bind(family_id)
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    // ---- vendors ----

    #[instrument(name = "identity.vendor_of_user", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor_of_user(&self, user_id: i64) -> Result<Option<VendorRow>, ApiError> {
        Ok(sqlx::query_as(select_vendors!("FROM vendors WHERE user_id = ?"))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    #[instrument(name = "identity.vendor", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendor(&self, id: i64) -> Result<Option<VendorRow>, ApiError> {
        Ok(sqlx::query_as(select_vendors!("FROM vendors WHERE id = ?")).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Creates a pending profile. One profile per user and unique shop
    /// names are the unique keys' job; a slug collision moves on to the
    /// next candidate (`-2`, `-3`…).
    #[instrument(name = "identity.create_vendor", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn create_vendor(&self, user_id: i64, shop_name: &str, description: &str) -> Written<VendorRow> {
        let base = slug::slugify(shop_name);
        for n in 1..=SLUG_ATTEMPTS {
            let result = sqlx::query(
                "INSERT INTO vendors (user_id, shop_name, slug, description, status) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(user_id)
            .bind(shop_name)
            .bind(slug::candidate(&base, n))
            .bind(description)
            .bind(VendorStatus::Pending.name())
            .execute(&self.pool)
            .await;
            match result {
                Ok(done) => {
                    let vendor = self.vendor(done.last_insert_id() as i64).await?;
                    return Ok(vendor.ok_or_else(|| ApiError::internal("inserted vendor vanished"))?);
                }
                Err(e) => match StoreError::from(e) {
                    StoreError::Duplicate(Unique::VendorSlug) => continue,
                    other => return Err(other),
                },
            }
        }
        Err(StoreError::Duplicate(Unique::VendorSlug))
    }

    #[instrument(name = "identity.update_vendor", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn update_vendor(&self, user_id: i64, fields: &VendorFields) -> Written<VendorRow> {
        sqlx::query(
            "UPDATE vendors SET shop_name = COALESCE(?, shop_name), description = COALESCE(?, description), \
             updated_at = CURRENT_TIMESTAMP(6) WHERE user_id = ?",
        )
        .bind(&fields.shop_name)
        .bind(&fields.description)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(self.vendor_of_user(user_id).await?.ok_or_else(ApiError::not_found)?)
    }

    /// Sets a vendor's status; `verified_at` is stamped when it becomes
    /// approved (kept while it stays approved) and cleared otherwise.
    #[instrument(name = "identity.set_vendor_status", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn set_vendor_status(&self, id: i64, status: VendorStatus) -> Result<VendorRow, ApiError> {
        sqlx::query(
            "UPDATE vendors SET verified_at = CASE WHEN ? \
               THEN IF(status = ? AND verified_at IS NOT NULL, verified_at, CURRENT_TIMESTAMP(6)) ELSE NULL END, \
             status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
        )
        .bind(common::buyable::sells(status))
        .bind(VendorStatus::Approved.name())
        .bind(status.name())
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.vendor(id).await?.ok_or_else(ApiError::not_found)
    }

    #[instrument(name = "identity.approved_vendors", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn approved_vendors(&self, limit: i64, offset: i64) -> Result<(i64, Vec<VendorRow>), ApiError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM vendors WHERE status = ?")
            .bind(VendorStatus::Approved.name())
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(select_vendors!("FROM vendors WHERE status = ? ORDER BY id LIMIT ? OFFSET ?"))
            .bind(VendorStatus::Approved.name())
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((count, rows))
    }

    /// Every vendor matching the admin's filters, newest first, with its
    /// owner's email; and how many match.
    #[instrument(name = "identity.search_vendors", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn search_vendors(&self, search: &VendorSearch<'_>) -> Result<(i64, Vec<OwnedVendorRow>), ApiError> {
        let pattern = search.words.map(|words| format!("%{}%", like_escaped(words)));
        let (count,): (i64,) =
            search.bind(sqlx::query_as(search_vendors!("SELECT COUNT(*)", "")), &pattern).fetch_one(&self.pool).await?;
        let rows = search
            .bind(
                sqlx::query_as(search_vendors!(
                    "SELECT v.id, v.user_id, v.shop_name, v.slug, v.description, v.status, v.verified_at, \
                     v.created_at, v.updated_at, u.email",
                    "ORDER BY v.created_at DESC, v.id DESC LIMIT ? OFFSET ?"
                )),
                &pattern,
            )
            .bind(search.limit)
            .bind(search.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((count, rows))
    }

    #[instrument(name = "identity.vendors_by_ids", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn vendors_by_ids(&self, ids: &[i64]) -> Result<Vec<VendorRow>, ApiError> {
        let mut rows = Vec::with_capacity(ids.len());
        // Bounded by the caller's page size; one indexed lookup each keeps
        // the SQL a fixed string.
        for id in ids {
            if let Some(row) = self.vendor(*id).await? {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    // ---- signing keys ----

    /// The primary signing key, made by whichever replica gets there first.
    #[instrument(name = "identity.primary_signing_key", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn primary_signing_key(&self, candidate: &KeyPair) -> Result<KeyPair, ApiError> {
        sqlx::query(
            "INSERT IGNORE INTO signing_keys (kid, slot, private_key_pem, public_key_pem) VALUES (?, 'primary', ?, ?)",
        )
        .bind(&candidate.kid)
        .bind(&candidate.private_pem)
        .bind(&candidate.public_pem)
        .execute(&self.pool)
        .await?;
        let (kid, private_pem, public_pem): (String, String, String) =
            sqlx::query_as("SELECT kid, private_key_pem, public_key_pem FROM signing_keys WHERE slot = 'primary'")
                .fetch_one(&self.pool)
                .await?;
        Ok(KeyPair { kid, private_pem, public_pem })
    }

    /// Records a key given by configuration, so other replicas and services
    /// can verify its tokens.
    #[instrument(name = "identity.remember_public_key", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn remember_public_key(&self, pair: &KeyPair) -> Result<(), ApiError> {
        sqlx::query("INSERT IGNORE INTO signing_keys (kid, private_key_pem, public_key_pem) VALUES (?, '', ?)")
            .bind(&pair.kid)
            .bind(&pair.public_pem)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[instrument(name = "identity.public_keys", skip_all, fields(db.system = "mysql", otel.kind = "client"))]
    pub async fn public_keys(&self) -> Result<Vec<(String, String)>, ApiError> {
        Ok(sqlx::query_as("SELECT kid, public_key_pem FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?)
    }
}
