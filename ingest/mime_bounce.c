/* mime_bounce.c - delivery-failure reports, in the shapes real mail servers
 * and mail services send them, and what they say about the failed mail.
 *
 * Two kinds of evidence are weighed separately:
 *   - who sent it: a null Return-Path (RFC 5321 says every delivery report
 *     is sent with an empty reverse-path, and the delivering server writes
 *     that as "Return-Path: <>"), or a sender that is a mail system
 *     (MAILER-DAEMON, postmaster, "Mail Delivery System", Exchange's
 *     MicrosoftExchange... mailbox);
 *   - what it says: a machine-readable report (message/delivery-status,
 *     message/feedback-report) anywhere in the message's own MIME tree, or
 *     the failure subjects, the returned message, X-Failed-Recipients and
 *     the text layouts of the MTAs that send plain-text reports (Exim,
 *     qmail, Sendmail, Domino, carrier gateways).
 *
 * Calling a customer's mail a bounce is worse than missing a bounce: the
 * customer would never hear back. So a message whose Return-Path names a
 * real sender and whose From is not a mail system is never a bounce,
 * whatever it carries: that is a person who pasted or forwarded a bounce.
 * Attached messages are never entered, so a bounce forwarded as an
 * attachment stays the customer's message. And a report that says every
 * recipient was delayed or delivered is not a failure.
 */
#include "mime_detect.h"

#include <string.h>

/* At most this much of a report part (message/delivery-status,
 * message/feedback-report) is read. A report lists one block of a few
 * hundred bytes per recipient; the bound keeps a hostile part cheap. */
#define MAX_REPORT_BYTES (256 * 1024)

/* At most this much of the body text is searched for the failed
 * recipient, the status code and a copy of the returned message's
 * headers. MTAs write their explanation at the top; what follows is the
 * returned message, whose headers come within the first few kilobytes. */
#define MAX_BODY_SCAN_BYTES (256 * 1024)

/* Longest diagnostic kept, in bytes (cut at a character boundary): a
 * server's reply is one or two lines, and the detail is for display. */
#define MAX_DIAGNOSTIC_BYTES 500

/* Longest message-id kept (RFC 5322's line length limit), as in mime.c. */
#define MAX_MESSAGE_ID_BYTES 995

/* Subjects that open a delivery-failure report, compared as case-folded
 * prefixes. They count only from a mail system (see the top of the file),
 * so a customer writing "Undeliverable: my parcel" is safe. The
 * non-English ones are Exchange's and Outlook.com's translations of
 * "Undeliverable:", which keep the English layout of the report. */
static const char *const failure_subjects[] = {
  "Undelivered Mail Returned to Sender",      /* Postfix */
  "Delivery Status Notification (Failure)",   /* Gmail, Exchange, Sendmail -N */
  "Mail delivery failed",                     /* Exim */
  "Undeliverable",                            /* Exchange, Office 365, carriers */
  "Undelivered",                              /* "Undelivered Message", ... */
  "Returned mail:",                           /* Sendmail */
  "failure notice",                           /* qmail, Yahoo */
  "DELIVERY FAILURE",                         /* Lotus Notes / Domino */
  "Delivery Notification: Delivery has failed", /* Domino, older */
  "Delivery status notification: error",      /* OpenSMTPD */
  "Delivery failed",
  "Delivery Failure",
  "Message not delivered",
  "Message undeliverable",
  "Mail System Error - Returned Mail",
  "Nondeliverable mail",
  "Address not found",                        /* Gmail's newer reports */
  "Unzustellbar",                             /* German */
  "Nicht zustellbar",
  "Non remis",                                /* French */
  "Non distribuable",
  "No se puede entregar",                     /* Spanish */
  "Non recapitabile",                         /* Italian */
  "Onbestelbaar",                             /* Dutch */
  "Não é possível entregar",                  /* Portuguese */
  "Olevererbart",                             /* Swedish */
  "Kan ikke leveres",                         /* Danish, Norwegian */
  "Niedostarczalne",                          /* Polish */
  "Недоставляемое",                           /* Russian */
  "配信不能",                                 /* Japanese */
  "無法傳遞",                                 /* Chinese (traditional) */
  "无法传递",                                 /* Chinese (simplified) */
  "전달되지 않음",                            /* Korean */
};

/* Subjects of warnings that a message is still being retried: a mail
 * system's, but not a failure. They win over the failure words in their
 * text ("could not be delivered for 4 hours"). */
static const char *const delay_subjects[] = {
  "Delayed Mail",                             /* Postfix */
  "Delivery Status Notification (Delay)",     /* Gmail, Sendmail */
  "Delivery delayed",                         /* Exchange */
  "Warning: could not send message",          /* Sendmail */
  "Warning: message",                         /* Exim: "Warning: message ... delayed" */
  "Delivery status notification: delay",      /* OpenSMTPD */
};

/* Sentences a mail system writes when it gives up, searched (case-folded)
 * in the body of mail from a mail system that has no other evidence, such
 * as a carrier gateway's one-line reply or Domino's plain report. */
static const char *const failure_phrases[] = {
  "could not be delivered", "couldn't be delivered", "wasn't delivered", "was not delivered",
  "delivery has failed", "delivery failed", "permanent error", "permanent fatal error",
  "unable to deliver", "could not deliver", "undeliverable", "failed permanently",
  "not listed in domino directory", "user unknown", "no such user", "mailbox unavailable",
};

