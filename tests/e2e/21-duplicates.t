#!/bin/bash
# Two messages are duplicates only when they carry the same thing. A
# Message-ID is the sender's choice, so a reused one can neither block,
# replace nor hide other mail; the same mail arriving by two roads (other
# trace headers, CRLF line endings) is still stored once.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
new_desk
count () { sqlite3 "$DESK/var/postdesk.db" "$1"; }

# Mail crafted to take every id the foundation would have derived, then an
# honest message reusing the same id: every one is stored, nothing stops.
mkdir -p "$T/attack"
mail () { # mail FILE MESSAGE-ID SUBJECT BODY
  printf 'From: mallory@evil.test\nTo: support@example.com\nSubject: %s\nMessage-ID: <%s>\n\n%s\n' "$3" "$2" "$4" > "$1"
}
mail "$T/attack/1" "x@victim.test" "one" "first"
for n in 2 3 4 5; do
  mail "$T/attack/$n" "x@victim.test#$(printf '%012x' "$n")" "derived $n" "body $n"
done
mail "$T/attack/6" "x@victim.test#$(printf '%064x' 6)" "derived long" "body 6"
printf 'From: ann@customer.test\nTo: support@example.com\nSubject: Real problem\nMessage-ID: <x@victim.test>\n\nOur production is down.\n' \
  > "$T/attack/7"
out=$(pd ingest "$T/attack" 2>"$T/err"); ok $? "mail reusing and pre-filling Message-IDs does not stop ingest"
like "$out" "ingested 7 messages from .*: 7 new tickets, 0 threaded, 0 duplicates, 0 quarantined" "every message is stored"
is "$(count "SELECT count(*) FROM messages WHERE message_id = 'x@victim.test'")" 2 \
   "the honest message is stored under the id it carries, beside the attacker's"
is "$(count "SELECT requester_address FROM tickets WHERE subject = 'Real problem'")" "ann@customer.test" \
   "and opens its own ticket"

# A scanner that reuses its Message-ID and always says the same thing:
# only the attachment differs, and every scan is kept.
mkdir -p "$T/scans"
for n in 1 2 3; do
  { printf 'From: scanner@office.test\nTo: support@example.com\nSubject: Scan\nMessage-ID: <scan@office.test>\n'
    printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n'
    printf -- '--b\nContent-Type: text/plain\n\nScanned document attached\n'
    printf -- '--b\nContent-Type: application/pdf; name=scan.pdf\nContent-Disposition: attachment; filename=scan.pdf\n'
    printf 'Content-Transfer-Encoding: base64\n\n%s\n--b--\n' "$(printf 'page %d of the contract' "$n" | base64)"
  } > "$T/scans/$n.eml"
done
out=$(pd ingest "$T/scans"); ok $? "three scans"
is "$(count "SELECT count(*) FROM messages WHERE message_id = 'scan@office.test'")" 3 \
   "scans that differ only in their attachment are all kept"
is "$(count "SELECT count(DISTINCT r.sha256) FROM messages m JOIN raw_messages r ON r.id = m.raw_id
             WHERE m.message_id = 'scan@office.test'")" 3 "each with its own raw bytes"

# The same mail by two roads: other trace headers and CRLF line endings.
mkdir -p "$T/roads"
{ printf 'Received: from a.example by b.example; Mon, 9 Mar 2026 10:00:00 +0000\n'
  printf 'Delivered-To: support@example.com\nReturn-Path: <bob@customer.test>\n'
  printf 'From: bob@customer.test\nTo: support@example.com\nSubject: Invoice\nMessage-ID: <road@customer.test>\n\nPlease check.\n'
} > "$T/roads/a.eml"
{ printf 'Received: from c.example by d.example; Mon, 9 Mar 2026 10:05:00 +0000\r\n'
  printf 'Received: from d.example by e.example; Mon, 9 Mar 2026 10:06:00 +0000\r\n'
  printf 'X-Original-To: helpdesk@example.com\r\nAuthentication-Results: mx.example.com; dkim=pass\r\n'
  printf 'From: bob@customer.test\r\nTo: support@example.com\r\nSubject: Invoice\r\nMessage-ID: <road@customer.test>\r\n\r\nPlease check.\r\n\r\n'
} > "$T/roads/b.eml"
out=$(pd ingest "$T/roads"); ok $? "the same mail by two roads"
like "$out" "1 new ticket, 0 threaded, 1 duplicate" "the second copy is a duplicate"
printf 'From: bob@customer.test\nTo: support@example.com\nSubject: Invoice\nMessage-ID: <road@customer.test>\n\nPlease check again.\n' \
  > "$T/roads/c.eml"
out=$(pd ingest "$T/roads/c.eml"); like "$out" "0 duplicates" "a change in the body is other mail, though the id is the same"

# Ingesting everything again changes nothing.
before=$(count "SELECT count(*) FROM messages")
out=$(pd ingest "$T/attack" "$T/scans" "$T/roads"); ok $? "everything again"
like "$out" "0 new tickets, 0 threaded, 13 duplicates" "is all duplicates"
is "$(count "SELECT count(*) FROM messages")" "$before" "and stores nothing more"
done_testing
