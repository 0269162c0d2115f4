#!/bin/bash
# postdesk send --once delivers the outbox into a Maildir or through
# sendmail: files appear in new/, rows become sent, a second run sends
# nothing, a refusing sendmail leaves the row queued with its error and a
# later attempt, and a sender killed while delivering neither loses nor
# doubles a message. There is no producer of outbox rows yet, so the
# rows are written with sqlite3 as a fixture.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

new_desk desk
DB="$DESK/var/postdesk.db"
pd ingest --no-ack "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml" >/dev/null 2>&1; ok $? "a ticket to write about"

# queue N FIRST: N outbox rows for ticket 1, Message-IDs out-FIRST..., due now.
queue () {
  local i
  for i in $(seq "$2" $(("$2" + "$1" - 1))); do
    printf 'From: support@example.com\r\nTo: ann@example.org\r\nMessage-ID: <out-%s@example.com>\r\nSubject: [SUP-1] n%s\r\n\r\nBody %s.\r\n' "$i" "$i" "$i" > "$T/raw-$i"
    echo "INSERT INTO outbox (ticket_id, kind, recipients, subject, message_id, body_text, raw, created_at, next_attempt_at)
          VALUES (1, 'relay', '[\"ann@example.org\"]', '[SUP-1] n$i', 'out-$i@example.com', 'Body $i.', readfile('$T/raw-$i'), unixepoch(), unixepoch());"
  done | sqlite3 "$DB"
}
q () { sqlite3 "$DB" "$1"; }

