#!/usr/bin/env bash
# Converge test of the single-host layout (docs/deploy.md, "Testing the playbooks"):
#
#   1. debootstrap a bare Debian 12 (bookworm) into a chroot;
#   2. run site.yml with inventories/single-host over the chroot connection: first deployment;
#   3. run it again: the recap must show changed=0 (idempotence), then once more with
#      --check --diff: changed=0 too;
#   4. check the result: the portal, started by the service manager from its unit
#      (ExecStart, User=, EnvironmentFile=), answers on gunicorn's port and through nginx
#      (TLS, static files from disk, /metrics refused); the SFU pool supervisor started
#      workers that registered in Redis with their public wss:// URL; nginx proxies a worker's
#      WebSocket signalling; every generated unit passes `systemd-analyze verify`.
#
# Runs as root on a Debian machine with network access to the Debian mirror and PyPI
# (about 5-8 minutes). systemd is not PID 1 in a chroot: inside it, /usr/bin/systemctl is
# docker-systemctl-replacement (pinned in ansible/requirements.txt), which starts the units'
# commands as systemd would (User=, EnvironmentFile=, ExecStart=); the sandboxing options
# are not applied there. Every daemon listens on free loopback ports picked here, so nothing
# clashes with services of the machine; the machine's firewall and sysctls are never touched
# (common_firewall_enabled=false).
#
# Usage: bash ansible/tests/converge.sh [--keep]     (--keep: leave the chroot running)
# CONVERGE_MIRROR overrides the Debian mirror; CONVERGE_CACHE=<dir> keeps the bare Debian
# there after a first debootstrap and starts from it next time (saves about a minute).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
keep=false
[[ ${1:-} == --keep ]] && keep=true
mirror=${CONVERGE_MIRROR:-http://deb.debian.org/debian}
venv=$repo/.venv-ansible
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mFAIL: %s\033[0m\n' "$*" >&2; exit 1; }
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }

[[ $(id -u) -eq 0 ]] || fail "run as root (debootstrap, chroot)"
[[ -x $venv/bin/ansible-playbook ]] || bash "$repo/.ci/setup"
if ! command -v debootstrap >/dev/null; then
  say "Installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

work=$(mktemp -d /tmp/webconf-converge.XXXXXX)
root=$work/root
log=$work/logs
mkdir -p "$log"

# Everything started in the chroot is stopped, and its mounts removed, whatever happens.
cleanup() {
  local status=$?
  if $keep && [[ $status -eq 0 ]]; then
    say "Kept: chroot $root (stop it: kill its processes, umount $root/{dev/pts,dev/shm,proc})"
    return
  fi
  if [[ $status -ne 0 ]]; then  # what the platform's services said (the replacement's logs)
    for file in "$root"/var/log/journal/webconf-*.log; do
      [[ -f $file ]] && { echo "--- ${file#"$root"}"; tail -25 "$file"; }
    done
  fi
  say "Cleaning up $work"
  for proc in /proc/[0-9]*; do
    if [[ $(readlink "$proc/root" 2>/dev/null) == "$root" ]]; then
      kill -9 "${proc#/proc/}" 2>/dev/null || true
    fi
  done
  sleep 1
  for mount in dev/pts dev/shm proc; do
    if mountpoint -q "$root/$mount"; then umount -l "$root/$mount"; fi
  done
  # --one-file-system: never follow a mount that is still there into the host.
  rm -rf --one-file-system "$work"
  exit "$status"
}
trap cleanup EXIT

cache=${CONVERGE_CACHE:-}
if [[ -n $cache && -f $cache/bookworm-minbase.tar ]]; then
  say "Bare Debian from $cache/bookworm-minbase.tar"
  mkdir -p "$root" && tar -C "$root" -xpf "$cache/bookworm-minbase.tar"
else
  say "debootstrap bookworm into $root ($(elapsed))"
  debootstrap --variant=minbase --include=python3,sudo bookworm "$root" "$mirror" >"$log/debootstrap.log" 2>&1 \
    || { tail -20 "$log/debootstrap.log"; fail "debootstrap"; }
  if [[ -n $cache ]]; then mkdir -p "$cache" && tar -C "$root" -cpf "$cache/bookworm-minbase.tar" .; fi
fi

say "Preparing the chroot ($(elapsed))"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
mkdir -p "$root/dev/pts" && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
# Packages must not start their daemons on their default ports while being installed: the
# playbook starts them, with the ports chosen below.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
# systemctl: the replacement that runs units without a systemd daemon (kept if a package
# brings systemd's own).
chroot "$root" dpkg-divert --quiet --local --rename --add /usr/bin/systemctl
install -m 755 "$venv/lib/python3.11/site-packages/systemctl2/systemctl3.py" "$root/usr/bin/systemctl"
mkdir -p "$root/run/systemd/system"

free_port() {
  python3 - "$@" <<'EOF'
import socket, sys
count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
while True:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
    if base + count > 65000:
        continue
    try:
        for port in range(base, base + count):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(base)
    break
EOF
}
pg_port=$(free_port); redis_port=$(free_port); http_port=$(free_port); https_port=$(free_port)
portal_port=$(free_port); sfu_base=$(free_port 2); turn_port=$(free_port); turns_port=$(free_port)
relay_min=$(free_port 20)

say "Test secrets, join-token key pair and dependency constraints"
openssl genpkey -algorithm ed25519 -out "$work/join-private.pem" 2>/dev/null
openssl pkey -in "$work/join-private.pem" -pubout -out "$work/join-public.pem"
redis_password=$(openssl rand -hex 16)
"$repo/.venv/bin/pip" freeze --exclude-editable 2>/dev/null | grep -v '^-e ' >"$work/constraints.txt" || true
indent() { sed 's/^/  /' "$1"; }
# The example's host, reached through the chroot connection (a second inventory source: its
# host variables win over the first's, and localhost keeps its local connection).
cat >"$work/converge-inventory.yml" <<EOF
all:
  hosts:
    visio.example.gouv.fr:
      ansible_connection: community.general.chroot
      ansible_host: $root
      ansible_python_interpreter: /usr/bin/python3
EOF
cat >"$work/converge-vars.yml" <<EOF
---
vault_portal_secret_key: $(openssl rand -hex 32)
vault_portal_metrics_token: $(openssl rand -hex 16)
vault_postgresql_webconf_password: $(openssl rand -hex 16)
vault_redis_password: $redis_password
vault_coturn_static_auth_secret: $(openssl rand -hex 32)
vault_join_token_private_key: |
$(indent "$work/join-private.pem")
webconf_join_token_public_key: |
$(indent "$work/join-public.pem")
webconf_release_constraints_file: $work/constraints.txt
webconf_release_build_dir: $work/build
common_firewall_enabled: false
# The systemctl replacement cannot start timers: they are enabled, not started.
postgresql_backup_timer_state: stopped
portal_retention_timer_state: stopped
postgresql_port: $pg_port
redis_port: $redis_port
nginx_http_port: $http_port
nginx_https_port: $https_port
nginx_tls_self_signed: true
portal_gunicorn_port: $portal_port
portal_gunicorn_workers: 1
sfu_public_address: 127.0.0.1
sfu_pool_base_port: $sfu_base
sfu_pool_min: 1
sfu_pool_max: 2
coturn_listening_ips: [127.0.0.1]
coturn_listening_port: $turn_port
coturn_tls_listening_port: $turns_port
coturn_relay_min_port: $relay_min
coturn_relay_max_port: $((relay_min + 19))
EOF
chmod 600 "$work/converge-vars.yml"

playbook() {
  (cd "$repo/ansible" && PATH="$venv/bin:$PATH" ANSIBLE_FORCE_COLOR=0 \
    "$venv/bin/ansible-playbook" -i inventories/single-host/hosts.yml -i "$work/converge-inventory.yml" \
    -e "@$work/converge-vars.yml" site.yml "$@")
}
recap_changed() { sed -n '/PLAY RECAP/,$p' "$1" | grep -o 'changed=[0-9]*' | awk -F= '{n += $2} END {print n + 0}'; }

say "First deployment ($(elapsed))"
playbook >"$log/run1.log" 2>&1 || { tail -60 "$log/run1.log"; fail "first run"; }
sed -n '/PLAY RECAP/,$p' "$log/run1.log"
say "First deployment done ($(elapsed))"

say "Second run: nothing may change ($(elapsed))"
playbook >"$log/run2.log" 2>&1 || { tail -60 "$log/run2.log"; fail "second run"; }
sed -n '/PLAY RECAP/,$p' "$log/run2.log"
changed=$(recap_changed "$log/run2.log")
if [[ $changed -ne 0 ]]; then
  grep -B1 -A3 '^changed:' "$log/run2.log" | head -60
  fail "second run changed $changed task(s)"
fi

say "Check mode with diff: nothing to change ($(elapsed))"
playbook --check --diff >"$log/check.log" 2>&1 || { tail -60 "$log/check.log"; fail "--check --diff"; }
changed=$(recap_changed "$log/check.log")
[[ $changed -eq 0 ]] || { grep -B1 -A8 '^changed:' "$log/check.log" | head -60; fail "--check reports $changed change(s)"; }

say "Checking the installed platform ($(elapsed))"
host=visio.example.gouv.fr
wait_for() {  # description, command...: retry for up to 60 s
  local what=$1; shift
  for _ in $(seq 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  fail "$what"
}
# The portal, as its unit started it: its health check (database and Redis reached), then
# the sign-in page (templates from the release's share/ folder).
wait_for "portal health check on 127.0.0.1:$portal_port" curl -fsS "http://127.0.0.1:$portal_port/healthz"
curl -fsS "http://127.0.0.1:$portal_port/healthz" | grep -q '"status": *"ok"' \
  || fail "portal /healthz: $(curl -sS "http://127.0.0.1:$portal_port/healthz")"
curl -fsS -o /dev/null "http://127.0.0.1:$portal_port/connexion" || fail "portal sign-in page"
curl -fsS "http://127.0.0.1:$portal_port/metrics" | grep -q '^portal_http_requests_total' \
  || fail "portal /metrics from the loopback"
pid=$(chroot "$root" systemctl show --property=MainPID webconf-portal.service | cut -d= -f2)
[[ $(stat -c %u "/proc/$pid") == $(chroot "$root" id -u webconf-portal) ]] \
  || fail "gunicorn (pid $pid) does not run as webconf-portal"
echo "    portal: gunicorn pid $pid, user webconf-portal: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
# Through nginx: TLS, HSTS, the portal's own CSP, static files from disk, /metrics refused.
https() { curl -ksS --resolve "$host:$https_port:127.0.0.1" "$@"; }
headers=$(https -o /dev/null -D - "https://$host:$https_port/connexion")
grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || fail "portal through nginx: $headers"
grep -qi '^strict-transport-security:' <<<"$headers" || fail "no HSTS"
grep -qi "^content-security-policy: default-src 'self'" <<<"$headers" || fail "the portal's CSP is missing"
https -f -o /dev/null "https://$host:$https_port/static/css/app.css" || fail "static file through nginx"
[[ $(https -o /dev/null -w '%{http_code}' "https://$host:$https_port/metrics") == 404 ]] || fail "/metrics is public"
# The SFU pool: its workers registered in Redis with their public URL.
rcli() { chroot "$root" redis-cli -p "$redis_port" -a "$redis_password" --no-auth-warning "$@"; }
wait_for "an SFU worker registered in Redis" sh -c "[ -n \"\$(chroot '$root' redis-cli -p $redis_port -a $redis_password --no-auth-warning ZRANGE sfu:workers 0 -1)\" ]"
worker=$(rcli ZRANGE sfu:workers 0 -1 | head -1)
url=$(rcli HGET "sfu:worker:$worker" url)
echo "    worker $worker registered, url $url"
[[ $url == "wss://$host/sfu/$sfu_base/ws" ]] || fail "unexpected worker URL $url"
# nginx proxies the worker's WebSocket signalling (101 Switching Protocols).
code=$(https --http1.1 -o /dev/null -w "%{http_code}" --max-time 5 -H "Connection: Upgrade" -H "Upgrade: websocket" \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  "https://$host:$https_port/sfu/$sfu_base/ws" 2>/dev/null || true)
[[ $code == 101 ]] || fail "WebSocket through nginx answered $code"
# The generated units, as installed. The chroot has no systemd of its own: the machine's
# systemd-analyze verifies copies whose commands point into the chroot (it checks that each
# command is an executable file).
mkdir -p "$work/verify"
for unit in webconf-portal.service webconf-recorder.service webconf-retention.service \
  webconf-retention.timer webconf-sfu-pool.service webconf-db-backup.service webconf-db-backup.timer; do
  sed -e "s|=/opt/webconf/|=$root/opt/webconf/|" -e "s|=/usr/local/sbin/|=$root/usr/local/sbin/|" \
    "$root/etc/systemd/system/$unit" >"$work/verify/$unit"
done
for unit in "$work"/verify/*; do
  out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify ${unit##*/}: $out"
  [[ -z $out ]] || fail "systemd-analyze verify ${unit##*/}: $out"
done
echo "    $(ls "$work/verify" | wc -l) units pass systemd-analyze verify"

say "Converge test passed in $(elapsed)"
