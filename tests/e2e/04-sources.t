#!/bin/bash
# Every way mail reaches ingest: one file, a folder of files, a Maildir,
# an mbox (with mboxrd escaping), standard input; with --received and
# --mailbox recorded on the ticket.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

msg () { # msg ID FROM SUBJECT BODY
  printf 'From: %s\nTo: support@example.com\nSubject: %s\nDate: Tue, 03 Mar 2026 10:00:00 +0000\nMessage-ID: <%s>\n\n%s\n' "$2" "$3" "$1" "$4"
}

new_desk
msg a1@one.test "ann@one.test" "Single file" "hello" > "$T/single.eml"
out=$(pd ingest --received 2026-03-06T16:00:00-08:00 --mailbox support "$T/single.eml"); ok $? "one file"
is "$out" "ingested 1 message from $T/single.eml: 1 new ticket, 0 threaded, 0 duplicates, 0 quarantined" "one new ticket"
is "$(ticket 1 .created_at)" "2026-03-07T00:00:00Z" "--received sets the arrival time, stored as UTC"
is "$(ticket 1 .mailbox)" "support" "--mailbox is recorded"

mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
msg m1@two.test "bo@two.test" "In new" "first" > "$T/md/new/1.host"
msg m2@two.test "bo@two.test" "Re: In new" "second" | sed 's/^Message-ID: <m2@two.test>/Message-ID: <m2@two.test>\nIn-Reply-To: <m1@two.test>/' > "$T/md/cur/2.host:2,S"
msg m3@two.test "bo@two.test" "half written" "never" > "$T/md/tmp/3.host"
out=$(pd ingest "$T/md"); ok $? "a Maildir"
is "$out" "ingested 2 messages from $T/md: 1 new ticket, 1 threaded, 0 duplicates, 0 quarantined" "new/ then cur/, tmp/ left alone"

{
  printf 'From bo@three.test Tue Mar  3 10:00:00 2026\n'; msg x1@three.test "cy@three.test" "Mbox one" "line one"
  printf '>From the logs: disk full\n\n'
  printf 'From cy@three.test Tue Mar  3 10:05:00 2026\n'; msg x2@three.test "cy@three.test" "Re: Mbox one" "reply" | sed 's/^Message-ID: <x2@three.test>/Message-ID: <x2@three.test>\nReferences: <x1@three.test>/'
  printf '\nFrom cy@three.test Tue Mar  3 10:09:00 2026\n'; msg x3@three.test "cy@three.test" "Mbox two" "other"
} > "$T/box.mbox"
out=$(pd ingest "$T/box.mbox"); ok $? "an mbox"
is "$out" "ingested 3 messages from $T/box.mbox: 2 new tickets, 1 threaded, 0 duplicates, 0 quarantined" "three messages split at From lines"
t=$(pd tickets list --json | jq -r '.[] | select(.subject == "Mbox one") | .id')
like "$(ticket "$t" '.messages[0].body_text')" "^line one
From the logs: disk full$" "'>From ' is unescaped and the separator line is not part of the body"

mkdir -p "$T/folder"
msg f1@four.test "di@four.test" "Folder one" "a" > "$T/folder/b.eml"
msg f2@four.test "di@four.test" "Folder two" "b" > "$T/folder/a.eml"
out=$(pd ingest "$T/folder"); ok $? "a folder of message files"
is "$out" "ingested 2 messages from $T/folder: 2 new tickets, 0 threaded, 0 duplicates, 0 quarantined" "each file a message"
is "$(pd tickets list --json | jq -r '[.[] | select(.subject | startswith("Folder")) | .subject] | join(",")')" \
   "Folder two,Folder one" "read in name order"

out=$(msg s1@five.test "ed@five.test" "From stdin" "piped" | pd ingest -); ok $? "standard input"
is "$out" "ingested 1 message from standard input: 1 new ticket, 0 threaded, 0 duplicates, 0 quarantined" "one message from stdin"
out=$(pd ingest - < "$T/box.mbox"); ok $? "an mbox on standard input"
is "$out" "ingested 3 messages from standard input: 0 new tickets, 0 threaded, 3 duplicates, 0 quarantined" "recognised as the same three"

out=$(pd ingest "$T/does-not-exist" "$T/single.eml" 2>"$T/err"); is "$?" 1 "a missing path makes ingest exit 1"
like "$(cat "$T/err")" "does-not-exist: no such file or folder" "naming it"
is "$out" "ingested 1 message from $T/does-not-exist and $T/single.eml: 0 new tickets, 0 threaded, 1 duplicate, 0 quarantined" "the other paths are still ingested"
done_testing
