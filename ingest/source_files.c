/* source_files.c - messages from files, Maildir folders, mbox files and
 * standard input. */
#include "postdesk/source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The regular files of a folder in name order, dot files skipped.
 * (transfer full, of char* full paths) */
static GPtrArray *
list_files (const char *dir, GError **err)
{
  GError *local = NULL;
  GDir *d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s", dir, local->message);
      g_error_free (local);
      return NULL;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (name[0] == '.')
        continue;
      char *full = g_build_filename (dir, name, NULL);
      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, full);
      else
        g_free (full);
    }
  g_dir_close (d);
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* Appends the rest of 'f' to 'buf', refusing more than PD_SOURCE_MAX_BYTES
 * in all. It reads straight into the array: a message is copied once, from
 * the kernel, however large. */
static bool
read_whole (FILE *f, const char *name, GByteArray *buf, GError **err)
{
  for (;;)
    {
      guint used = buf->len;
      guint room = MAX (65536u, used);   /* grows geometrically */
      if ((gsize) used + room > PD_SOURCE_MAX_BYTES + 1)
        room = PD_SOURCE_MAX_BYTES + 1 - used;
      g_byte_array_set_size (buf, used + room);
      size_t n = fread (buf->data + used, 1, room, f);
      g_byte_array_set_size (buf, used + (guint) n);
      if (buf->len > PD_SOURCE_MAX_BYTES)
        {
          g_set_error (err, PD_ERROR, PD_ERROR_TOO_BIG,
                       "%s: over %d bytes, too large to keep; left where it is", name,
                       PD_SOURCE_MAX_BYTES);
          return false;
        }
      if (n < room)
        break;
    }
  if (ferror (f))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: read error: %s", name, g_strerror (errno));
      return false;
    }
  return true;
}

/* An mbox, read line by line so that only the current message is held.
 * A message starts at a "From " line at the start of the file or after an
 * empty line; ">From " lines (any number of '>') lose one '>' (mboxrd).
 * The caller has already consumed the first "From " line. */
static bool
read_mbox (FILE *f, const char *name, pd_source_fn fn, gpointer user_data, guint *skipped,
           GError **err)
{
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int count = 1;
  bool prev_empty = false, ok = true;
  bool skipping = false;   /* the current message is too large to keep */

  while (ok && (n = getline (&line, &cap, f)) >= 0)
    {
      if (prev_empty && n >= 5 && strncmp (line, "From ", 5) == 0)
        {
          /* The empty line before "From " separates; it is not content. */
          if (msg->len > 0 && msg->data[msg->len - 1] == '\n')
            g_byte_array_set_size (msg, msg->len - 1);
          if (msg->len > 0 && msg->data[msg->len - 1] == '\r')
            g_byte_array_set_size (msg, msg->len - 1);
          g_autofree char *origin = g_strdup_printf ("%s#%d", name, count);
          if (!skipping)
            ok = fn ((const char *) msg->data, msg->len, origin, user_data, err);
          g_byte_array_set_size (msg, 0);
          count++;
          prev_empty = false;
          skipping = false;
          continue;
        }
      prev_empty = (n == 1 && line[0] == '\n') || (n == 2 && line[0] == '\r' && line[1] == '\n');
      const char *start = line;
      gsize len = (gsize) n;
      const char *p = line;
      while (*p == '>')
        p++;
      if (p > line && strncmp (p, "From ", 5) == 0)
        {
          start++;
          len--;
        }
      if (skipping)
        continue;
      if (msg->len + len > PD_SOURCE_MAX_BYTES)
        {
          /* Only this message is passed over; the rest of the mbox is read. */
          g_warning ("skipped %s#%d: message over %d bytes, too large to keep; left in the mbox", name,
                     count, PD_SOURCE_MAX_BYTES);
          (*skipped)++;
          skipping = true;
          g_byte_array_set_size (msg, 0);
          continue;
        }
      g_byte_array_append (msg, (const guint8 *) start, len);
    }
  if (ok && ferror (f))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: read error: %s", name, g_strerror (errno));
      ok = false;
    }
  if (ok && !skipping)
    {
      g_autofree char *origin = g_strdup_printf ("%s#%d", name, count);
      ok = fn ((const char *) msg->data, msg->len, origin, user_data, err);
    }
  free (line);
  return ok;
}

