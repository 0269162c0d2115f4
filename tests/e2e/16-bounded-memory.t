#!/bin/bash
# Memory is bounded by the size limit, not by the input: of a message over
# max_message_bytes only its first 1 MiB is read and quarantined, with its
# true size; a stream that is not mail is refused after its first bytes.
# Peak memory is measured with GNU time (Debian package time).
. "$POSTDESK_SRC/tests/e2e/lib.sh"

if [ ! -x /usr/bin/time ]; then
  ok 1 "/usr/bin/time is installed (scripts/deps.sh test installs the package time)"
  done_testing
  exit 1
fi
LIMIT_KB=65536
MIB=1048576

# peak_kb CMD...: runs CMD (stdout to $T/out, stderr to $T/err) and prints
# its peak resident memory in KB; the exit status is left in $T/rc.
peak_kb () {
  /usr/bin/time -o "$T/rss" -f %M "$@" >"$T/out" 2>"$T/err"
  echo $? > "$T/rc"
  tail -n 1 "$T/rss"
}

new_desk

# A 600 MB message: real headers, then a sparse body nobody wrote.
{ printf 'From: ann@big.test\nTo: support@example.com\nSubject: the whole disk image\nMessage-ID: <disk@big.test>\n\n'
  head -c 300000 /dev/urandom | base64
} > "$T/huge.eml"
truncate -s 600M "$T/huge.eml"
kb=$(peak_kb "$POSTDESK" --config "$CONF" ingest "$T/huge.eml")
is "$(cat "$T/rc")" 0 "a 600 MB message is handled (exit 0)"
ok $(( kb < LIMIT_KB ? 0 : 1 )) "in under 64 MB of memory (peak ${kb} KB)"
is "$(cat "$T/out")" "ingested 1 message from $T/huge.eml: 0 new tickets, 0 threaded, 0 duplicates, 1 quarantined" \
   "it is quarantined"
q=$(pd quarantine list --json)
is "$(echo "$q" | jq -r '.[0].size')" 629145600 "the quarantine entry has the message's true size"
is "$(echo "$q" | jq -r '.[0].reason')" \
   "message is 629145600 bytes, over max_message_bytes (26214400); truncated to its first $MIB bytes for safekeeping" \
   "and says it was truncated for safekeeping"
pd quarantine show --raw 1 > "$T/kept.eml"
is "$(stat -c %s "$T/kept.eml")" "$MIB" "the first 1 MiB is kept"
cmp -s "$T/kept.eml" <(head -c "$MIB" "$T/huge.eml"); ok $? "byte for byte, headers first"
like "$(pd quarantine show 1 | head -c 2000)" "Subject: the whole disk image" "so the team can see who wrote and about what"
is "$(pd tickets list --json | jq -r '.[] | .subject + " " + .requester.address')" "the whole disk image ann@big.test" \
   "only its headers make a ticket, so the sender is not ignored"

# Another one through a pipe: no size is known, so up to the limit is held
# (here 4 MiB, so that a sanitizer build stays under 64 MB too) and the
# rest is counted.
sed '1,5s/<disk@big.test>/<pipe@big.test>/' "$T/huge.eml" > "$T/huge2.eml"
sed -i 's/^max_message_bytes = .*/max_message_bytes = 4194304/' "$CONF"
kb=$(peak_kb sh -c "cat '$T/huge2.eml' | '$POSTDESK' --config '$CONF' ingest -")
is "$(cat "$T/rc")" 0 "a 600 MB message on standard input is handled"
ok $(( kb < LIMIT_KB ? 0 : 1 )) "in under 64 MB of memory (peak ${kb} KB)"
is "$(pd quarantine list --json | jq -r '.[] | select(.origin == "-") | .size')" 629145600 \
   "with its true size counted while skipping"

# In an mbox, the message over the limit is quarantined and its neighbours
# are stored.
{ printf 'From: a@small.test\nSubject: too big\nMessage-ID: <big@small.test>\n\n'
  head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 76; echo
} > "$T/big-part.eml"
{ printf 'From a@small.test Tue Mar  3 10:00:00 2026\nFrom: a@small.test\nSubject: before\nMessage-ID: <before@small.test>\n\nfirst\n\n'
  printf 'From a@small.test Tue Mar  3 10:01:00 2026\n'; cat "$T/big-part.eml"
  printf '\nFrom a@small.test Tue Mar  3 10:02:00 2026\nFrom: a@small.test\nSubject: after\nMessage-ID: <after@small.test>\n\nlast\n'
} > "$T/box.mbox"
sed -i 's/^max_message_bytes = .*/max_message_bytes = 2000000/' "$CONF"
out=$(pd ingest "$T/box.mbox" 2>/dev/null); ok $? "an mbox with one message over the limit"
is "$out" "ingested 3 messages from $T/box.mbox: 2 new tickets, 0 threaded, 0 duplicates, 1 quarantined" \
   "its neighbours are stored"
id=$(pd quarantine list --json | jq -r '.[] | select(.origin == "'"$T"'/box.mbox#2") | .id')
is "$(pd quarantine list --json | jq -r ".[] | select(.id == $id) | .size")" "$(stat -c %s "$T/big-part.eml")" \
   "the big one is kept with its true size"

sed -i 's/^max_message_bytes = .*/max_message_bytes = 26214400/' "$CONF"
pd quarantine retry "$id" 2>"$T/err"; is "$?" 1 "a truncated entry is not released by raising the limit"
like "$(cat "$T/err")" "only its first $MIB bytes were kept" "since only its first bytes were kept"
is "$(pd tickets list --json | jq -r '.[].subject' | sort | tr '\n' ' ')" "after before the whole disk image the whole disk image too big " \
   "no ticket is made of a truncated message but of its headers"

# Not mail at all: nothing is read beyond the first bytes, nothing kept.
before=$(pd quarantine list --json | jq length)
kb=$(peak_kb "$POSTDESK" --config "$CONF" ingest /dev/zero)
is "$(cat "$T/rc")" 1 "ingest /dev/zero exits 1"
ok $(( kb < LIMIT_KB ? 0 : 1 )) "at once, in under 64 MB (peak ${kb} KB)"
like "$(cat "$T/err")" "/dev/zero: a character device, not a message file" "naming the path and what it is"
kb=$(peak_kb sh -c "timeout 20 '$POSTDESK' --config '$CONF' ingest - < /dev/zero")
is "$(cat "$T/rc")" 1 "ingest - < /dev/zero exits 1"
ok $(( kb < LIMIT_KB ? 0 : 1 )) "in under 64 MB (peak ${kb} KB)"
like "$(cat "$T/err")" "standard input: does not look like mail" "saying standard input is not mail"
truncate -s 600M "$T/zeros"
kb=$(peak_kb sh -c "timeout 20 '$POSTDESK' --config '$CONF' ingest - < '$T/zeros'")
is "$(cat "$T/rc")" 1 "600 MB of NUL bytes on standard input are refused"
ok $(( kb < LIMIT_KB ? 0 : 1 )) "in under 64 MB (peak ${kb} KB)"
is "$(pd quarantine list --json | jq length)" "$before" "nothing of them is quarantined"
done_testing
