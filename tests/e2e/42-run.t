#!/bin/bash
# postdesk run against a real Dovecot and a real SMTP receiver: customer
# mail in the IMAP inbox becomes tickets and the acknowledgements arrive
# over SMTP, answering the right message; a second run --once does nothing
# twice; the running daemon sees new mail in IDLE and has its
# acknowledgement out within seconds, reloads on SIGHUP, and exits 0
# promptly on SIGTERM.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
. "$POSTDESK_SRC/tests/e2e/dovecot.sh"
. "$POSTDESK_SRC/tests/e2e/smtp.sh"

why=$(dovecot_missing)
[ -z "$why" ] && ! "$PY" -c 'import aiosmtpd' 2>/dev/null && why="python3-aiosmtpd is not installed"
if [ -n "$why" ]; then
  skip "postdesk run against Dovecot and aiosmtpd" "$why"
  done_testing
  exit 0
fi
dovecot_start; ok $? "a throwaway Dovecot starts"
daemon=""
# dovecot_start set its own EXIT trap: one trap stops everything this test started.
trap '[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null; _smtp_stop_all; dovecot_stop; rm -rf "$T"' EXIT
smtp_start plain; ok $? "an SMTP receiver on loopback port $SMTP_PORT"

db () { sqlite3 "$DESK/var/postdesk.db" "$1"; }
delivered () { ls "$SMTP_DIR/mail/new" 2>/dev/null | wc -l; }
# customer N ADDRESS SUBJECT: a customer's message in $T/cN.eml.
customer () {
  printf 'From: Customer %s <%s>\nTo: support@example.com\nSubject: %s\nMessage-ID: <c%s@acme.example>\nDate: %s\n\nHello, please help with %s.\n' \
    "$1" "$2" "$3" "$1" "$(date -R)" "$3" > "$T/c$1.eml"
}
now () { LC_ALL=C date -u '+%d-%b-%Y %H:%M:%S +0000'; }
# ack_for N: the delivered acknowledgement answering customer message N.
ack_for () { grep -l "^In-Reply-To: <c$1@acme.example>" "$SMTP_DIR"/mail/new/* 2>/dev/null; }

new_desk desk
sed -i "s|^url = maildir:var/outgoing\$|url = smtp://127.0.0.1:$SMTP_PORT\ntls = none|" "$CONF"
grep -q "^url = smtp://127.0.0.1:$SMTP_PORT" "$CONF"; ok $? "the [transport] is the SMTP receiver"
mailbox_conf support "imaps://localhost:$DOVECOT_IMAPS/INBOX" "ca_file = $DOVECOT_DIR/ca.pem" "after = move:Processed"

# ---- run --once: tickets, then acknowledgements over SMTP ----------------------
customer 1 ann@acme.example "license renewal"
customer 2 bob@globex.example "the export fails"
imap_append INBOX "$(now)" "$T/c1.eml" "$T/c2.eml"
out=$(pd run --once 2>"$T/err"); rc=$?
is "$rc" 0 "run --once exits 0"
is "$out" "ingested 2 messages from mailbox support: 2 new tickets, 0 threaded, 0 duplicates, 0 quarantined, 2 moved to Processed
sent 2, retry later 0, failed 0" "it says what it ingested and what it sent"
grep -q 'no \[transport\]' "$T/err"; is $? 1 "a configured transport is not reported missing"
is "$(pd tickets list --json | jq length)" 2 "two tickets"
is "$(imap_count INBOX)/$(imap_count Processed)" "0/2" "both messages were moved to Processed"
is "$(delivered)" 2 "the SMTP receiver got two messages"
ack=$(ack_for 1)
is "$(grep -c . <<<"$ack")" 1 "one acknowledgement answers Ann's message (In-Reply-To)"
is "$(grep -m1 '^To:' "$ack")" "To: ann@acme.example" "it is addressed to Ann"
like "$(grep -m1 '^Subject:' "$ack")" "\\[SUP-[0-9]+\\].*license renewal" "its subject carries the ticket and her subject"
is "$(grep -m1 '^X-RcptTo:' "$ack")" "X-RcptTo: ann@acme.example" "the envelope goes to her only"
is "$(grep -m1 '^X-MailFrom:' "$ack")" "X-MailFrom: support@example.com" "from the support address"
like "$(grep -m1 '^To:' "$(ack_for 2)")" "bob@globex.example" "Bob's acknowledgement is addressed to Bob"
is "$(db "SELECT group_concat(status) FROM outbox")" "sent,sent" "both outbox rows are sent"
grep -q secret "$T/err"; is $? 1 "the IMAP password is never printed"

out=$(pd run --once 2>&1); rc=$?
is "$rc" 0 "a second run --once exits 0"
is "$out" "nothing new in mailbox support
sent 0, retry later 0, failed 0" "and finds nothing to do"
is "$(pd tickets list --json | jq length)/$(db "SELECT count(*) FROM outbox")/$(delivered)" "2/2/2" \
   "nothing is stored, queued or sent twice"

# ---- without a [transport]: ingest only, and say so --------------------------------
new_desk ingest-only
sed -i '/^\[transport\]/,/^\[/{/^url = /d}' "$CONF"
imap_py "M.create('Other')"
mailbox_conf other "imaps://localhost:$DOVECOT_IMAPS/Other" "ca_file = $DOVECOT_DIR/ca.pem" "after = flag:seen"
customer 3 carol@initech.example "a question"
imap_append Other "$(now)" "$T/c3.eml"
out=$(pd run --once 2>"$T/err"); rc=$?
is "$rc" 0 "run --once without a transport exits 0"
like "$out" "ingested 1 message from mailbox other: 1 new ticket" "it ingests"
like "$(cat "$T/err")" "has no \\[transport\\] url: mail is ingested, acknowledgements wait in the outbox" "and says the outbox waits"
is "$(db "SELECT status FROM outbox")" "queued" "the acknowledgement is queued, not sent"
is "$(delivered)" 2 "nothing reached the SMTP receiver"

# ---- the daemon: IDLE, an acknowledgement within seconds, SIGHUP, SIGTERM ---------
DESK="$T/desk" CONF="$T/desk/postdesk.conf"
"$POSTDESK" --config "$CONF" run >"$T/run.out" 2>"$T/run.log" &
daemon=$!
for _ in $(seq 200); do grep -q "watching 1 mailbox" "$T/run.log" && break; sleep 0.05; done
like "$(cat "$T/run.log")" "watching 1 mailbox, delivering the outbox" "the daemon starts and says what it does"
sleep 1   # the first cycle is done and the daemon waits in IDLE
kill -HUP "$daemon"
customer 4 dave@acme.example "the daemon test"
imap_append INBOX "$(now)" "$T/c4.eml"
# Bounded: IDLE wakes within a second; 20 s only guards a slow machine.
for _ in $(seq 200); do [ -n "$(ack_for 4)" ] && break; sleep 0.1; done
ok "$([ -n "$(ack_for 4)" ]; echo $?)" "the daemon acknowledged new mail while running (IDLE, not a 60 s poll)"
like "$(grep -m1 '^To:' "$(ack_for 4)")" "dave@acme.example" "to the customer who wrote"
like "$(cat "$T/run.log")" "ingested 1 message from mailbox support: 1 new ticket" "the log line names the mailbox and the counts"
like "$(cat "$T/run.log")" "outbox: sent 1, retry later 0, failed 0" "and the delivery"
like "$(cat "$T/run.log")" "reloaded rules from" "SIGHUP reloaded the rules"
like "$(cat "$T/run.log")" "reloaded templates from" "and the templates"
kill -0 "$daemon" 2>/dev/null; ok $? "the daemon is still running"
kill -TERM "$daemon"
for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null; is $? 1 "SIGTERM ends it within 10 seconds"
wait "$daemon"; rc=$?
daemon=""
is "$rc" 0 "and it exits 0"
is "$(pd tickets list --json | jq length)/$(db "SELECT count(*) FROM outbox WHERE status = 'sent'")/$(delivered)" "3/3/3" \
   "three tickets, three acknowledgements sent and delivered: nothing doubled"
grep -q secret "$T/run.log"; is $? 1 "the log never shows the password"
grep -q "please help" "$T/run.log"; is $? 1 "nor a message body"
done_testing