/* Sentences of a delay warning: the message is still queued. */
static const char *const delay_phrases[] = {
  "do not need to resend", "will continue trying", "will keep trying", "still being retried",
  "will be retried", "no action is required",
};

/* Lines that introduce the copy of the returned message in a plain-text
 * report (Exim, qmail, Exchange's text part, Domino, Sendmail): the failed
 * recipient is looked for above them, the returned Message-ID below. */
static const char *const original_markers[] = {
  "copy of the message", "copy of your message", "below this line is a copy",
  "copy of the original message", "original message follows", "original message headers",
  "- original message -", "returned message follows", "message headers follow",
  "headers of the original message", "unsent message below",
};

typedef struct {
  GMimePart *dsn;         /* borrowed: the first message/delivery-status part */
  GMimePart *feedback;    /* borrowed: the first message/feedback-report part */
  GMimeObject *returned;  /* borrowed: the first attached message or header
                             block, where a report keeps the original */
  bool report_multipart;  /* a multipart/report of a delivery or feedback type */
  bool receipt;           /* a read receipt (RFC 8098): sent by a mail
                             program with a null Return-Path and a header
                             block, but nothing failed */
} tree_t;

static bool
type_is (GMimeObject *obj, const char *type, const char *subtype)
{
  GMimeContentType *ct = g_mime_object_get_content_type (obj);
  return ct != NULL && g_mime_content_type_is_type (ct, type, subtype);
}

/* Walks the message's own MIME tree in document order, without recursion
 * and never into an attached message, noting the parts a report is made
 * of. The pre-pass in mime.c has already bounded the number of parts. */
static void
scan_tree (GMimeObject *top, tree_t *t)
{
  g_autoptr (GPtrArray) stack = g_ptr_array_new ();  /* borrowed objects */
  g_ptr_array_add (stack, top);
  guint visited = 0;
  while (stack->len > 0 && visited++ < PD_MIME_MAX_PARTS)
    {
      GMimeObject *obj = g_ptr_array_steal_index (stack, stack->len - 1);
      if (obj == NULL)
        continue;
      if (GMIME_IS_MULTIPART (obj))
        {
          if (type_is (obj, "multipart", "report"))
            {
              /* Read as a parameter: never anything that re-encodes the
               * Content-Type (GMime issue #165, see mime.c). */
              const char *report = g_mime_object_get_content_type_parameter (obj, "report-type");
              if (report != NULL
                  && (g_ascii_strcasecmp (report, "delivery-status") == 0
                      || g_ascii_strcasecmp (report, "global-delivery-status") == 0
                      || g_ascii_strcasecmp (report, "feedback-report") == 0))
                t->report_multipart = true;
              if (report != NULL && g_ascii_strcasecmp (report, "disposition-notification") == 0)
                t->receipt = true;
            }
          GMimeMultipart *multi = GMIME_MULTIPART (obj);
          for (int i = g_mime_multipart_get_count (multi) - 1; i >= 0; i--)
            g_ptr_array_add (stack, g_mime_multipart_get_part (multi, i));
        }
      else if (GMIME_IS_MESSAGE_PART (obj))
        {
          if (t->returned == NULL)
            t->returned = obj;
        }
      else if (GMIME_IS_PART (obj))
        {
          if (t->dsn == NULL
              && (type_is (obj, "message", "delivery-status") || type_is (obj, "message", "global-delivery-status")))
            t->dsn = GMIME_PART (obj);
          else if (t->feedback == NULL && type_is (obj, "message", "feedback-report"))
            t->feedback = GMIME_PART (obj);
          else if (type_is (obj, "message", "disposition-notification"))
            t->receipt = true;
          else if (t->returned == NULL
                   && (type_is (obj, "text", "rfc822-headers") || type_is (obj, "message", "global-headers")
                       || type_is (obj, "message", "rfc822") || type_is (obj, "message", "global")))
            t->returned = obj;
        }
    }
}

/* The decoded bytes of a leaf part, at most 'limit' of them, as valid
 * UTF-8 in its declared charset. Base64 goes through GLib's decoder, which
 * reads on past '=' padding where GMime 3.2.13's stops (see mime.c).
 * (transfer full, never NULL) */
static char *
part_text (GMimePart *part, gsize limit)
{
  GMimeDataWrapper *wrapper = g_mime_part_get_content (part);
  GMimeStream *encoded = wrapper != NULL ? g_mime_data_wrapper_get_stream (wrapper) : NULL;
  if (encoded == NULL)
    return g_strdup ("");
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding (wrapper);
  g_mime_stream_reset (encoded);
  GMimeStream *source = encoded;
  GMimeStream *filtered = NULL;  /* owned when set */
  if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || encoding == GMIME_CONTENT_ENCODING_UUENCODE)
    {
      filtered = g_mime_stream_filter_new (encoded);
      GMimeFilter *decoder = g_mime_filter_basic_new (encoding, FALSE);
      g_mime_stream_filter_add (GMIME_STREAM_FILTER (filtered), decoder);
      g_object_unref (decoder);
      source = filtered;
    }
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  char in[8192];
  guchar decoded[sizeof in / 4 * 3 + 3];
  int state = 0;
  guint save = 0;
  while (bytes->len < limit)
    {
      ssize_t n = g_mime_stream_read (source, in, sizeof in);
      if (n <= 0)
        break;
      const guchar *data = (const guchar *) in;
      gsize got = (gsize) n;
      if (encoding == GMIME_CONTENT_ENCODING_BASE64)
        {
          got = g_base64_decode_step (in, (gsize) n, decoded, &state, &save);
          data = decoded;
        }
      g_byte_array_append (bytes, data, (guint) MIN (got, limit - bytes->len));
    }
  g_clear_object (&filtered);
  const char *charset = g_mime_object_get_content_type_parameter (GMIME_OBJECT (part), "charset");
  return pd_text_to_utf8 ((const char *) bytes->data, bytes->len, charset);
}

