#!/bin/bash
# What ingest is given by mistake is refused or skipped, never quarantined
# silently: closed or empty standard input, devices and named pipes, and
# files in a plain folder (such as /etc) that are not mail. The summary
# names what was ingested, and -q keeps cron quiet unless a person is needed.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk

out=$(pd ingest - <&- 2>"$T/err"); is "$?" 1 "closed standard input exits 1"
like "$(cat "$T/err")" "standard input: cannot be read" "naming standard input"
out=$(pd ingest - </dev/null 2>"$T/err"); ok $? "empty standard input exits 0"
is "$out" "nothing to ingest from standard input" "and says there is nothing to ingest"
is "$(pd quarantine list --json | jq length)" 0 "nothing is quarantined for either"

out=$(pd ingest /dev/null 2>"$T/err"); is "$?" 1 "a device named as PATH exits 1"
like "$(cat "$T/err")" "/dev/null: a character device, not a message file, Maildir, folder or mbox" "saying what it is"
mkfifo "$T/fifo"
out=$(timeout 10 "$POSTDESK" --config "$CONF" ingest "$T/fifo" 2>"$T/err"); is "$?" 1 "a named pipe exits 1 without waiting for a writer"
like "$(cat "$T/err")" "fifo: a named pipe, not a message file" "saying what it is"
is "$(pd quarantine list --json | jq length)" 0 "nothing is quarantined"

# A plain folder like /etc: configuration, binaries, one real message.
mkdir -p "$T/etc"
printf 'root:$y$j9T$salt$hash:19000:0:99999:7:::\n' > "$T/etc/shadow"
printf '\x7fELF\x02\x01\x01\x00\x00\x00' > "$T/etc/a.out"
printf 'Subject\x00: header with a NUL\n\nbody\n' > "$T/etc/nul-header"
: > "$T/etc/empty"
printf 'From: ann@one.test\nSubject: a real one\nMessage-ID: <real@one.test>\n\nhello\n' > "$T/etc/mail.eml"
out=$(pd ingest "$T/etc" 2>"$T/err"); is "$?" 1 "a folder with files that are not mail exits 1"
is "$out" "ingested 1 message from $T/etc: 1 new ticket, 0 threaded, 0 duplicates, 0 quarantined, 4 skipped" \
   "the message is stored and the others are counted as skipped"
for f in shadow a.out nul-header empty; do
  like "$(cat "$T/err")" "skipped $T/etc/$f: does not look like mail" "$f is skipped with a warning naming it"
done
is "$(pd quarantine list --json | jq length)" 0 "and none of them is quarantined"

# cron: silence unless something needs a person.
mkdir -p "$T/md/new" "$T/md/cur"
printf 'From: bo@two.test\nSubject: quiet\nMessage-ID: <q1@two.test>\n\nhi\n' > "$T/md/new/1.host"
out=$(pd ingest -q "$T/md" 2>&1); ok $? "ingest -q of good mail exits 0"
is "$out" "" "and prints nothing"
out=$(pd ingest -q "$T/md" 2>&1); is "$out" "" "nor when everything is a duplicate"
out=$(pd ingest -q - </dev/null 2>&1); is "$out" "" "nor when there is nothing to ingest"
printf 'To: support@example.com\nSubject: no sender\n\nwho am I\n' > "$T/md/new/2.host"
out=$(pd ingest -q "$T/md" 2>/dev/null); ok $? "ingest -q with a quarantined message exits 0"
is "$out" "ingested 2 messages from $T/md: 0 new tickets, 0 threaded, 1 duplicate, 1 quarantined" \
   "and prints the summary, since a person is needed"
out=$(pd ingest --quiet "$T/etc" 2>/dev/null); is "$?" 1 "ingest --quiet with skipped files exits 1"
like "$out" "4 skipped" "and prints the summary"
done_testing
