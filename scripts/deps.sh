#!/bin/sh
# Installs what postdesk needs on Debian 12, and nothing when it is all there.
#   scripts/deps.sh build   libraries and tools to build and run postdesk
#   scripts/deps.sh demo    the above, plus the throwaway Dovecot and SMTP
#                           receiver make demo runs the mail loop against
#   scripts/deps.sh test    the above, plus what the test suite and benchmark use
# It asks dpkg first so that a machine which has everything never needs root
# or the network; apt-get runs only for what is missing.
set -eu

BUILD_PKGS="build-essential pkg-config libglib2.0-dev libglib2.0-dev-bin libgmime-3.0-dev \
libsqlite3-dev libpcre2-dev libxml2-dev libjson-glib-dev libetpan-dev libgnutls28-dev libytnef0-dev tzdata \
libsasl2-modules"
DEMO_PKGS="python3 python3-aiosmtpd dovecot-imapd openssl"
# clang and its runtime (libclang_rt.fuzzer) are for make fuzz: libFuzzer.
TEST_PKGS="perl jq groff-base sqlite3 python3 python3-aiosmtpd dovecot-imapd openssl time \
clang libclang-rt-14-dev"

want="$BUILD_PKGS"
case "${1:-build}" in
  build) ;;
  demo) want="$BUILD_PKGS $DEMO_PKGS" ;;
  test) want="$BUILD_PKGS $TEST_PKGS" ;;
  *) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "postdesk: installing missing packages:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "postdesk: need root or sudo to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Only the services tests start themselves are wanted; keep Debian from
# starting dovecot system-wide on install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