/* ---- Small text helpers --------------------------------------------------- */

/* Whether 'text' starts, case-folded and after blanks, with one of
 * 'prefixes'. */
static bool
starts_with_any (const char *text, const char *const *prefixes, gsize n)
{
  while (g_ascii_isspace (*text))
    text++;
  g_autofree char *head = g_utf8_casefold (text, MIN (strlen (text), 200));
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *want = g_utf8_casefold (prefixes[i], -1);
      if (g_str_has_prefix (head, want))
        return true;
    }
  return false;
}

/* Whether the case-folded 'folded' contains one of 'phrases'. */
static bool
contains_any (const char *folded, const char *const *phrases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (strstr (folded, phrases[i]) != NULL)
      return true;
  return false;
}

/* Blanks collapsed to one space, the ends trimmed, cut to 'max' bytes at a
 * character boundary; NULL when nothing is left. (transfer full) */
static char *
one_line (const char *text, gsize len, gsize max)
{
  GString *s = g_string_sized_new (MIN (len, max) + 1);
  bool blank = false;
  for (gsize i = 0; i < len && text[i] != '\0'; i++)
    {
      if (g_ascii_isspace (text[i]) || (guchar) text[i] < 0x20 || text[i] == 0x7F)
        blank = s->len > 0;
      else
        {
          if (blank)
            g_string_append_c (s, ' ');
          blank = false;
          g_string_append_c (s, text[i]);
        }
    }
  if (s->len > max)
    {
      gsize keep = max;
      while (keep > 0 && ((guchar) s->str[keep] & 0xC0) == 0x80)
        keep--;
      g_string_truncate (s, keep);
    }
  if (s->len == 0)
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  return g_string_free (s, FALSE);
}

/* A message-id worth keeping, from a header value ("<id@host>", perhaps
 * with comments or folding): printable, no blanks, valid UTF-8, not
 * absurdly long. (transfer full, or NULL) */
static char *
clean_message_id (const char *value)
{
  if (value == NULL)
    return NULL;
  g_autofree char *id = g_mime_utils_decode_message_id (value);
  if (id == NULL || *id == '\0')
    return NULL;
  gsize len = strlen (id);
  if (len > MAX_MESSAGE_ID_BYTES || !g_utf8_validate (id, (gssize) len, NULL))
    return NULL;
  for (const guchar *p = (const guchar *) id; *p != '\0'; p++)
    if (*p <= ' ' || *p == 0x7F || *p == '<' || *p == '>')
      return NULL;
  return g_steal_pointer (&id);
}

/* An address as postdesk stores one: no angle brackets or blanks around
 * it, lower case; NULL unless it has a local part, '@' and a domain.
 * (transfer full) */
static char *
clean_address (const char *text, gsize len)
{
  g_autofree char *copy = g_strndup (text, len);
  char *a = g_strstrip (copy);
  gsize n = strlen (a);
  if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
    {
      a[n - 1] = '\0';
      a = g_strstrip (a + 1);
    }
  const char *at = strrchr (a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strpbrk (a, " \t<>,;\"") != NULL)
    return NULL;
  if (!g_utf8_validate (a, -1, NULL))
    return NULL;
  return g_utf8_strdown (a, -1);
}

/* An enhanced status code (RFC 3463: class 2, 4 or 5, subject and detail
 * of one to three digits) at 'p', not part of a longer dotted number such
 * as an IP address or a version. Returns its length, or 0. */
static gsize
status_code_at (const char *start, const char *p)
{
  if (p > start && (g_ascii_isdigit (p[-1]) || p[-1] == '.'))
    return 0;
  if (*p != '2' && *p != '4' && *p != '5')
    return 0;
  const char *q = p + 1;
  for (int group = 0; group < 2; group++)
    {
      if (*q != '.')
        return 0;
      q++;
      int digits = 0;
      while (g_ascii_isdigit (*q) && digits < 4)
        {
          q++;
          digits++;
        }
      if (digits == 0 || digits > 3)
        return 0;
    }
  if (*q == '.' && g_ascii_isdigit (q[1]))
    return 0;
  if (g_ascii_isdigit (*q))
    return 0;
  return (gsize) (q - p);
}

/* The first failure status code (class 4 or 5) in 'text'; the first of
 * class 2 only when there is no other. (transfer full, or NULL) */
