#!/bin/bash
# postdesk fetch against a real Dovecot: new mail becomes tickets dated by
# the server's INTERNALDATE, is moved or flagged only once it is committed,
# is never stored twice (a second fetch, a recreated folder, a kill -9 in
# the middle of a batch), mail over the size limit is quarantined from its
# headers without its body being downloaded, and a server that cannot be
# trusted never sees the password.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
. "$POSTDESK_SRC/tests/e2e/dovecot.sh"
MAIL="$POSTDESK_SRC/examples/mail"

why=$(dovecot_missing)
if [ -n "$why" ]; then
  skip "IMAP against a real Dovecot" "$why"
  done_testing
  exit 0
fi
dovecot_start; ok $? "a throwaway Dovecot starts on loopback ports $DOVECOT_IMAPS, $DOVECOT_IMAP, $DOVECOT_PLAIN"

db () { sqlite3 "$DESK/var/postdesk.db" "$1"; }
ntickets () { pd tickets list --json | jq length; }

# ---- new mail into tickets, then moved --------------------------------------
new_desk desk
mailbox_conf support "imaps://localhost:$DOVECOT_IMAPS/INBOX" "ca_file = $DOVECOT_DIR/ca.pem" "after = move:Processed"
imap_append INBOX "06-Mar-2026 16:00:00 -0800" "$MAIL/01-production-down.eml"
imap_append INBOX "09-Mar-2026 08:30:00 +0100" "$MAIL/03-german-question.eml"
out=$(pd fetch --once 2>&1); ok $? "fetch --once over imaps:// with the test CA succeeds"
is "$out" "ingested 2 messages from mailbox support: 2 new tickets, 0 threaded, 0 duplicates, 0 quarantined, 2 moved to Processed" \
   "the summary says what was stored and moved"
is "$(ntickets)" 2 "two tickets"
is "$(db "SELECT group_concat(received_at) FROM (SELECT received_at FROM messages ORDER BY imap_uid)")" \
   "$(date -d '2026-03-06T16:00:00-08:00' +%s),$(date -d '2026-03-09T08:30:00+01:00' +%s)" \
   "each message arrived at its INTERNALDATE, not its Date header or now"
is "$(db "SELECT DISTINCT mailbox FROM messages")" "support" "each message records the mailbox it came from"
is "$(db "SELECT uidvalidity > 0, last_uid FROM mailbox_state WHERE mailbox = 'support'")" "1|2" \
   "the state holds the folder's UIDVALIDITY and the last UID stored"
is "$(imap_count INBOX)/$(imap_count Processed)" "0/2" "both messages were moved to Processed"
is "$(imap_count Processed UNSEEN)" 2 "and fetched with PEEK: still unseen"

out=$(pd fetch --once 2>&1); ok $? "a second fetch succeeds"
is "$out" "nothing new in mailbox support" "a second fetch finds nothing new"
is "$(db "SELECT count(*) FROM messages")" 2 "and stores nothing"

# ---- moved only after the commit ----------------------------------------------
# Another process holds the database's write lock: the fetch cannot commit,
# so nothing may be moved on the server.
imap_append INBOX "10-Mar-2026 09:00:00 +0000" "$MAIL/06-html-only-spanish.eml"
/usr/bin/python3 -c "
import sqlite3, time
c = sqlite3.connect('$DESK/var/postdesk.db', isolation_level=None)
c.execute('BEGIN EXCLUSIVE'); open('$T/locked', 'w').close(); time.sleep(12)" &
locker=$!
for i in $(seq 50); do [ -f "$T/locked" ] && break; sleep 0.1; done
pd fetch --once >"$T/out" 2>&1; rc=$?
is "$rc" 1 "a fetch that cannot commit fails"
is "$(imap_count INBOX)" 1 "and leaves the message in INBOX, unmoved"
kill "$locker" 2>/dev/null; wait "$locker" 2>/dev/null
out=$(pd fetch --once 2>&1); ok $? "once the database is free, fetch succeeds"
like "$out" "ingested 1 message .*1 new ticket.*1 moved to Processed" "the message is stored, then moved"
is "$(imap_count INBOX)/$(ntickets)" "0/3" "nothing left behind, nothing doubled"

# ---- STARTTLS and flag:seen --------------------------------------------------------
imap_py "M.create('Seen')"
imap_append Seen "11-Mar-2026 10:00:00 +0000" "$MAIL/04-colleague-with-token.eml"
mailbox_conf seen "imap://localhost:$DOVECOT_IMAP/Seen" "ca_file = $DOVECOT_DIR/ca.pem" "after = flag:seen" "idle = no"
out=$(pd fetch --once seen 2>&1); ok $? "fetch over imap:// with STARTTLS succeeds"
like "$out" "ingested 1 message from mailbox seen: .*1 flagged seen" "and flags the message"
is "$(imap_count Seen)/$(imap_count Seen UNSEEN)" "1/0" "the message stays in its folder, flagged \\Seen"
is "$(pd fetch --once seen 2>&1)" "nothing new in mailbox seen" "a flagged message is not fetched again"

