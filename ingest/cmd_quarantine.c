/* cmd_quarantine.c - mail postdesk could not handle, kept with its raw bytes:
 *   postdesk quarantine list [--json] [--all]
 *   postdesk quarantine show [--raw] ID
 *   postdesk quarantine retry [--from ADDRESS | --file FILE] ID
 *   postdesk quarantine delete ID
 *   postdesk quarantine purge --older-than AGE
 * What a person does to an entry (delete, purge, retry) is recorded in the
 * journal under their Unix user name. */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "postdesk/cmd.h"
#include "postdesk/json.h"
#include "postdesk/output.h"
#include "postdesk/pipeline.h"
#include "postdesk/text.h"

static int
fail (GError *err)
{
  int rc = pd_cmd_fail (err);
  g_error_free (err);
  return rc;
}

/* A quarantine id: > 0, or 0 when 'text' is not a number, or -1 when it is
 * a number too large for any entry (which then does not exist). */
static gint64
parse_id (const char *text)
{
  if (*text == '\0')
    return 0;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return 0;
  guint64 n = 0;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &n, NULL))
    return -1;
  return (gint64) n;
}

/* The entry named by the one argument of show and retry, with its raw
 * bytes; 0, or the exit status after saying why not. */
static int
open_entry (const pd_global_t *g, const char *cmd, pd_store_mode_t mode, int argc, char **argv, pd_config_t **cfg,
            pd_store_t **store, pd_quarantine_item_t **q, GBytes **raw)
{
  gint64 id = argc == 2 ? parse_id (argv[1]) : 0;
  if (id < 0)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk: no quarantine entry %s\n", shown);
      return 1;
    }
  if (id == 0)
    {
      fprintf (stderr, "postdesk quarantine %s: give one quarantine ID (a number from 'quarantine list')\n", cmd);
      return 2;
    }
  int rc = pd_cmd_open (g, mode, cfg, store);
  if (rc != 0)
    return rc;
  GError *err = NULL;
  if (!pd_store_quarantine_get (*store, id, q, raw, &err))
    return fail (err);
  return 0;
}

static JsonNode *
quarantine_json (gconstpointer item, gconstpointer unused)
{
  (void) unused;
  return pd_json_quarantine_item (item);
}

static int
quarantine_list (const pd_global_t *g, int argc, char **argv)
{
  gboolean json = FALSE, all = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "print a JSON array", NULL },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "include entries already released into a ticket", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine list", "", "Lists mail held in the quarantine, with the reason.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk quarantine list: unexpected argument '%s'\n", shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_READ, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  g_autoptr (GPtrArray) items = NULL;
  if (!pd_store_quarantine_list (store, all, &items, &err))
    return fail (err);
  if (json)
    {
      pd_json_print_list (items, quarantine_json, NULL);
      return 0;
    }
  /* File names and reasons may hold anything (a reason may quote a header
   * it could not read): each is made one line first. The ORIGIN column is
   * as wide as its widest entry, so that the reasons line up after it. */
  g_autoptr (GPtrArray) origins = g_ptr_array_new_with_free_func (g_free);
  guint width = strlen ("ORIGIN");
  for (guint i = 0; i < items->len; i++)
    {
      const pd_quarantine_item_t *q = g_ptr_array_index (items, i);
      char *origin = pd_text_line (q->origin != NULL ? q->origin : q->mailbox != NULL ? q->mailbox : "(unknown)");
      width = MAX (width, pd_text_cells (origin));
      g_ptr_array_add (origins, origin);
    }
  g_autofree char *heading = pd_text_fit ("ORIGIN", width);
  printf ("%-6s %-20s %-10s %-9s %s %s\n", "ID", "RECEIVED", "SIZE", "STATUS", heading, "REASON");
  for (guint i = 0; i < items->len; i++)
    {
      const pd_quarantine_item_t *q = g_ptr_array_index (items, i);
      g_autofree char *at = pd_time_format (q->received_at);
      g_autofree char *status = pd_text_line (q->status);
      g_autofree char *origin = pd_text_fit (g_ptr_array_index (origins, i), width);
      g_autofree char *reason = pd_text_line (q->reason);
      printf ("%-6" G_GINT64_FORMAT " %-20s %-10" G_GINT64_FORMAT " %-9s %s %s\n", q->id, at, q->size, status,
              origin, reason);
    }
  return 0;
}

