#!/usr/bin/env bash
# Checks that the OpenAPI document (/api/schema/) is what the server does:
# schemathesis (pinned, from PyPI, in a venv of its own) runs every check
# but positive_data_acceptance against a debug fleet of its own, once for
# each caller: anonymous, customer, vendor (verified, with a product) and
# admin. Any finding fails the script.
#
# The fleet listens on a free loopback port (PORT=0, gRPC on :0), under a
# SCHEMA_PREFIX of its own; on every exit path it is stopped and its
# schemas and Redis keys are dropped. All tokens are taken before the runs:
# schemathesis's own login attempts soon meet the failed-login limit (429).
#
# Settings: SCHEMATHESIS_EXAMPLES (examples per operation, default 30:
# about 70 s for the four runs on two cores);
# SCHEMATHESIS_SEED (unset: schemathesis's deterministic mode, the same
# cases every run; set: random cases from that seed, to look further);
# CARGO_TARGET_DIR (where target/debug/fleet is, already built by `make
# test`); MYSQL_URL and REDIS_URL as for the fleet.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/marketplace/schemathesis-$VERSION"
FLEET_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/fleet"
WORK_DIR="${CARGO_TARGET_DIR:-$PWD/target}/schemathesis"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-30}"
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  generation=(--seed "$SCHEMATHESIS_SEED")
else
  generation=(--generation-deterministic)
fi
MYSQL_URL="${MYSQL_URL:-mysql://root@127.0.0.1:3306}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
# Letters, digits and `_` only, as SCHEMA_PREFIX requires.
PREFIX="st_$$_$(date +%s)_"

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing $* with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: schemathesis needs $* (Debian: apt-get install $*)" >&2
    exit 1
  fi
}

# The venv is made once per schemathesis version and reused by later runs.
ensure_schemathesis() {
  if [ -x "$VENV/bin/schemathesis" ] && "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$VERSION"; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  # Debian's python3 makes venvs only with python3-venv (ensurepip).
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
}

fleet_pid=
cleanup() {
  local status=$?
  # Nothing to undo before the fleet was started.
  [ -n "$fleet_pid" ] || exit "$status"
  if kill -0 "$fleet_pid" 2>/dev/null; then
    kill -TERM "$fleet_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$fleet_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$fleet_pid" 2>/dev/null || true
    wait "$fleet_pid" 2>/dev/null || true
  fi
  drop_schemas || echo "warning: could not drop the schemas ${PREFIX}*" >&2
  redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" | xargs -r -d '\n' redis-cli -u "$REDIS_URL" del >/dev/null ||
    echo "warning: could not delete the Redis keys ${PREFIX}*" >&2
  exit "$status"
}

drop_schemas() {
  # user, password, host and port out of mysql://user[:password]@host[:port]
  local user password host port sql=""
  {
    read -r user
    read -r password
    read -r host
    read -r port
  } < <("$VENV/bin/python" -c 'import sys, urllib.parse as u
url = u.urlparse(sys.argv[1])
print(u.unquote(url.username or "root"), u.unquote(url.password or ""), url.hostname or "127.0.0.1", url.port or 3306, sep="\n")' "$MYSQL_URL")
  for schema in identity catalog cart orders payment analytics; do
    sql+="DROP DATABASE IF EXISTS \`${PREFIX}${schema}\`;"
  done
  local client=mariadb
  command -v "$client" >/dev/null || client=mysql
  # A server busy with other suites may refuse a connection for a moment.
  for _ in 1 2 3 4 5; do
    MYSQL_PWD="$password" "$client" --protocol=TCP -h "$host" -P "$port" -u "$user" -e "$sql" && return 0
    sleep 1
  done
  return 1
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$FLEET_BIN" ] || { echo "error: $FLEET_BIN is missing (cargo build -p fleet)" >&2; exit 1; }
ensure_schemathesis
mkdir -p "$WORK_DIR"
log="$WORK_DIR/fleet.log"

admin_email="st-admin-$$@example.com"
admin_password="St-Admin-$$-$(date +%s)"
SCHEMA_PREFIX="$PREFIX" PORT=0 REGISTER_RATE_LIMIT=0 RUST_LOG="${RUST_LOG:-warn}" \
  IDENTITY_GRPC_ADDR=127.0.0.1:0 CATALOG_GRPC_ADDR=127.0.0.1:0 CART_GRPC_ADDR=127.0.0.1:0 \
  ORDER_GRPC_ADDR=127.0.0.1:0 PAYMENT_GRPC_ADDR=127.0.0.1:0 ANALYTICS_GRPC_ADDR=127.0.0.1:0 \
  ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" MYSQL_URL="$MYSQL_URL" REDIS_URL="$REDIS_URL" \
  "$FLEET_BIN" >"$log" 2>&1 &
fleet_pid=$!

# The fleet prints its REST address once every service is up.
base=
for _ in $(seq 1 600); do
  base=$(sed -n 's|^ *REST API *\(http://[^ ]*\)/$|\1|p' "$log")
  [ -n "$base" ] && break
  kill -0 "$fleet_pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$base" ]; then
  echo "error: the fleet did not start; its log ($log):" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "schemathesis $VERSION against $base (SCHEMA_PREFIX=$PREFIX, $EXAMPLES examples per operation, ${generation[*]})"

# A verified vendor with a category and a product, a customer with an
# order and a payment, and the admin: their access tokens, as shell words.
tokens=$("$VENV/bin/python" scripts/schemathesis_setup.py "$base" "$admin_email" "$admin_password")
eval "$tokens"

passed=0
failed=0
failed_roles=()
# run_as ROLE [schemathesis options...]
run_as() {
  local role=$1
  shift
  echo "=== schemathesis as $role"
  if (cd "$WORK_DIR" && "$VENV/bin/schemathesis" run "$base/api/schema/" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" "${generation[@]}" \
    --request-timeout 30 --no-color "$@"); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_roles+=("$role")
  fi
}

# The admin goes last: its writes (suspending vendors, deleting
# categories) would change what the other roles can reach.
run_as anonymous
run_as customer -H "Authorization: Bearer $CUSTOMER_TOKEN"
run_as vendor -H "Authorization: Bearer $VENDOR_TOKEN"
run_as admin -H "Authorization: Bearer $ADMIN_TOKEN"

echo "schemathesis result: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  echo "error: schemathesis found the document and the server disagree (as ${failed_roles[*]})" >&2
  exit 1
fi
