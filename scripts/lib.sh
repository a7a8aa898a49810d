# shellcheck shell=bash
# Helpers sourced by the scripts in scripts/.

# wait_until SECONDS WHAT COMMAND [ARG...]
# Runs COMMAND (its output discarded) every 0.1 s until it succeeds. If it
# has not succeeded after SECONDS, prints "timed out ... waiting for WHAT" to
# stderr and returns 1, which ends a script running under `set -e`.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  # $SECONDS counts whole seconds: one more keeps the wait at least $seconds.
  local deadline=$((SECONDS + seconds + 1))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}
