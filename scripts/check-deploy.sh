#!/usr/bin/env bash
# Validates what cannot run here (no Docker engine, no Kubernetes cluster):
#
# 1. No development secret and no fallback for a secret: docker-compose.yml,
#    .env.example, deploy/mysql and deploy/k8s never hold a known
#    development secret, and outside the template secrets.example.yaml no
#    CHANGE-ME placeholder; every ${VAR} of docker-compose.yml is required
#    (${VAR:?message}) or optional with an empty default (${VAR:-}), exactly
#    as .env.example says (a value there: required; empty: optional), and
#    .env.example lists exactly the variables compose reads.
# 2. docker-compose.yml is parsed and checked by Debian's docker-compose with
#    .env.example's placeholder values (and must be refused without them).
# 3. yamllint (Debian's; config deploy/k8s/.yamllint) on the manifests, the
#    collector's config and the compose file.
# 4. Every manifest of deploy/k8s against the Kubernetes API schemas of the
#    oldest version it supports (1.27: native gRPC probes) and of 1.37, by
#    kubernetes-validate (PyPI, pinned, in a venv under the user's cache; it
#    ships the schemas), strict about unknown fields, an unknown kind or
#    apiVersion failing too; then what the schemas cannot see: every
#    manifest in kustomization.yaml, secrets only from the Secret (keys of
#    secrets.example.yaml), a default-deny NetworkPolicy and one per
#    service allowing exactly the calls of README's call graph, a
#    PodDisruptionBudget for each service that runs 2 pods or more.
#
# Each tool is installed when missing: Debian's with apt when we are root,
# kubernetes-validate with pip. deploy/mysql/init.sh and init.sql are checked
# by a test instead, against the real MariaDB
# (services/common/tests/mysql_init.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
# Unset, ~ is the passwd entry's home.
HOME=${HOME:-~}

fail() {
  echo "error: $*" >&2
  exit 1
}

apt_updated=
# apt_install PACKAGE WHAT
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing $1 (to validate $2)" >&2
    if [ -z "$apt_updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    fail "$1 is needed to validate $2 (Debian: apt-get install $1)"
  fi
}

# ensure_tool COMMAND PACKAGE WHAT
ensure_tool() {
  command -v "$1" >/dev/null || apt_install "$2" "$3"
}

# --- 1. no development secret, no fallback ----------------------------------

# The markers of the secrets the repository ships for development (what
# the binaries refuse under MARKETPLACE_ENV=production).
if grep -rniE 'dev_only|demo-pass-2026' docker-compose.yml .env.example deploy/mysql deploy/k8s; then
  fail "a development secret (above) in a deployment file"
fi
placeholders=$(grep -rniE 'change-?me|change_me' docker-compose.yml deploy/mysql deploy/k8s \
  --exclude=secrets.example.yaml | grep -vE '^[^:]+:[0-9]+:[[:space:]]*#' || true)
[ -z "$placeholders" ] || fail "a CHANGE-ME placeholder outside the templates:"$'\n'"$placeholders"

# Every substitution of the compose file (comments and $$, a literal $,
# aside).
substitutions=$(grep -vE '^[[:space:]]*#' docker-compose.yml | sed 's/\$\$//g' \
  | grep -oE '\$\{[^}]*\}?|\$[A-Za-z_][A-Za-z0-9_]*' || true)
bad=$(grep -vE '^\$\{[A-Z][A-Z0-9_]*(:\?[^}]+|:-)\}$' <<<"$substitutions" || true)
[ -z "$bad" ] || fail "docker-compose.yml: each variable must be \${VAR:?message} or \${VAR:-} (no fallback value):"$'\n'"$bad"
required=$(grep -oE '^\$\{[A-Z0-9_]+:\?' <<<"$substitutions" | sed -E 's/^\$\{([A-Z0-9_]+):\?$/\1/' | sort -u)
optional=$(grep -oE '^\$\{[A-Z0-9_]+:-\}$' <<<"$substitutions" | sed -E 's/^\$\{([A-Z0-9_]+):-\}$/\1/' | sort -u)
both=$(comm -12 <(echo "$required") <(echo "$optional"))
[ -z "$both" ] || fail "docker-compose.yml: both required and optional: $both"

grep -vE '^[[:space:]]*(#|$)' .env.example | grep -vE '^[A-Z][A-Z0-9_]*=' \
  && fail ".env.example: lines above are neither NAME=value nor a comment"
