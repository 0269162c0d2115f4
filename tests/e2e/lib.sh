# tests/e2e/lib.sh - a small TAP library for the end-to-end tests. Each test
# script sources it, runs the real binary ($POSTDESK) against real files
# and a real SQLite database in its own temporary folder, and checks what
# came out. prove reads the TAP.
set -u
: "${POSTDESK:?run through make check, which sets POSTDESK}"
: "${POSTDESK_SRC:?run through make check, which sets POSTDESK_SRC}"
CORPUS="$POSTDESK_SRC/tests/corpus"
T=$(mktemp -d "${TMPDIR:-/tmp}/postdesk-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_failed=0

# ok CONDITION-EXIT-STATUS DESCRIPTION: "ok $? 'what'" after a command.
ok () {
  _n=$((_n + 1))
  if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}

# is GOT EXPECTED DESCRIPTION
is () {
  _n=$((_n + 1))
  if [ "$1" = "$2" ]; then
    echo "ok $_n - $3"
  else
    echo "not ok $_n - $3"
    printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"
    _failed=$((_failed + 1))
  fi
}

# like TEXT PATTERN(grep -E) DESCRIPTION
like () {
  _n=$((_n + 1))
  if printf '%s' "$1" | grep -qE -- "$2"; then
    echo "ok $_n - $3"
  else
    echo "not ok $_n - $3"
    printf '#   got: %s\n#   not matching: %s\n' "$(printf '%s' "$1" | head -c 600)" "$2"
    _failed=$((_failed + 1))
  fi
}

done_testing () {
  echo "1..$_n"
  [ "$_failed" -eq 0 ]
}

# A fresh working folder from `postdesk init`; sets DESK and CONF.
new_desk () {
  DESK="$T/${1:-desk}"
  CONF="$DESK/postdesk.conf"
  "$POSTDESK" init "$DESK" >/dev/null
}

pd () { "$POSTDESK" --config "$CONF" "$@"; }

# jq over `tickets show --json N`
ticket () { pd tickets show --json "$1" | jq -r "$2"; }

# skip DESCRIPTION REASON: a test that cannot run on this machine.
skip () {
  _n=$((_n + 1))
  echo "ok $_n - $1 # skip $2"
}
