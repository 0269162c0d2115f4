/* cmd_ingest.c - postdesk ingest [-q] [--mailbox NAME] [--received TIME] PATH...|-
 * Files, Maildirs, mbox files or stdin into tickets. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "postdesk/cmd.h"
#include "postdesk/pipeline.h"
#include "postdesk/source.h"

typedef struct {
  pd_pipeline_t *pipeline;  /* borrowed */
  const char *mailbox;      /* borrowed, may be NULL */
  pd_time_t received;       /* --received; 0: what the source or the mail says */
  guint messages;
} ingest_ctx_t;

static bool
ingest_one (const char *raw, gsize len, gint64 true_size, const char *origin, pd_time_t source_time,
            gpointer data, GError **err)
{
  ingest_ctx_t *ctx = data;
  /* --received wins; then the time the source knows (a Maildir name, an
   * mbox "From " line), never later than now; 0 lets the pipeline take the
   * Date header. */
  pd_time_t received = ctx->received;
  if (received == 0 && source_time > 0)
    received = MIN (source_time, pd_time_now ());
  pd_arrival_t arrival = {
    .received_at = received,
    .mailbox = ctx->mailbox,
    .origin = origin,
    .true_size = true_size > (gint64) len ? true_size : 0,
  };
  /* The writer thread stores it; an error here is the writer's, already
   * naming the message it failed on. */
  if (!pd_pipeline_submit (ctx->pipeline, raw, len, &arrival, err))
    return false;
  ctx->messages++;
  return true;
}

/* The paths of the run as a person would name them: "standard input" for
 * -, and the first two of many followed by how many more. (transfer full) */
static char *
describe_paths (int n, char **paths)
{
  g_autoptr (GString) s = g_string_new (NULL);
  int shown = n <= 3 ? n : 2;
  for (int i = 0; i < shown; i++)
    {
      if (i > 0)
        g_string_append (s, i == n - 1 ? " and " : ", ");
      g_string_append (s, strcmp (paths[i], "-") == 0 ? "standard input" : paths[i]);
    }
  if (shown < n)
    g_string_append_printf (s, " and %d more", n - shown);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The one line ingest ends with, and the only place that prints it. With
 * 'quiet' (cron) it is printed only when something needs a person: a
 * quarantined message, a skipped file or an error; cron mails whatever a
 * job prints, so a quiet run must print nothing. */
static void
print_summary (const ingest_ctx_t *ctx, const pd_pipeline_stats_t *s, guint skipped, int rc, bool quiet,
               int npaths, char **paths)
{
  bool needs_person = s->quarantined > 0 || skipped > 0 || rc != 0;
  if (quiet && !needs_person)
    return;
  g_autofree char *where = describe_paths (npaths, paths);
  if (ctx->messages == 0 && !needs_person)
    {
      printf ("nothing to ingest from %s\n", where);
      return;
    }
  /* Only what was committed counts as ingested: after an error the
   * summary never claims mail that is not in the database. */
  guint stored = s->new_tickets + s->threaded + s->duplicates + s->quarantined;
  printf ("ingested %u message%s from %s: %u new ticket%s, %u threaded, %u duplicate%s, %u quarantined",
          stored, stored == 1 ? "" : "s", where, s->new_tickets,
          s->new_tickets == 1 ? "" : "s", s->threaded, s->duplicates, s->duplicates == 1 ? "" : "s",
          s->quarantined);
  if (skipped > 0)
    printf (", %u skipped", skipped);
  if (ctx->messages > stored)
    printf ("; %u not stored (%u rolled back after the error): running the same ingest again stores them",
            ctx->messages - stored, s->rolled_back);
  printf ("\n");
}

int
pd_cmd_ingest (const pd_global_t *g, int argc, char **argv)
{
  char *mailbox = NULL, *received = NULL;
  gboolean quiet = FALSE, no_ack = FALSE;
  GOptionEntry entries[] = {
    { "mailbox", 0, 0, G_OPTION_ARG_STRING, &mailbox, "record the messages as coming from mailbox NAME", "NAME" },
    { "received", 0, 0, G_OPTION_ARG_STRING, &received,
      "arrival time for imports and replays (ISO 8601); default: what the Maildir or mbox says, else the Date header",
      "TIME" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      "print nothing unless something needs a person (for cron)", NULL },
    { "no-ack", 0, 0, G_OPTION_ARG_NONE, &no_ack,
      "store and thread without acknowledging (importing old mail)", NULL },
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
  /* Checked before the database is opened: SQLite may take descriptor 0
   * when it is free, and standard input would then read as that file. */
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "-") == 0 && fcntl (STDIN_FILENO, F_GETFD) < 0)
      {
        fprintf (stderr, "postdesk: standard input: cannot be read: it is closed\n");
        return 1;
      }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  int rc = pd_cmd_open (g, PD_STORE_CREATE, &cfg, &store);
  if (rc != 0)
    return rc;
  g_autoptr (pd_reloadable_t) rules = pd_cmd_load_rules (cfg, &rc);
  if (rules == NULL)
    return rc;
  g_autoptr (pd_reloadable_t) templates = pd_cmd_load_templates (cfg, &rc);
  if (templates == NULL)
    return rc;
  /* A long import picks up edited rules on SIGHUP, as the daemon will. */
  GError *werr = NULL;
  if (!pd_reload_watch_sighup (&werr))
    {
      g_warning ("%s", werr->message);
      g_clear_error (&werr);
    }
  g_autoptr (pd_pipeline_t) pipeline = pd_pipeline_new (cfg, store);
  pd_pipeline_set_rules (pipeline, rules);
  pd_pipeline_set_templates (pipeline, templates);
  if (no_ack)
    pd_pipeline_set_ack_policy (pipeline, "ingest --no-ack: imported mail is not acknowledged", 0);
  ingest_ctx_t ctx = { pipeline, mailbox, when, 0 };

  guint skipped = 0;
  for (int i = 1; i < argc; i++)
    {
      if (pd_source_read (argv[i], (gsize) cfg->max_message_bytes, ingest_one, &ctx, &skipped, &err))
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
  print_summary (&ctx, pd_pipeline_stats (pipeline), skipped, rc, quiet, argc - 1, argv + 1);
  return rc;
}
