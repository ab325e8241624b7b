#!/usr/bin/env bash
# Quick start: installs dependencies if needed, builds, writes .env with a random JWT_SECRET
# when there is none, creates a demo company and admin on a database that has no company yet
# (printing how to log in, once), then starts the signaling server and the web host (npm start).
# Works from any directory. Ports and the rest come from .env or the environment.
#
# --nodes N starts N signaling nodes behind HAProxy on SIGNALING_PORT instead of one server, on
# REDIS_URL's Redis or a private redis-server (see scripts/start.mjs and docs/DEPLOY.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

die() {
  echo "start-servers: $*" >&2
  exit 1
}

# --- Node.js >= 20 ---------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required, and 'node' is not on PATH (https://nodejs.org/)."
command -v npm >/dev/null 2>&1 || die "npm is required, and 'npm' is not on PATH (it comes with Node.js)."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "${node_major}" -lt 20 ]; then
  die "Node.js 20 or newer is required; this is $(node --version). Please upgrade."
fi

# --- Arguments -------------------------------------------------------------------------------
# Checked before the slow steps below: a typo or a missing haproxy is reported at once.
for arg in "$@"; do
  case "${arg}" in -h | --help) exec node scripts/start.mjs --help ;; esac
done
node scripts/start.mjs --preflight "$@" || exit $?

# --- Dependencies ----------------------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install: older than package-lock.json
# means the lockfile changed since (a pull, a branch switch).
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "start-servers: installing dependencies (npm ci)..."
    npm ci
  fi
elif [ ! -d node_modules ]; then
  echo "start-servers: installing dependencies (npm install)..."
  npm install
fi

# --- Build -----------------------------------------------------------------------------------
# A full tsc build costs 5 s of CPU or more, so it runs only when dist/ is missing or a source,
# a tsconfig or the lockfile is newer than the last build made here (a checkout touches
# what it changes, so switching branches triggers it too).
stamp=dist/.build-stamp
if [ ! -f "${stamp}" ] || [ ! -f dist/server/index.js ] || [ ! -f dist/web/index.js ] ||
  [ ! -f dist/pages/manifest.json ] ||
  [ -n "$(find server web auth config db common client-lib scripts/build-pages.mjs scripts/build-client.mjs scripts/client-types.mjs tsconfig.json tsconfig.build.json package-lock.json \
    -newer "${stamp}" -print -quit 2>/dev/null)" ]; then
  echo "start-servers: building..."
  npm run --silent build
  touch "${stamp}"
fi

# --- .env ------------------------------------------------------------------------------------
if [ ! -f .env ]; then
  [ -f env.example ] || die "env.example is missing; cannot write .env."
  secret=""
  if command -v openssl >/dev/null 2>&1; then
    secret="$(openssl rand -hex 32 2>/dev/null || true)"
  fi
  if ! [[ "${secret}" =~ ^[0-9a-f]{64}$ ]]; then
    secret="$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')"
  fi
  [[ "${secret}" =~ ^[0-9a-f]{64}$ ]] || die "could not generate a random JWT_SECRET."
  # The secret signs every token: keep the file readable by this user only.
  (
    umask 077
    sed "s/^JWT_SECRET=.*/JWT_SECRET=${secret}/" env.example >.env
  )
  echo "start-servers: wrote .env from env.example with a random JWT_SECRET."
fi

# --- Demo account ----------------------------------------------------------------------------
# Migrates the database, and on one without any company creates "demo" with an admin whose
# random password is printed here once (only its hash is stored). Does nothing afterwards.
npm run --silent admin -- seed-demo || die "could not prepare the database (see above)."

exec npm start -- "$@"