static int
quarantine_show (const pd_global_t *g, int argc, char **argv)
{
  gboolean raw_only = FALSE;
  GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw_only, "print only the message's raw bytes", NULL },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine show", "ID",
                             "Shows why a message is held, then the message with control characters\n"
                             "and bytes that are not UTF-8 shown as \\xNN; --raw prints the bytes\n"
                             "exactly as received.",
                             entries, &argc, &argv, &rc))
    return rc;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  g_autoptr (GBytes) raw = NULL;
  if ((rc = open_entry (g, "show", PD_STORE_READ, argc, argv, &cfg, &store, &q, &raw)) != 0)
    return rc;
  gsize len;
  const char *bytes = g_bytes_get_data (raw, &len);
  if (raw_only)
    {
      /* Asked for the bytes exactly as received: to save or to pipe. */
      fwrite (bytes, 1, len, stdout);
      return 0;
    }
  g_autofree char *at = pd_time_format (q->received_at);
  g_autofree char *status = pd_text_line (q->status);
  g_autofree char *reason = pd_text_line (q->reason);
  printf ("Quarantine: %" G_GINT64_FORMAT "\nStatus: %s\nReason: %s\nReceived: %s\nSize: %" G_GINT64_FORMAT
          " bytes\n",
          q->id, status, reason, at, q->size);
  if (q->mailbox != NULL)
    {
      g_autofree char *mailbox = pd_text_line (q->mailbox);
      printf ("Mailbox: %s\n", mailbox);
    }
  if (q->origin != NULL)
    {
      g_autofree char *origin = pd_text_line (q->origin);
      printf ("Origin: %s\n", origin);
    }
  if (q->ticket_id > 0)
    {
      g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, q->ticket_id);
      printf ("Ticket: %s\n", ref);
    }
  /* Held mail is what postdesk could not handle, often binary or hostile:
   * shown for reading, with every control character and every byte that
   * is not UTF-8 made visible (see text.h), never raw. */
  g_autofree char *shown = pd_text_block (bytes, len);
  printf ("\n%s", shown);
  if (len > 0 && bytes[len - 1] != '\n')
    printf ("\n");
  return 0;
}

/* One addr-spec (local@domain) as a From field carries it: nothing a
 * header could be forged with (CR, LF or any other control), no display
 * name, angle brackets, comments, lists, quoting or white space, and ASCII
 * only, so that the field needs no encoding. */
static bool
valid_address (const char *a)
{
  const char *at = strchr (a, '@');
  if (at == NULL || at == a || at[1] == '\0' || strchr (at + 1, '@') != NULL)
    return false;
  for (const char *p = a; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      if (c <= 0x20 || c >= 0x7f || strchr ("<>()[],;:\\\"", c) != NULL)
        return false;
    }
  return at[1] != '.' && a[strlen (a) - 1] != '.' && strstr (at, "..") == NULL;
}

/* A copy of 'raw' whose sender is 'address': the message's own From fields
 * (with their continuation lines) are left out of its header section, and
 * one From field goes first, in the message's own line ending. The body is
 * copied untouched. (transfer full) */
static GBytes *
with_sender (const char *raw, gsize len, const char *address)
{
  const char *first_nl = memchr (raw, '\n', len);
  bool crlf = first_nl != NULL && first_nl > raw && first_nl[-1] == '\r';
  GString *out = g_string_sized_new (len + strlen (address) + 16);
  g_string_append_printf (out, "From: %s%s", address, crlf ? "\r\n" : "\n");
  gsize i = 0;
  bool dropping = false;
  while (i < len)
    {
      const char *line = raw + i;
      const char *nl = memchr (line, '\n', len - i);
      gsize n = nl != NULL ? (gsize) (nl - line) + 1 : len - i;
      if (line[0] == '\n' || (n >= 2 && line[0] == '\r' && line[1] == '\n'))
        break;  /* the empty line that ends the header section */
      if (line[0] != ' ' && line[0] != '\t')
        {
          /* A field name, then optional white space (obsolete syntax), then ':'. */
          gsize k = 0;
          while (k < n && line[k] != ':' && line[k] != ' ' && line[k] != '\t')
            k++;
          gsize colon = k;
          while (colon < n && (line[colon] == ' ' || line[colon] == '\t'))
            colon++;
          dropping = k == 4 && colon < n && line[colon] == ':' && g_ascii_strncasecmp (line, "from", 4) == 0;
        }
      if (!dropping)
        g_string_append_len (out, line, (gssize) n);
      i += n;
    }
  g_string_append_len (out, raw + i, (gssize) (len - i));
  return g_string_free_to_bytes (out);
}

