#!/bin/bash
# A quarantine people can work: each entry says where it came from; an
# entry can be deleted (a folder like /etc ingested by mistake) or purged
# by age, released by hand with a sender or a corrected file, and released
# by itself when the same mail is stored later; mail over the size limit
# still opens a ticket from its headers; held bytes never reach a terminal
# raw. What a person does is in the append-only journal.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
DB="$DESK/var/postdesk.db"
sql () { sqlite3 "$DB" "$1"; }

# ---- where it came from, and deleting what must not be kept ----------------
mkdir -p "$T/etc"
printf 'root:$y$j9T$salt$hash:19000:0:99999:7:::\nroot2: not a header either\n' > "$T/etc/shadow"
printf 'To: support@example.com\nSubject: mbox one\nMessage-ID: <m1@x.test>\n\none\n' > "$T/m1"
{ printf 'From a@x.test Tue Mar  3 10:00:00 2026\nFrom: a@x.test\nSubject: fine\nMessage-ID: <ok@x.test>\n\nfine\n\n'
  printf 'From a@x.test Tue Mar  3 10:01:00 2026\n'; cat "$T/m1"; } > "$T/box.mbox"
pd ingest "$T/etc/shadow" "$T/box.mbox" >/dev/null 2>&1
list=$(pd quarantine list)
is "$(echo "$list" | head -1 | tr -s ' ')" "ID RECEIVED SIZE STATUS ORIGIN REASON" "the text list has an ORIGIN column"
like "$list" "$T/etc/shadow +no usable sender" "a file's entry names the file, then the reason"
like "$list" "$T/box.mbox#2 +no usable sender" "an mbox entry names the mbox and the message's position"
is "$(echo "$list" | wc -l)" 3 "one line per entry"
is "$(pd quarantine list --json | jq -r '.[1].origin')" "$T/box.mbox#2" "the JSON has the origin too"

shadow=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("/shadow")) | .id')
out=$(pd quarantine delete "$shadow"); ok $? "quarantine delete exits 0"
is "$out" "quarantine $shadow deleted ($T/etc/shadow)" "and says what it deleted"
is "$(sql "SELECT count(*) FROM raw_messages WHERE CAST(bytes AS TEXT) LIKE 'root:%'")" 0 "the bytes of /etc/shadow are gone"
is "$(pd quarantine list --all --json | jq length)" 1 "the entry is gone, even from --all"
is "$(sql "SELECT actor || ' ' || action || ' ' || json_extract(detail, '\$.id') || ' ' || json_extract(detail, '\$.origin') || ' ' || json_extract(detail, '\$.size') FROM journal")" \
   "$(id -un) quarantine-delete $shadow $T/etc/shadow $(stat -c %s "$T/etc/shadow")" \
   "the deletion is in the journal: who, what, which entry, from where, how large"
like "$(sql "SELECT json_extract(detail, '\$.reason') FROM journal")" "no usable sender" "with the reason it was held"
sql "UPDATE journal SET actor = 'someone else'" 2>/dev/null; ok $(( $? == 0 )) "the journal cannot be changed"
sql "DELETE FROM journal" 2>/dev/null; ok $(( $? == 0 )) "nor emptied"
pd quarantine delete "$shadow" 2>"$T/err"; is "$?" 1 "deleting it again exits 1"
like "$(cat "$T/err")" "no quarantine entry $shadow" "saying there is no such entry"
pd quarantine delete 2>/dev/null; is "$?" 2 "delete without an ID is a usage error"

# Raw bytes shared with a stored message stay with the message.
printf 'From: c@x.test\nSubject: kept\nMessage-ID: <kept@x.test>\n\nkept\n' > "$T/kept.eml"
pd ingest "$T/kept.eml" >/dev/null 2>&1
sql "INSERT INTO quarantine (raw_id, size, reason, received_at, status, created_at, updated_at)
     SELECT raw_id, 10, 'test: same bytes as a message', 1, 'held', 1, 1 FROM messages WHERE message_id = 'kept@x.test'"
