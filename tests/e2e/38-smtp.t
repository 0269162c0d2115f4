#!/bin/bash
# postdesk send over SMTP, against real aiosmtpd servers on loopback ports
# with a test CA: STARTTLS, certificate checks before any credential or
# mail, AUTH PLAIN, one connection per batch, tls = none for loopback
# only, 4xx retried and 5xx failed by reply code. The outbox rows are
# written with sqlite3, as 34-send.t does.
. "$POSTDESK_SRC/tests/e2e/lib.sh"
. "$POSTDESK_SRC/tests/e2e/smtp.sh"

new_desk desk
DB="$DESK/var/postdesk.db"
cp "$CONF" "$T/base.conf"
pd ingest --no-ack "$POSTDESK_SRC/examples/mail/02-production-down-logs.eml" >/dev/null 2>&1; ok $? "a ticket to write about"
smtp_certs; ok $? "a test CA and server certificates"

_next=1
# queue RECIPIENT...: one outbox row for ticket 1 to these recipients, due
# now; its body has a line starting with a dot. Sets ROW to its id.
queue () {
  local i=$_next rcpts
  _next=$((_next + 1))
  rcpts=$(printf '"%s",' "$@"); rcpts="[${rcpts%,}]"
  printf 'From: support@example.com\r\nTo: %s\r\nMessage-ID: <out-%s@example.com>\r\nSubject: [SUP-1] n%s\r\n\r\nBody %s.\r\n.a line with a dot\r\n' \
    "$1" "$i" "$i" "$i" > "$T/raw-$i"
  sqlite3 "$DB" "INSERT INTO outbox (ticket_id, kind, recipients, subject, message_id, body_text, raw, created_at, next_attempt_at)
                 VALUES (1, 'relay', '$rcpts', '[SUP-1] n$i', 'out-$i@example.com', 'Body $i.', readfile('$T/raw-$i'), unixepoch(), unixepoch());"
  ROW=$(sqlite3 "$DB" "SELECT id FROM outbox WHERE message_id = 'out-$i@example.com'")
}
q () { sqlite3 "$DB" "$1"; }
# transport KEY=VALUE...: the [transport] section is exactly these keys.
transport () {
  cp "$T/base.conf" "$CONF"
  printf '\n[transport]\n' >> "$CONF"
  printf '%s\n' "$@" >> "$CONF"
}
# Rows queued by earlier cases must not be retried by later ones.
settle () { q "UPDATE outbox SET status = 'failed' WHERE status != 'sent'"; }
delivered () { ls "$1/mail/new" 2>/dev/null | wc -l; }
no_auth_or_mail () { ! grep -qE '^(AUTH|MAIL|RCPT|DATA)$' "$1/commands.log"; }

printf 's3cret-Pw\n' > "$T/pw"; chmod 600 "$T/pw"
printf 'wrong-Pw\n' > "$T/badpw"; chmod 600 "$T/badpw"

# ---- STARTTLS, verified, AUTH PLAIN, a batch on one connection ----
smtp_start auth --tls "$T/good.pem" "$T/good.key" --auth support:s3cret-Pw
AUTH_DIR=$SMTP_DIR AUTH_PORT=$SMTP_PORT
transport "url = smtp://localhost:$AUTH_PORT" "username = support" "password_file = $T/pw" "ca_file = $T/ca.pem"
queue ann@example.org; first=$ROW
queue bob@example.org
queue carol@example.org dave@example.org
out=$(pd send --once 2>&1); rc=$?
is "$rc" 0 "send --once over STARTTLS with AUTH exits 0"
is "$out" "sent 3, retry later 0, failed 0" "three messages accepted"
is "$(delivered "$AUTH_DIR")" 3 "the server has three messages"
is "$(smtp_commands "$AUTH_DIR")" \
   "EHLO STARTTLS EHLO AUTH MAIL RCPT DATA MAIL RCPT DATA MAIL RCPT RCPT DATA QUIT" \
   "one connection: EHLO, STARTTLS, EHLO, AUTH, then each message, then QUIT"