/* The message a retry ingests: the held bytes, a copy of them with the
 * sender given by hand (--from), or the corrected bytes from a file
 * (--file). Returns 0, or the exit status after saying why not. */
static int
retry_bytes (const pd_config_t *cfg, const pd_quarantine_item_t *q, GBytes *held,
             const char *from, const char *file, GBytes **out)
{
  gsize len;
  const char *bytes = g_bytes_get_data (held, &len);
  if (from != NULL)
    {
      if (q->size > (gint64) len)
        {
          fprintf (stderr, "postdesk: quarantine %" G_GINT64_FORMAT " holds only the first %" G_GSIZE_FORMAT
                   " bytes of its message; give the whole message with --file\n", q->id, len);
          return 1;
        }
      *out = with_sender (bytes, len, from);
      return 0;
    }
  if (file != NULL)
    {
      /* Refused before it is read: a file over the limit would only be
       * quarantined again, after costing its size in memory. */
      GStatBuf st;
      GError *err = NULL;
      char *contents = NULL;
      gsize clen = 0;
      if (g_stat (file, &st) == 0 && st.st_size > cfg->max_message_bytes)
        {
          g_autofree char *shown = pd_text_line (file);
          fprintf (stderr, "postdesk: %s is %" G_GINT64_FORMAT " bytes, over max_message_bytes (%" G_GINT64_FORMAT ")\n",
                   shown, (gint64) st.st_size, cfg->max_message_bytes);
          return 1;
        }
      if (!g_file_get_contents (file, &contents, &clen, &err))
        {
          int rc = pd_cmd_fail (err);
          g_error_free (err);
          return rc;
        }
      *out = g_bytes_new_take (contents, clen);
      return 0;
    }
  *out = g_bytes_ref (held);
  return 0;
}

/* On the ticket a message given by hand went to: who gave what. Values
 * are made one line without controls, so that the event's JSON is strict
 * whatever a file name holds. */
static bool
note_given_by_hand (pd_store_t *store, gint64 ticket, gint64 entry, const char *user,
                    const char *from, const char *file, GError **err)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *shown_user = pd_text_line (user);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "quarantine");
  json_builder_add_int_value (b, entry);
  if (from != NULL)
    {
      json_builder_set_member_name (b, "from");
      json_builder_add_string_value (b, from);
      json_builder_set_member_name (b, "from_given_by");
      json_builder_add_string_value (b, shown_user);
    }
  else
    {
      g_autofree char *shown_file = pd_text_line (file);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, shown_file);
      json_builder_set_member_name (b, "file_given_by");
      json_builder_add_string_value (b, shown_user);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *detail = pd_json_to_text (root);
  return pd_store_event_add (store, ticket, pd_time_now (), "postdesk", "quarantine-retry", detail, err);
}

