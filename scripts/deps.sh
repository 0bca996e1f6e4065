#!/usr/bin/env bash
# Install what the build, the stack and the tests need, and nothing when all
# is present. Called by `make deps` (and so by `make run` and `make test`).
#
# Why the Connector/C++ headers are unpacked by hand: Debian's
# libmysqlcppconn-dev depends on the Boost 1.74 headers, which conflict with
# the Boost 1.81 packages we build with. We install the runtime library with
# apt and unpack the -dev package's headers (they only need Boost's smart
# pointers, which 1.81 has) into .deps/ of the checkout.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
hdr_dir="$top/.deps/mysqlcppconn"

pkgs=(g++ make pkg-config curl procps iproute2 psmisc nftables
      libfcgi-dev libfcgi-bin spawn-fcgi libhiredis-dev libmysqlcppconn7v5 libjemalloc-dev
      libboost-json1.81-dev libboost-test1.81-dev
      mariadb-server mariadb-client redis-server redis-tools nginx-light
      wrk python3 python3-locust gnuplot-nox
      libnginx-mod-http-lua lua-cjson
      nodejs chromium chromium-driver python3-yaml python3-jsonschema
      systemd prometheus
      clang libclang-rt-14-dev lighttpd
      galera-4 rsync)  # the last two: tests/integration/test_galera.py (a Galera cluster)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  # Package scripts must not start system-wide MariaDB, Redis or nginx: the
  # project runs private instances, and port 80/3306/6379 may be taken.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  if [ $had_policy -eq 0 ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
  fi
  trap '[ $had_policy -eq 1 ] || as_root rm -f '"$policy" EXIT
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq || true
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # A package may still have started its daemon (no policy-rc.d support in
  # some init set-ups); stop those so they hold no ports.
  for svc in mariadb redis-server nginx; do
    as_root service "$svc" stop >/dev/null 2>&1 || true
  done
fi

if [ ! -f "$hdr_dir/usr/include/cppconn/driver.h" ]; then
  echo "deps: unpacking Connector/C++ headers into .deps/"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download libmysqlcppconn-dev >/dev/null)
  mkdir -p "$hdr_dir"
  dpkg -x "$tmp"/libmysqlcppconn-dev_*.deb "$hdr_dir"
  rm -rf "$tmp"
fi

# The runtime package ships only the versioned .so; link against it by path.
lib=$(ls /usr/lib/*/libmysqlcppconn.so.7* 2>/dev/null | head -n1)
if [ -z "$lib" ]; then echo "deps: libmysqlcppconn.so.7 not found" >&2; exit 1; fi
mkdir -p "$top/.deps/lib"
ln -sf "$lib" "$top/.deps/lib/libmysqlcppconn.so"

# The OpenAPI validators tests/integration/test_openapi.py runs on
# api/openapi.yaml (redocly lint, swagger-cli validate), fetched from the
# npm registry once into .deps/npm so that the tests need no network. npm
# comes with nodejs from NodeSource; Debian packages it apart.
npm_bin="$top/.deps/npm/node_modules/.bin"
if [ ! -x "$npm_bin/redocly" ] || [ ! -x "$npm_bin/swagger-cli" ]; then
  command -v npm >/dev/null || as_root apt-get install -y -qq --no-install-recommends npm >/dev/null
  echo "deps: installing the OpenAPI validators into .deps/npm"
  npm install --prefix "$top/.deps/npm" --no-audit --no-fund --loglevel=error \
    @redocly/cli@2.77.0 @apidevtools/swagger-cli@4.0.4 >/dev/null
fi
