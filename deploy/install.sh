#!/usr/bin/env bash
# deploy/install.sh: make a Debian 12 or 13 server run smosite (docs/deploy.md, "A single VM").
# Run it as root from the site's checkout, once, and again after every upgrade:
#
#   sudo git clone <repository> /srv/smosite/app
#   sudo /srv/smosite/app/deploy/install.sh --domain reports.example.com
#
# It installs the Debian packages (nginx, certbot, WeasyPrint's libraries and fonts, and
# PostgreSQL and Redis unless --no-local-services), creates the service user and its folders
# with their owners and modes, installs Python 3.12 (uv's managed Python) and the locked
# environment without the test tools, writes /etc/smosite/env from deploy/env.template if it
# does not exist (never over an existing one), and installs the systemd units, the nginx site,
# certbot's reload hook, the journald retention and the backup timer. It enables the units but
# starts nothing: edit the env file and run `sudo smosite manage site_init` first.
#
# Options:
#   --domain NAME        the site's host name (nginx; SITE_URL and DJANGO_ALLOWED_HOSTS of a
#                        new env file). Required.
#   --dry-run            print every step, change nothing.
#   --prefix DIR         install the files under DIR instead of / (paths inside them too): for
#                        a trial or a package. Nothing outside DIR changes: package installs,
#                        the user, services and the checkout's environment are printed, not run.
#   --python PATH        make the environment with this Python 3.12 instead of uv's managed
#                        one (a server that cannot download it; not under /root or /home, which
#                        the units cannot read).
#   --no-local-services  PostgreSQL and Redis are elsewhere (managed): don't install them here.
#   --user NAME          the service user (default smosite).
set -euo pipefail

APP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOMAIN=""
DRY_RUN=0
PREFIX=""
PYTHON=""
LOCAL_SERVICES=1
SERVICE_USER=smosite

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --domain) DOMAIN=${2:?--domain needs a name}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --python) PYTHON=${2:?--python needs a path}; shift 2 ;;
    --no-local-services) LOCAL_SERVICES=0; shift ;;
    --user) SERVICE_USER=${2:?--user needs a name}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (--help lists them)" ;;
  esac
done

