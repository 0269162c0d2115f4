#!/bin/sh
# make demo: a working folder, the sample customer mail from examples/mail
# ingested into it, and the tickets that came out. The folder is always the
# same one next to the binary (build/demo), emptied at each run, so that
# running the demo again leaves nothing new behind.
set -eu
BIN=${1:-build/postdesk}
WORK="$(cd "$(dirname "$BIN")" && pwd)/demo"
CONF="$WORK/desk/postdesk.conf"
pd() { "$BIN" --config "$CONF" "$@"; }

# Bold commands on a terminal; plain text in a log or a pipe.
if [ -t 1 ]; then BOLD=$(printf '\033[1m'); PLAIN=$(printf '\033[0m'); else BOLD=; PLAIN=; fi
step() { printf '\n%s$ postdesk %s%s\n' "$BOLD" "$*" "$PLAIN"; }

rm -rf "$WORK"
mkdir -p "$WORK"
printf 'The demo works in %s (emptied at each run of make demo).\n' "$WORK"

step init "$WORK/desk"
"$BIN" init "$WORK/desk"

step ingest examples/mail
pd ingest examples/mail

step tickets list
pd tickets list

# Each ticket's severity, why, and its SLA deadlines on its plan's calendar.
for n in 1 2 3 4; do
  step "tickets show SUP-$n    # its first lines"
  pd tickets show SUP-$n | sed -n '1,/^$/p'
done

step send --once
pd send --once

step tickets show SUP-1
pd tickets show SUP-1

step tickets show --json SUP-3
pd tickets show --json SUP-3

step rules test examples/mail/01-production-down.eml examples/mail/03-german-question.eml
pd rules test examples/mail/01-production-down.eml examples/mail/03-german-question.eml

step quarantine list
pd quarantine list

first=$(ls "$WORK/desk/var/outgoing/new" | head -1)
printf '\n%sThe acknowledgement SUP-1 got%s (delivered to %s)\n' "$BOLD" "$PLAIN" "$WORK/desk/var/outgoing/new/"
pd templates render ack SUP-1

cat <<MSG

${BOLD}What next${PLAIN}
The program is $BIN; the demo's desk is $WORK/desk
(database: var/postdesk.db). Go on exploring it:
  $BIN --config $CONF tickets show SUP-2
  $BIN --config $CONF quarantine show 1
To have postdesk on your PATH, install it in your home folder:
  make install PREFIX=\$HOME/.local     # then: postdesk --help
The next make demo starts $WORK afresh; make clean removes it.
MSG