# ---- UIDVALIDITY change --------------------------------------------------------------
imap_py "M.create('Archive')"
imap_append Archive "12-Mar-2026 10:00:00 +0000" "$MAIL/02-production-down-logs.eml" "$MAIL/08-engineer-reply.eml"
mailbox_conf archive "imaps://127.0.0.1:$DOVECOT_IMAPS/Archive" "ca_file = $DOVECOT_DIR/ca.pem" "after = flag:seen"
pd fetch --once archive >/dev/null 2>&1; ok $? "fetch the Archive folder"
before=$(db "SELECT count(*) FROM messages")
old=$(db "SELECT uidvalidity FROM mailbox_state WHERE mailbox = 'archive'")
imap_py "M.delete('Archive'); M.create('Archive')"
imap_append Archive "12-Mar-2026 10:00:00 +0000" "$MAIL/02-production-down-logs.eml" "$MAIL/08-engineer-reply.eml"
out=$(pd fetch --once archive 2>"$T/err"); ok $? "fetch after the folder was deleted and recreated"
like "$(cat "$T/err")" "UIDVALIDITY changed from $old to [0-9]+: reading Archive again" "postdesk says the folder is read again"
like "$out" "ingested 2 messages from mailbox archive: 0 new tickets, 0 threaded, 2 duplicates" "both messages are recognised"
is "$(db "SELECT count(*) FROM messages")" "$before" "nothing is doubled"
isnt_old=$(db "SELECT uidvalidity != $old FROM mailbox_state WHERE mailbox = 'archive'")
is "$isnt_old" 1 "the new UIDVALIDITY is saved"

# ---- servers that cannot be trusted: refused before LOGIN ---------------------------
logins=$(dovecot_logins)
new_desk untrusted
mailbox_conf other-ca "imaps://localhost:$DOVECOT_IMAPS/INBOX" "ca_file = $DOVECOT_DIR/other-ca.pem"
pd fetch --once other-ca >"$T/out" 2>&1; rc=$?
is "$rc" 1 "a certificate from an unknown CA: fetch fails"
like "$(cat "$T/out")" "not trusted, refusing to log in: .*unknown issuer" "and says why, before logging in"
mailbox_conf wrong-name "imaps://127.0.0.2:$DOVECOT_IMAPS/INBOX" "ca_file = $DOVECOT_DIR/ca.pem"
pd fetch --once wrong-name >"$T/out" 2>&1; rc=$?
is "$rc" 1 "a certificate for another host name: fetch fails"
like "$(cat "$T/out")" "refusing to log in: .*(does not match|name)" "and names the mismatch"
mailbox_conf starttls-wrong-ca "imap://localhost:$DOVECOT_IMAP/INBOX" "ca_file = $DOVECOT_DIR/other-ca.pem"
pd fetch --once starttls-wrong-ca >"$T/out" 2>&1
like "$(cat "$T/out")" "not trusted, refusing to log in" "STARTTLS to an untrusted certificate is refused too"
is "$(dovecot_logins)" "$logins" "Dovecot saw no login from any of them"
mailbox_conf no-starttls "imap://127.0.0.1:$DOVECOT_PLAIN/INBOX"
plain_logins=$(grep -c 'Login: user=<support>' "$DOVECOT_DIR/plain.log")
pd fetch --once no-starttls >"$T/out" 2>&1; rc=$?
is "$rc" 1 "a server that does not offer STARTTLS: fetch fails"
like "$(cat "$T/out")" "does not offer STARTTLS: refusing to log in without TLS" "no downgrade to plain text"
is "$(grep -c 'Login: user=<support>' "$DOVECOT_DIR/plain.log")" "$plain_logins" "the plain server saw no login from postdesk"
grep -q 'secret' "$T/out"; is $? 1 "the password is never printed"

# tls = none is for loopback servers only, and is refused at configuration time elsewhere.
new_desk plainconf
mailbox_conf lo "imap://127.0.0.1:$DOVECOT_PLAIN/INBOX" "tls = none" "after = flag:seen"
pd fetch --once lo >"$T/out" 2>&1; ok $? "tls = none on a loopback server works (tests, local relays)"
cat >> "$CONF" <<EOF

[mailbox by-command]
url = imap://localhost:$DOVECOT_PLAIN/INBOX
username = support
password_command = cat "$DOVECOT_DIR/support.pass"
tls = none
EOF
pd fetch --once by-command >"$T/out" 2>&1; ok $? "a password_command's output is the password"
mailbox_conf far "imap://imap.example.com/INBOX" "tls = none"
pd fetch --once lo >"$T/out" 2>&1; rc=$?
is "$rc" 2 "tls = none for a remote host is a configuration error"
like "$(cat "$T/out")" "postdesk.conf:[0-9]+: \\[mailbox far\\] tls: tls = none sends the password in plain text" \
     "naming the file, line, section and key"

