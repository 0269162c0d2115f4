#!/bin/bash
# A message the database refuses in the middle of a bulk import is
# quarantined with SQLite's reason and the import goes on; a retry after the
# fix stores it exactly once. Two imports of the same mail at once store it
# once. The failure is a real SQLite error, raised by a trigger added for
# the test. (A database that fails as a whole, a full disk, is 20-disk-full.t.)
. "$POSTDESK_SRC/tests/e2e/lib.sh"

mkdir -p "$T/mail/new"
for i in $(seq 1 1200); do
  printf 'From: user%d@cust%d.test\nTo: support@example.com\nSubject: Case %d\nMessage-ID: <f%d@fail.test>\n\nBody %d.\n' \
    $((i % 50)) $((i % 7)) "$i" "$i" "$i" > "$T/mail/new/$(printf '%05d' "$i").m"
done
count () { sqlite3 "$DESK/var/postdesk.db" "$1"; }

new_desk
count "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.subject = 'Case 900'
       BEGIN SELECT RAISE (ABORT, 'injected failure'); END;"
out=$(pd ingest "$T/mail" 2>"$T/err"); is "$?" 0 "a message the database refuses does not stop ingest"
like "$(cat "$T/err")" "00900\.m: the database refused the message: .*injected failure" \
  "it is quarantined, naming the message and SQLite's error"
like "$out" "ingested 1200 messages from .*: 1199 new tickets, 0 threaded, 0 duplicates, 1 quarantined" \
  "the summary counts it as quarantined"
is "$(count "SELECT count(*) FROM messages WHERE direction = 'in'")" 1199 "every other message is stored"
is "$(count "SELECT count(*) FROM quarantine q JOIN raw_messages r ON r.id = q.raw_id
             WHERE q.reason LIKE '%injected failure%' AND CAST(r.bytes AS TEXT) LIKE '%Case 900%'")" 1 \
   "the refused message is kept in the quarantine with its bytes and the reason"
count "DROP TRIGGER boom"
id=$(pd quarantine list --json | jq '.[0].id')
pd quarantine retry "$id" >/dev/null; ok $? "after the fix, a retry stores it"
is "$(count "SELECT count(*) FROM messages WHERE direction = 'in'")" 1200 "every message is stored"
out=$(pd ingest "$T/mail"); ok $? "the same ingest again runs through"
is "$(count "SELECT count(*) FROM (SELECT message_id FROM messages GROUP BY message_id HAVING count(*) > 1)")" 0 \
   "none twice"
like "$out" "1200 duplicates" "every message is recognised as a duplicate"

new_desk together
pd ingest "$T/mail" > "$T/a.out" 2>&1 &
a=$!
pd ingest "$T/mail" > "$T/b.out" 2>&1 &
b=$!
wait "$a"; ra=$?
wait "$b"; rb=$?
is "$ra/$rb" "0/0" "two ingests of the same mail at once both succeed"
is "$(count "SELECT count(*) FROM messages WHERE direction = 'in'")" 1200 "and store every message once"
is "$(count "SELECT count(*) FROM tickets")" 1200 "one ticket per conversation (all 1200 are new)"
new=$(cat "$T/a.out" "$T/b.out" | sed -n 's/.*: \([0-9]*\) new tickets.*/\1/p' | awk '{s += $1} END {print s}')
is "$new" 1200 "between them the two runs opened each ticket exactly once"
out=$(pd tickets list --json | jq length); is "$out" 1200 "tickets list reads the database the writers left"
done_testing