static char *
find_status_code (const char *text, const char **where)
{
  const char *success = NULL;
  gsize success_len = 0;
  for (const char *p = text; *p != '\0'; p++)
    {
      gsize n = status_code_at (text, p);
      if (n == 0)
        continue;
      if (*p != '2')
        {
          if (where != NULL)
            *where = p;
          return g_strndup (p, n);
        }
      if (success == NULL)
        {
          success = p;
          success_len = n;
        }
    }
  if (success != NULL && where != NULL)
    *where = success;
  return success != NULL ? g_strndup (success, success_len) : NULL;
}

/* The unfolded value of the first header line called 'name' in
 * [text, end): a line that starts with the name, perhaps blanks, and ':'.
 * Continuation lines (starting with a blank) are joined. With
 * 'header_section' the search stops at the first empty line.
 * (transfer full, or NULL) */
static char *
find_header_line (const char *text, const char *end, const char *name, bool header_section)
{
  gsize name_len = strlen (name);
  for (const char *line = text; line < end;)
    {
      const char *nl = memchr (line, '\n', (gsize) (end - line));
      const char *line_end = nl != NULL ? nl : end;
      if (header_section && (line_end == line || (line_end == line + 1 && *line == '\r')))
        return NULL;
      if ((gsize) (line_end - line) > name_len && g_ascii_strncasecmp (line, name, name_len) == 0)
        {
          const char *p = line + name_len;
          while (p < line_end && (*p == ' ' || *p == '\t'))
            p++;
          if (p < line_end && *p == ':')
            {
              GString *value = g_string_new_len (p + 1, line_end - p - 1);
              /* Continuation lines. */
              while (nl != NULL && nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t'))
                {
                  const char *next = nl + 1;
                  nl = memchr (next, '\n', (gsize) (end - next));
                  const char *next_end = nl != NULL ? nl : end;
                  g_string_append_c (value, ' ');
                  g_string_append_len (value, next, next_end - next);
                }
              return g_string_free (value, FALSE);
            }
        }
      line = nl != NULL ? nl + 1 : end;
    }
  return NULL;
}

/* ---- The machine-readable report ----------------------------------------- */

/* One block of a message/delivery-status or message/feedback-report part:
 * the fields a help desk uses, values unfolded. */
typedef struct {
  char *final_recipient;     /* owned or NULL */
  char *original_recipient;  /* owned or NULL */
  char *action;              /* owned or NULL */
  char *status;              /* owned or NULL */
  char *diagnostic;          /* owned or NULL */
  char *feedback_type;       /* owned or NULL */
  char *original_rcpt_to;    /* owned or NULL */
} report_block_t;

static void
report_block_clear (report_block_t *b)
{
  g_free (b->final_recipient);
  g_free (b->original_recipient);
  g_free (b->action);
  g_free (b->status);
  g_free (b->diagnostic);
  g_free (b->feedback_type);
  g_free (b->original_rcpt_to);
  memset (b, 0, sizeof *b);
}

static void
report_block_take (report_block_t *b, const char *name, GString *value)
{
  static const struct {
    const char *name;
    gsize offset;
  } fields[] = {
    { "Final-Recipient", G_STRUCT_OFFSET (report_block_t, final_recipient) },
    { "Original-Recipient", G_STRUCT_OFFSET (report_block_t, original_recipient) },
    { "Action", G_STRUCT_OFFSET (report_block_t, action) },
    { "Status", G_STRUCT_OFFSET (report_block_t, status) },
    { "Diagnostic-Code", G_STRUCT_OFFSET (report_block_t, diagnostic) },
    { "Feedback-Type", G_STRUCT_OFFSET (report_block_t, feedback_type) },
    { "Original-Rcpt-To", G_STRUCT_OFFSET (report_block_t, original_rcpt_to) },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (g_ascii_strcasecmp (name, fields[i].name) == 0)
      {
        char **slot = G_STRUCT_MEMBER_P (b, fields[i].offset);
        if (*slot == NULL)
          *slot = one_line (value->str, value->len, MAX_DIAGNOSTIC_BYTES * 2);
        return;
      }
}

static bool
report_block_is_recipient (const report_block_t *b)
{
  return b->final_recipient != NULL || b->original_recipient != NULL || b->action != NULL || b->status != NULL;
}

/* Whether a recipient block reports a failure: Action "failed", or, from
 * the servers that leave Action out, a status that is not a success. A
 * block that says "delayed", "delivered", "relayed" or "expanded" is not. */
static bool
report_block_failed (const report_block_t *b)
{
  if (b->action != NULL)
    return g_ascii_strncasecmp (b->action, "failed", 6) == 0;
  return b->status == NULL || b->status[0] != '2';
}

/* "rfc822; user@example.com" -> "user@example.com": the address type before
 * ';' is dropped. (transfer full, or NULL) */
static char *
typed_address (const char *value)
{
  if (value == NULL)
    return NULL;
  const char *semi = strchr (value, ';');
  const char *a = semi != NULL ? semi + 1 : value;
  return clean_address (a, strlen (a));
}

/* "smtp; 550 5.1.1 ..." -> "550 5.1.1 ...": the diagnostic type before ';'
 * is dropped when it is one word. (transfer full, or NULL) */
static char *
typed_text (const char *value)
{
  if (value == NULL)
    return NULL;
  const char *semi = strchr (value, ';');
  if (semi != NULL && memchr (value, ' ', (gsize) (semi - value)) == NULL)
    value = semi + 1;
  return one_line (value, strlen (value), MAX_DIAGNOSTIC_BYTES);
}

typedef enum {
  REPORT_NONE,     /* no report part, or nothing readable in it */
  REPORT_FAILED,   /* at least one recipient failed (filled in *detail) */
  REPORT_UNKNOWN,  /* a report without recipient blocks: taken as a failure */
  REPORT_NO_FAILURE,  /* every recipient delayed, delivered, relayed or expanded */
} report_verdict_t;

/* Reads a report part: RFC 3464 (delivery-status) or RFC 5965
 * (feedback-report) fields, in blocks separated by empty lines. The first
 * failed recipient fills 'detail'. */
static report_verdict_t
read_report (GMimePart *part, pd_bounce_detail_t *detail)
{
  g_autofree char *text = part_text (part, MAX_REPORT_BYTES);
  report_block_t block = { 0 };
  report_block_t failed = { 0 };  /* the first recipient that failed */
  g_autofree char *feedback_type = NULL;
  g_autofree char *original_rcpt_to = NULL;
  bool any_recipient = false;
  bool found = false;
  g_autoptr (GString) name = g_string_new (NULL);
  g_autoptr (GString) value = g_string_new (NULL);

  const char *line = text;
  for (;;)
    {
      const char *nl = strchr (line, '\n');
      gsize len = nl != NULL ? (gsize) (nl - line) : strlen (line);
      if (len > 0 && line[len - 1] == '\r')
        len--;
      bool continuation = len > 0 && (line[0] == ' ' || line[0] == '\t');
      if (continuation && name->len > 0)
        {
          g_string_append_c (value, ' ');
          g_string_append_len (value, line, (gssize) len);
        }
      else
        {
          if (name->len > 0)
            report_block_take (&block, name->str, value);
          g_string_truncate (name, 0);
          g_string_truncate (value, 0);
          const char *colon = memchr (line, ':', len);
          bool blank = true;
          for (gsize i = 0; i < len && blank; i++)
            blank = g_ascii_isspace (line[i]);
          if (colon != NULL && !blank)
            {
              g_string_append_len (name, line, colon - line);
              g_strstrip (name->str);
              name->len = strlen (name->str);
              g_string_append_len (value, colon + 1, (gssize) (len - (gsize) (colon + 1 - line)));
            }
          if (blank || nl == NULL)
            {
              /* The end of a block: keep the first that failed. */
              if (report_block_is_recipient (&block))
                {
                  any_recipient = true;
                  if (!found && report_block_failed (&block))
                    {
                      found = true;
                      failed = block;
                      memset (&block, 0, sizeof block);
                    }
                }
              if (block.feedback_type != NULL && feedback_type == NULL)
                {
                  feedback_type = g_steal_pointer (&block.feedback_type);
                  original_rcpt_to = g_steal_pointer (&block.original_rcpt_to);
                }
              report_block_clear (&block);
            }
        }
      if (nl == NULL)
        break;
      line = nl + 1;
    }
  report_block_clear (&block);

  report_verdict_t verdict;
  if (found)
    {
      detail->recipient = typed_address (failed.final_recipient);
      if (detail->recipient == NULL)
        detail->recipient = typed_address (failed.original_recipient);
      detail->diagnostic = typed_text (failed.diagnostic);
      const char *s = failed.status != NULL ? failed.status : "";
      while (g_ascii_isspace (*s))
        s++;
      gsize n = status_code_at (s, s);
      if (n > 0)
        detail->status = g_strndup (s, n);
      /* Exim and others report every failure as 5.0.0 and put the real
       * code in the diagnostic: the specific one of the same class says
       * more ("5.1.1": no such user). */
      g_autofree char *specific = detail->diagnostic != NULL ? find_status_code (detail->diagnostic, NULL) : NULL;
      if (specific != NULL && (detail->status == NULL || (g_str_has_suffix (detail->status, ".0.0")
                                                          && specific[0] == detail->status[0]
                                                          && !g_str_has_suffix (specific, ".0.0"))))
        {
          g_free (detail->status);
          detail->status = g_steal_pointer (&specific);
        }
      verdict = REPORT_FAILED;
    }
  else if (feedback_type != NULL)
    {
      /* A complaint (RFC 5965): the recipient who complained, and the
       * kind of feedback as the diagnostic. */
      detail->recipient = typed_address (original_rcpt_to);
      detail->diagnostic = g_strdup_printf ("Feedback-Type: %s", feedback_type);
      verdict = REPORT_FAILED;
    }
  else
    verdict = any_recipient ? REPORT_NO_FAILURE : REPORT_UNKNOWN;
  report_block_clear (&failed);
  return verdict;
}

/* ---- The sender ----------------------------------------------------------- */

/* Local parts and display names mail systems send their reports under. */
static const char *const daemon_locals[] = {
  "mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "postmaster",
};
static const char *const daemon_names[] = {
  "mail delivery system", "mail delivery subsystem", "mail delivery service", "mailer-daemon",
  "mailer daemon", "mail administrator", "postmaster", "mail delivery",
};

static bool
local_part_is_daemon (const char *addr)
{
  if (addr == NULL)
    return false;
  gsize local = strcspn (addr, "@");
  for (gsize i = 0; i < G_N_ELEMENTS (daemon_locals); i++)
    if (local == strlen (daemon_locals[i]) && g_ascii_strncasecmp (addr, daemon_locals[i], local) == 0)
      return true;
  /* Exchange sends its reports from "MicrosoftExchange" and a hex string. */
  return local > 17 && g_ascii_strncasecmp (addr, "microsoftexchange", 17) == 0;
}

/* A From that is a mail system, by address or by display name; bare
 * "MAILER-DAEMON" without a domain counts (local delivery writes it). */
static bool
sender_is_mail_system (GMimeMessage *message)
{
  InternetAddressList *from = g_mime_message_get_from (message);
  int n = from != NULL ? internet_address_list_length (from) : 0;
  for (int i = 0; i < n; i++)
    {
      InternetAddress *ia = internet_address_list_get_address (from, i);
      const char *name = internet_address_get_name (ia);
      if (name != NULL)
        {
          g_autofree char *stripped = g_strstrip (g_strdup (name));
          for (gsize k = 0; k < G_N_ELEMENTS (daemon_names); k++)
            if (g_ascii_strcasecmp (stripped, daemon_names[k]) == 0)
              return true;
        }
      if (INTERNET_ADDRESS_IS_MAILBOX (ia)
          && local_part_is_daemon (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (ia))))
        return true;
    }
  return false;
}

typedef enum {
  RETURN_PATH_ABSENT,
  RETURN_PATH_NULL,  /* "<>", or Sendmail's "<MAILER-DAEMON>" for it */
  RETURN_PATH_REAL,
} return_path_t;

/* The last Return-Path wins: the delivering server writes its own at the
 * top, but a message that passed through several mailboxes can carry
 * more, and the newest is the first in the header. */
static return_path_t
return_path_kind (const pd_message_t *msg)
{
  const char *rp = pd_message_header (msg, "Return-Path");
  if (rp == NULL)
    return RETURN_PATH_ABSENT;
  g_autofree char *squeezed = g_strdup (rp);
  gsize w = 0;
  for (gsize r = 0; squeezed[r] != '\0'; r++)
    if (!g_ascii_isspace (squeezed[r]) && squeezed[r] != '<' && squeezed[r] != '>')
      squeezed[w++] = squeezed[r];
  squeezed[w] = '\0';
  /* Sendmail writes the null sender as a bare "MAILER-DAEMON"; with a
   * domain it is a real address (a postmaster who writes to us). */
  if (w == 0 || g_ascii_strcasecmp (squeezed, "mailer-daemon") == 0)
    return RETURN_PATH_NULL;
  return RETURN_PATH_REAL;
}

/* ---- The text of a plain-text report ------------------------------------- */

/* Where the copy of the returned message starts in 'body' (the start of
 * the marker line), or NULL. 'lower' is 'body' through g_ascii_strdown, so
 * offsets in one are offsets in the other. */
static const char *
original_section (const char *body, const char *lower)
{
  const char *first = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (original_markers); i++)
    {
      const char *hit = strstr (lower, original_markers[i]);
      if (hit != NULL && (first == NULL || hit < first))
        first = hit;
    }
  if (first == NULL)
    return NULL;
  while (first > lower && first[-1] != '\n')
    first--;
  return body + (first - lower);
}

