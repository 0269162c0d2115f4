/* cmd_parse.c - postdesk parse [--json] FILE|-: what postdesk sees in one
 * message, without storing anything. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/mime.h"
#include "postdesk/output.h"
#include "postdesk/source.h"
#include "postdesk/text.h"

typedef struct {
  bool json;
  int status;
  guint count;
} parse_ctx_t;

static bool
show (const char *raw, gsize len, gint64 true_size, const char *origin, pd_time_t received,
      gpointer data, GError **err)
{
  (void) err;
  (void) received;
  parse_ctx_t *ctx = data;
  /* File names are shown like message text: they can hold anything. */
  g_autofree char *where = pd_text_line (origin);
  if (++ctx->count > 1)
    {
      if (ctx->count == 2)
        fprintf (stderr, "postdesk parse: more than one message given (%s is the second); showing only the first\n",
                 where);
      return true;
    }
  if (true_size > (gint64) len)
    fprintf (stderr, "postdesk: %s: message is %" G_GINT64_FORMAT " bytes; showing what its first %" G_GSIZE_FORMAT
             " bytes hold\n", origin, true_size, len);
  GError *perr = NULL;
  g_autoptr (pd_message_t) msg = pd_mime_parse (raw, len, 0, &perr);
  if (msg == NULL)
    {
      g_autofree char *why = pd_text_line (perr->message);
      fprintf (stderr, "postdesk: %s: %s\n", where, why);
      g_error_free (perr);
      ctx->status = 1;
      return true;
    }
  if (msg->from == NULL)
    fprintf (stderr, "postdesk: %s: no usable sender; ingest would quarantine this message\n", where);
  if (ctx->json)
    {
      g_autoptr (JsonNode) node = pd_json_parsed_message (msg);
      pd_json_print (node);
    }
  else
    pd_print_parsed_message (msg);
  return true;
}

int
pd_cmd_parse (const pd_global_t *g, int argc, char **argv)
{
  (void) g;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print JSON", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int status;
  if (!pd_cmd_parse_options ("parse", "FILE|-",
                             "Shows what postdesk reads from one message: addresses, subject,\n"
                             "threading headers, the readable body, attachments and the\n"
                             "auto-reply, bulk and bounce flags. Nothing is stored.",
                             entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    {
      fprintf (stderr, "postdesk parse: give one file, or - for standard input\n");
      return 2;
    }
  parse_ctx_t ctx = { json, 0, 0 };
  GError *err = NULL;
  guint skipped = 0;
  if (!pd_source_read (argv[1], PD_SOURCE_MAX_BYTES, show, &ctx, &skipped, &err))
    {
      int rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  return ctx.status;
}
