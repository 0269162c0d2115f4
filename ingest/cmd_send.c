/* cmd_send.c - postdesk send [--once]: delivers the outbox through the
 * configured [transport] (the sender is sender.c's, which `postdesk run`
 * shares): once, or every few seconds until SIGTERM or SIGINT. */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

#include "postdesk/cmd.h"
#include "postdesk/sender.h"
#include "postdesk/text.h"
#include "postdesk/transport.h"

/* How often a running sender looks for newly queued or newly due mail. */
#define WAKE_SECONDS 2

static gboolean
on_stop_signal (gpointer data)
{
  volatile sig_atomic_t *stop = data;
  *stop = 1;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_wake (gpointer data)
{
  bool *woken = data;
  *woken = true;
  return G_SOURCE_REMOVE;
}

int
pd_cmd_send (const pd_global_t *g, int argc, char **argv)
{
  gboolean once = FALSE;
  GOptionEntry entries[] = {
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, "deliver what is due now, then exit", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("send", "",
                             "Delivers the outbox through the configured [transport]: with --once\n"
                             "what is due now, else until SIGTERM or SIGINT.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk send: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_WRITE, &cfg, &store)) != 0)
    return rc;
  if (cfg->transport_url == NULL)
    {
      fprintf (stderr, "postdesk send: %s has no [transport] url: say where mail goes, "
                       "e.g. url = sendmail:/usr/sbin/sendmail (see postdesk.conf(5))\n",
               cfg->path != NULL ? cfg->path : "the configuration");
      return 2;
    }
  /* A sendmail that exits before reading the whole message must be a
   * failed delivery, not the end of postdesk. */
  signal (SIGPIPE, SIG_IGN);

  GError *err = NULL;
  g_autoptr (pd_sender_t) sender = NULL;
  guint recovered = 0;
  if (!pd_sender_open (cfg, store, &sender, &recovered, &err))
    {
      /* The configuration and the database (PD_ERROR) have their exit
       * statuses; a lock or a transport that cannot start is a runtime
       * failure of the sender. */
      bool ours = err->domain != PD_ERROR;
      rc = ours ? 1 : pd_cmd_fail (err);
      if (ours)
        {
          g_autofree char *why = pd_text_line (err->message);
          fprintf (stderr, "postdesk send: %s\n", why);
        }
      g_error_free (err);
      return rc;
    }
  if (recovered > 0)
    g_message ("%u interrupted deliveries queued again", recovered);

  volatile sig_atomic_t stop = 0;
  guint term = g_unix_signal_add (SIGTERM, on_stop_signal, (gpointer) &stop);
  guint intr = g_unix_signal_add (SIGINT, on_stop_signal, (gpointer) &stop);
  pd_send_round_t r;
  while (true)
    {
      r = pd_sender_round (sender, &stop, &err);
      if (once || r == PD_SEND_STOPPED || r == PD_SEND_DB_ERROR)
        break;
      /* Sleep until the next look, or until a signal. */
      bool woken = false;
      guint wake = g_timeout_add_seconds (WAKE_SECONDS, on_wake, &woken);
      while (!woken && !stop)
        g_main_context_iteration (NULL, TRUE);
      if (!woken)
        g_source_remove (wake);
      if (stop)
        break;
    }
  g_source_remove (term);
  g_source_remove (intr);
  pd_sender_counts_t n = pd_sender_counts (sender);
  printf ("sent %u, retry later %u, failed %u\n", n.sent, n.later, n.failed);
  if (r == PD_SEND_DB_ERROR)
    {
      rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  /* A running sender asked to stop has done its job; --once reports
   * whether everything it found due went out. */
  if (!once)
    return 0;
  return n.later == 0 && n.failed == 0 ? 0 : 1;
}