/* qmail's and Postfix's text layout: a line that starts with "<address>:",
 * followed by what the remote server said, up to an empty line. Returns
 * the address and sets *block_text to the explanation. */
static char *
angle_block (const char *text, const char *end, char **block_text)
{
  for (const char *line = text; line < end;)
    {
      const char *nl = memchr (line, '\n', (gsize) (end - line));
      const char *line_end = nl != NULL ? nl : end;
      const char *close = line < line_end && *line == '<' ? memchr (line, '>', (gsize) (line_end - line)) : NULL;
      if (close != NULL && close + 1 < line_end && close[1] == ':')
        {
          char *addr = clean_address (line + 1, (gsize) (close - line - 1));
          if (addr != NULL)
            {
              /* The explanation: the rest of this line and the lines up to
               * an empty one. */
              const char *stop = line_end;
              while (stop < end)
                {
                  const char *next = stop + 1;
                  if (next >= end || *next == '\n' || (*next == '\r' && next + 1 < end && next[1] == '\n'))
                    break;
                  const char *next_nl = memchr (next, '\n', (gsize) (end - next));
                  stop = next_nl != NULL ? next_nl : end;
                }
              *block_text = one_line (close + 2, (gsize) (stop - close - 2), MAX_DIAGNOSTIC_BYTES);
              return addr;
            }
        }
      line = nl != NULL ? nl + 1 : end;
    }
  return NULL;
}

