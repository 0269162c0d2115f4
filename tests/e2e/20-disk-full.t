#!/bin/bash
# A disk that fills during ingest: the run stops with exit status 1, the
# summary counts only what was committed and says the rest was not stored,
# and the same ingest on a disk with room stores exactly the rest.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

mkdir -p "$T/mail/new" "$T/small"
body=$(head -c 2000 /dev/zero | tr '\0' 'x' | fold -w 76)
for i in $(seq 1 2000); do
  printf 'From: user%d@cust.test\nTo: support@example.com\nSubject: Case %d\nMessage-ID: <full%d@disk.test>\n\n%s\n' \
    "$i" "$i" "$i" "$body" > "$T/mail/new/$(printf '%05d' "$i").m"
done

if ! mount -t tmpfs -o size=6m tmpfs "$T/small" 2>/dev/null; then
  for d in "ingest on a full disk fails" "the summary counts only what was committed" \
           "and says the rest was not stored" "a rerun with room stores every message" "none twice"; do
    skip "$d" "cannot mount a small file system here"
  done
  done_testing
  exit
fi
trap 'umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT

new_desk
sed -i "s|^database *=.*|database = $T/small/postdesk.db|" "$CONF"
out=$(pd ingest "$T/mail" 2>"$T/err"); is "$?" 1 "ingest on a full disk fails"
like "$(cat "$T/err")" "full" "saying the disk is full"
stored=$(sqlite3 "$T/small/postdesk.db" "SELECT count(*) FROM messages WHERE direction = 'in'")
ok $([ "$stored" -lt 2000 ] && echo 0 || echo 1) "not everything fit ($stored of 2000 stored)"
like "$out" "^ingested $stored messages from .*: $stored new tickets" \
  "the summary counts only what was committed ($stored)"
like "$out" "not stored .*running the same ingest again stores them" "and says the rest was not stored"

mount -o remount,size=64m "$T/small"
out=$(pd ingest "$T/mail" 2>"$T/err"); ok $? "a rerun with room succeeds"
like "$out" "$stored duplicates" "recognising what the first run stored"
is "$(sqlite3 "$T/small/postdesk.db" "SELECT count(*) FROM messages WHERE direction = 'in'")" 2000 "a rerun with room stores every message"
is "$(sqlite3 "$T/small/postdesk.db" "SELECT count(*) FROM (SELECT message_id FROM messages GROUP BY message_id HAVING count(*) > 1)")" \
   0 "none twice"
umount "$T/small"
done_testing