shared=$(sql "SELECT max(id) FROM quarantine")
pd quarantine delete "$shadow" >/dev/null 2>&1
pd quarantine delete "$shared" >/dev/null; ok $? "an entry sharing its bytes with a message is deleted"
pd tickets show --json "$(pd tickets list --json | jq '.[] | select(.subject == "kept") | .id')" >/dev/null; ok $? "the message still shows"
is "$(sql "SELECT count(*) FROM messages m JOIN raw_messages r ON r.id = m.raw_id WHERE m.message_id = 'kept@x.test'")" 1 \
   "and keeps its raw bytes"

# ---- purge by age -----------------------------------------------------------
pd quarantine purge 2>"$T/err"; is "$?" 2 "purge without --older-than is a usage error"
like "$(cat "$T/err")" "give --older-than AGE" "and says what to give"
pd quarantine purge --older-than 30x 2>/dev/null; is "$?" 2 "an age that is not Nh, Nd or Nw is a usage error"
printf 'To: support@example.com\nSubject: old\nMessage-ID: <old@x.test>\n\nold\n' > "$T/old.eml"
printf 'To: support@example.com\nSubject: new\nMessage-ID: <new@x.test>\n\nnew\n' > "$T/new.eml"
pd ingest "$T/old.eml" "$T/new.eml" >/dev/null 2>&1
sql "UPDATE quarantine SET created_at = created_at - 31 * 86400 WHERE origin = '$T/old.eml'"
sql "UPDATE quarantine SET created_at = created_at - 29 * 86400 WHERE origin = '$T/new.eml'"
before=$(pd quarantine list --all --json | jq length)
out=$(pd quarantine purge --older-than 30d); ok $? "purge --older-than 30d exits 0"
is "$out" "removed 1 quarantine entry older than 30d" "and says how many entries it removed"
is "$(pd quarantine list --all --json | jq -r '.[].origin' | grep -c old.eml)" 0 "the 31-day-old entry is gone"
is "$(pd quarantine list --all --json | jq length)" $((before - 1)) "the 29-day-old one stays"
is "$(pd quarantine purge --older-than 4w)" "removed 1 quarantine entry older than 4w" "weeks are understood"
is "$(pd quarantine purge --older-than 2h)" "removed 0 quarantine entries older than 2h" "and hours"
is "$(sql "SELECT count(*) FROM journal WHERE action = 'quarantine-purge'")" 2 "each purged entry is in the journal"

# ---- released by hand: --from and --file --------------------------------------
nofrom=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("#2")) | .id')
pd quarantine retry --from 'a@x.test
Bcc: victim@x.test' "$nofrom" 2>/dev/null; is "$?" 2 "--from refuses an address with a newline"
for bad in 'Ann <a@x.test>' 'a@x.test, b@x.test' 'a b@x.test' 'no-at-sign' '@x.test'; do
  pd quarantine retry --from "$bad" "$nofrom" 2>/dev/null; is "$?" 2 "--from refuses '$bad'"
done
out=$(pd quarantine retry --from Ann@X.test "$nofrom"); ok $? "retry --from releases the entry"
like "$out" "^quarantine $nofrom released: SUP-[0-9]+ \(new ticket\)$" "into a new ticket"
t=$(pd quarantine list --all --json | jq ".[] | select(.id == $nofrom) | .ticket")
is "$(ticket "$t" '.requester.address + " " + .subject')" "ann@x.test mbox one" "with the sender given and the message's subject"
is "$(ticket "$t" '.messages[0].body_text')" "one" "and its body"
is "$(pd quarantine list --all --json | jq -r ".[] | select(.id == $nofrom) | .status")" released "the entry is released"
is "$(sql "SELECT json_extract(detail, '\$.from_given_by') FROM events WHERE ticket_id = $t AND type = 'quarantine-retry'")" \
   "$(id -un)" "the ticket records who gave the sender"
is "$(sql "SELECT action || ' ' || json_extract(detail, '\$.ticket') || ' ' || json_extract(detail, '\$.from') FROM journal WHERE action = 'quarantine-retry' AND json_extract(detail, '\$.id') = $nofrom")" \
   "quarantine-retry $t Ann@X.test" "and the journal the release"

