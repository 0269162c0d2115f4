/* replay.c - runs a fuzz target's code once on each input file, without
 * libFuzzer, so that `make check` (gcc, no clang needed) replays the seed
 * corpus and every input that ever crashed or hung a fuzzer.
 *
 *   fuzz-replay-TARGET FILE-OR-FOLDER...
 *
 * Folders are read recursively, in name order. Each file's path is written
 * to stderr before it runs, so when one crashes (under the sanitizer build,
 * make check SANITIZE=1, with a full report) the last line before the
 * report names the reproducer. Exits 0 after running everything, 2 when an
 * argument cannot be read; a finding aborts the process.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static guint replayed;

static bool
replay_file (const char *path)
{
  char *data = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (path, &data, &len, &err))
    {
      fprintf (stderr, "fuzz-replay: %s\n", err->message);
      g_error_free (err);
      return false;
    }
  fprintf (stderr, "replaying %s\n", path);
  /* libFuzzer hands the target a buffer of exactly the input's size, never
   * NULL even when empty (g_memdup2 would give NULL for that); a copy of
   * that size lets AddressSanitizer catch a read one past it. */
  uint8_t *exact = malloc (len);
  if (exact == NULL && len > 0)
    g_error ("out of memory for %s", path);
  if (len > 0)
    memcpy (exact, data, len);
  LLVMFuzzerTestOneInput (exact, len);
  free (exact);
  g_free (data);
  replayed++;
  return true;
}

/* g_ptr_array_sort hands the comparison pointers to the elements. */
static gint
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static bool
replay_path (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return replay_file (path);
  GError *err = NULL;
  GDir *dir = g_dir_open (path, 0, &err);
  if (dir == NULL)
    {
      fprintf (stderr, "fuzz-replay: %s\n", err->message);
      g_error_free (err);
      return false;
    }
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_dir_close (dir);
  g_ptr_array_sort (names, by_name);
  bool ok = true;
  for (guint i = 0; i < names->len; i++)
    ok = replay_path (names->pdata[i]) && ok;
  g_ptr_array_unref (names);
  return ok;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-FOLDER...\n", argv[0]);
      return 2;
    }
  LLVMFuzzerInitialize (&argc, &argv);
  bool ok = true;
  for (int i = 1; i < argc; i++)
    ok = replay_path (argv[i]) && ok;
  printf ("replayed %u inputs\n", replayed);
  return ok ? 0 : 2;
}
