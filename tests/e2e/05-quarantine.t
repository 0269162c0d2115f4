#!/bin/bash
# Mail postdesk cannot handle is kept with its raw bytes and the reason,
# listed, shown byte for byte, and retried after a fix. Ingest still exits 0.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
sed -i 's/^max_message_bytes = .*/max_message_bytes = 2048/' "$CONF"

{ printf 'From: big@acme.com\nTo: support@example.com\nSubject: Big log\nMessage-ID: <big-1@acme.com>\n\n'
  for i in $(seq 1 100); do echo "line $i of a long log that makes this message larger than the limit"; done
} > "$T/big.eml"
printf 'To: support@example.com\nSubject: nobody sent this\nMessage-ID: <nofrom@x.test>\n\nhello\n' > "$T/nofrom.eml"
printf 'From: Not An Address\nTo: support@example.com\nSubject: bad from\n\nhello\n' > "$T/badfrom.eml"
printf '\x00\x01\x02PK\x03\x04 a zip file, not mail \xff\xfe\x00' > "$T/garbage.bin"

out=$(pd ingest "$T/big.eml" "$T/nofrom.eml" "$T/badfrom.eml" "$T/garbage.bin" 2>"$T/log"); ok $? "ingest of bad mail exits 0"
is "$out" "ingested 4 messages from $T/big.eml, $T/nofrom.eml and 2 more: 0 new tickets, 0 threaded, 0 duplicates, 4 quarantined" "all four quarantined"
like "$(cat "$T/log")" "quarantined .*big.eml: message is [0-9]+ bytes, over max_message_bytes \(2048\)" "the log names the file and the reason"

list=$(pd quarantine list --json)
is "$(echo "$list" | jq length)" 4 "quarantine list shows four entries"
is "$(echo "$list" | jq -r '.[0] | keys | sort | join(",")')" "id,mailbox,origin,reason,received_at,size,status,ticket" "with the documented fields"
is "$(echo "$list" | jq -r '.[1].reason')" "no usable sender: the From header is missing or holds no address" "no From"
is "$(echo "$list" | jq -r '.[2].reason')" "no usable sender: the From header is missing or holds no address" "a From without an address"
is "$(echo "$list" | jq -r '.[3].reason')" "not an RFC 5322 message: no header section" "binary garbage"
is "$(echo "$list" | jq -r '.[0].size')" "$(stat -c %s "$T/big.eml")" "the size is the raw size"
like "$(pd quarantine list)" "over max_message_bytes" "the text listing shows the reason"

pd quarantine show --raw 1 > "$T/back.eml"; ok $? "show --raw"
cmp -s "$T/back.eml" "$T/big.eml"; ok $? "gives back the raw bytes exactly"
like "$(pd quarantine show 1)" "^Quarantine: 1" "show prints the entry before the bytes"

pd ingest "$T/big.eml" >/dev/null 2>&1
is "$(pd quarantine list --json | jq length)" 4 "the same bad mail again does not add a second entry"

pd quarantine retry 1 2>"$T/err"; is "$?" 1 "retry before the fix exits 1"
like "$(cat "$T/err")" "still held: message is" "and says why"

sed -i 's/^max_message_bytes = .*/max_message_bytes = 26214400/' "$CONF"
out=$(pd quarantine retry 1); ok $? "retry after raising max_message_bytes"
is "$out" "quarantine 1 released: SUP-1 (threaded)" "the message joins the ticket its headers opened"
is "$(ticket 1 .subject)" "Big log" "with its content"
is "$(pd quarantine list --json | jq length)" 3 "it leaves the held list"
is "$(pd quarantine list --all --json | jq -r '.[0].status + " " + (.[0].ticket|tostring)')" "released 1" "list --all shows where it went"
out=$(pd quarantine retry 1); ok $? "retrying a released entry is harmless"
like "$out" "already released into SUP-1" "and says so"
is "$(pd tickets list --json | jq length)" 1 "no ticket was doubled"
done_testing
