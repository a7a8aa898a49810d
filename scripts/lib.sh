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

# apt_install PACKAGE...
# Installs Debian packages: directly as root, otherwise through sudo. When
# that is not possible, fails with a message naming the packages to install.
apt_install() {
  local sudo=()
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install these (Debian package names) with your package manager, then rerun: $*" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "error: installing $* needs root, and sudo is not installed." >&2
      echo "Install them as root (apt-get install $*), or install sudo, then rerun." >&2
      return 1
    fi
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  # env passes DEBIAN_FRONTEND through sudo, which drops the caller's environment.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
