# Shared by scripts/run-local and scripts/test. Sourced, not run.

# Makes sure redis-server is on PATH: installs Debian's package when we are root (or have
# sudo), otherwise says exactly what to run.
ensure_redis_server() {
  command -v redis-server >/dev/null 2>&1 && return 0
  echo "redis-server is not installed; installing Debian's redis-server package..." >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "Please install Redis 7 (Debian/Ubuntu: sudo apt-get install -y redis-server) and retry." >&2
    return 1
  fi
  # Debian's package may start a system-wide server on 6379; Chirp never relies on it.
  command -v redis-server >/dev/null 2>&1
}
