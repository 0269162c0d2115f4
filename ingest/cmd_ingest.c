/* cmd_ingest.c - postdesk ingest [--mailbox NAME] [--received TIME] PATH...|-
 * Files, Maildirs, mbox files or stdin into tickets. */
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/pipeline.h"
#include "postdesk/source.h"

typedef struct {
  pd_pipeline_t *pipeline;  /* borrowed */
  const char *mailbox;      /* borrowed, may be NULL */
  pd_time_t received;       /* 0: the time of ingest */
  guint messages;
} ingest_ctx_t;

static bool
ingest_one (const char *raw, gsize len, const char *origin, gpointer data, GError **err)
{
  ingest_ctx_t *ctx = data;
  pd_arrival_t arrival = {
    .received_at = ctx->received != 0 ? ctx->received : pd_time_now (),
    .mailbox = ctx->mailbox,
    .origin = origin,
  };
  /* The writer thread stores it; an error here is the writer's, already
   * naming the message it failed on. */
  if (!pd_pipeline_submit (ctx->pipeline, raw, len, &arrival, err))
    return false;
  ctx->messages++;
  return true;
}

int
pd_cmd_ingest (const pd_global_t *g, int argc, char **argv)
{
  char *mailbox = NULL, *received = NULL;
  GOptionEntry entries[] = {
    { "mailbox", 0, 0, G_OPTION_ARG_STRING, &mailbox, "record the messages as coming from mailbox NAME", "NAME" },
    { "received", 0, 0, G_OPTION_ARG_STRING, &received,
      "arrival time for imports and replays (ISO 8601); default: now", "TIME" },
    G_OPTION_ENTRY_NULL,
  };
  int status;
  if (!pd_cmd_parse_options ("ingest", "PATH...|-",
                             "Turns each message into a new ticket or threads it into an existing one.\n"
                             "PATH is a message file, a Maildir (cur/ and new/), a folder of message\n"
                             "files, an mbox file, or - for standard input. Mail that cannot be handled\n"
                             "is kept in the quarantine with its reason. Ingesting the same mail twice\n"
                             "stores it once.",
                             entries, &argc, &argv, &status))
    return status;
  g_autofree char *mailbox_owned = mailbox;
  g_autofree char *received_owned = received;
  if (argc < 2)
    {
      fprintf (stderr, "postdesk ingest: give at least one PATH, or - for standard input\n");
      return 2;
    }
  GError *err = NULL;
  pd_time_t when = 0;
  if (received != NULL && !pd_time_parse (received, &when, &err))
    {
      fprintf (stderr, "postdesk ingest: --received: %s\n", err->message);
      g_error_free (err);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  int rc = pd_cmd_open (g, PD_STORE_CREATE, &cfg, &store);
  if (rc != 0)
    return rc;
  g_autoptr (pd_pipeline_t) pipeline = pd_pipeline_new (cfg, store);
  ingest_ctx_t ctx = { pipeline, mailbox, when, 0 };

  guint skipped = 0;
  for (int i = 1; i < argc; i++)
    {
      if (pd_source_read (argv[i], ingest_one, &ctx, &skipped, &err))
        continue;
      fprintf (stderr, "postdesk: %s\n", err->message);
      rc = 1;
      /* A database error stops everything; a path that cannot be read only
       * itself. */
      bool fatal = err->domain == PD_ERROR
                   && (err->code == PD_ERROR_DB || err->code == PD_ERROR_REJECTED);
      g_clear_error (&err);
      if (fatal)
        break;
    }
  if (!pd_pipeline_finish (pipeline, &err))
    {
      fprintf (stderr, "postdesk: %s\n", err->message);
      g_clear_error (&err);
      rc = 1;
    }
  if (skipped > 0)
    rc = 1;
  /* Only what was committed counts as ingested: after an error the
   * summary never claims mail that is not in the database. */
  const pd_pipeline_stats_t *s = pd_pipeline_stats (pipeline);
  guint stored = s->new_tickets + s->threaded + s->duplicates + s->quarantined;
  printf ("ingested %u message%s: %u new ticket%s, %u threaded, %u duplicate%s, %u quarantined",
          stored, stored == 1 ? "" : "s", s->new_tickets, s->new_tickets == 1 ? "" : "s",
          s->threaded, s->duplicates, s->duplicates == 1 ? "" : "s", s->quarantined);
  if (skipped > 0)
    printf (", %u unreadable", skipped);
  if (ctx.messages > stored)
    printf ("; %u not stored (%u rolled back after the error): running the same ingest again stores them",
            ctx.messages - stored, s->rolled_back);
  printf ("\n");
  return rc;
}
