/* cmd_init.c - postdesk init DIR: a ready working folder. The defaults are
 * compiled into the binary (GResource), so init works the same from the
 * build tree and from an installed copy. */
#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>

#include "postdesk/cmd.h"

/* Writes one resource to 'dest' unless a file is already there: an admin's
 * edited rules are never overwritten. */
static bool
write_resource (const char *resource, const char *dest, int mode, GError **err)
{
  if (g_file_test (dest, G_FILE_TEST_EXISTS))
    {
      printf ("kept existing %s\n", dest);
      return true;
    }
  g_autoptr (GBytes) data = g_resources_lookup_data (resource, G_RESOURCE_LOOKUP_FLAGS_NONE, err);
  if (data == NULL)
    return false;
  gsize len;
  const char *bytes = g_bytes_get_data (data, &len);
  if (!g_file_set_contents_full (dest, bytes, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, mode, err))
    return false;
  return true;
}

static bool
copy_folder (const char *name, const char *dir, GError **err)
{
  g_autofree char *dest_dir = g_build_filename (dir, name, NULL);
  if (g_mkdir_with_parents (dest_dir, 0755) != 0)
    {
      g_set_error (err, PD_ERROR, PD_ERROR_IO, "cannot create %s: %s", dest_dir, g_strerror (errno));
      return false;
    }
  g_autofree char *path = g_strdup_printf ("/postdesk/%s", name);
  g_auto (GStrv) children = g_resources_enumerate_children (path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  for (int i = 0; children != NULL && children[i] != NULL; i++)
    {
      g_autofree char *res = g_strdup_printf ("%s/%s", path, children[i]);
      g_autofree char *dest = g_build_filename (dest_dir, children[i], NULL);
      if (!write_resource (res, dest, 0644, err))
        return false;
    }
  return true;
}

int
pd_cmd_init (const pd_global_t *g, int argc, char **argv)
{
  (void) g;
  int status;
  if (!pd_cmd_parse_options ("init", "DIR",
                             "Writes DIR/postdesk.conf (commented), DIR/rules and DIR/templates\n"
                             "(copies of the defaults) and DIR/var for the database.",
                             NULL, &argc, &argv, &status))
    return status;
  if (argc != 2)
    {
      fprintf (stderr, "postdesk init: give exactly one folder (see 'postdesk init --help')\n");
      return 2;
    }
  const char *dir = argv[1];
  g_autofree char *conf = g_build_filename (dir, "postdesk.conf", NULL);
  if (g_file_test (conf, G_FILE_TEST_EXISTS))
    {
      fprintf (stderr, "postdesk: %s already exists; init never overwrites a configuration\n", conf);
      return 1;
    }
  g_autofree char *var = g_build_filename (dir, "var", NULL);
  GError *err = NULL;
  if (g_mkdir_with_parents (var, 0750) != 0)
    {
      fprintf (stderr, "postdesk: cannot create %s: %s\n", var, g_strerror (errno));
      return 1;
    }
  if (!copy_folder ("rules", dir, &err) || !copy_folder ("templates", dir, &err)
      || !write_resource ("/postdesk/examples/postdesk.conf", conf, 0640, &err))
    {
      int rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  /* The database is created now, so that every command works on the new
   * desk at once, and a command that finds no database later can say the
   * path is wrong. */
  pd_config_t *cfg = NULL;
  pd_store_t *store = NULL;
  if (!pd_config_load (conf, &cfg, &err)
      || !pd_store_open_mode (cfg->database, PD_STORE_CREATE, &store, &err))
    {
      pd_config_free (cfg);
      int rc = pd_cmd_fail (err);
      g_error_free (err);
      return rc;
    }
  pd_store_free (store);
  pd_config_free (cfg);
  printf ("initialised %s\n"
          "next: edit %s, then\n"
          "  postdesk --config %s ingest MAIL...\n"
          "  postdesk --config %s tickets list\n",
          dir, conf, conf, conf);
  return 0;
}
