/* parse-baseline.c - how fast GMime alone parses a Maildir.
 *
 *   parse-baseline DIR
 *
 * This is the yardstick for `postdesk ingest`: it does the work any
 * consumer of the same mail must do and nothing more. Each file of DIR/cur
 * and DIR/new is read, parsed from a memory stream, its parts are walked
 * and the text of its first text part is decoded to UTF-8. There is no
 * SQLite, no storage and no postdesk code, so the ratio of ingest speed to
 * this speed shows what postdesk adds on top of parsing.
 *
 * Files are read one at a time and freed before the next, as an ingest
 * streams them, so memory stays flat however large the corpus is. The clock
 * covers reading as well as parsing, since ingest has to read the files too.
 *
 * Prints "parse-only: N messages in S s: X msg/s, Y MB/s" (1 MB = 1024 KB,
 * as everywhere in the benchmark).
 */
#include <glib.h>
#include <gmime/gmime.h>
#include <stdio.h>

typedef struct {
  guint64 messages;
  guint64 bytes;
  guint64 unparsable;
} totals_t;

/* g_mime_message_foreach callback: decodes the first text part only, as a
 * consumer looking for the readable body does. The walk itself still visits
 * every part, attachments included. */
static void
visit_part (GMimeObject *parent, GMimeObject *part, gpointer user_data)
{
  char **text = user_data;
  (void) parent;
  if (*text == NULL && GMIME_IS_TEXT_PART (part))
    *text = g_mime_text_part_get_text (GMIME_TEXT_PART (part));
}

static gboolean
parse_one (const char *path, totals_t *t)
{
  char *raw;
  gsize len;
  GError *err = NULL;
  if (!g_file_get_contents (path, &raw, &len, &err))
    {
      g_printerr ("parse-baseline: %s\n", err->message);
      g_error_free (err);
      return FALSE;
    }
  t->messages++;
  t->bytes += len;

  /* The stream takes the buffer over instead of copying it: the cheapest
   * way to hand GMime bytes already in memory. */
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (g_byte_array_new_take ((guint8 *) raw, len));
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *msg = g_mime_parser_construct_message (parser, NULL);
  if (msg == NULL)
    t->unparsable++;
  else
    {
      char *text = NULL;
      g_mime_message_foreach (msg, visit_part, &text);
      g_free (text);
      g_object_unref (msg);
    }
  g_object_unref (parser);
  g_object_unref (stream);
  return TRUE;
}

/* Parses every regular entry of DIR/sub; a missing sub-folder counts as an
 * empty one, as Maildir readers treat it. Hidden files are skipped. */
static gboolean
parse_folder (const char *dir, const char *sub, totals_t *t)
{
  char *folder = g_build_filename (dir, sub, NULL);
  GDir *d = g_dir_open (folder, 0, NULL);
  gboolean ok = TRUE;
  if (d != NULL)
    {
      const char *name;
      while (ok && (name = g_dir_read_name (d)) != NULL)
        {
          if (name[0] == '.')
            continue;
          char *path = g_build_filename (folder, name, NULL);
          if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
            ok = parse_one (path, t);
          g_free (path);
        }
      g_dir_close (d);
    }
  g_free (folder);
  return ok;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      g_printerr ("usage: parse-baseline DIR\n");
      return 2;
    }
  const char *dir = argv[1];
  char *cur = g_build_filename (dir, "cur", NULL);
  char *new_dir = g_build_filename (dir, "new", NULL);
  gboolean is_maildir = g_file_test (cur, G_FILE_TEST_IS_DIR)
                        || g_file_test (new_dir, G_FILE_TEST_IS_DIR);
  g_free (cur);
  g_free (new_dir);
  if (!is_maildir)
    {
      g_printerr ("parse-baseline: %s is not a Maildir (no cur/ or new/)\n", dir);
      return 1;
    }

  g_mime_init ();
  totals_t t = { 0 };
  gint64 start = g_get_monotonic_time ();
  gboolean ok = parse_folder (dir, "cur", &t) && parse_folder (dir, "new", &t);
  double seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  g_mime_shutdown ();
  if (!ok)
    return 1;

  /* A corpus too small to time would divide by zero; a microsecond is the
   * clock's resolution anyway. */
  double s = seconds > 1e-6 ? seconds : 1e-6;
  printf ("parse-only: %" G_GUINT64_FORMAT " messages in %.2f s: %.0f msg/s, %.1f MB/s\n",
          t.messages, seconds, (double) t.messages / s,
          (double) t.bytes / (1024.0 * 1024.0) / s);
  if (t.unparsable > 0)
    g_printerr ("parse-baseline: %" G_GUINT64_FORMAT " files were not messages\n", t.unparsable);
  return 0;
}
