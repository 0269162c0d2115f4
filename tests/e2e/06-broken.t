#!/bin/bash
# Broken mail never crashes or hangs postdesk and is never lost: each
# message ends up stored (with valid UTF-8 text) or quarantined with a
# reason. Every run is bounded by a timeout so a hang fails the test
# instead of stalling the suite.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk

# Generated here rather than kept in the repository: 5000-deep nesting and
# a 5 MB header.
{ printf 'From: deep@nest.test\nTo: support@example.com\nSubject: deep\nMessage-ID: <deep-1@nest.test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n'
  for i in $(seq 0 4999); do printf -- '--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' "$i" "$((i + 1))"; done
  printf -- '--b5000\nContent-Type: text/plain\n\nthe bottom\n'
} > "$T/deep.eml"
{ printf 'From: huge@header.test\nTo: support@example.com\nSubject: huge header\nMessage-ID: <huge-1@header.test>\n'
  head -c 5242880 /dev/zero | tr '\0' 'a' | fold -w 900 | sed 's/^/X-Filler: /'
  printf '\nbody\n'
} > "$T/huge-header.eml"

for f in "$CORPUS"/broken/*.eml "$T/deep.eml" "$T/huge-header.eml"; do
  name=$(basename "$f")
  timeout 60 "$POSTDESK" --config "$CONF" parse --json "$f" > "$T/parse.json" 2>/dev/null
  rc=$?
  ok $(( rc == 0 || rc == 1 ? 0 : 1 )) "parse $name finishes without crashing or hanging (status $rc)"
  if [ "$rc" -eq 0 ]; then
    jq -e .message_id "$T/parse.json" >/dev/null; ok $? "parse --json of $name is valid JSON"
  fi
  before=$(pd quarantine list --json | jq length)
  out=$(timeout 60 "$POSTDESK" --config "$CONF" ingest "$f" 2>/dev/null); rc=$?
  is "$rc" 0 "ingest $name exits 0"
  like "$out" "ingested 1 message from [^:]*: (1 new ticket, 0 threaded, 0 duplicates, 0 quarantined|0 new tickets, 0 threaded, 0 duplicates, 1 quarantined)" \
       "$name is stored or quarantined"
done

is "$(pd tickets list --json | jq -r '.[] | select(.subject == "Probl\u00e8me de connexion" or .subject == "Café crème") | .subject' | wc -l)" 2 \
   "text in unknown charsets arrives as readable UTF-8"
t=$(pd tickets list --json | jq -r '.[] | select(.requester.address == "andre2@exemple.fr") | .id')
like "$(ticket "$t" '.messages[0].body_text')" "^déjà vu" "latin-1 bytes in a body declared x-bogus are read as windows-1252"
like "$(pd quarantine list --json | jq -r '.[].reason' | tr '\n' ' ')" "MIME parts are nested at least 65 levels deep, over the 64-level limit" \
     "the 5000-deep message is quarantined with the reason (PD_MIME_MAX_DEPTH)"
like "$(pd quarantine list --json | jq -r '.[].reason' | tr '\n' ' ')" "header section is [0-9]+ bytes, over the 1048576-byte limit" \
     "the 5 MB header is quarantined with the reason"
sqlite3 "$DESK/var/postdesk.db" 'PRAGMA integrity_check' | grep -qx ok; ok $? "the database is intact"
done_testing