example_required=$(grep -oE '^[A-Z][A-Z0-9_]*=.' .env.example | sed 's/=.$//' | sort -u)
example_optional=$(grep -oE '^[A-Z][A-Z0-9_]*=$' .env.example | sed 's/=$//' | sort -u)
[ "$required" = "$example_required" ] || fail "required in docker-compose.yml (<) vs with a value in .env.example (>):"$'\n'"$(
  diff <(echo "$required") <(echo "$example_required") || true)"
[ "$optional" = "$example_optional" ] || fail "optional in docker-compose.yml (<) vs empty in .env.example (>):"$'\n'"$(
  diff <(echo "$optional") <(echo "$example_optional") || true)"
unmarked=$(grep -E '^[A-Z][A-Z0-9_]*=.' .env.example | grep -viE 'change-?me' || true)
[ -z "$unmarked" ] || fail ".env.example: a value that is not clearly a CHANGE-ME placeholder:"$'\n'"$unmarked"
echo "no development secret or fallback in the deployment files; .env.example lists what compose reads"

# --- 2. compose -------------------------------------------------------------

ensure_tool docker-compose docker-compose docker-compose.yml
# Only .env.example's values: neither the caller's environment nor a .env
# of the working tree.
compose() { env -i PATH="$PATH" HOME="$HOME" docker-compose --env-file "$1" -f docker-compose.yml config -q; }
compose .env.example
if compose /dev/null 2>/dev/null; then
  fail "docker-compose.yml starts without any secret given"
fi
echo "docker-compose.yml is valid with .env.example's values, and refused without them"

# --- 3. yamllint ------------------------------------------------------------

