# Sourced by scripts/soak (scripts/load starts its own, beside a floor server): the runner (./local) built from
# this tree and started on a PostgreSQL database and a Redis key prefix of
# its own, both removed again when the calling script exits.
#
#   runner_start TAG [NAME=value ...]
#     builds ./local, creates the database authfn_TAG_<pid>, starts the
#     runner with key prefix TAG-<pid>: on a loopback port and the extra
#     environment given, and waits until /health/live answers. Sets
#     runner_dir (scratch directory, holds the log), runner_pid,
#     runner_base (URL of /api/auth/v2), runner_redis, runner_prefix and
#     runner_admin_password (the first admin is "admin").
#   runner_errors NAME
#     prints the runner's ERROR log lines and returns 1 if there are any.

runner_admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
runner_redis=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
runner_admin_password=runner-test-password
runner_dir=""
runner_pid=""
runner_db=""
runner_prefix=""

runner_stop() {
  if [ -n "$runner_pid" ]; then kill "$runner_pid" 2>/dev/null && wait "$runner_pid" 2>/dev/null || true; fi
  if [ -n "$runner_db" ]; then psql "$runner_admin_url" -q -c "DROP DATABASE IF EXISTS $runner_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [ -n "$runner_prefix" ]; then
    redis-cli -u "$runner_redis" --scan --pattern "$runner_prefix*" | xargs -r -n 500 redis-cli -u "$runner_redis" unlink >/dev/null || true
  fi
  if [ -n "$runner_dir" ]; then rm -rf "$runner_dir"; fi
}

runner_start() {
  local tag=$1
  shift
  runner_db="authfn_${tag}_$$"
  runner_prefix="$tag-$$:"
  # A port nobody listens on: another runner answering /health/live on
  # ours would be measured instead.
  local port=$((20000 + $$ % 10000))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  local addr=127.0.0.1:$port
  runner_base="http://$addr/api/auth/v2"
  runner_dir=$(mktemp -d)
  trap runner_stop EXIT

  psql "$runner_admin_url" -q -c "CREATE DATABASE $runner_db" >/dev/null
  go build -o "$runner_dir/authfn-local" ./local
  env DATABASE_URL="${runner_admin_url%/*}/$runner_db?sslmode=disable" REDIS_URL="$runner_redis" \
    REDIS_KEY_PREFIX="$runner_prefix" ADDR="$addr" ADMIN_PASSWORD="$runner_admin_password" \
    BCRYPT_COST=10 LOG_LEVEL=error LOCAL_DIR="$runner_dir" "$@" \
    "$runner_dir/authfn-local" >"$runner_dir/log" 2>&1 &
  runner_pid=$!
  for _ in $(seq 100); do curl -sf "$runner_base/health/live" >/dev/null && return 0; sleep 0.1; done
  echo "$tag: the runner did not answer on $addr:"
  cat "$runner_dir/log"
  return 1
}

runner_errors() {
  grep -q '"level":"ERROR"' "$runner_dir/log" || return 0
  echo "$1: the runner logged errors:"
  grep '"level":"ERROR"' "$runner_dir/log" | head
  return 1
}
