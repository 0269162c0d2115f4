#!/bin/bash
# kill -9 at any moment loses and doubles nothing: ingest a mailbox, kill
# the process at several points, ingest again, and compare with a run that
# was never interrupted. Whenever the kill lands (even after the end), the
# result must be identical.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

mkdir -p "$T/mail/new"
for i in $(seq 1 1500); do
  if [ $((i % 3)) -eq 0 ]; then
    parent=$((i - 1 - (i * 7) % (i - 1)))
    refs="In-Reply-To: <m$parent@crash.test>"
  else
    refs="X-Filler: none"
  fi
  printf 'From: user%d@cust%d.test\nTo: support@example.com\nSubject: Case %d\nMessage-ID: <m%d@crash.test>\n%s\n\nBody of message %d.\n' \
    $((i % 97)) $((i % 13)) "$i" "$i" "$refs" "$i" > "$T/mail/new/$(printf '%05d' "$i").crash"
done

# What the database looks like, less arrival times. message_count counts
# the acknowledgement each new ticket gets, so "the same" includes "exactly
# one acknowledgement per ticket, whenever the kill came".
state () {
  "$POSTDESK" --config "$1" tickets list --json | jq -c '[.[] | {id, subject, requester: .requester.address, message_count, linked_to}]'
}
# Each ticket's acknowledgements: one queued message per customer ticket.
acks () {
  sqlite3 "$1" "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'ack') != 1"
}

new_desk reference
pd ingest "$T/mail" >/dev/null; ok $? "uninterrupted ingest"
expected=$(state "$CONF")
is "$(sqlite3 "$DESK/var/postdesk.db" "SELECT count(*) FROM messages WHERE direction = 'in'")" 1500 \
   "all 1500 messages are stored"
is "$(acks "$DESK/var/postdesk.db")" 0 "every ticket has exactly one acknowledgement queued"

for delay in 0.05 0.15 0.2 0.25 0.3 0.35 0.5 0.8; do
  new_desk "crash-$delay"
  "$POSTDESK" --config "$CONF" ingest "$T/mail" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  partial=$(pd tickets list --json 2>/dev/null | jq '[.[].message_count] | add // 0')
  pd ingest "$T/mail" >/dev/null; ok $? "ingest after kill -9 at ${delay}s (had $partial messages)"
  is "$(state "$CONF")" "$expected" "after kill -9 at ${delay}s nothing is lost or doubled"
  is "$(acks "$DESK/var/postdesk.db")" 0 "and every ticket has exactly one acknowledgement"
  sqlite3 "$DESK/var/postdesk.db" 'PRAGMA integrity_check' | grep -qx ok; ok $? "the database is intact"
done
done_testing
