-- A TEMPLATE, rendered and run by deploy/mysql/init.sh: never run this file
-- as it is. Each password below is a placeholder, an environment variable's
-- name in double braces: init.sh replaces it with that variable's value as a
-- quoted SQL string, and refuses to run while one is unset or empty. The
-- placeholders are not SQL, so a server given the raw file refuses it
-- instead of creating users with guessable passwords.
--
-- docker-compose.yml has the MariaDB image run init.sh (and so this file),
-- as root, on its first start with an empty data volume, with the passwords
-- of the services' MYSQL_URLs. Elsewhere, render it and feed it to any client
-- as root (README, "Kubernetes").
--
-- One schema and one user per service; each user holds privileges on its own
-- schema only. Every service also runs `CREATE DATABASE IF NOT EXISTS` on its
-- schema at start-up: harmless here, as the schema exists and the user's
-- ALL PRIVILEGES on it include CREATE. These grants assume SCHEMA_PREFIX is
-- unset (schemas are then named exactly after the services). An existing
-- user keeps its password (CREATE USER IF NOT EXISTS): change one with
-- ALTER USER.
--
-- Tested: services/common/tests/mysql_init.rs renders this file with init.sh
-- and applies it to the local MariaDB under a unique name prefix, proving
-- each user can work in its own schema and reach no other. To stay testable:
-- whole-line `--` comments only, one statement per `;`, schema names in
-- `backticks`, user names in 'quotes' followed by @, and only CREATE
-- DATABASE, CREATE USER, GRANT and FLUSH PRIVILEGES statements.

CREATE DATABASE IF NOT EXISTS `identity`  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `catalog`   CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `cart`      CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `orders`    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `payment`   CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `analytics` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE USER IF NOT EXISTS 'identity'@'%'  IDENTIFIED BY {{IDENTITY_DB_PASSWORD}};
CREATE USER IF NOT EXISTS 'catalog'@'%'   IDENTIFIED BY {{CATALOG_DB_PASSWORD}};
CREATE USER IF NOT EXISTS 'cart'@'%'      IDENTIFIED BY {{CART_DB_PASSWORD}};
CREATE USER IF NOT EXISTS 'orders'@'%'    IDENTIFIED BY {{ORDER_DB_PASSWORD}};
CREATE USER IF NOT EXISTS 'payment'@'%'   IDENTIFIED BY {{PAYMENT_DB_PASSWORD}};
CREATE USER IF NOT EXISTS 'analytics'@'%' IDENTIFIED BY {{ANALYTICS_DB_PASSWORD}};

GRANT ALL PRIVILEGES ON `identity`.*  TO 'identity'@'%';
GRANT ALL PRIVILEGES ON `catalog`.*   TO 'catalog'@'%';
GRANT ALL PRIVILEGES ON `cart`.*      TO 'cart'@'%';
GRANT ALL PRIVILEGES ON `orders`.*    TO 'orders'@'%';
GRANT ALL PRIVILEGES ON `payment`.*   TO 'payment'@'%';
GRANT ALL PRIVILEGES ON `analytics`.* TO 'analytics'@'%';

FLUSH PRIVILEGES;
