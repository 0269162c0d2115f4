/* mime.h - one raw RFC 5322 message in, one plain struct out.
 *
 * Only ingest/mime.c and ingest/mime_html.c include GMime or libxml2: no
 * library type leaves this module. Every string in pd_message_t is valid
 * UTF-8, whatever charset the message declared (or failed to declare), so
 * nothing downstream (SQLite, PCRE2, JSON) ever sees invalid bytes.
 */
#ifndef POSTDESK_MIME_H
#define POSTDESK_MIME_H

#include "postdesk/common.h"

/* Limits on the shape of a message, checked by one linear pass over the raw
 * bytes before GMime sees them. GMime builds the whole MIME tree at once and
 * has no limits of its own, so a message well under max_message_bytes could
 * otherwise cost gigabytes: a million empty parts (5 MB of "--B" lines) took
 * 1.3 GB and 10 s, one part with 1.5 million header lines 800 MB. Each limit
 * is far above what real mail reaches, and together they keep a parse within
 * tens of megabytes and well under a second. */

/* Header sections (the message's own and each part's) larger than this are
 * refused: a 64 MiB header costs 330 MB of memory in GMime. Real headers are
 * a few kilobytes. */
#define PD_MIME_MAX_HEADER_BYTES (1024 * 1024)

/* MIME parts (every entity: the message, each part between boundary lines,
 * each attached message). GMime spends about 1.3 KB on even an empty part;
 * real mail has fewer than 100, a large digest a few hundred. */
#define PD_MIME_MAX_PARTS 2000

/* Levels of nesting (multiparts and attached messages inside each other).
 * Real mail stays under 20, even a long chain of forwarded attachments; every
 * level is one more boundary to compare each "--" line against. */
#define PD_MIME_MAX_DEPTH 64

/* Header lines in the whole message, every part's and attached message's
 * included (a folded field counts each of its lines). GMime spends about
 * 530 bytes on each; real mail has fewer than 500. The limit still admits a
 * message whose header section is filled to PD_MIME_MAX_HEADER_BYTES with
 * short fields such as 45,000 Delivered-To lines (about 27 MB in GMime). */
#define PD_MIME_MAX_HEADER_LINES 50000

/* Encoded words (=?charset?Q?...?=) in one header field. GMime decodes each
 * with its own charset conversion, so a 1 MiB Subject of tiny encoded words
 * costs a hundred thousand of them; real headers have a handful, a long
 * Japanese subject a few dozen. A message over it is refused whole. */
#define PD_MIME_MAX_ENCODED_WORDS 1000

/* RFC 2231 continuation segments (name*0*=, name*1*=, ...) in one header
 * field. GMime gathers the segments of a parameter in a list it searches for
 * each new one, so the cost grows with the square of their number; real
 * filenames take fewer than ten. A message over it is refused whole. */
#define PD_MIME_MAX_RFC2231_SEGMENTS 256

/* HTML bodies are converted up to this many bytes; beyond it the body ends
 * with a note saying how much was not converted. libxml2's tree costs about
 * twenty times its input (8 MB of HTML took 166 MB), and no one reads four
 * megabytes of a support mail's HTML. */
#define PD_HTML_MAX_BYTES (4 * 1024 * 1024)

/* HTML elements nested deeper than this are flattened: their text is kept,
 * the structure below the limit is not. libxml2 stops at 255 levels on its
 * own and silently drops everything after the deep block, so it is asked to
 * go on (HTML_PARSE_HUGE) and this bound takes the place of its own; long
 * quoted reply chains reach a few hundred levels. */
#define PD_HTML_MAX_DEPTH 1024

/* Attached messages (message/rfc822) whose text is shown in the body, one
 * inside the other: a forward of a forward of a forward. Deeper ones are
 * still listed as attachments, and the body says they were not shown. */
#define PD_MIME_MAX_FORWARD_LEVELS 8