/* Whether 'c' can be part of an address found in running text. */
static bool
address_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr (".-_+=%", c) != NULL);
}

/* The first address in [text, end) that is not one of 'skip' (the report's
 * own sender and recipients) nor a mail system's; *line_start and
 * *line_end are set to its line. (transfer full, or NULL) */
static char *
first_foreign_address (const char *text, const char *end, GPtrArray *skip, const char **line_start,
                       const char **line_end)
{
  for (const char *at = memchr (text, '@', (gsize) (end - text)); at != NULL;
       at = at + 1 < end ? memchr (at + 1, '@', (gsize) (end - at - 1)) : NULL)
    {
      const char *a = at;
      while (a > text && address_char (a[-1]))
        a--;
      while (a < at && *a == '.')
        a++;
      const char *b = at + 1;
      while (b < end && address_char (*b))
        b++;
      while (b > at + 1 && b[-1] == '.')
        b--;
      if (a == at || memchr (at + 1, '.', (gsize) (b - at - 1)) == NULL)
        continue;
      g_autofree char *addr = clean_address (a, (gsize) (b - a));
      if (addr == NULL || local_part_is_daemon (addr))
        continue;
      bool skipped = false;
      for (guint i = 0; i < skip->len && !skipped; i++)
        skipped = g_strcmp0 (skip->pdata[i], addr) == 0;
      if (skipped)
        continue;
      const char *ls = a;
      while (ls > text && ls[-1] != '\n')
        ls--;
      const char *le = memchr (b, '\n', (gsize) (end - b));
      *line_start = ls;
      *line_end = le != NULL ? le : end;
      return g_steal_pointer (&addr);
    }
  return NULL;
}

