# tests/e2e/dovecot.sh - a throwaway Dovecot for the IMAP tests, sourced
# after lib.sh. It lives in $T/dovecot: a test CA and a server certificate
# for localhost and 127.0.0.1 made with openssl, a passwd-file user
# support:{PLAIN}secret, Maildirs owned by nobody, and listeners on free
# loopback ports:
#   DOVECOT_IMAPS  imaps (TLS from the first byte)
#   DOVECOT_IMAP   imap with STARTTLS offered
#   DOVECOT_PLAIN  imap with ssl = no on its own instance (no STARTTLS)
# dovecot_start starts it (needs root, Debian's dovecot-imapd and the
# dovecot and dovenull users its package creates); an EXIT trap stops it.
#
# Mail goes in through IMAP APPEND (Debian's python3 imaplib), so that
# Dovecot assigns UIDs and INTERNALDATEs as it does for delivered mail.

DOVECOT_DIR="$T/dovecot"
PY=/usr/bin/python3

# dovecot_missing: why this machine cannot run the tests, or nothing.
dovecot_missing () {
  [ "$(id -u)" = 0 ] || { echo "Dovecot runs as root here (its config sets uid nobody)"; return; }
  command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || { echo "dovecot-imapd is not installed"; return; }
  id dovecot >/dev/null 2>&1 && id dovenull >/dev/null 2>&1 || { echo "the dovecot and dovenull users are missing"; return; }
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; return; }
  [ -x "$PY" ] || { echo "$PY is missing"; return; }
}

# A free TCP port on 127.0.0.1 (the kernel picks it; it stays free long
# enough for Dovecot to take it).
free_port () {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# dovecot_certs: CA, a server certificate signed by it (SAN localhost,
# 127.0.0.1), and a second CA that signed nothing here (an unknown CA).
dovecot_certs () {
  local d="$DOVECOT_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
    -subj "/CN=postdesk test CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/cert.pem" -days 2 -extfile "$d/ext.cnf" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other-ca.key" -out "$d/other-ca.pem" -days 2 \
    -subj "/CN=some other CA" 2>/dev/null
}

# dovecot_conf NAME SSL LISTENERS: one instance's configuration.
dovecot_conf () {
  # The main instance listens on 127.0.0.2 too: a loopback address the
  # certificate does not name, for the wrong-host-name test.
  local name=$1 ssl=$2 listeners=$3 d="$DOVECOT_DIR/$1" listen=127.0.0.1
  [ "$name" = main ] && listen="127.0.0.1, 127.0.0.2"
  mkdir -p "$d/run" "$d/state"
  cat > "$d/dovecot.conf" <<EOF
protocols = imap
listen = $listen
base_dir = $d/run
state_dir = $d/state
instance_name = postdesk-test-$name-$$
log_path = $DOVECOT_DIR/$name.log
auth_verbose = yes
ssl = $ssl
ssl_cert = <$DOVECOT_DIR/cert.pem
ssl_key = <$DOVECOT_DIR/key.pem
disable_plaintext_auth = no
first_valid_uid = 1
mail_location = maildir:$DOVECOT_DIR/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVECOT_DIR/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DOVECOT_DIR/mail/%u
}
service imap-login {
$listeners
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
namespace inbox {
  inbox = yes
  mailbox Processed {
    auto = create
  }
}
EOF
}

dovecot_start () {
  mkdir -p "$DOVECOT_DIR/mail"
  # The auth process runs as dovecot: the users file and the folders
  # leading to it must be readable and traversable by it.
  chmod 755 "$T" "$DOVECOT_DIR"
  dovecot_certs
  chmod 644 "$DOVECOT_DIR"/*.pem
  echo 'support:{PLAIN}secret' > "$DOVECOT_DIR/users"
  chmod 644 "$DOVECOT_DIR/users"
  chown nobody:nogroup "$DOVECOT_DIR/mail"
  DOVECOT_IMAPS=$(free_port)
  DOVECOT_IMAP=$(free_port)
  DOVECOT_PLAIN=$(free_port)
  dovecot_conf main required "  inet_listener imap {
    port = $DOVECOT_IMAP
  }
  inet_listener imaps {
    port = $DOVECOT_IMAPS
    ssl = yes
  }"
  dovecot_conf plain no "  inet_listener imap {
    port = $DOVECOT_PLAIN
  }
  inet_listener imaps {
    port = 0
  }"
  trap 'dovecot_stop; rm -rf "$T"' EXIT
  local name
  for name in main plain; do
    /usr/sbin/dovecot -c "$DOVECOT_DIR/$name/dovecot.conf" || return 1
  done
  local port i
  for port in "$DOVECOT_IMAPS" "$DOVECOT_IMAP" "$DOVECOT_PLAIN"; do
    for i in $(seq 100); do
      "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
      sleep 0.1
    done
  done
}

dovecot_stop () {
  local name
  for name in main plain; do
    [ -f "$DOVECOT_DIR/$name/dovecot.conf" ] && doveadm -c "$DOVECOT_DIR/$name/dovecot.conf" stop 2>/dev/null
  done
  return 0
}

# imap_py PYTHON: runs Python with 'M', an imaplib connection logged in as
# support over the plain listener (the tests' own side channel).
imap_py () {
  "$PY" - "$DOVECOT_PLAIN" "$1" <<'EOF'
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("support", "secret")
exec(sys.argv[2])
M.logout()
EOF
}

# imap_append FOLDER DATE FILE...: appends each message with INTERNALDATE
# DATE (an IMAP date-time such as "06-Mar-2026 16:00:00 -0800").
imap_append () {
  local folder=$1 date=$2
  shift 2
  "$PY" - "$DOVECOT_PLAIN" "$folder" "$date" "$@" <<'EOF'
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("support", "secret")
for path in sys.argv[4:]:
    with open(path, "rb") as f:
        data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    typ, _ = M.append(sys.argv[2], None, '"' + sys.argv[3] + '"', data)
    assert typ == "OK", typ
M.logout()
EOF
}

# imap_count FOLDER [CRITERIA]: how many messages match, e.g. imap_count INBOX UNSEEN
imap_count () {
  imap_py "M.select('$1'); t, d = M.search(None, '${2:-ALL}'); print(len(d[0].split()))"
}

# dovecot_logins: how many logins the main instance's log records.
dovecot_logins () {
  grep -c 'imap-login: Login: user=<support>' "$DOVECOT_DIR/main.log" 2>/dev/null || true
}

# mailbox_conf NAME URL [KEY = VALUE...]: appends a [mailbox NAME] section to $CONF.
mailbox_conf () {
  local name=$1 url=$2
  shift 2
  [ -f "$DOVECOT_DIR/support.pass" ] || { echo secret > "$DOVECOT_DIR/support.pass"; chmod 600 "$DOVECOT_DIR/support.pass"; }
  {
    echo
    echo "[mailbox $name]"
    echo "url = $url"
    echo "username = support"
    echo "password_file = $DOVECOT_DIR/support.pass"
    for kv in "$@"; do echo "$kv"; done
  } >> "$CONF"
}