/* Files unpacked from one winmail.dat (TNEF). Each is a whole attachment
 * in memory; Outlook rarely packs more than a dozen. Past it the body says
 * how many were listed. */
#define PD_MIME_MAX_TNEF_FILES 200

/* The charsets text mislabelled UTF-8 or US-ASCII is read in, when the
 * configuration says nothing ([postdesk] fallback_charsets). */
#define PD_MIME_DEFAULT_FALLBACK_CHARSETS "windows-1252"

typedef struct {
  char *name;     /* owned, UTF-8, decoded from RFC 2047; NULL when absent */
  char *address;  /* owned, lower-case domain part; never NULL */
} pd_address_t;

typedef struct {
  char *name;     /* owned: header name as written */
  char *value;    /* owned: unfolded, RFC 2047-decoded, UTF-8 */
} pd_header_t;

typedef struct {
  char *filename;   /* owned: decoded (RFC 2231/2047) and sanitised: no '/',
                       '\\', control characters or leading dots; never NULL
                       ("attachment-N" when the message names none) */
  char *mime_type;  /* owned, lower-case, e.g. "application/pdf" */
  gsize size;       /* decoded size in bytes */
  GBytes *content;  /* owned; NULL unless PD_MIME_WANT_CONTENT was given */
} pd_attachment_t;

/* What a delivery-failure report says about the mail that failed. Each
 * field is read from the machine-readable report (message/delivery-status,
 * message/feedback-report) when there is one, else from the text the mail
 * server wrote; any of them may be missing from a given report. */
typedef struct {
  char *recipient;            /* owned: the address that failed, e.g.
                                 "nobody@customer.example"; NULL when not found */
  char *status;               /* owned: the enhanced status code, e.g. "5.1.1";
                                 NULL when not found */
  char *diagnostic;           /* owned, one line of UTF-8: what the receiving
                                 server said; NULL when not found */
  char *original_message_id;  /* owned, without <>: the Message-ID of the
                                 returned message; NULL when not found */
} pd_bounce_detail_t;

void pd_bounce_detail_free (pd_bounce_detail_t *detail);  /* NULL-safe */

typedef struct {
  char *message_id;           /* owned, without <>; never NULL */
  bool message_id_synthetic;  /* true when the message had none and the id
                                 was derived from a hash of its raw bytes */
  pd_address_t *from;         /* owned; NULL when the message has no usable sender */
  GPtrArray *to;              /* owned, of pd_address_t* */
  GPtrArray *cc;              /* owned, of pd_address_t* */
  GPtrArray *reply_to;        /* owned, of pd_address_t* */
  GPtrArray *envelope_to;     /* owned, of char*: Delivered-To and X-Original-To addresses */
  char *subject;              /* owned, decoded; "" when absent */
  pd_time_t date;             /* the Date header; 0 when absent or unreadable */
  char *in_reply_to;          /* owned, without <>; NULL when absent */
  GPtrArray *references;      /* owned, of char*, without <>, oldest first */
  char *body_text;            /* owned: the readable body; "" when there is none */
  GPtrArray *attachments;     /* owned, of pd_attachment_t* */
  GPtrArray *headers;         /* owned, of pd_header_t*: the top-level headers in order */
  bool auto_reply;            /* RFC 3834 and vendor auto-reply markers
                                 (mime_auto.c); the rules' auto-reply action
                                 can set it too (rules/auto-reply.rules) */
  bool bulk;                  /* Precedence bulk/junk/list, List-Id, List-Unsubscribe */
  bool bounce;                /* a delivery-failure report (mime_bounce.c) */
  char *bounced_message_id;   /* owned: for a bounce, the Message-ID of the returned
                                 message when it can be found; else NULL */
  pd_bounce_detail_t *bounce_detail;  /* owned: non-NULL exactly when bounce */
} pd_message_t;

typedef enum {
  PD_MIME_WANT_CONTENT = 1 << 0,  /* keep decoded attachment bytes */
} pd_mime_flags_t;