/* What the text of a report says when there is no machine-readable part
 * (or the part left something out): the failed recipient, the status code
 * and the server's words, above the copy of the returned message. */
static void
read_report_text (const pd_message_t *msg, const char *failed_header, pd_bounce_detail_t *detail)
{
  gsize body_len = MIN (strlen (msg->body_text), MAX_BODY_SCAN_BYTES);
  /* Never cut inside a character: the text is UTF-8. */
  while (body_len > 0 && body_len < strlen (msg->body_text)
         && ((guchar) msg->body_text[body_len] & 0xC0) == 0x80)
    body_len--;
  g_autofree char *body = g_strndup (msg->body_text, body_len);
  g_autofree char *folded = g_ascii_strdown (body, -1);
  const char *cut = original_section (body, folded);
  const char *end = cut != NULL ? cut : body + body_len;

  const char *line_start = NULL, *line_end = NULL;
  g_autofree char *block_text = NULL;
  if (detail->recipient == NULL && failed_header != NULL)
    {
      /* Exim's X-Failed-Recipients: a comma-separated list. */
      gsize n = strcspn (failed_header, ",");
      detail->recipient = clean_address (failed_header, n);
    }
  if (detail->recipient == NULL)
    detail->recipient = angle_block (body, end, &block_text);
  if (detail->recipient == NULL)
    {
      g_autoptr (GPtrArray) skip = g_ptr_array_new ();  /* borrowed strings */
      if (msg->from != NULL)
        g_ptr_array_add (skip, msg->from->address);
      for (guint i = 0; i < msg->to->len; i++)
        g_ptr_array_add (skip, ((pd_address_t *) msg->to->pdata[i])->address);
      for (guint i = 0; i < msg->envelope_to->len; i++)
        g_ptr_array_add (skip, msg->envelope_to->pdata[i]);
      detail->recipient = first_foreign_address (body, end, skip, &line_start, &line_end);
    }
  else if (block_text == NULL)
    {
      /* Find the line that names the recipient we already know, for the
       * diagnostic below. */
      const char *hit = strstr (folded, detail->recipient);
      if (hit != NULL && hit < folded + (end - body))
        {
          line_start = body + (hit - folded);
          while (line_start > body && line_start[-1] != '\n')
            line_start--;
          line_end = strchr (body + (hit - folded), '\n');
          if (line_end == NULL || line_end > end)
            line_end = end;
        }
    }

  const char *status_at = NULL;
  if (detail->status == NULL)
    {
      g_autofree char *above = g_strndup (body, (gsize) (end - body));
      char *status = find_status_code (above, &status_at);
      if (status == NULL && block_text != NULL)
        status = find_status_code (block_text, NULL);
      if (status_at != NULL)
        status_at = body + (status_at - above);
      detail->status = status;
    }

  if (detail->diagnostic != NULL)
    return;
  if (block_text != NULL)
    {
      detail->diagnostic = g_steal_pointer (&block_text);
      return;
    }
  if (status_at != NULL)
    {
      /* The line that holds the status code is the server's reply. */
      const char *ls = status_at;
      while (ls > body && ls[-1] != '\n')
        ls--;
      const char *le = strchr (status_at, '\n');
      detail->diagnostic = one_line (ls, (gsize) ((le != NULL ? le : end) - ls), MAX_DIAGNOSTIC_BYTES);
      return;
    }
  if (line_start != NULL)
    {
      /* The recipient's own line when it says more than the address (the
       * carriers: "Your message to X could not be delivered:" and the
       * reason on the next line), else the next line with text (Exim's
       * indented reason), passing over a lead-in such as Domino's
       * "because:". */
      g_autofree char *own = one_line (line_start, (gsize) (line_end - line_start), MAX_DIAGNOSTIC_BYTES);
      bool own_says_more = own != NULL && detail->recipient != NULL && strlen (own) > strlen (detail->recipient) + 4;
      GString *text = g_string_new (own_says_more ? own : NULL);
      const char *next = line_end;
      while (next < end && (text->len == 0 || text->str[text->len - 1] == ':'))
        {
          next++;
          const char *nl = memchr (next, '\n', (gsize) (end - next));
          const char *ne = nl != NULL ? nl : end;
          g_autofree char *line = one_line (next, (gsize) (ne - next), MAX_DIAGNOSTIC_BYTES);
          next = ne;
          if (line == NULL)
            continue;
          /* A short lead-in alone ("because:") is not the reason. */
          if (text->len == 0 && g_str_has_suffix (line, ":") && strlen (line) < 20)
            continue;
          if (text->len > 0)
            g_string_append_c (text, ' ');
          g_string_append (text, line);
        }
      detail->diagnostic = one_line (text->str, text->len, MAX_DIAGNOSTIC_BYTES);
      g_string_free (text, TRUE);
    }
}

