#!/bin/bash
# Every JSON document postdesk writes passes a strict parser, whatever the
# mail held, and still says exactly what the mail said: json-glib 1.6 wrote
# U+001F raw inside strings, which jq accepts and Python's json rejects.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
PY=/usr/bin/python3
new_desk

# Every C0 control but NUL, then DEL: in the subject and the From name
# (encoded words) and in the body (base64).
CTL=$(printf '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037\177' | base64 -w0)
{
  printf 'From: =?UTF-8?B?%s?= <ctl@example.org>\n' "$(printf 'Ctl\037Name\001' | base64 -w0)"
  printf 'To: support@example.com\nSubject: =?UTF-8?B?%s?=\n' "$CTL"
  printf 'Message-ID: <ctl-1@example.org>\nDate: Mon, 09 Mar 2026 10:00:00 +0000\n'
  printf 'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n'
  printf 'body \037\001\033[31m red \177' | base64
} > "$T/ctl.eml"

# strict: reads a JSON document from stdin the way Python's json does.
strict () { "$PY" -c 'import json, sys; json.load(sys.stdin)'; }
# field EXPR: evaluates a Python expression over the document 'd'.
field () { "$PY" -c "import json, sys; d = json.load(sys.stdin); sys.stdout.write(repr($1))"; }

pd parse --json "$T/ctl.eml" > "$T/parse.json"; ok $? "parse --json runs"
strict < "$T/parse.json"; ok $? "parse --json is strict JSON"
is "$(field 'd["subject"]' < "$T/parse.json")" \
   "$("$PY" -c 'print(repr("".join(map(chr, list(range(1, 32)) + [127]))), end="")')" \
   "and the subject decodes to exactly U+0001..U+001F and U+007F"
is "$(field 'd["from"]["name"]' < "$T/parse.json")" "'Ctl\\x1fName\\x01'" "the From name keeps its controls exactly"
is "$(field 'd["body_text"]' < "$T/parse.json")" "'body \\x1f\\x01\\x1b[31m red \\x7f'" "and so does the body"
if grep -q "$(printf '\037')" "$T/parse.json"; then ok 1 "no raw U+001F in the document"; else ok 0 "no raw U+001F in the document"; fi

pd ingest "$T/ctl.eml" >/dev/null; ok $? "the message is ingested"
# A message with no sender is quarantined; its file name carries a control.
printf 'Subject: no sender\n\nhello\n' > "$T/held$(printf '\037').eml"
pd ingest "$T/held$(printf '\037').eml" >/dev/null 2>&1; ok $? "the sender-less message is quarantined"

pd tickets show --json SUP-1 > "$T/show.json"; ok $? "tickets show --json runs"
strict < "$T/show.json"; ok $? "tickets show --json is strict JSON"
is "$(field 'd["messages"][0]["body_text"]' < "$T/show.json")" "'body \\x1f\\x01\\x1b[31m red \\x7f'" \
   "and the stored body decodes exactly"
is "$(field 'd["requester"]["name"]' < "$T/show.json")" "'Ctl\\x1fName\\x01'" "and the requester's name too"
pd tickets list --json | strict; ok $? "tickets list --json is strict JSON"
pd quarantine list --json > "$T/q.json"; ok $? "quarantine list --json runs"
strict < "$T/q.json"; ok $? "quarantine list --json is strict JSON"
like "$(field 'd[0]["origin"]' < "$T/q.json")" "held\\\\x1f\\.eml'$" "with the file name exactly"
pd outbox list --json | strict; ok $? "outbox list --json is strict JSON"
# The same characters in what postdesk stores as JSON (address lists,
# references, event details): SQLite's json_valid() is as strict as Python.
new_desk stored
printf 'From: =?utf-8?q?Ann=1FX?= <ann@unit.test>\nTo: Bob =?utf-8?q?=1F?= <support@example.com>\nSubject: production is down =?utf-8?q?=1F?= now\nMessage-ID: <u1f@unit.test>\nReferences: <a\x1fb@unit.test>\n\nbody\n' \
  > "$T/u1f.eml"
out=$(pd ingest "$T/u1f.eml" 2>"$T/err")
like "$out" "1 new ticket" "a message with U+001F in its names and subject is stored, not quarantined"
is "$(sqlite3 "$DESK/var/postdesk.db" "SELECT count(*) FROM messages WHERE direction = 'in' AND json_valid(to_json) AND json_valid(references_json)")" 1 \
   "its stored address and reference lists are valid JSON"
is "$(sqlite3 "$DESK/var/postdesk.db" "SELECT count(*) FROM events WHERE NOT json_valid(detail)")" 0 \
   "and so is every event detail"
# libytnef prints its complaints about a malformed winmail.dat on standard
# output; they must not end up inside the JSON.
"$POSTDESK" parse --json "$CORPUS/broken/tnef-garbage.eml" > "$T/tnef.json" 2>/dev/null
strict < "$T/tnef.json"; ok $? "parse --json of a malformed winmail.dat is strict JSON"
done_testing