# ---- maildir ----
printf '\n[transport]\nurl = maildir:var/outgoing\n' >> "$CONF"
queue 3 1
out=$(pd send --once 2>&1); rc=$?
is "$rc" 0 "send --once exits 0 when everything due was sent"
is "$out" "sent 3, retry later 0, failed 0" "it says what it did in one line"
is "$(ls "$DESK/var/outgoing/new" | wc -l)" 3 "three files in the Maildir's new/"
is "$(ls "$DESK/var/outgoing/tmp" | wc -l)" 0 "nothing left in tmp/"
is "$(q "SELECT count(*) FROM outbox WHERE status = 'sent' AND sent_at IS NOT NULL AND attempts = 1")" 3 "the rows are sent"
grep -q '^Message-ID: <out-2@example.com>$' "$DESK"/var/outgoing/new/*; ok $? "a delivered file is the message, with local line ends"
json=$(pd outbox list --json)
is "$(printf '%s' "$json" | jq -r '.[0] | [.status, .attempts, (.sent_at | test("Z$")), .next_attempt_at] | @tsv')" \
   "$(printf 'sent\t1\ttrue\t')" "outbox list --json shows status, attempts, sent_at and next_attempt_at"
is "$(pd send --once 2>&1)" "sent 0, retry later 0, failed 0" "a second run sends nothing"
is "$(ls "$DESK/var/outgoing/new" | wc -l)" 3 "and writes nothing"

# The crash window: the file was written, the row never marked sent.
q "UPDATE outbox SET status = 'sending', sent_at = NULL WHERE id = 2"
out=$(pd send --once 2>&1)
like "$out" "1 interrupted deliveries queued again" "a row left sending is queued again at start"
like "$out" "sent 1, retry later 0, failed 0" "and delivered again"
is "$(ls "$DESK/var/outgoing/new" | wc -l)" 3 "without a second file: its name comes from its Message-ID"

# kill -9 in the middle of a batch: restart, and every message is there once.
queue 60 100
# The binary itself, not the pd function, so that $! is postdesk's pid.
"$POSTDESK" --config "$CONF" send --once >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ "$(ls "$DESK/var/outgoing/new" | wc -l)" -gt 5 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
left=$(q "SELECT count(*) FROM outbox WHERE status != 'sent'")
echo "# killed with $left of 63 rows not yet sent"
pd send --once >/dev/null 2>&1; ok $? "the next run finishes the batch"
is "$(q "SELECT count(*) FROM outbox WHERE status = 'sent'")" 63 "every row is sent"
is "$(ls "$DESK/var/outgoing/new" | wc -l)" 63 "every message is in the Maildir"
is "$(cat "$DESK"/var/outgoing/new/* | grep -c '^Message-ID: ')" 63 "each exactly once"

# ---- sendmail ----
mkdir -p "$T/bin"
cat > "$T/bin/sendmail" <<SH
#!/bin/sh
printf '%s\n' "\$*" >> "$T/sendmail.log"
cat > /dev/null
echo "mail.example.com: Connection refused" >&2
exit \${FAKE_STATUS:-75}
SH
chmod +x "$T/bin/sendmail"
sed -i "s|^url = .*|url = sendmail:$T/bin/sendmail|" "$CONF"
queue 1 200
before=$(date +%s)
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "send --once exits 1 when a message could not be sent"
like "$out" "sent 0, retry later 1, failed 0" "a temporary failure is retried later"
like "$out" "outbox 64 \(SUP-1\) to ann@example.org: will retry at .*status 75: mail.example.com: Connection refused" \
     "the log names the outbox id, the ticket, the recipient and the reason"
is "$(cat "$T/sendmail.log")" "-i -f support@example.com -- ann@example.org" "sendmail got -i -f SENDER -- RCPT"
is "$(q "SELECT status, attempts FROM outbox WHERE id = 64")" "queued|1" "the row stays queued with one attempt"
like "$(q "SELECT last_error FROM outbox WHERE id = 64")" "exited with status 75" "and its error"
next=$(q "SELECT next_attempt_at FROM outbox WHERE id = 64")
[ "$next" -ge $((before + 60)) ] && [ "$next" -le $(( $(date +%s) + 66 )) ]; ok $? "its next attempt is about a minute later"
is "$(pd send --once 2>&1)" "sent 0, retry later 0, failed 0" "it is not tried again before then"

# Due again, refused for good: failed, with an event on the ticket.
q "UPDATE outbox SET next_attempt_at = unixepoch() WHERE id = 64"
out=$(FAKE_STATUS=1 pd send --once 2>&1); rc=$?
is "$rc" 1 "a permanent failure exits 1"
like "$out" "sent 0, retry later 0, failed 1" "and is counted as failed"
is "$(q "SELECT status, attempts FROM outbox WHERE id = 64")" "failed|2" "the row is failed"
is "$(q "SELECT count(*) FROM events WHERE ticket_id = 1 AND type = 'delivery-failed' AND json_extract(detail, '$.error') LIKE '%status 1:%'")" 1 \
   "the ticket has a delivery-failed event with the reason"

# Only one sender at a time.
exec 9>"$DB.send-lock"
flock -n 9
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a second sender exits 1"
like "$out" "another 'postdesk send' is delivering" "and says why"
exec 9>&-

# The daemon: delivers, then stops cleanly on SIGTERM.
sed -i "s|^url = .*|url = maildir:var/outgoing|" "$CONF"
queue 1 300
"$POSTDESK" --config "$CONF" send > "$T/daemon.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
  [ "$(q "SELECT status FROM outbox WHERE message_id = 'out-300@example.com'")" = sent ] && break
  sleep 0.02
done
queue 1 301
for _ in $(seq 300); do
  [ "$(q "SELECT status FROM outbox WHERE message_id = 'out-301@example.com'")" = sent ] && break
  sleep 0.02
done
is "$(q "SELECT count(*) FROM outbox WHERE message_id IN ('out-300@example.com', 'out-301@example.com') AND status = 'sent'")" 2 \
   "a running sender delivers rows queued while it runs"
kill -TERM "$pid"; wait "$pid"; rc=$?
is "$rc" 0 "SIGTERM stops it with exit status 0"
is "$(cat "$T/daemon.out")" "sent 2, retry later 0, failed 0" "and it sums up what it did"

# Configuration.
sed -i "s|^url = .*|url = lmtp://smtp.example.com:24|" "$CONF"
out=$(pd send --once 2>&1); rc=$?
is "$rc" 2 "an unknown transport is a configuration error"
like "$out" "postdesk.conf:[0-9]+: \[transport\] url: unknown transport 'lmtp:'" "naming file, line and key"
done_testing
