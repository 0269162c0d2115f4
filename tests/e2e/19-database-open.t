#!/bin/bash
# The database a command opens is the one meant: a mistyped path is an
# error, not an empty desk; another program's SQLite file is refused
# untouched; a read-only copy can still be read.
. "$POSTDESK_SRC/tests/e2e/lib.sh"

new_desk
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>&1
tickets=$(pd tickets list --json | jq length)
ok $([ "$tickets" -gt 0 ] && echo 0 || echo 1) "the desk has tickets to lose ($tickets)"

# A typo in 'database ='.
sed -i 's|^database *=.*|database = var/postdes.db|' "$CONF"
grep -q '^database = var/postdes.db' "$CONF"; ok $? "the configuration now names a file that does not exist"
pd tickets list >"$T/out" 2>"$T/err"; is "$?" 1 "tickets list on a missing database fails"
like "$(cat "$T/err")" "postdesk.conf: database: there is no database .*/var/postdes.db" \
  "naming the configuration and the path"
is "$(cat "$T/out")" "" "and shows no empty desk"
test ! -e "$DESK/var/postdes.db"; ok $? "and creates no file"
for cmd in "tickets show 1" "outbox list" "quarantine list" "quarantine show 1"; do
  pd $cmd >/dev/null 2>&1; is "$?" 1 "'$cmd' on a missing database fails too"
done
test ! -e "$DESK/var/postdes.db"; ok $? "none of them created it"

# ingest may create a database, but not the folders of a mistyped path.
sed -i 's|^database *=.*|database = vra/postdesk.db|' "$CONF"
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>"$T/err"; is "$?" 1 "ingest into a missing folder fails"
like "$(cat "$T/err")" "cannot create database .*/vra/postdesk.db: the folder .*/vra does not exist" "and says which folder"
test ! -e "$DESK/vra"; ok $? "and does not create it"

# Another program's database.
sqlite3 "$T/other.db" "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread');"
before=$(sha256sum < "$T/other.db")
sed -i "s|^database *=.*|database = $T/other.db|" "$CONF"
pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>"$T/err"; is "$?" 1 "ingest into another program's database fails"
like "$(cat "$T/err")" "other.db is not a postdesk database .*'recipes'" "saying whose file it seems to be"
pd tickets list >/dev/null 2>"$T/err"; is "$?" 1 "tickets list refuses it as well"
is "$(sha256sum < "$T/other.db")" "$before" "the file is untouched"
is "$(sqlite3 "$T/other.db" "SELECT count(*) FROM sqlite_schema")" 1 "no table was added to it"

# A read-only mount: a support lead or a backup can still look. Permission
# bits do not stop root, so the test mounts a small file system and makes
# it read-only.
sed -i 's|^database *=.*|database = var/postdesk.db|' "$CONF"
mkdir -p "$T/ro"
if mount -t tmpfs -o size=16m tmpfs "$T/ro" 2>/dev/null; then
  trap 'umount "$T/ro" 2>/dev/null; rm -rf "$T"' EXIT
  cp "$DESK/var/postdesk.db" "$T/ro/postdesk.db"
  mount -o remount,ro "$T/ro"
  sed -i "s|^database *=.*|database = $T/ro/postdesk.db|" "$CONF"
  out=$(pd tickets list --json 2>"$T/err" | jq length); is "$out" "$tickets" "tickets list reads a database on a read-only mount"
  pd tickets show --json 1 >/dev/null 2>&1; ok $? "and tickets show"
  pd ingest "$POSTDESK_SRC/examples/mail" >/dev/null 2>"$T/err"; is "$?" 1 "ingest there fails"
  like "$(cat "$T/err")" "read-only" "saying the database is read-only"
  umount "$T/ro"
else
  for d in "tickets list reads a database on a read-only mount" "and tickets show" "ingest there fails" \
           "saying the database is read-only"; do
    skip "$d" "cannot mount a file system here"
  done
fi
done_testing
