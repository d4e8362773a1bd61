#!/usr/bin/env bash
# Creates the marketplace's schemas and per-service database users: renders
# the template deploy/mysql/init.sql with the passwords from the environment
# (IDENTITY_DB_PASSWORD, CATALOG_DB_PASSWORD, CART_DB_PASSWORD,
# ORDER_DB_PASSWORD, PAYMENT_DB_PASSWORD, ANALYTICS_DB_PASSWORD: whatever
# placeholders the template holds) and runs it as root.
#
# Two ways to run it:
#
# - Sourced by the MariaDB image's entrypoint, from /docker-entrypoint-initdb.d
#   on the first start with an empty data volume (docker-compose.yml mounts
#   this file there, and the template at /etc/marketplace/init.sql). The file
#   must not be executable, or the entrypoint runs it instead of sourcing it
#   and it stops with an error. Any failure stops the container's init.
#
# - `bash deploy/mysql/init.sh --print [TEMPLATE]` prints the rendered SQL
#   (TEMPLATE defaults to the init.sql beside this file), to feed to a client
#   as root on any other server; services/common/tests/mysql_init.rs tests
#   the SQL this prints.
#
# Each placeholder -- a variable's name in double braces -- becomes that
# variable's value as a SQL string literal, escaped as the MariaDB image
# escapes its own root password (backslash before \ and ', newline as \n),
# so any value is safe. The substitution is one pass over the template: a
# value is never scanned for placeholders itself. An unset or empty variable
# stops it with the names of all such, before anything is printed or run.
#
# docker-compose.yml writes the same passwords unencoded into the services'
# MYSQL_URLs, where characters outside letters, digits and - . _ ~ may break
# the URL: such a value draws a warning (not an error: a URL elsewhere can be
# percent-encoded).

# The value $1 as a SQL string literal. Quoted replacement strings, so bash
# 5.1 (the MariaDB image's) and 5.2 (patsub_replacement) agree.
marketplace_sql_literal() {
  local value=$1 bs=\\ quote="'" newline=$'\n'
  value=${value//"$bs"/"$bs$bs"}
  value=${value//"$quote"/"$bs$quote"}
  value=${value//"$newline"/"${bs}n"}
  printf "'%s'" "$value"
}

# The template $1 with every placeholder replaced, on stdout.
marketplace_render_init_sql() {
  local template=$1 placeholder='\{\{([A-Z][A-Z0-9_]*)\}\}' rest out='' name value
  local -a missing=()
  rest=$(<"$template") || return 1
  while [[ $rest =~ $placeholder ]]; do
    name=${BASH_REMATCH[1]}
    value=${!name-}
    if [ -z "$value" ]; then
      [[ " ${missing[*]} " == *" $name "* ]] || missing+=("$name")
    elif [[ $value == *[!A-Za-z0-9._~-]* ]]; then
      echo "init.sh: warning: $name holds characters other than letters, digits and - . _ ~," \
        "which the MYSQL_URLs of docker-compose.yml cannot carry unencoded" >&2
    fi
    # The text before this placeholder (its first occurrence, as the match
    # is the leftmost), then the literal; the rest is scanned on.
    out+=${rest%%"${BASH_REMATCH[0]}"*}$(marketplace_sql_literal "$value")
    rest=${rest#*"${BASH_REMATCH[0]}"}
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "init.sh: set ${missing[*]} (the database password of each service; see .env.example)" >&2
    return 1
  fi
  printf '%s%s\n' "$out" "$rest"
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  # Sourced: by the MariaDB entrypoint, whose docker_process_sql runs the
  # mariadb client as root on the init server's socket.
  if ! declare -F docker_process_sql >/dev/null; then
    echo "init.sh: source it only from the MariaDB image's entrypoint; elsewhere run it with --print" >&2
    return 1
  fi
  marketplace_init_sql=$(marketplace_render_init_sql /etc/marketplace/init.sql) || return
  docker_process_sql <<<"$marketplace_init_sql" || return
  unset marketplace_init_sql
elif [ "${1-}" = --print ]; then
  marketplace_render_init_sql "${2:-$(dirname "$0")/init.sql}"
else
  echo "usage: bash $0 --print [TEMPLATE]   (the MariaDB image's entrypoint sources it; it must not be executable there)" >&2
  exit 2
fi
