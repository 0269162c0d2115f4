/* mime_auto.c - the automatic replies that say so in a header every vendor
 * agrees on.
 *
 * These few checks are fixed in C because RFC 3834 defines them and no
 * admin should be able to switch them off. Everything that needs judgement
 * (the subjects of vacation programs in each language, Exchange's own
 * headers, a null Return-Path) is a rule in rules/auto-reply.rules, where
 * an admin can extend or correct it; the message is an auto-reply when
 * either says so (pipeline.c and cmd_parse.c apply the rules).
 */
#include "postdesk/mime.h"

#include <string.h>

/* Whether the first token of 'value' (up to a blank, ';' or a comment) is
 * 'word', without regard to case: "auto_reply; x" and " Auto_Reply" are,
 * "auto_reply_x" is not. */
static bool
first_token_is (const char *value, const char *word)
{
  if (value == NULL)
    return false;
  while (g_ascii_isspace (*value))
    value++;
  gsize n = strcspn (value, " \t\r\n;(");
  return n == strlen (word) && g_ascii_strncasecmp (value, word, n) == 0;
}

/* Microsoft's X-Auto-Response-Suppress is deliberately not a marker:
 * Outlook puts it on ordinary mail sent to distribution lists. */
bool
pd_mime_headers_say_auto_reply (const pd_message_t *msg)
{
  const char *submitted = pd_message_header (msg, "Auto-Submitted");
  if (submitted != NULL && !first_token_is (submitted, "no"))
    return true;
  if (pd_message_header (msg, "X-Autoreply") != NULL || pd_message_header (msg, "X-Autorespond") != NULL)
    return true;
  return first_token_is (pd_message_header (msg, "Precedence"), "auto_reply");
}