printf 'To: support@example.com\nSubject: Broken form\nMessage-ID: <form@x.test>\n\nplease help\n' > "$T/form.eml"
pd ingest "$T/form.eml" >/dev/null 2>&1
form=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("form.eml")) | .id')
printf 'From: Dee <dee@x.test>\nTo: support@example.com\nSubject: Broken form (fixed)\nMessage-ID: <form-fixed@x.test>\n\nplease help\n' > "$T/fixed.eml"
out=$(pd quarantine retry --file "$T/fixed.eml" "$form"); ok $? "retry --file releases the entry"
like "$out" "^quarantine $form released: SUP-[0-9]+ \(new ticket\)$" "into a new ticket"
t=$(pd quarantine list --all --json | jq ".[] | select(.id == $form) | .ticket")
is "$(ticket "$t" '.requester.address + " " + .subject')" "dee@x.test Broken form (fixed)" "made of the corrected bytes"
is "$(sql "SELECT json_extract(detail, '\$.file') FROM journal WHERE action = 'quarantine-retry' AND json_extract(detail, '\$.id') = $form")" "$T/fixed.eml" \
   "the journal names the file"
printf 'To: support@example.com\nSubject: still no sender\n\nx\n' > "$T/nofix.eml"
pd ingest "$T/etc/shadow" >/dev/null 2>&1
again=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("shadow")) | .id')
pd quarantine retry --file "$T/nofix.eml" "$again" 2>"$T/err"; is "$?" 1 "retry --file with bytes that are still bad exits 1"
like "$(cat "$T/err")" "quarantine $again is still held; the message as given is held too, as quarantine [0-9]+: no usable sender" \
     "saying both are held, and why"
pd quarantine retry --file "$T/no-such-file" "$again" 2>/dev/null; is "$?" 1 "a missing --file exits 1"
pd quarantine retry --from a@x.test --file "$T/fixed.eml" "$again" 2>/dev/null; is "$?" 2 "--from and --file together are a usage error"

# ---- a manual re-ingest releases the entry ----------------------------------
printf 'To: support@example.com\nSubject: Invoice\nMessage-ID: <invoice-7@x.test>\n\nsee attached\n' > "$T/invoice.eml"
pd ingest "$T/invoice.eml" >/dev/null 2>&1
inv=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("invoice.eml")) | .id')
printf 'From: Mallory <m@evil.test>\nTo: support@example.com\nSubject: Other\nMessage-ID: <invoice-7@x.test>\n\nnot the invoice\n' \
  > "$T/reuse.eml"
pd ingest "$T/reuse.eml" >/dev/null 2>&1
is "$(pd quarantine list --json | jq -r ".[] | select(.id == $inv) | .status")" held \
   "other mail reusing the held message's Message-ID does not release (and hide) it"
printf 'From: Eve <eve@x.test>\nTo: support@example.com\nSubject: Invoice\nMessage-ID: <invoice-7@x.test>\n\nsee attached\n' > "$T/invoice-fixed.eml"
out=$(pd ingest "$T/invoice-fixed.eml" 2>/dev/null); like "$out" "1 new ticket" "the corrected copy, ingested by hand, opens a ticket"
is "$(pd quarantine list --all --json | jq -r ".[] | select(.id == $inv) | .status")" released "and releases the held entry"
t=$(pd tickets list --json | jq '.[] | select(.subject == "Invoice") | .id')
is "$(pd quarantine list --all --json | jq -r ".[] | select(.id == $inv) | .ticket")" "$t" "into its ticket"
is "$(pd quarantine list --json | jq "[.[] | select(.id == $inv)] | length")" 0 "so it leaves the held list"

