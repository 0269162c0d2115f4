#include "testutil.h"

#include <glib/gstdio.h>
#include <stdlib.h>

#include "postdesk/mime.h"

static char *tmpdir; /* owned until exit */

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

static void
cleanup (void)
{
  if (tmpdir != NULL && g_getenv ("PD_TEST_KEEP") == NULL)
    remove_tree (tmpdir);
  g_free (tmpdir);
  pd_mime_shutdown ();
}

void
pd_test_init (int *argc, char ***argv)
{
  /* prove reads TAP; GLib 2.74 prints it only when asked. */
  char **args = g_new0 (char *, *argc + 2);
  for (int i = 0; i < *argc; i++)
    args[i] = (*argv)[i];
  args[*argc] = (char *) "--tap";
  *argc += 1;
  *argv = args;   /* intentionally kept for the life of the process */
  g_test_init (argc, argv, NULL);
  pd_mime_init ();
  atexit (cleanup);
}

const char *
pd_test_tmpdir (void)
{
  if (tmpdir == NULL)
    {
      GError *err = NULL;
      tmpdir = g_dir_make_tmp ("postdesk-test-XXXXXX", &err);
      g_assert_no_error (err);
    }
  return tmpdir;
}

char *
pd_test_corpus_path (const char *name)
{
  const char *src = g_getenv ("POSTDESK_SRC");
  if (src == NULL)
    src = ".";
  return g_build_filename (src, "tests", "corpus", name, NULL);
}

GBytes *
pd_test_corpus (const char *name)
{
  g_autofree char *path = pd_test_corpus_path (name);
  char *data = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (path, &data, &len, &err))
    g_error ("cannot read corpus file %s: %s", path, err->message);
  return g_bytes_new_take (data, len);
}
