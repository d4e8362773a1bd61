-- Run once by the MariaDB image, on first start with an empty data volume
-- (/docker-entrypoint-initdb.d), as root.
--
-- One schema and one user per service; each user holds privileges on its own
-- schema only. Every service also runs `CREATE DATABASE IF NOT EXISTS` on its
-- schema at start-up: harmless here, as the schema exists and the user's
-- ALL PRIVILEGES on it include CREATE. These grants assume SCHEMA_PREFIX is
-- unset (schemas are then named exactly after the services).
--
-- DEVELOPMENT DEFAULTS: the '<service>_dev_only' passwords below are public
-- (docker-compose.yml's MYSQL_URLs use them). Production must replace them
-- (e.g. create the users from secrets, or ALTER USER ... IDENTIFIED BY a
-- secret) and never run this file unchanged.
--
-- Tested: services/common/tests/mysql_init.rs applies this file to the
-- local MariaDB under a unique name prefix and proves each user can work in
-- its own schema and reach no other. To stay testable: whole-line `--`
-- comments only, one statement per `;`, schema names in `backticks`, user
-- names in 'quotes' followed by @, and only CREATE DATABASE, CREATE USER,
-- GRANT and FLUSH PRIVILEGES statements.

CREATE DATABASE IF NOT EXISTS `identity`  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `catalog`   CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `cart`      CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `orders`    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `payment`   CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS `analytics` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE USER IF NOT EXISTS 'identity'@'%'  IDENTIFIED BY 'identity_dev_only';
CREATE USER IF NOT EXISTS 'catalog'@'%'   IDENTIFIED BY 'catalog_dev_only';
CREATE USER IF NOT EXISTS 'cart'@'%'      IDENTIFIED BY 'cart_dev_only';
CREATE USER IF NOT EXISTS 'orders'@'%'    IDENTIFIED BY 'orders_dev_only';
CREATE USER IF NOT EXISTS 'payment'@'%'   IDENTIFIED BY 'payment_dev_only';
CREATE USER IF NOT EXISTS 'analytics'@'%' IDENTIFIED BY 'analytics_dev_only';

GRANT ALL PRIVILEGES ON `identity`.*  TO 'identity'@'%';
GRANT ALL PRIVILEGES ON `catalog`.*   TO 'catalog'@'%';
GRANT ALL PRIVILEGES ON `cart`.*      TO 'cart'@'%';
GRANT ALL PRIVILEGES ON `orders`.*    TO 'orders'@'%';
GRANT ALL PRIVILEGES ON `payment`.*   TO 'payment'@'%';
GRANT ALL PRIVILEGES ON `analytics`.* TO 'analytics'@'%';

FLUSH PRIVILEGES;