static int
quarantine_retry (const pd_global_t *g, int argc, char **argv)
{
  g_autofree char *from = NULL;
  g_autofree char *file = NULL;
  GOptionEntry entries[] = {
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, "ingest it with ADDRESS as its sender", "ADDRESS" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &file, "ingest the corrected message in FILE instead", "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine retry", "ID",
                             "Runs a held message through ingest again, after a fix (a larger\n"
                             "max_message_bytes, a newer postdesk). It becomes a ticket or stays held\n"
                             "with the new reason. Mail no configuration can fix is released by hand:\n"
                             "--from gives it a sender, --file gives the corrected message.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (from != NULL && file != NULL)
    {
      fprintf (stderr, "postdesk quarantine retry: give --from or --file, not both\n");
      return 2;
    }
  if (from != NULL && !valid_address (from))
    {
      g_autofree char *shown = pd_text_short (from, 60);
      fprintf (stderr, "postdesk quarantine retry: --from '%s' is not one address such as ann@example.com\n",
               shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  g_autoptr (GBytes) raw = NULL;
  if ((rc = open_entry (g, "retry", PD_STORE_WRITE, argc, argv, &cfg, &store, &q, &raw)) != 0)
    return rc;
  gint64 id = q->id;
  GError *err = NULL;
  if (strcmp (q->status, "held") != 0)
    {
      g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, q->ticket_id);
      printf ("quarantine %" G_GINT64_FORMAT " was already released into %s\n", id, ref);
      return 0;
    }
  g_autoptr (GBytes) message = NULL;
  if ((rc = retry_bytes (cfg, q, raw, from, file, &message)) != 0)
    return rc;
  const char *user = g_get_user_name ();
  g_autoptr (pd_reloadable_t) rules = pd_cmd_load_rules (cfg, &rc);
  if (rules == NULL)
    return rc;
  g_autoptr (pd_reloadable_t) templates = pd_cmd_load_templates (cfg, &rc);
  if (templates == NULL)
    return rc;
  g_autoptr (pd_pipeline_t) pipeline = pd_pipeline_new (cfg, store);
  pd_pipeline_set_rules (pipeline, rules);
  pd_pipeline_set_templates (pipeline, templates);
  pd_arrival_t arrival = {
    .received_at = q->received_at,
    .mailbox = q->mailbox,
    .origin = q->origin,
    /* An entry that holds only the first bytes of a message stays held;
     * a corrected file is a whole message. */
    .true_size = file != NULL ? 0 : q->size,
  };
  gsize len;
  const char *bytes = g_bytes_get_data (message, &len);
  pd_outcome_t outcome;
  gint64 result = 0;
  const char *extra[] = { from != NULL ? "from" : "file", from != NULL ? from : file, NULL };
  /* The release, its journal row and the note of who gave the sender or
   * the file happen in the same transaction as the ticket it becomes. */
  bool ok = pd_pipeline_ingest (pipeline, bytes, len, &arrival, &outcome, &result, &err)
            && (outcome == PD_OUTCOME_QUARANTINED
                || (pd_store_quarantine_release (store, id, result, &err)
                    && pd_store_quarantine_journal (store, id, user, "quarantine-retry", result,
                                                    from != NULL || file != NULL ? extra : NULL, &err)
                    && ((from == NULL && file == NULL)
                        || note_given_by_hand (store, result, id, user, from, file, &err))))
            && pd_pipeline_flush (pipeline, &err);
  if (!ok)
    return fail (err);
  if (outcome == PD_OUTCOME_QUARANTINED)
    {
      g_autoptr (pd_quarantine_item_t) again = NULL;
      if (!pd_store_quarantine_get (store, result, &again, NULL, &err))
        return fail (err);
      g_autofree char *reason = pd_text_line (again->reason);
      if (result == id)
        fprintf (stderr, "postdesk: quarantine %" G_GINT64_FORMAT " is still held: %s\n", id, reason);
      else
        fprintf (stderr, "postdesk: quarantine %" G_GINT64_FORMAT " is still held; the message as given is held"
                 " too, as quarantine %" G_GINT64_FORMAT ": %s\n", id, result, reason);
      return 1;
    }
  g_autofree char *ref = pd_ticket_ref (cfg->ticket_prefix, result);
  printf ("quarantine %" G_GINT64_FORMAT " released: %s (%s)\n", id, ref,
          outcome == PD_OUTCOME_NEW_TICKET ? "new ticket"
          : outcome == PD_OUTCOME_THREADED ? "threaded"
                                           : "already stored");
  return 0;
}

static int
quarantine_delete (const pd_global_t *g, int argc, char **argv)
{
  int rc;
  if (!pd_cmd_parse_options ("quarantine delete", "ID",
                             "Deletes an entry and its raw bytes (unless a stored message has the same\n"
                             "bytes), for mail that must not be kept, such as a file ingested by\n"
                             "mistake. The deletion is recorded in the journal.",
                             NULL, &argc, &argv, &rc))
    return rc;
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  g_autoptr (pd_quarantine_item_t) q = NULL;
  if ((rc = open_entry (g, "delete", PD_STORE_WRITE, argc, argv, &cfg, &store, &q, NULL)) != 0)
    return rc;
  GError *err = NULL;
  if (!pd_store_quarantine_delete (store, q->id, g_get_user_name (), "quarantine-delete", &err))
    return fail (err);
  g_autofree char *origin = pd_text_line (q->origin != NULL ? q->origin : "unknown origin");
  printf ("quarantine %" G_GINT64_FORMAT " deleted (%s)\n", q->id, origin);
  return 0;
}

/* "30d", "12h" or "2w" in seconds; 0 when 'text' is none of these. */
static gint64
parse_age (const char *text)
{
  gsize n = strlen (text);
  if (n < 2)
    return 0;
  gint64 unit = text[n - 1] == 'h' ? 3600 : text[n - 1] == 'd' ? 86400 : text[n - 1] == 'w' ? 604800 : 0;
  g_autofree char *digits = g_strndup (text, n - 1);
  guint64 count = 0;
  /* A million weeks is far beyond any mail, and keeps the product in range. */
  if (unit == 0 || !g_ascii_isdigit (digits[0])
      || !g_ascii_string_to_unsigned (digits, 10, 1, 1000000, &count, NULL))
    return 0;
  return (gint64) count * unit;
}

static int
quarantine_purge (const pd_global_t *g, int argc, char **argv)
{
  g_autofree char *older = NULL;
  GOptionEntry entries[] = {
    { "older-than", 0, 0, G_OPTION_ARG_STRING, &older,
      "delete entries quarantined more than AGE ago: Nh, Nd or Nw (hours, days, weeks)", "AGE" },
    G_OPTION_ENTRY_NULL,
  };
  int rc;
  if (!pd_cmd_parse_options ("quarantine purge", "--older-than AGE",
                             "Deletes every entry, held or released, quarantined more than AGE ago,\n"
                             "with its raw bytes (unless a stored message has the same bytes). Each\n"
                             "deletion is recorded in the journal.",
                             entries, &argc, &argv, &rc))
    return rc;
  if (argc != 1)
    {
      g_autofree char *shown = pd_text_short (argv[1], 40);
      fprintf (stderr, "postdesk quarantine purge: unexpected argument '%s'\n", shown);
      return 2;
    }
  /* Deleting everything must be asked for: there is no default age. */
  if (older == NULL)
    {
      fprintf (stderr, "postdesk quarantine purge: give --older-than AGE, such as 30d\n");
      return 2;
    }
  gint64 age = parse_age (older);
  if (age == 0)
    {
      g_autofree char *shown = pd_text_short (older, 40);
      fprintf (stderr, "postdesk quarantine purge: --older-than '%s' is not an age such as 12h, 30d or 2w\n",
               shown);
      return 2;
    }
  g_autoptr (pd_config_t) cfg = NULL;
  g_autoptr (pd_store_t) store = NULL;
  if ((rc = pd_cmd_open (g, PD_STORE_WRITE, &cfg, &store)) != 0)
    return rc;
  GError *err = NULL;
  guint removed = 0;
  if (!pd_store_quarantine_purge (store, pd_time_now () - age, g_get_user_name (), &removed, &err))
    return fail (err);
  printf ("removed %u quarantine %s older than %s\n", removed, removed == 1 ? "entry" : "entries", older);
  return 0;
}

int
pd_cmd_quarantine (const pd_global_t *g, int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "list") == 0)
    return quarantine_list (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "show") == 0)
    return quarantine_show (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "retry") == 0)
    return quarantine_retry (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "delete") == 0)
    return quarantine_delete (g, argc - 1, argv + 1);
  if (argc >= 2 && strcmp (argv[1], "purge") == 0)
    return quarantine_purge (g, argc - 1, argv + 1);
  return pd_cmd_unknown_subcommand ("quarantine", argc >= 2 ? argv[1] : NULL,
                                    "Usage: postdesk quarantine list [--json] [--all]\n"
                                    "       postdesk quarantine show [--raw] ID\n"
                                    "       postdesk quarantine retry [--from ADDRESS | --file FILE] ID\n"
                                    "       postdesk quarantine delete ID\n"
                                    "       postdesk quarantine purge --older-than AGE\n");
}
