-- Users, their refresh tokens, vendor profiles and the token signing keys.
CREATE TABLE users (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- stored lower-case; the unique key makes registration races a 400
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL,
    first_name    VARCHAR(150) NOT NULL DEFAULT '',
    last_name     VARCHAR(150) NOT NULL DEFAULT '',
    phone         VARCHAR(16)  NULL,
    is_active     BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY users_email (email),
    UNIQUE KEY users_phone (phone)
);

-- Opaque refresh tokens, stored as SHA-256 hashes. Every login starts a
-- family; each refresh rotates within it; presenting a rotated token
-- revokes the whole family.
CREATE TABLE refresh_tokens (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    token_hash  CHAR(64)     NOT NULL,
    user_id     BIGINT NOT NULL,
    family_id   CHAR(36)     NOT NULL,
    state       VARCHAR(16)  NOT NULL DEFAULT 'active',
    expires_at  TIMESTAMP(6) NOT NULL,
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY refresh_tokens_hash (token_hash),
    KEY refresh_tokens_family (family_id),
    CONSTRAINT refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE vendors (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    -- the collation is case-insensitive, so this key is too
    shop_name   VARCHAR(100)  NOT NULL,
    slug        VARCHAR(120)  NOT NULL,
    description VARCHAR(1000) NOT NULL DEFAULT '',
    status      VARCHAR(16)   NOT NULL DEFAULT 'pending',
    verified_at TIMESTAMP(6)  NULL,
    created_at  TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  TIMESTAMP(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY vendors_user (user_id),
    UNIQUE KEY vendors_shop_name (shop_name),
    UNIQUE KEY vendors_slug (slug),
    KEY vendors_status (status, id),
    CONSTRAINT vendors_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- Ed25519 keys that sign access tokens. The `primary` slot is the one in
-- use; replicas starting together race on it with INSERT IGNORE and all
-- read back the same winner.
CREATE TABLE signing_keys (
    kid             VARCHAR(64)  NOT NULL PRIMARY KEY,
    slot            VARCHAR(16)  NULL,
    private_key_pem TEXT         NOT NULL,
    public_key_pem  TEXT         NOT NULL,
    created_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY signing_keys_slot (slot)
);