# ---- over the size limit: headers only -----------------------------------------------
new_desk big
sed -i 's/^max_message_bytes = .*/max_message_bytes = 4096/' "$CONF"
grep -q '^max_message_bytes = 4096' "$CONF" || sed -i 's/^\[postdesk\]$/[postdesk]\nmax_message_bytes = 4096/' "$CONF"
imap_py "M.create('Big')"
{
  printf 'From: Erin <erin@globex.example>\nTo: support@example.com\nSubject: the whole log\nMessage-ID: <big-1@globex.example>\nDate: Fri, 13 Mar 2026 10:00:00 +0000\n\n'
  for i in $(seq 3000); do echo "log line $i: nothing happened here, again and again"; done
} > "$T/big.eml"
imap_append Big "13-Mar-2026 10:00:00 +0000" "$T/big.eml"
size=$(imap_py "M.select('Big'); t, d = M.fetch('1', '(RFC822.SIZE)'); print(d[0].split()[-1].decode().rstrip(')'))")
mailbox_conf big "imaps://localhost:$DOVECOT_IMAPS/Big" "ca_file = $DOVECOT_DIR/ca.pem" "after = flag:seen"
out=$(pd fetch --once big 2>&1); ok $? "fetch a message over max_message_bytes"
like "$out" "1 quarantined" "it is quarantined"
is "$(pd quarantine list --json | jq '.[0].size')" "$size" "the entry records the server's RFC822.SIZE"
is "$(db "SELECT r.size < 1024 FROM quarantine q JOIN raw_messages r ON r.id = q.raw_id")" 1 \
   "only the header section is stored"
like "$(tail -n 1 "$DOVECOT_DIR/main.log")" "body_bytes=0" "Dovecot sent no body bytes in that session"
is "$(ntickets)" 1 "a ticket is opened from its headers"

# ---- kill -9 in the middle of a large batch ---------------------------------------------
new_desk crash
imap_py "M.create('Bulk'); M.create('BulkDone')"
mkdir -p "$T/bulk"
for i in $(seq 600); do
  printf 'From: customer%d@acme.example\nTo: support@example.com\nSubject: question number %d\nMessage-ID: <q%d@acme.example>\nDate: Fri, 13 Mar 2026 10:00:00 +0000\n\nHello, this is question %d.\n' \
    "$i" "$i" "$i" "$i" > "$T/bulk/$(printf %04d "$i").eml"
done
imap_append Bulk "13-Mar-2026 11:00:00 +0000" "$T"/bulk/*.eml
is "$(imap_count Bulk)" 600 "600 messages wait in Bulk"
mailbox_conf bulk "imaps://localhost:$DOVECOT_IMAPS/Bulk" "ca_file = $DOVECOT_DIR/ca.pem" "after = move:BulkDone"
# Started directly, not through the pd function, so that $! is postdesk.
"$POSTDESK" --config "$CONF" fetch --once bulk >/dev/null 2>&1 &
fetcher=$!
for i in $(seq 600); do
  n=$(db "SELECT count(*) FROM messages" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 150 ] && break
  sleep 0.02
done
kill -9 "$fetcher"; wait "$fetcher" 2>/dev/null
stored=$(db "SELECT count(*) FROM messages")
[ "$stored" -lt 600 ]; ok $? "killed in the middle: $stored of 600 stored"
out=$(pd fetch --once bulk 2>&1); ok $? "the rerun succeeds"
is "$(db "SELECT count(*), count(DISTINCT message_id) FROM messages")" "600|600" "nothing lost, nothing doubled"
is "$(ntickets)" 600 "one ticket per message"
is "$(imap_count Bulk)/$(imap_count BulkDone)" "0/600" "every message moved, once"
is "$(db "SELECT last_uid FROM mailbox_state WHERE mailbox = 'bulk'")" 600 "the state reached the last UID"

# ---- a mailbox with history mails no customer of the past -----------------------
new_desk history
mailbox_conf hist "imaps://localhost:$DOVECOT_IMAPS/History" "ca_file = $DOVECOT_DIR/ca.pem" "ack_max_age = 1d"
imap_py "M.create('History')"
imap_append History "06-Mar-2026 16:00:00 -0800" "$MAIL/01-production-down.eml"
imap_append History "$(LC_ALL=C date -u '+%d-%b-%Y %H:%M:%S +0000')" "$MAIL/03-german-question.eml"
pd fetch --once >/dev/null 2>&1; ok $? "a mailbox with an old and a new message"
is "$(db "SELECT count(*) FROM outbox WHERE kind = 'ack'")" 1 "only the new message is acknowledged"
like "$(db "SELECT json_extract(detail, '$.reason') FROM events WHERE type = 'ack-suppressed'")" \
     "longer ago than ack_max_age" "the old one's ticket says why not"
done_testing