/* The Message-ID of the returned message: in the attached message or
 * header block, else in the copy a plain-text report quotes. */
static char *
returned_message_id (GMimeObject *returned, const pd_message_t *msg)
{
  if (returned != NULL && GMIME_IS_MESSAGE_PART (returned))
    {
      GMimeMessage *embedded = g_mime_message_part_get_message (GMIME_MESSAGE_PART (returned));
      const char *id = embedded != NULL ? g_mime_message_get_message_id (embedded) : NULL;
      if (id != NULL)
        {
          /* GMime hands the id back without its brackets. */
          g_autofree char *bracketed = g_strdup_printf ("<%s>", id);
          return clean_message_id (bracketed);
        }
      return NULL;
    }
  if (returned != NULL && GMIME_IS_PART (returned))
    {
      g_autofree char *text = part_text (GMIME_PART (returned), PD_MIME_MAX_HEADER_BYTES);
      /* A header block may start with empty lines (Exchange writes one). */
      const char *start = text;
      while (*start == '\r' || *start == '\n')
        start++;
      g_autofree char *value = find_header_line (start, start + strlen (start), "Message-ID", true);
      return clean_message_id (value);
    }
  gsize len = MIN (strlen (msg->body_text), MAX_BODY_SCAN_BYTES);
  g_autofree char *folded = g_ascii_strdown (msg->body_text, (gssize) len);
  const char *cut = original_section (msg->body_text, folded);
  if (cut == NULL)
    return NULL;
  g_autofree char *value = find_header_line (cut, msg->body_text + len, "Message-ID", false);
  return clean_message_id (value);
}

/* ---- The decision --------------------------------------------------------- */

void
pd_mime_detect_bounce (GMimeMessage *message, pd_message_t *msg)
{
  return_path_t rp = return_path_kind (msg);
  bool mail_system = sender_is_mail_system (message)
                     || pd_message_header (msg, "X-MS-Exchange-Message-Is-Ndr") != NULL;
  /* A person's mail, with whatever it quotes or attaches: most mail stops
   * here, before the tree is walked. */
  if (rp == RETURN_PATH_REAL && !mail_system)
    return;

  tree_t tree = { 0 };
  scan_tree (g_mime_message_get_mime_part (message), &tree);

  pd_bounce_detail_t *detail = g_new0 (pd_bounce_detail_t, 1);
  report_verdict_t verdict = REPORT_NONE;
  if (tree.dsn != NULL)
    verdict = read_report (tree.dsn, detail);
  if (verdict == REPORT_NONE && tree.feedback != NULL)
    verdict = read_report (tree.feedback, detail);
  if (verdict == REPORT_NONE && tree.report_multipart)
    verdict = REPORT_UNKNOWN;

  bool bounce;
  const char *failed_header = pd_message_header (msg, "X-Failed-Recipients");
  if (verdict == REPORT_NO_FAILURE)
    bounce = false;
  else if (verdict != REPORT_NONE)
    bounce = true;
  /* Without a report, the sender must be a mail system: a null
   * Return-Path, or a mail system's From on mail whose Return-Path was not
   * recorded. A real Return-Path is a person's or a program's mail, even
   * from a mailbox called postmaster, and a read receipt is not a failure. */
  else if (rp == RETURN_PATH_REAL || (rp == RETURN_PATH_ABSENT && !mail_system) || tree.receipt)
    bounce = false;
  else if (starts_with_any (msg->subject, delay_subjects, G_N_ELEMENTS (delay_subjects)))
    bounce = false;
  else
    {
      g_autofree char *folded = g_utf8_casefold (msg->body_text, MIN (strlen (msg->body_text), MAX_BODY_SCAN_BYTES));
      bool delay = contains_any (folded, delay_phrases, G_N_ELEMENTS (delay_phrases));
      bool qmail = strstr (folded, "qmail-send program") != NULL
                   || strstr (folded, "i wasn't able to deliver your message") != NULL;
      /* The evidence that needs a mail system's sender: any of it from a
       * null Return-Path or a MAILER-DAEMON is a report. */
      bool evidence = starts_with_any (msg->subject, failure_subjects, G_N_ELEMENTS (failure_subjects))
                      || failed_header != NULL || (tree.returned != NULL && !delay) || qmail;
      /* Failure sentences alone are weaker: they must come from a sender
       * that calls itself a mail system, not just a null Return-Path
       * (which vacation programs use too). */
      bool sentences = mail_system && !delay && contains_any (folded, failure_phrases, G_N_ELEMENTS (failure_phrases));
      bounce = evidence || sentences;
    }

  if (!bounce)
    {
      pd_bounce_detail_free (detail);
      return;
    }
  if (detail->recipient == NULL || detail->status == NULL || detail->diagnostic == NULL)
    read_report_text (msg, failed_header, detail);
  detail->original_message_id = returned_message_id (tree.returned, msg);
  msg->bounce = true;
  msg->bounce_detail = detail;
  g_free (msg->bounced_message_id);
  msg->bounced_message_id = g_strdup (detail->original_message_id);
}
