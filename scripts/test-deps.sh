#!/usr/bin/env bash
# Installs the services and tools the test suite runs for real, from
# Debian's packages, when they are missing: OpenLDAP's slapd (LDAP
# connection tests) and Chromium (dashboard browser tests). PostgreSQL and
# MariaDB are found on 127.0.0.1 or started by internal/testenv.
# Without root or apt-get it only reports what is missing: outside CI the
# tests that need them skip; under CI=true they fail.
set -euo pipefail

need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd ldap-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "test-deps: missing ${need[*]} (install them to run every test)" >&2
	exit 0
fi
echo "test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts a default slapd; the tests run their own.
if command -v service >/dev/null 2>&1; then service slapd stop >/dev/null 2>&1 || true; fi
pkill -x slapd 2>/dev/null || true
