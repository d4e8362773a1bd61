"""Seeds a fresh fleet for scripts/schemathesis.sh through its REST API.

Makes a verified vendor with a category and a product, a customer with an
order and a payment, and logs the admin in; prints their access tokens as
shell assignments. Standard library only: it runs in schemathesis's venv.

usage: schemathesis_setup.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD
"""

import json
import os
import sys
import urllib.error
import urllib.request

PASSWORD = "Tr1cky-Horse-92"


def call(base, method, path, body=None, token=None, expect=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            status, text = reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"setup: {method} {path} answered {status}: {text}")
    return json.loads(text) if text else None


def user(base, role, tag):
    email = f"st-{role}-{tag}@example.com"
    body = {"email": email, "password": PASSWORD, "password_confirm": PASSWORD, "role": role}
    call(base, "POST", "/users/register/", body)
    return call(base, "POST", "/users/login/", {"email": email, "password": PASSWORD})["access"]


def main():
    base, admin_email, admin_password = sys.argv[1:4]
    tag = os.getpid()
    admin = call(base, "POST", "/users/login/", {"email": admin_email, "password": admin_password})["access"]
    vendor = user(base, "vendor", tag)
    profile = call(base, "POST", "/vendors/create/", {"shop_name": f"Schemathesis {tag}"}, vendor)
    call(base, "PATCH", f"/vendors/{profile['id']}/verify/", {"status": "approved"}, admin)
    category = call(base, "POST", "/products/categories/", {"name": f"Fuzzed {tag}"}, admin)
    product = {"name": f"Fuzzed lamp {tag}", "price": "19.99", "stock": 1000, "category": category["id"]}
    product = call(base, "POST", "/products/", product, vendor)
    customer = user(base, "customer", tag)
    call(base, "POST", "/carts/items/", {"product": product["id"], "quantity": 1}, customer)
    order = call(base, "POST", "/orders/create/", {}, customer)
    call(base, "POST", "/payments/initiate/", {"order_id": order["id"]}, customer)
    print(f"ADMIN_TOKEN={admin}\nVENDOR_TOKEN={vendor}\nCUSTOMER_TOKEN={customer}")


if __name__ == "__main__":
    main()
