#!/bin/bash
# A database error in the middle of a bulk import stops it with exit status
# 1 naming the message, keeps what was committed, and a rerun after the fix
# completes it exactly. Two imports of the same mail at once store it once.
# The failure is a real SQLite error, raised by a trigger added for the test.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

mkdir -p "$T/mail/new"
for i in $(seq 1 1200); do
  printf 'From: user%d@cust%d.test\nTo: support@example.com\nSubject: Case %d\nMessage-ID: <f%d@fail.test>\n\nBody %d.\n' \
    $((i % 50)) $((i % 7)) "$i" "$i" "$i" > "$T/mail/new/$(printf '%05d' "$i").m"
done
count () { sqlite3 "$DESK/var/postdesk.db" "$1"; }

new_desk
pd tickets list >/dev/null   # creates the database
count "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.subject = 'Case 900'
       BEGIN SELECT RAISE (ABORT, 'injected failure'); END;"
out=$(pd ingest "$T/mail" 2>"$T/err"); is "$?" 1 "a database error stops ingest with exit status 1"
like "$(cat "$T/err")" "00900\.m: .*injected failure" "naming the message it failed on and SQLite's error"
like "$out" "^ingested [0-9]+ messages" "the summary line is still printed"
stored=$(count "SELECT count(*) FROM messages")
ok $([ "$stored" -ge 500 ] && [ "$stored" -lt 900 ] && echo 0 || echo 1) \
   "committed batches before the failure are kept ($stored messages), the failing batch is not"
is "$(count "SELECT count(*) FROM messages WHERE subject = 'Case 900'")" 0 "the failing message is not stored"
count "DROP TRIGGER boom"
out=$(pd ingest "$T/mail"); ok $? "after the fix, the same ingest runs through"
is "$(count "SELECT count(*) FROM messages")" 1200 "every message is stored"
is "$(count "SELECT count(*) FROM (SELECT message_id FROM messages GROUP BY message_id HAVING count(*) > 1)")" 0 \
   "none twice"
like "$out" "[0-9]+ duplicates" "the messages kept before the failure are recognised as duplicates"

new_desk together
pd ingest "$T/mail" > "$T/a.out" 2>&1 &
a=$!
pd ingest "$T/mail" > "$T/b.out" 2>&1 &
b=$!
wait "$a"; ra=$?
wait "$b"; rb=$?
is "$ra/$rb" "0/0" "two ingests of the same mail at once both succeed"
is "$(count "SELECT count(*) FROM messages")" 1200 "and store every message once"
is "$(count "SELECT count(*) FROM tickets")" 1200 "one ticket per conversation (all 1200 are new)"
new=$(cat "$T/a.out" "$T/b.out" | sed -n 's/.*: \([0-9]*\) new tickets.*/\1/p' | awk '{s += $1} END {print s}')
is "$new" 1200 "between them the two runs opened each ticket exactly once"
out=$(pd tickets list --json | jq length); is "$out" 1200 "tickets list reads the database the writers left"
done_testing
