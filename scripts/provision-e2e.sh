#!/usr/bin/env bash
# Provisions what the end-to-end tests need: Debian's Chromium, and code-server
# installed outside the project's own dependencies, in ${E2E_HOME:-<repo>/.e2e}.
# Idempotent: each step is skipped when its result is already there.
# Prints the code-server binary's path as its last line.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3 # the last release that runs on Node 20
RIPGREP_PKG_VERSION=1.15.11 # the @vscode/ripgrep that this code-server pins
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
e2e_home=${E2E_HOME:-$repo/.e2e}
prefix=$e2e_home/code-server
bin=$prefix/node_modules/.bin/code-server
# Written only after a complete install, so an interrupted one is redone.
stamp=$prefix/.installed-$CODE_SERVER_VERSION

log() { printf '[provision-e2e] %s\n' "$*" >&2; }

if [[ $(uname -m) != x86_64 ]]; then
  log "only x86_64 is supported (the seeded ripgrep asset is for x86_64)"
  exit 1
fi

missing=()
for pkg in chromium libkrb5-dev ripgrep; do
  if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) != "ii "* ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if ((EUID != 0)); then
    log "missing Debian packages (${missing[*]}); run this script as root"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -q >&2
  # Recommends would pull in desktop services (upower, udev, printing) that headless tests never use.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if [[ -f $stamp && -x $bin ]]; then
  log "code-server $CODE_SERVER_VERSION already installed"
else
  # @vscode/ripgrep downloads rg from GitHub at install unless this cache file
  # exists; it untars the file into its bin/ and expects `rg` at the archive's root.
  cache_dir=$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-$RIPGREP_PKG_VERSION
  if [[ ! -s $cache_dir/$RIPGREP_ASSET ]]; then
    log "seeding $cache_dir/$RIPGREP_ASSET from /usr/bin/rg"
    mkdir -p "$cache_dir"
    tar -czf "$cache_dir/$RIPGREP_ASSET.tmp" -C /usr/bin rg
    mv "$cache_dir/$RIPGREP_ASSET.tmp" "$cache_dir/$RIPGREP_ASSET"
  fi

  log "installing code-server $CODE_SERVER_VERSION into $prefix"
  mkdir -p "$prefix"
  # A package.json of its own keeps npm from walking up to the project's.
  [[ -f $prefix/package.json ]] || echo '{ "private": true }' >"$prefix/package.json"
  # Run from the prefix: npm runs install scripts as the owner of the working
  # directory. As root, code-server's postinstall refuses to build VS Code's
  # modules unless --unsafe-perm is given (npm 11 warns it does not know the
  # flag, yet still passes it on to the script).
  (cd "$prefix" && npm_config_yes=true npm install --prefix "$prefix" --unsafe-perm \
    --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" >&2)
  [[ -x $prefix/node_modules/code-server/lib/vscode/node_modules/@vscode/ripgrep/bin/rg ]] || {
    log "code-server installed without ripgrep; see the npm output above"
    exit 1
  }
  touch "$stamp"
fi

echo "$bin"
