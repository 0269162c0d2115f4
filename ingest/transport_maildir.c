/* transport_maildir.c - url = maildir:PATH. Each message becomes one file
 * in PATH/new, written in PATH/tmp first and linked into new/ only when it
 * is complete and synced, so a reader never sees half a message and
 * "accepted" survives a power cut.
 *
 * The file is named after a hash of the message's Message-ID, so that the
 * same outbox row delivered again (postdesk crashed after the file was
 * written but before the row was marked sent) finds its file in new/ or
 * cur/ and adds no second one: delivery into a Maildir is exactly once. */
#include "transport_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  char *dir;   /* owned: the Maildir */
  char *tmp;   /* owned: dir/tmp */
  char *new;   /* owned: dir/new */
  char *cur;   /* owned: dir/cur */
} maildir_t;

static void
maildir_close (void *state)
{
  maildir_t *m = state;
  g_free (m->dir);
  g_free (m->tmp);
  g_free (m->new);
  g_free (m->cur);
  g_free (m);
}

/* A failure of the folder or the disk, not of one message: every message
 * would fail the same way. */
static bool
unavailable (GError **err, int errnum, const char *what, const char *path)
{
  g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE, "cannot %s %s: %s", what,
               path, g_strerror (errnum));
  return false;
}

static bool
maildir_open (pd_transport_t *t, const char *path, const pd_transport_options_t *options,
              GError **err)
{
  (void) options;
  maildir_t *m = g_new0 (maildir_t, 1);
  t->state = m;
  m->dir = g_strdup (path);
  m->tmp = g_build_filename (path, "tmp", NULL);
  m->new = g_build_filename (path, "new", NULL);
  m->cur = g_build_filename (path, "cur", NULL);
  const char *const sub[] = { m->tmp, m->new, m->cur };
  for (gsize i = 0; i < G_N_ELEMENTS (sub); i++)
    if (g_mkdir_with_parents (sub[i], 0700) != 0)
      return unavailable (err, errno, "create the Maildir folder", sub[i]);
  if (access (m->tmp, W_OK | X_OK) != 0)
    return unavailable (err, errno, "write into", m->tmp);
  if (access (m->new, W_OK | X_OK) != 0)
    return unavailable (err, errno, "write into", m->new);
  return true;
}

/* True when the message named 'name' is in new/ or cur/ already. A mail
 * reader moves a file it has seen to cur/ and appends ":2,FLAGS" to its
 * name, so cur/ is searched for the name with any such suffix. */
static bool
already_delivered (maildir_t *m, const char *name, bool *found, GError **err)
{
  *found = false;
  g_autofree char *in_new = g_build_filename (m->new, name, NULL);
  g_autofree char *in_cur = g_build_filename (m->cur, name, NULL);
  struct stat sb;
  if (stat (in_new, &sb) == 0 || stat (in_cur, &sb) == 0)
    {
      *found = true;
      return true;
    }
  DIR *d = opendir (m->cur);
  if (d == NULL)
    return unavailable (err, errno, "read", m->cur);
  gsize len = strlen (name);
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    if (strncmp (e->d_name, name, len) == 0 && e->d_name[len] == ':')
      {
        *found = true;
        break;
      }
  closedir (d);
  return true;
}

static bool
sync_folder (const char *path, GError **err)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return unavailable (err, errno, "open", path);
  if (fsync (fd) != 0)
    {
      int e = errno;
      close (fd);
      return unavailable (err, e, "sync", path);
    }
  close (fd);
  return true;
}

static bool
write_all_synced (const char *path, const char *data, gsize len, GError **err)
{
  /* The tmp/ name is the final name: only one sender delivers a row at a
   * time (the outbox claim and postdesk send's lock), so a file left there
   * by a crash is this very message, and is simply written again. */
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return unavailable (err, errno, "create", path);
  gsize done = 0;
  while (done < len)
    {
      ssize_t n = write (fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          close (fd);
          g_unlink (path);
          return unavailable (err, e, "write", path);
        }
      done += (gsize) n;
    }
  if (fsync (fd) != 0)
    {
      int e = errno;
      close (fd);
      g_unlink (path);
      return unavailable (err, e, "sync", path);
    }
  if (close (fd) != 0)
    {
      int e = errno;
      g_unlink (path);
      return unavailable (err, e, "close", path);
    }
  return true;
}

static bool
maildir_send (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
              const char *message_id, GBytes *raw, GError **err)
{
  (void) envelope_from;
  (void) recipients;
  maildir_t *m = t->state;
  g_autofree char *hash = pd_sha256_hex (message_id, strlen (message_id));
  g_autofree char *name = g_strconcat ("postdesk-", hash, NULL);
  bool found = false;
  if (!already_delivered (m, name, &found, err))
    return false;
  if (found)
    {
      g_debug ("%s: <%s> is in the Maildir already", t->url, message_id);
      return true;
    }
  g_autofree char *tmp_path = g_build_filename (m->tmp, name, NULL);
  g_autofree char *new_path = g_build_filename (m->new, name, NULL);
  gsize len = 0;
  const char *data = g_bytes_get_data (raw, &len);
  if (!write_all_synced (tmp_path, data, len, err))
    return false;
  /* link() never replaces a file, unlike rename(): if the message reached
   * new/ after all, the existing copy stays and this one is dropped. File
   * systems without hard links get a rename, safe because the name was
   * checked just above and no other sender delivers this row. */
  if (link (tmp_path, new_path) != 0)
    {
      int e = errno;
      if (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK)
        {
          if (rename (tmp_path, new_path) != 0)
            return unavailable (err, errno, "move the message into", m->new);
        }
      else if (e != EEXIST)
        {
          g_unlink (tmp_path);
          return unavailable (err, e, "link the message into", m->new);
        }
    }
  if (!sync_folder (m->new, err))
    return false;
  /* A leftover in tmp/ is only clutter (Maildir readers remove old ones),
   * and the next delivery of this row overwrites it. */
  g_unlink (tmp_path);
  return true;
}

const pd_transport_backend_t pd_transport_maildir = {
  .scheme = "maildir",
  .open = maildir_open,
  .send = maildir_send,
  .close = maildir_close,
};