msg=$(grep -l '^Message-ID: <out-1@example.com>' "$AUTH_DIR"/mail/new/*)
grep -q '^\.a line with a dot' "$msg"; ok $? "a line starting with a dot arrives as it was (dot-stuffing undone by the server)"
is "$(grep -c '^X-MailFrom: support@example.com' "$msg")" 1 "the envelope sender is the support address"
grep -q '^X-RcptTo: carol@example.org, dave@example.org' "$AUTH_DIR"/mail/new/*; ok $? "every recipient of a row is on its envelope"
is "$(q "SELECT status, attempts FROM outbox WHERE id = $first")" "sent|1" "the rows are sent"
case "$out$(cat "$AUTH_DIR/server.log")" in *s3cret*) ok 1 "the password is never printed";; *) ok 0 "the password is never printed";; esac

# A wrong password: the login is refused, nothing is sent, the round stops.
: > "$AUTH_DIR/commands.log"
transport "url = smtp://localhost:$AUTH_PORT" "username = support" "password_file = $T/badpw" "ca_file = $T/ca.pem"
queue ann@example.org; row=$ROW
queue bob@example.org
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a refused login exits 1"
like "$out" "sent 0, retry later 1, failed 0" "only the first message was tried: the transport is unavailable"
like "$out" "refused the login of support: 535" "the log says the login was refused, with the server's reply"
case "$out" in *wrong-Pw*) ok 1 "without the password";; *) ok 0 "without the password";; esac
is "$(smtp_commands "$AUTH_DIR")" "EHLO STARTTLS EHLO AUTH QUIT" "no MAIL after a refused AUTH"
is "$(q "SELECT status FROM outbox WHERE id = $row")" "queued" "the message waits for a later attempt"
settle

# A password file others may read is refused before anything is sent.
cp "$T/pw" "$T/openpw"; chmod 644 "$T/openpw"
transport "url = smtp://localhost:$AUTH_PORT" "username = support" "password_file = $T/openpw" "ca_file = $T/ca.pem"
out=$(pd send --once 2>&1); rc=$?
is "$rc" 2 "a world-readable password file is a configuration error"
like "$out" "password_file $T/openpw may be read or changed by anyone \(mode 0644\)" "and says so"

# ---- certificates refused before AUTH or MAIL ----
smtp_start wrongname --tls "$T/wrongname.pem" "$T/wrongname.key" --auth support:s3cret-Pw
transport "url = smtp://localhost:$SMTP_PORT" "username = support" "password_file = $T/pw" "ca_file = $T/ca.pem"
queue ann@example.org; row=$ROW
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a certificate for another name: exit 1"
like "$out" "TLS certificate of localhost refused: name mismatch" "the log names the reason and the host"
no_auth_or_mail "$SMTP_DIR"; ok $? "the server saw no AUTH, MAIL, RCPT or DATA"
is "$(q "SELECT status, attempts FROM outbox WHERE id = $row")" "queued|1" "the message is retried later"
like "$(q "SELECT last_error FROM outbox WHERE id = $row")" "name mismatch" "with the reason on the row"
settle

smtp_start rogue --tls "$T/rogue.pem" "$T/rogue.key" --auth support:s3cret-Pw
transport "url = smtp://localhost:$SMTP_PORT" "username = support" "password_file = $T/pw" "ca_file = $T/ca.pem"
queue ann@example.org
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a certificate from an unknown CA: exit 1"
like "$out" "TLS certificate of localhost refused: unknown issuer" "the log says unknown issuer"
no_auth_or_mail "$SMTP_DIR"; ok $? "the server saw no AUTH, MAIL, RCPT or DATA"
is "$(smtp_commands "$SMTP_DIR")" "EHLO STARTTLS" "the connection ends right after the handshake, without even QUIT"
# Without ca_file the system store is used, and it does not know the test CA either.
transport "url = smtp://localhost:$AUTH_PORT"
settle; queue ann@example.org
out=$(pd send --once 2>&1)
like "$out" "TLS certificate of localhost refused: unknown issuer" "the system trust store does not trust the test CA"
settle

# ---- STARTTLS not offered: no downgrade ----
smtp_start plain
transport "url = smtp://localhost:$SMTP_PORT"
queue ann@example.org
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a server without STARTTLS: exit 1"
like "$out" "does not offer STARTTLS; refusing to send without TLS" "the log says why"
is "$(smtp_commands "$SMTP_DIR")" "EHLO QUIT" "nothing but EHLO was sent"
settle

# ---- tls = none: loopback only ----
smtp_start_stock stock; ok $? "stock aiosmtpd with its Mailbox handler"
transport "url = smtp://127.0.0.1:$SMTP_PORT" "tls = none"
queue ann@example.org
out=$(pd send --once 2>&1); rc=$?
is "$out" "sent 1, retry later 0, failed 0" "tls = none delivers to a loopback server"
is "$(delivered "$SMTP_DIR")" 1 "the stock server has the message"
transport "url = smtp://smtp.example.com" "tls = none"
out=$(pd send --once 2>&1); rc=$?
is "$rc" 2 "tls = none for a server elsewhere is a configuration error"
like "$out" "postdesk.conf:[0-9]+: \[transport\].*tls = none is allowed only for a loopback server" "naming the file and section"
transport "url = smtp://127.0.0.1:$SMTP_PORT" "tls = none" "username = support" "password_file = $T/pw"
out=$(pd send --once 2>&1); rc=$?
is "$rc" 2 "a username with tls = none is a configuration error"
like "$out" "AUTH is never sent in clear" "and says why"
transport "url = maildir:var/outgoing" "ca_file = $T/ca.pem"
out=$(pd send --once 2>&1); rc=$?
is "$rc" 2 "SMTP settings on a maildir: transport are refused"

# ---- reply codes: 4xx retried, 5xx failed ----
smtp_start codes --tls "$T/good.pem" "$T/good.key" --tempfail later@example.org:1 --permfail nobody@example.org
transport "url = smtp://127.0.0.1:$SMTP_PORT" "ca_file = $T/ca.pem"
queue later@example.org; later=$ROW
queue nobody@example.org; nobody=$ROW
queue ann@example.org; fine=$ROW
out=$(pd send --once 2>&1); rc=$?
is "$rc" 1 "a round with refusals exits 1"
like "$out" "sent 1, retry later 1, failed 1" "451 is retried, 550 failed, the rest delivered"
is "$(grep -c '^EHLO$' "$SMTP_DIR/commands.log")" 2 "all on one connection (EHLO before and after STARTTLS)"
is "$(q "SELECT status, attempts FROM outbox WHERE id = $later")" "queued|1" "the 451 row waits"
like "$(q "SELECT last_error FROM outbox WHERE id = $later")" "answered 451 4.3.0 <later@example.org>: try again later to RCPT TO:<later@example.org>" \
     "with the server's reply"
is "$(q "SELECT status FROM outbox WHERE id = $fine")" "sent" "the next message on the connection went out"
is "$(q "SELECT status FROM outbox WHERE id = $nobody")" "failed" "the 550 row is failed"
like "$(q "SELECT last_error FROM outbox WHERE id = $nobody")" "550 5.1.1 <nobody@example.org>: no such user here" "with the server's reply"
is "$(q "SELECT count(*) FROM events WHERE ticket_id = 1 AND type = 'delivery-failed' AND json_extract(detail, '$.error') LIKE '%550 5.1.1%'")" 1 \
   "the ticket has a delivery-failed event with the 5xx reply"
is "$(pd send --once 2>&1)" "sent 0, retry later 0, failed 0" "the 451 row is not tried before its time"
q "UPDATE outbox SET next_attempt_at = unixepoch() - 1 WHERE id = $later"
out=$(pd send --once 2>&1); rc=$?
is "$out" "sent 1, retry later 0, failed 0" "once due again, the server takes it"
is "$(q "SELECT status, attempts FROM outbox WHERE id = $later")" "sent|2" "sent on the second attempt"
grep -q '^Message-ID: <out-'"$((later))"'@example.com>' "$SMTP_DIR"/mail/new/* 2>/dev/null ||
  grep -q "^X-RcptTo: later@example.org" "$SMTP_DIR"/mail/new/*
ok $? "and it is in the server's Maildir"

# ---- smtps:// ----
smtp_start smtps --tls "$T/good.pem" "$T/good.key" --implicit-tls
transport "url = smtps://localhost:$SMTP_PORT" "ca_file = $T/ca.pem"
queue ann@example.org
out=$(pd send --once 2>&1)
is "$out" "sent 1, retry later 0, failed 0" "smtps:// delivers over TLS from the first byte"
is "$(smtp_commands "$SMTP_DIR")" "EHLO MAIL RCPT DATA QUIT" "without STARTTLS"
smtp_start smtps-rogue --tls "$T/rogue.pem" "$T/rogue.key" --implicit-tls
transport "url = smtps://localhost:$SMTP_PORT" "ca_file = $T/ca.pem"
queue ann@example.org
out=$(pd send --once 2>&1)
like "$out" "unknown issuer" "smtps:// verifies the certificate too"
is "$(smtp_commands "$SMTP_DIR")" "" "refused before it sent any command at all"
settle

# ---- nobody listening ----
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
transport "url = smtp://127.0.0.1:$port" "ca_file = $T/ca.pem"
queue ann@example.org; row=$ROW
out=$(pd send --once 2>&1); rc=$?
like "$out" "sent 0, retry later 1, failed 0" "a server that is not there: retried later"
like "$out" "SMTP server 127.0.0.1:$port: cannot connect" "the log says so"
done_testing