# ---- mail over the size limit opens a ticket from its headers ----------------
sed -i 's/^max_message_bytes = .*/max_message_bytes = 4096/' "$CONF"
{ printf 'From: Big Ann <ann@big.test>\nTo: support@example.com\nSubject: Crash dump attached\nDate: Tue, 3 Mar 2026 10:00:00 +0000\nMessage-ID: <dump@big.test>\n\n'
  for i in $(seq 1 200); do echo "line $i of a crash dump far larger than the limit of this desk"; done
} > "$T/dump.eml"
size=$(stat -c %s "$T/dump.eml")
out=$(pd ingest "$T/dump.eml" 2>"$T/err"); like "$out" "1 quarantined" "a message over the limit is quarantined"
big=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("dump.eml")) | .id')
t=$(pd quarantine list --json | jq ".[] | select(.id == $big) | .ticket")
[ "$t" != null ]; ok $? "the entry is linked to a ticket"
is "$(pd quarantine list --json | jq -r ".[] | select(.id == $big) | .status")" held "and stays held: its body is not stored"
is "$(ticket "$t" '.requester.address + " | " + .subject + " | " + .created_at')" "ann@big.test | Crash dump attached | 2026-03-03T10:00:00Z" \
   "the ticket has the sender, subject and date of the headers"
is "$(ticket "$t" '.messages[0].body_text')" \
   "[postdesk] This message was too large to store: it is $size bytes, over the limit of 4096 bytes (max_message_bytes). Only its headers are here. Its raw bytes are kept in quarantine entry $big (postdesk quarantine show $big)." \
   "with a note of its true size, the limit and the entry that keeps the bytes"
like "$(cat "$T/err")" "quarantine entry $big: ticket SUP-$t opened from its headers" "the log says a ticket was opened"
tickets=$(pd tickets list --json | jq length)
pd ingest "$T/dump.eml" >/dev/null 2>&1
is "$(pd tickets list --json | jq length)" "$tickets" "the same mail again opens no second ticket"
pd quarantine retry "$big" >/dev/null 2>&1; is "$?" 1 "a retry before the limit is raised leaves it held"
is "$(pd tickets list --json | jq length)" "$tickets" "and opens no ticket either"
sed -i 's/^max_message_bytes = .*/max_message_bytes = 26214400/' "$CONF"
out=$(pd quarantine retry "$big"); ok $? "after raising the limit it is released"
is "$out" "quarantine $big released: SUP-$t (threaded)" "into the ticket its headers opened"
is "$(ticket "$t" '[.messages[] | select(.direction == "in")] | length')" 2 "which now has the whole message too"
printf 'Subject: no sender here\nMessage-ID: <anon-big@big.test>\n\n%s\n' "$(head -c 6000 /dev/zero | tr '\0' x)" > "$T/anon-big.eml"
sed -i 's/^max_message_bytes = .*/max_message_bytes = 4096/' "$CONF"
tickets=$(pd tickets list --json | jq length)
pd ingest "$T/anon-big.eml" >/dev/null 2>&1
is "$(pd tickets list --json | jq length)" "$tickets" "without a sender in its headers, no ticket is opened"
is "$(pd quarantine list --json | jq -r '.[] | select(.origin | endswith("anon-big.eml")) | .ticket')" null "and the entry has none"

# ---- show never writes control characters to a terminal ----------------------
printf 'X\x1b]0;pwned\x07\x1b[2J\x00\x01\x7f\xff\xfe binary\r\n' > "$T/binary.bin"
pd ingest "$T/binary.bin" >/dev/null 2>&1
bin=$(pd quarantine list --json | jq '.[] | select(.origin | endswith("binary.bin")) | .id')
pd quarantine show "$bin" > "$T/shown"; ok $? "show of a binary entry"
is "$(tr -d '\n' < "$T/shown" | LC_ALL=C tr -d '\040-\176' | wc -c)" 0 "prints no control character and no byte outside printable ASCII"
like "$(cat "$T/shown")" '\\x1b\]0;pwned\\x07\\x1b\[2J\\x00\\x01\\x7f\\xff\\xfe binary' "each is shown as a visible escape"
pd quarantine show --raw "$bin" | cmp -s - "$T/binary.bin"; ok $? "--raw still gives the bytes exactly"
done_testing
