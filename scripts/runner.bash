# Sourced by scripts/load and scripts/soak: the runner (./local) built from
# this tree and started on a PostgreSQL database and a Redis key prefix of
# its own, both removed again when the calling script exits.
#
#   runner_start TAG [NAME=value ...]
#     builds ./local (with $RUNNER_BUILD_TAGS as -tags, if set), creates
#     the database authfn_TAG_<pid>, starts the runner with key prefix
#     TAG-<pid>: on a free loopback port and the extra environment given
#     (a NAME given twice: the last wins), and waits until /health/live
#     answers; its PostgreSQL connections are named $RUNNER_APP_NAME if
#     set. Sets runner_dir (scratch directory, holds the log),
#     runner_pid, runner_base (URL of /api/auth/v2), runner_db_url,
#     runner_redis, runner_prefix and runner_admin_password (the first
#     admin is "admin").
#   runner_free_port NAME
#     sets NAME to a loopback port nobody listens on and no earlier call gave.
#   runner_also_stop PID
#     stops PID too when the runner is stopped (a process beside it).
#   runner_errors NAME
#     prints the runner's ERROR log lines and returns 1 if there are any.

runner_admin_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
runner_redis=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
runner_admin_password=runner-test-password
runner_dir=""
runner_pid=""
runner_db=""
runner_db_url=""
runner_prefix=""
runner_others=""

runner_stop() {
  local p
  for p in $runner_pid $runner_others; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ -n "$runner_db" ]; then psql "$runner_admin_url" -q -c "DROP DATABASE IF EXISTS $runner_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [ -n "$runner_prefix" ]; then
    redis-cli -u "$runner_redis" --scan --pattern "$runner_prefix*" | xargs -r -n 500 redis-cli -u "$runner_redis" unlink >/dev/null || true
  fi
  if [ -n "$runner_dir" ]; then rm -rf "$runner_dir"; fi
}

runner_also_stop() { runner_others="$runner_others $1"; }

# A port nobody listens on: another server answering on ours would be
# measured instead. Ports handed out before are skipped.
runner_ports=""
runner_free_port() {
  local p=$((20000 + $$ % 10000)) # not "port": the caller's NAME may be that
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || [[ " $runner_ports " == *" $p "* ]]; do p=$((p + 1)); done
  runner_ports="$runner_ports $p"
  printf -v "$1" '%s' "$p"
}

runner_start() {
  local tag=$1
  shift
  runner_db="authfn_${tag}_$$"
  runner_prefix="$tag-$$:"
  local port
  runner_free_port port
  local addr=127.0.0.1:$port
  runner_base="http://$addr/api/auth/v2"
  runner_dir=$(mktemp -d)
  runner_db_url="${runner_admin_url%/*}/$runner_db?sslmode=disable"
  trap runner_stop EXIT

  psql "$runner_admin_url" -q -c "CREATE DATABASE $runner_db" >/dev/null
  # Static, as make run builds it: the runner needs no C (SQLite and
  # the DNS resolver are pure Go), and a process without libc maps no
  # libc.so and makes no glibc malloc arenas (about 2 MB less RSS).
  CGO_ENABLED=0 go build ${RUNNER_BUILD_TAGS:+-tags "$RUNNER_BUILD_TAGS"} -o "$runner_dir/authfn-local" ./local
  env DATABASE_URL="$runner_db_url${RUNNER_APP_NAME:+&application_name=$RUNNER_APP_NAME}" REDIS_URL="$runner_redis" \
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