/* One open stream: an mbox when its first line starts with "From ", else
 * one message. Deciding on the first line works for pipes, which cannot
 * be rewound. */
static bool
read_stream (FILE *f, const char *name, pd_source_fn fn, gpointer user_data, guint *skipped,
             GError **err)
{
  char *first = NULL;
  size_t cap = 0;
  ssize_t n = getline (&first, &cap, f);
  if (n < 0)
    {
      free (first);
      if (ferror (f))
        {
          g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: read error: %s", name, g_strerror (errno));
          return false;
        }
      return fn ("", 0, name, user_data, err);
    }
  if (n >= 5 && strncmp (first, "From ", 5) == 0)
    {
      free (first);
      return read_mbox (f, name, fn, user_data, skipped, err);
    }
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_byte_array_append (buf, (const guint8 *) first, (guint) n);
  free (first);
  if (!read_whole (f, name, buf, err))
    return false;
  return fn ((const char *) buf->data, buf->len, name, user_data, err);
}

static bool
read_file (const char *path, pd_source_fn fn, gpointer user_data, guint *skipped, GError **err)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: %s", path, g_strerror (errno));
      return false;
    }
  bool ok = read_stream (f, path, fn, user_data, skipped, err);
  fclose (f);
  return ok;
}

typedef struct {
  pd_source_fn fn;
  gpointer user_data;
  bool stopped;   /* the callback asked to stop */
} relay_t;

/* Wraps the callback so a folder can tell "the callback stopped" (stop
 * everything) from "this file could not be read" (skip it). */
static bool
relay (const char *raw, gsize len, const char *origin, gpointer data, GError **err)
{
  relay_t *r = data;
  bool ok = r->fn (raw, len, origin, r->user_data, err);
  r->stopped = !ok;
  return ok;
}

static bool
read_folder (const char *dir, pd_source_fn fn, gpointer user_data, guint *skipped, GError **err)
{
  g_autoptr (GPtrArray) files = list_files (dir, err);
  if (files == NULL)
    return false;
  relay_t r = { fn, user_data, false };
  for (guint i = 0; i < files->len; i++)
    {
      GError *local = NULL;
      if (read_file (g_ptr_array_index (files, i), relay, &r, skipped, &local))
        continue;
      if (r.stopped)
        {
          g_propagate_error (err, local);
          return false;
        }
      g_warning ("skipped %s", local->message);
      g_error_free (local);
      (*skipped)++;
    }
  return true;
}

bool
pd_source_read (const char *path, pd_source_fn fn, gpointer user_data, guint *skipped, GError **err)
{
  if (strcmp (path, "-") == 0)
    return read_stream (stdin, "-", fn, user_data, skipped, err);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *cur = g_build_filename (path, "cur", NULL);
      g_autofree char *new_dir = g_build_filename (path, "new", NULL);
      bool maildir = g_file_test (cur, G_FILE_TEST_IS_DIR) || g_file_test (new_dir, G_FILE_TEST_IS_DIR);
      if (!maildir)
        return read_folder (path, fn, user_data, skipped, err);
      /* New mail first, then mail a client has already seen. */
      if (g_file_test (new_dir, G_FILE_TEST_IS_DIR) && !read_folder (new_dir, fn, user_data, skipped, err))
        return false;
      return !g_file_test (cur, G_FILE_TEST_IS_DIR) || read_folder (cur, fn, user_data, skipped, err);
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "%s: no such file or folder", path);
      return false;
    }
  return read_file (path, fn, user_data, skipped, err);
}