ensure_tool yamllint yamllint "deploy/k8s/*.yaml"
yamllint --strict -c deploy/k8s/.yamllint deploy/k8s/*.yaml deploy/otel-collector.yaml docker-compose.yml
echo "deploy/k8s/*.yaml, deploy/otel-collector.yaml and docker-compose.yml pass yamllint"

# --- 4. Kubernetes schemas --------------------------------------------------

kv_version=1.37.0
kv_venv="${XDG_CACHE_HOME:-$HOME/.cache}/marketplace/kubernetes-validate-$kv_version"
# A venv cannot be moved once made, so a complete one is marked as such; an
# interrupted install is made again.
if [ ! -e "$kv_venv/.complete" ]; then
  ensure_tool python3 python3 "deploy/k8s/*.yaml"
  echo "installing kubernetes-validate $kv_version from PyPI into $kv_venv" >&2
  rm -rf "$kv_venv"
  if ! python3 -m venv "$kv_venv" 2>/dev/null; then
    apt_install python3-venv "deploy/k8s/*.yaml"
    rm -rf "$kv_venv"
    python3 -m venv "$kv_venv"
  fi
  "$kv_venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$kv_version"
  touch "$kv_venv/.complete"
fi

manifests=()
for file in deploy/k8s/*.yaml; do
  [ "$file" = deploy/k8s/kustomization.yaml ] || manifests+=("$file")
done
for version in 1.27.0 1.37.0; do
  # --quiet prints only warnings (e.g. no schema for a kind or apiVersion)
  # and failures: any output fails.
  if ! out=$("$kv_venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}" 2>&1) \
    || [ -n "$out" ]; then
    fail "deploy/k8s does not validate against Kubernetes $version:"$'\n'"$out"
  fi
done
echo "deploy/k8s/*.yaml validate against the Kubernetes 1.27 and 1.37 schemas (strict)"

# What the schemas cannot see, with the venv's PyYAML.
"$kv_venv/bin/python" - <<'PY'
import pathlib
import sys

import yaml

K8S = pathlib.Path("deploy/k8s")
NAME = "app.kubernetes.io/name"
# README.md, "Architecture": who calls whom (payment -> gateway: the
# sandbox provider's webhooks).
CALLS = {
    "gateway": {"identity", "catalog", "cart", "order", "payment", "analytics"},
    "identity": set(),
    "catalog": {"identity", "order"},
    "cart": {"identity", "catalog", "order"},
    "order": {"identity", "catalog"},
    "payment": {"identity", "order", "gateway"},
    "analytics": {"identity"},
}
SECRET_LIKE = ("SECRET", "PASSWORD", "_KEY", "MYSQL_URL", "REDIS_URL")
errors = []

objects = {}
for path in sorted(K8S.glob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            objects.setdefault(doc["kind"], []).append(doc)

listed = set(objects["Kustomization"][0]["resources"])
files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
if listed != files:
    errors.append(f"kustomization.yaml lists {sorted(listed)}, the manifests are {sorted(files)}")

secret_keys = set(objects["Secret"][0]["stringData"])
config = objects["ConfigMap"][0]["data"]
if config.get("MARKETPLACE_ENV") != "production":
    errors.append("config.yaml: MARKETPLACE_ENV is not production")
for key in ("PUBLIC_URL", "PAYMENT_PROVIDER"):
    if not config.get(key):
        errors.append(f"config.yaml: no {key}")
for key, value in config.items():
    if any(word in key for word in SECRET_LIKE) or "@" in str(value):
        errors.append(f"config.yaml: {key} belongs in the Secret")

deployments = {d["metadata"]["name"]: d for d in objects["Deployment"]}
if set(deployments) != set(CALLS):
    errors.append(f"Deployments {sorted(deployments)}, call graph {sorted(CALLS)}")
port = {}
for name, deployment in deployments.items():
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port[name] = next(p["containerPort"] for p in container["ports"] if p["name"] in ("grpc", "http"))
    if any("configMapRef" not in source for source in container.get("envFrom", [])):
        errors.append(f"{name}: envFrom other than the ConfigMap (secrets go key by key)")
    env = {e["name"]: e for e in container.get("env", [])}
    if "secretKeyRef" not in env.get("REDIS_URL", {}).get("valueFrom", {}):
        errors.append(f"{name}: REDIS_URL not from the Secret")
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and (ref["name"] != "marketplace-secrets" or ref["key"] not in secret_keys):
            errors.append(f"{name}: {e['name']} from {ref}, not a key of secrets.example.yaml")
        if "value" in e and any(word in e["name"] for word in SECRET_LIKE):
            errors.append(f"{name}: {e['name']} is a literal, not from the Secret")


def selected(selector):
    return (selector or {}).get("matchLabels", {}).get(NAME)


def rule_ports(rule):
    return {p["port"] for p in rule.get("ports", [])}


policies = objects["NetworkPolicy"]
if not any(
    p["spec"]["podSelector"] == {}
    and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
    and not p["spec"].get("ingress")
    and not p["spec"].get("egress")
    for p in policies
):
    errors.append("network-policies.yaml: no default-deny policy")
for name in deployments:
    own = [p["spec"] for p in policies if selected(p["spec"]["podSelector"]) == name]
    if len(own) != 1 or set(own[0].get("policyTypes", [])) != {"Ingress", "Egress"}:
        errors.append(f"{name}: not exactly one NetworkPolicy for ingress and egress")
        continue
    callers, callees, open_ports = set(), set(), set()
    for rule in own[0].get("ingress", []):
        peers = rule.get("from")
        if not peers:
            open_ports |= rule_ports(rule)
            if not (name == "gateway" and rule_ports(rule) == {8000}):
                errors.append(f"{name}: ingress from anywhere to {rule_ports(rule)}")
        for peer in peers or []:
            if "namespaceSelector" in peer:
                if rule_ports(rule) != {9100}:
                    errors.append(f"{name}: ingress from another namespace to {rule_ports(rule)}")
            else:
                callers |= {(selected(peer["podSelector"]), p) for p in rule_ports(rule)}
    for rule in own[0].get("egress", []):
        for peer in rule.get("to", []):
            if "podSelector" in peer and "namespaceSelector" not in peer:
                callees |= {(selected(peer["podSelector"]), p) for p in rule_ports(rule)}
    # A port open to anywhere (the gateway's) takes its callers too.
    want_callers = {(caller, port[name]) for caller, called in CALLS.items() if name in called}
    want_callers = {(caller, p) for caller, p in want_callers if p not in open_ports}
    want_callees = {(called, port[called]) for called in CALLS[name]}
    if callers != want_callers:
        errors.append(f"{name}: ingress from {sorted(callers)}, the call graph says {sorted(want_callers)}")
    if callees != want_callees:
        errors.append(f"{name}: egress to {sorted(callees)}, the call graph says {sorted(want_callees)}")

budgets = {selected(b["spec"]["selector"]): b["spec"] for b in objects.get("PodDisruptionBudget", [])}
for hpa in objects["HorizontalPodAutoscaler"]:
    name = hpa["spec"]["scaleTargetRef"]["name"]
    replicated = hpa["spec"].get("minReplicas", 1) >= 2
    if replicated and budgets.get(name, {}).get("minAvailable") != 1:
        errors.append(f"{name}: at least 2 pods but no PodDisruptionBudget with minAvailable: 1")
    if not replicated and name in budgets:
        errors.append(f"{name}: may run 1 pod, so a PodDisruptionBudget would block every drain")

for error in errors:
    print(f"error: deploy/k8s: {error}", file=sys.stderr)
if errors:
    sys.exit(1)
print("deploy/k8s: secrets only from the Secret, NetworkPolicies after the call graph, PodDisruptionBudgets")
PY