[ -n "$DOMAIN" ] || die "--domain is required (the site's host name, e.g. reports.example.com)"
[[ $DOMAIN =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || die "--domain: not a host name: $DOMAIN"
[[ $SERVICE_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "--user: not a user name: $SERVICE_USER"
if [ -n "$PREFIX" ]; then
  [[ $PREFIX = /* && $PREFIX != *"|"* ]] || die "--prefix must be an absolute path"
  PREFIX=${PREFIX%/}
fi
[[ $APP != *"|"* ]] || die "the checkout's path may not contain |"
[ "$(id -u)" = 0 ] || [ "$DRY_RUN" = 1 ] || die "run it as root (sudo), or with --dry-run"
# shellcheck source=/dev/null
. /etc/os-release
case "${ID:-}:${VERSION_ID:-}" in
  debian:12|debian:13) ;;
  *) die "this script is for Debian 12 or 13 (found ${PRETTY_NAME:-an unknown system})" ;;
esac

# Where everything goes (under --prefix for a trial).
HOME_DIR=$PREFIX/srv/smosite
VAR_DIR=$HOME_DIR/var
PYTHON_DIR=$HOME_DIR/python
ETC_DIR=$PREFIX/etc/smosite
UNIT_DIR=$PREFIX/etc/systemd/system
BIN_DIR=$PREFIX/usr/local/bin
NGINX_DIR=$PREFIX/etc/nginx
NGINX_LOG=$PREFIX/var/log/nginx
ACME_ROOT=$PREFIX/var/www/letsencrypt
CERT_DIR=$PREFIX/etc/letsencrypt/live/$DOMAIN
HOOK_DIR=$PREFIX/etc/letsencrypt/renewal-hooks/deploy
JOURNALD_DIR=$PREFIX/etc/systemd/journald.conf.d
REDIS_DIR=$PREFIX/etc/redis
BACKUP_DIR=$PREFIX/var/backups/smosite
SERVICE_GROUP=$(id -gn "$SERVICE_USER" 2>/dev/null || echo "$SERVICE_USER")
# Who owns the service's folders. A trial under --prefix on a machine without the user makes
# no user: root owns them there.
OWNER=$SERVICE_USER OWNER_GROUP=$SERVICE_GROUP
if [ -n "$PREFIX" ] && [ "$DRY_RUN" = 0 ] && ! id -u "$SERVICE_USER" >/dev/null 2>&1; then OWNER=root OWNER_GROUP=root; fi
PYTHON_VERSION=$(cat "$APP/.python-version")
UV_VERSION=$(grep -o 'uv==[0-9.]*' "$APP/Makefile" | head -n 1 | cut -d= -f3)
UV=$APP/.tools/bin/uv
UNITS=(smosite-web.service smosite-web-downloads.service smosite-worker-default.service
       smosite-worker-pdf.service smosite-worker-mail.service smosite-worker-payments.service
       smosite-beat.service)
# What WeasyPrint needs (the Makefile's APT_RUNTIME; a test keeps the two lists equal), what
# this script and the site need around it, and the local services.
RUNTIME_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0
                  libfontconfig1 fonts-dejavu-core fonts-lato fonts-open-sans)
PACKAGES=(ca-certificates git make python3-venv nginx certbot postgresql-client
          "${RUNTIME_PACKAGES[@]}")
[ "$LOCAL_SERVICES" = 1 ] && PACKAGES+=(postgresql redis-server)

quoted() { local out=() a; for a in "$@"; do out+=("$(printf '%q' "$a")"); done; echo "${out[*]}"; }
step() { printf '\n== %s\n' "$*"; }
# A change to the files this script installs (under --prefix when one is given).
run() {
  if [ "$DRY_RUN" = 1 ]; then echo "+ $(quoted "$@")"; else "$@"; fi
}
# A change outside the files: packages, users, services, the checkout's environment.
system() {
  if [ "$DRY_RUN" = 1 ]; then echo "+ $(quoted "$@")"
  elif [ -n "$PREFIX" ]; then echo "+ $(quoted "$@")    # not run: --prefix"
  else "$@"; fi
}
# This installation's values in a file of deploy/ (@NAME@ placeholders).
render() {
  sed -e "s|@APP@|$APP|g" -e "s|@HOME@|$HOME_DIR|g" -e "s|@VAR@|$VAR_DIR|g" \
      -e "s|@ETC@|$ETC_DIR|g" -e "s|@USER@|$SERVICE_USER|g" -e "s|@GROUP@|$SERVICE_GROUP|g" \
      -e "s|@DOMAIN@|$DOMAIN|g" -e "s|@BACKUP_DIR@|$BACKUP_DIR|g" \
      -e "s|@ACME_ROOT@|$ACME_ROOT|g" -e "s|@CERT_DIR@|$CERT_DIR|g" \
      -e "s|@NGINX_LOG@|$NGINX_LOG|g" "$1"
}
# put SOURCE DESTINATION MODE OWNER GROUP: install a rendered file, saying whether it changed.
put() {
  local rendered
  rendered=$(mktemp)
  render "$APP/deploy/$1" >"$rendered"
  if grep -q '@[A-Z_]*@' "$rendered"; then rm -f "$rendered"; die "deploy/$1: a placeholder is left"; fi
  if [ -f "$2" ] && cmp -s "$rendered" "$2" \
     && [ "$(stat -c '%a %U %G' "$2")" = "$3 $4 $5" ]; then
    echo "  unchanged $2"
  elif [ "$DRY_RUN" = 1 ]; then
    echo "+ install -m $3 -o $4 -g $5 deploy/$1 $2    # rendered"
  else
    install -m "$3" -o "$4" -g "$5" "$rendered" "$2"
    echo "  wrote $2"
  fi
  rm -f "$rendered"
}

step "Debian packages"
system apt-get update -qq
system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

step "The service user and its folders"
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
  echo "  user $SERVICE_USER exists"
else
  system useradd --system --user-group --home-dir "$HOME_DIR" --no-create-home \
    --shell /usr/sbin/nologin "$SERVICE_USER"
fi
# nginx sends paid downloads from the runtime folder (X-Accel-Redirect): it reads it as a
# member of the service's group (the units' UMask=0027 keeps files group-readable).
system usermod -a -G "$SERVICE_GROUP" www-data
# The code and the environment belong to root; the service writes only its runtime folder.
run install -d -m 0750 -o root -g "$OWNER_GROUP" "$HOME_DIR"
run install -d -m 0750 -o "$OWNER" -g "$OWNER_GROUP" "$VAR_DIR" "$VAR_DIR/private" \
  "$VAR_DIR/cache" "$BACKUP_DIR"
run install -d -m 0755 -o root -g root "$ETC_DIR" "$ACME_ROOT"
# The system's own folders keep the owners and modes their packages gave them
# (/var/log/nginx is root:adm, /etc/redis redis:redis 2770): made only where missing.
for folder in "$UNIT_DIR" "$BIN_DIR" "$NGINX_DIR/sites-available" "$NGINX_DIR/sites-enabled" \
              "$NGINX_LOG" "$HOOK_DIR" "$JOURNALD_DIR"; do
  [ -d "$folder" ] || run install -d -m 0755 -o root -g root "$folder"
done

step "Python $PYTHON_VERSION and the site's environment (uv $UV_VERSION, $APP/.venv)"
[ -x "$UV" ] || system python3 -m venv "$APP/.tools"
[ -x "$UV" ] && [ "$("$UV" --version | cut -d' ' -f2)" = "$UV_VERSION" ] \
  || system "$APP/.tools/bin/pip" install --quiet "uv==$UV_VERSION"
if [ -n "$PYTHON" ]; then
  found=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
    || die "--python: $PYTHON does not run"
  [ "$found" = "${PYTHON_VERSION%.*}" ] || die "--python: $PYTHON is $found, the site needs $PYTHON_VERSION"
  UV_PYTHON_CHOICE=$PYTHON
else
  # uv's managed Python (python-build-standalone), where the service user can read it.
  system env UV_PYTHON_INSTALL_DIR="$PYTHON_DIR" "$UV" python install "$PYTHON_VERSION"
  UV_PYTHON_CHOICE=$PYTHON_VERSION
fi
system env UV_PYTHON_INSTALL_DIR="$PYTHON_DIR" UV_PYTHON_DOWNLOADS=never \
  UV_PYTHON="$UV_PYTHON_CHOICE" "$UV" sync --directory "$APP" --frozen --no-dev --compile-bytecode

step "The environment file ($ETC_DIR/env)"
if [ -e "$ETC_DIR/env" ]; then
  echo "  kept $ETC_DIR/env (never overwritten)"
  # Variables a new release's template sets that the file does not: worth a look.
  missing=$(comm -23 <(grep -o '^[A-Z][A-Z0-9_]*=' "$APP/deploy/env.template" | sort -u) \
                     <(grep -o '^[[:space:]]*[A-Z][A-Z0-9_]*[[:space:]]*=' "$ETC_DIR/env" | tr -d ' \t' | sort -u) \
            | tr -d = | tr '\n' ' ')
  [ -z "$missing" ] || echo "  the template sets what it does not: $missing(deploy/env.template)"
elif [ "$DRY_RUN" = 1 ]; then
  echo "+ install -m 0600 -o root -g root deploy/env.template $ETC_DIR/env    # rendered, with a new DJANGO_SECRET_KEY"
else
  secret=$(head -c 96 /dev/urandom | base64 -w 0 | tr -d '/+=' | cut -c 1-64)
  ( umask 077; render "$APP/deploy/env.template" | sed "s|@SECRET_KEY@|$secret|" >"$ETC_DIR/env.new" )
  chown root:root "$ETC_DIR/env.new"
  mv "$ETC_DIR/env.new" "$ETC_DIR/env"
  echo "  wrote $ETC_DIR/env (mode 0600, with a new DJANGO_SECRET_KEY): edit it before the first start"
fi

step "systemd units ($UNIT_DIR)"
for unit in "${UNITS[@]}" smosite.target smosite-backup.service smosite-backup.timer; do
  put "systemd/$unit" "$UNIT_DIR/$unit" 644 root root
done
put bin/smosite "$BIN_DIR/smosite" 755 root root

step "nginx ($NGINX_DIR), TLS and certbot's renewal hook"
put nginx/smosite-http.conf "$NGINX_DIR/sites-available/smosite-http.conf" 644 root root
put nginx/smosite-https.conf "$NGINX_DIR/sites-available/smosite-https.conf" 644 root root
put certbot/smosite-reload-nginx "$HOOK_DIR/smosite-reload-nginx" 755 root root
enable_site() {
  [ -L "$NGINX_DIR/sites-enabled/$1" ] && { echo "  enabled $1"; return; }
  run ln -s "../sites-available/$1" "$NGINX_DIR/sites-enabled/$1"
}
enable_site smosite-http.conf
# Debian's own site also claims default_server on port 80.
[ -L "$NGINX_DIR/sites-enabled/default" ] && run rm "$NGINX_DIR/sites-enabled/default"
if [ -f "$CERT_DIR/fullchain.pem" ]; then
  enable_site smosite-https.conf
else
  echo "  HTTPS waits for its certificate: sudo certbot certonly --webroot -w $ACME_ROOT -d $DOMAIN"
  echo "  then run this script again (it enables smosite-https.conf)"
fi
system nginx -t -q
system systemctl reload-or-restart nginx

step "Logs and backups"
if [ -e "$JOURNALD_DIR/smosite.conf" ]; then
  echo "  kept $JOURNALD_DIR/smosite.conf"
else
  put journald/smosite.conf "$JOURNALD_DIR/smosite.conf" 644 root root
  system systemctl restart systemd-journald
fi

if [ "$LOCAL_SERVICES" = 1 ]; then
  step "PostgreSQL and Redis on this machine"
  # The database and its owner, named after the service user (peer authentication: the
  # units connect through the socket as that user, with no password).
  if [ "$DRY_RUN" = 1 ] || [ -n "$PREFIX" ]; then
    system runuser -u postgres -- createuser "$SERVICE_USER"
    system runuser -u postgres -- createdb -O "$SERVICE_USER" "$SERVICE_USER"
  else
    runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$SERVICE_USER'" \
      | grep -q 1 || runuser -u postgres -- createuser "$SERVICE_USER"
    runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$SERVICE_USER'" \
      | grep -q 1 || runuser -u postgres -- createdb -O "$SERVICE_USER" "$SERVICE_USER"
  fi
  # The cache's own Redis (port 6380, evicts); Debian's default instance is the broker.
  if [ -e "$REDIS_DIR/redis-cache.conf" ]; then
    echo "  kept $REDIS_DIR/redis-cache.conf"
  else
    redis_owner=root
    id -u redis >/dev/null 2>&1 && redis_owner=redis
    [ -d "$REDIS_DIR" ] || run install -d -m 0755 -o root -g root "$REDIS_DIR"
    put redis/redis-cache.conf "$REDIS_DIR/redis-cache.conf" 640 "$redis_owner" "$redis_owner"
  fi
  system systemctl enable --now redis-server.service redis-server@cache.service
fi

step "Enable the units (nothing is started)"
system systemctl daemon-reload
system systemctl enable smosite.target "${UNITS[@]}" smosite-backup.timer

cat <<EOF

Next (docs/deploy.md, "A single VM"):
  1. sudoedit $ETC_DIR/env        EMAIL_URL, STRIPE_*, DEFAULT_FROM_EMAIL, SALES_INBOX_EMAIL…
  2. sudo smosite manage site_init     migrate, the seed report, the first admin and their
                                       authenticator app (safe to run again)
  3. sudo certbot certonly --webroot -w $ACME_ROOT -d $DOMAIN
     sudo $APP/deploy/install.sh --domain $DOMAIN     (enables HTTPS)
  4. sudo systemctl start smosite.target smosite-backup.timer
EOF
