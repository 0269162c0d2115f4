#!/bin/sh
# make demo: the mail loop on this machine. A throwaway Dovecot and an SMTP
# receiver (aiosmtpd) start on loopback ports, the sample customer mail from
# examples/mail goes into the IMAP inbox, `postdesk run --once` turns it
# into tickets and sends the acknowledgements over SMTP, and the demo shows
# the tickets and the mail the receiver got. Where Dovecot cannot run (it
# needs root here), the demo says why and ingests the same mail from files,
# delivering to a Maildir instead.
#
# The folder is always the same one next to the binary (build/demo),
# emptied at each run, so that running the demo again leaves nothing new
# behind; the servers stop when the demo ends, however it ends.
set -eu
BIN=${1:-build/postdesk}
WORK="$(cd "$(dirname "$BIN")" && pwd)/demo"
CONF="$WORK/desk/postdesk.conf"
POSTDESK_SRC=$(cd "$(dirname "$0")/.." && pwd)
pd() { "$BIN" --config "$CONF" "$@"; }

# Bold commands on a terminal; plain text in a log or a pipe.
if [ -t 1 ]; then BOLD=$(printf '\033[1m'); PLAIN=$(printf '\033[0m'); else BOLD=; PLAIN=; fi
step() { printf '\n%s$ postdesk %s%s\n' "$BOLD" "$*" "$PLAIN"; }
title() { printf '\n%s%s%s\n' "$BOLD" "$*" "$PLAIN"; }

rm -rf "$WORK"
mkdir -p "$WORK"
printf 'The demo works in %s (emptied at each run of make demo).\n' "$WORK"

# The servers' folder: the helpers need T before they are sourced.
T="$WORK/servers"
. "$POSTDESK_SRC/scripts/loopback.sh"
loop=yes
why=$(loopback_missing)
if [ -z "$why" ]; then
  # The servers' folder stays after the demo (the received mail is worth
  # a look); only the processes go.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  started=yes
  loopback_start >"$WORK/servers.log" 2>&1 || started=no
  # After loopback_start, which sets EXIT traps of its own along the way.
  trap 'loopback_stop' EXIT
  if [ "$started" = no ]; then
    why="the throwaway Dovecot or SMTP receiver did not start (see $WORK/servers.log and $T/dovecot/main.log)"
    loopback_stop
  fi
fi
if [ -n "$why" ]; then
  loop=no
  title "The real mail loop needs a throwaway Dovecot, which cannot start here:"
  printf '%s.\nThe demo ingests the same mail from files instead, and delivers to a Maildir.\n' "$why"
fi

step init "$WORK/desk"
"$BIN" init "$WORK/desk"

if [ "$loop" = yes ]; then
  # The desk reads the inbox over IMAPS, verified against the test CA the
  # helpers made, moves what it stored to Processed, and sends over plain
  # SMTP, which postdesk allows on a loopback address only.
  sed -i "s|^url = maildir:var/outgoing\$|url = smtp://127.0.0.1:$SMTP_PORT\ntls = none|" "$CONF"
  mailbox_conf support "imaps://localhost:$DOVECOT_IMAPS/INBOX" "ca_file = $DOVECOT_DIR/ca.pem" "after = move:Processed"
  title "A throwaway Dovecot listens on 127.0.0.1:$DOVECOT_IMAPS (IMAPS), an SMTP receiver on 127.0.0.1:$SMTP_PORT."
  echo "postdesk.conf now has:"
  sed -n '/^\[transport\]/,/^tls/p; /^\[mailbox support\]/,$p' "$CONF" | grep -v '^#' | sed 's/^/  /'

  title "Appending the sample customer mail (examples/mail) to the IMAP inbox"
  # Now as the arrival time: older mail would be ingested without an
  # acknowledgement (ack_max_age), and the demo is about the acknowledgements.
  imap_append INBOX "$(LC_ALL=C date -u '+%d-%b-%Y %H:%M:%S +0000')" examples/mail/*.eml
  echo "INBOX: $(imap_count INBOX) messages"

  step run --once
  pd run --once
  echo "INBOX: $(imap_count INBOX) messages, Processed: $(imap_count Processed)"
else
  step ingest examples/mail
  pd ingest examples/mail
fi

step tickets list
pd tickets list

# Each ticket's severity, why, and its SLA deadlines on its plan's calendar.
for n in 1 2 3 4; do
  step "tickets show SUP-$n    # its first lines"
  pd tickets show SUP-$n | sed -n '1,/^$/p'
done

if [ "$loop" = no ]; then
  step send --once
  pd send --once
fi

step tickets show SUP-1
pd tickets show SUP-1

step tickets show --json SUP-3
pd tickets show --json SUP-3

step rules test examples/mail/01-production-down.eml examples/mail/03-german-question.eml
pd rules test examples/mail/01-production-down.eml examples/mail/03-german-question.eml

step quarantine list
pd quarantine list

if [ "$loop" = yes ]; then
  inbox="$SMTP_DIR/mail/new"
  title "The SMTP receiver got $(ls "$inbox" | wc -l) acknowledgements (in $inbox)"
  # Python's email package decodes the MIME-encoded subjects and the
  # quoted-printable body, as a mail client would show them. The one shown
  # in full answers the first sample message (In-Reply-To).
  first_id=$(grep -m1 -i '^Message-ID:' examples/mail/01-production-down.eml | sed 's/^[^:]*: *//')
  "$PY" - "$inbox" "$first_id" "$BOLD" "$PLAIN" <<'EOF'
import email, email.policy, os, sys
inbox, first_id, bold, plain = sys.argv[1:]
shown = None
for name in sorted(os.listdir(inbox)):
    with open(os.path.join(inbox, name), "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    print("  To: %s\n    From: %s\n    Subject: %s" % (m["To"], m["From"], m["Subject"]))
    if m["In-Reply-To"] == first_id:
        shown = m
if shown:
    print("\n%sThe acknowledgement SUP-1 got, as the SMTP receiver has it%s" % (bold, plain))
    # The receiver's envelope lines (X-MailFrom, X-RcptTo) show where the
    # SMTP transaction itself sent it.
    for h in ("From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "Auto-Submitted", "X-MailFrom", "X-RcptTo"):
        if shown[h]:
            print("%s: %s" % (h, shown[h]))
    print()
    print(shown.get_content(), end="")
EOF
else
  printf '\n%sThe acknowledgement SUP-1 got%s (delivered to %s)\n' "$BOLD" "$PLAIN" "$WORK/desk/var/outgoing/new/"
  pd templates render ack SUP-1
fi

cat <<MSG

${BOLD}What next${PLAIN}
The program is $BIN; the demo's desk is $WORK/desk
(database: var/postdesk.db). Go on exploring it:
  $BIN --config $CONF tickets show SUP-2
  $BIN --config $CONF quarantine show 1
  $BIN --config $CONF templates render ack SUP-1
MSG
if [ "$loop" = yes ]; then
  cat <<MSG
The servers stopped with the demo; their folder ($T) keeps the
received mail ($SMTP_DIR/mail) and their logs.
MSG
fi
cat <<MSG
To have postdesk on your PATH, install it in your home folder:
  make install PREFIX=\$HOME/.local     # then: postdesk --help
The next make demo starts $WORK afresh; make clean removes it.
MSG
