#!/bin/sh
# make demo: a throwaway working folder, the sample customer mail from
# examples/mail ingested into it, and the tickets that came out.
set -eu
BIN=${1:-build/postdesk}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/postdesk-demo.XXXXXX")
CONF="$WORK/desk/postdesk.conf"
pd() { "$BIN" --config "$CONF" "$@"; }

step() { printf '\n\033[1m$ postdesk %s\033[0m\n' "$*"; }

printf '\033[1m$ postdesk init %s/desk\033[0m\n' "$WORK"
"$BIN" init "$WORK/desk"

step ingest examples/mail
pd ingest examples/mail

step tickets list
pd tickets list

step tickets show SUP-1
pd tickets show SUP-1

step tickets show --json SUP-3
pd tickets show --json SUP-3

step quarantine list
pd quarantine list

cat <<MSG

The demo's working folder is $WORK/desk (database: var/postdesk.db).
Try: $BIN --config $CONF tickets show SUP-2
Remove it with: rm -rf $WORK
MSG