/* Parses 'raw' ('len' bytes). Returns NULL with PD_ERROR_PARSE when the bytes
 * are not a message at all, or PD_ERROR_TOO_BIG when the message is over one
 * of the PD_MIME_MAX_* limits above; the error message names the limit and
 * what was counted. A message
 * with no usable sender is returned with from == NULL: whether that is
 * acceptable is the caller's decision. (transfer full) */
pd_message_t *pd_mime_parse (const char *raw, gsize len, guint flags, GError **err);

/* An empty message: every list allocated and empty, subject and body "".
 * Parsers and tests fill it in. (transfer full) */
pd_message_t *pd_message_new (void);
void pd_message_free (pd_message_t *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (pd_message_t, pd_message_free)

void pd_address_free (pd_address_t *addr);
void pd_attachment_free (pd_attachment_t *att);

/* The value of the first top-level header called 'name' (case-insensitive),
 * or NULL. (borrowed from msg) */
const char *pd_message_header (const pd_message_t *msg, const char *name);

/* The synthetic Message-ID for raw bytes that carry none: stable across CRLF
 * and LF line endings. (transfer full) */
char *pd_mime_synthetic_id (const char *raw, gsize len);

/* SHA-256 (lower-case hex) of what the message carries: every header the
 * sender wrote and the whole body with its attachments, with line endings
 * normalised and the trace headers transport adds (Received, Return-Path,
 * Delivered-To, Authentication-Results, ...) left out. Two copies of one
 * mail that came by different roads hash alike; different mail never does,
 * whatever Message-ID it reuses. (transfer full) */
char *pd_mime_content_hash (const char *raw, gsize len);
/* The same, leaving out the header fields named in 'also_ignore' too
 * (NULL-terminated, case-insensitive): e.g. the sender, to recognise a
 * held message that was stored after its From was corrected. */
char *pd_mime_content_hash_except (const char *raw, gsize len, const char *const *also_ignore);

/* HTML to readable text (libxml2's HTML parser): paragraphs and line breaks
 * kept, script and style dropped, entities decoded. 'html' is UTF-8.
 * (transfer full, valid UTF-8) */
char *pd_html_to_text (const char *html, gsize len);

/* Makes any bytes valid UTF-8. A declared, known 'charset' wins even when
 * the bytes happen to be valid UTF-8 (ISO-2022-JP is pure ASCII on the
 * wire); without one, valid UTF-8 stays as it is and anything else is read
 * as windows-1252. What cannot be converted becomes U+FFFD. (transfer full) */
char *pd_text_to_utf8 (const char *bytes, gsize len, const char *charset);

/* Whether the headers of 'msg' mark it an automatic reply by RFC 3834 or
 * a header every vendor agrees on (Auto-Submitted other than "no",
 * X-Autoreply, X-Autorespond, Precedence: auto_reply). Subjects and the
 * vendor headers that need judgement are rules (rules/auto-reply.rules).
 * (mime_auto.c) */
bool pd_mime_headers_say_auto_reply (const pd_message_t *msg);

/* Appends a header to msg->headers (copies both strings). */
void pd_message_add_header (pd_message_t *msg, const char *name, const char *value);

/* How text labelled UTF-8 (or US-ASCII) whose bytes are not valid UTF-8 is
 * read: in the first of 'charsets' (NULL-terminated) that converts every
 * byte, for body parts and raw 8-bit headers alike. This is process-wide
 * state rather than a parse option because it is configuration, set once:
 * call it at start-up after the configuration is read and before any parse
 * or thread starts (pd_mime_parse reads it without a lock). NULL or an empty
 * list restores the default. Returns false, changing nothing, when a charset
 * is one iconv does not know. */
bool pd_mime_set_fallback_charsets (const char *const *charsets, GError **err);

/* Called once at start-up and once at exit by main(). */
void pd_mime_init (void);
void pd_mime_shutdown (void);

#endif
