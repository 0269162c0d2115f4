/* cmd_parse.c - postdesk parse [--json] FILE|-: what postdesk sees in one
 * message, without storing anything. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/mime.h"
#include "postdesk/output.h"
#include "postdesk/rules.h"
#include "postdesk/source.h"
#include "postdesk/text.h"

typedef struct {
  bool json;
  int status;
  guint count;
  const pd_rules_t *rules;  /* borrowed: the configured rules, or NULL */
} parse_ctx_t;

/* The configured rules, so that parse calls a message an auto-reply when
 * ingest would (the auto-reply action, rules/auto-reply.rules). Without a
 * configuration only the fixed header checks apply, silently: parse needs
 * no desk. A configuration that was asked for (--config,
 * $POSTDESK_CONFIG) but cannot be read, or rules with a problem, are
 * reported and parse goes on without them. (transfer full, or NULL) */
static pd_rules_t *
configured_rules (const pd_global_t *g)
{
  GError *err = NULL;
  g_autofree char *path = pd_config_find (g->config_path, &err);
  const char *env = g_getenv ("POSTDESK_CONFIG");
  bool asked = g->config_path != NULL || (env != NULL && *env != '\0');
  g_autoptr (pd_config_t) cfg = NULL;
  pd_rules_t *rules = NULL;
  if (path != NULL && pd_config_load (path, &cfg, &err) && pd_rules_load (cfg->rules_dir, &rules, &err))
    return rules;
  if (path != NULL || asked)
    {
      fprintf (stderr, "postdesk parse: the configured rules are not applied (only the fixed auto-reply headers are):\n");
      pd_cmd_fail (err);
    }
  g_clear_error (&err);
  return NULL;
}

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
  else if (ctx->rules != NULL)
    {
      /* As ingest does (pipeline.c): only mail with a sender is classified. */
      pd_classification_t cls;
      pd_rules_classify (ctx->rules, msg, &cls);
      if (cls.auto_reply)
        msg->auto_reply = true;
      pd_classification_clear (&cls);
    }
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
  g_autoptr (pd_rules_t) rules = configured_rules (g);
  parse_ctx_t ctx = { json, 0, 0, rules };
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
