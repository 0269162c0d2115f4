/* transport_sendmail.c - url = sendmail:PATH. Each message is piped to
 *   PATH -i -f SENDER -- RECIPIENT...
 * started directly with that argument vector, never through a shell, so no
 * character of an address can become a command; the addresses are checked
 * before (transport.c) and none can start with '-', and "--" ends the
 * options in any case. Exit status 0 means accepted; EX_TEMPFAIL (75), a
 * signal or a timeout means try again later; any other status means the
 * message was refused. What sendmail printed (its first 4 KiB) becomes the
 * reason. */
#include "transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "postdesk/text.h"

/* sysexits.h: "temporary failure, the user is invited to retry". */
#define EX_TEMPFAIL_STATUS 75
/* How much of sendmail's output is kept for the reason; the rest is read
 * and dropped, so a chatty child never blocks on a full pipe. */
#define OUTPUT_KEPT 4096
#define DEFAULT_TIMEOUT_SECONDS 120

typedef struct {
  char *program;       /* owned: absolute path, or relative to the current folder */
  guint timeout_ms;
} sendmail_t;

static void
sendmail_close (void *state)
{
  sendmail_t *s = state;
  g_free (s->program);
  g_free (s);
}

static bool
sendmail_open (pd_transport_t *t, const char *path, const pd_transport_options_t *options,
               GError **err)
{
  sendmail_t *s = g_new0 (sendmail_t, 1);
  t->state = s;
  s->program = g_strdup (path);
  guint seconds = options->timeout_seconds > 0 ? options->timeout_seconds : DEFAULT_TIMEOUT_SECONDS;
  s->timeout_ms = seconds * 1000;
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR) || access (path, X_OK) != 0)
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE,
                   "%s: no such program, or not executable", path);
      return false;
    }
  return true;
}

/* Runs in the child between fork and exec. Its own process group keeps a
 * Ctrl-C or SIGTERM meant for postdesk from killing sendmail halfway
 * through a message (postdesk finishes the message in hand), and lets a
 * timeout kill sendmail together with anything it started. */
static void
child_setup (gpointer unused)
{
  (void) unused;
  setpgid (0, 0);
}

static void
kill_child (GPid pid)
{
  kill (-pid, SIGKILL);
  kill (pid, SIGKILL);
}

static gint64
now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

/* One line for the error message: what sendmail said, made safe to show.
 * (transfer full) */
static char *
said (const GString *output)
{
  g_autofree char *trimmed = g_strstrip (g_strndup (output->str, output->len));
  if (*trimmed == '\0')
    return g_strdup ("");
  g_autofree char *line = pd_text_line (trimmed);
  return g_strconcat (": ", line, NULL);
}

static bool
sendmail_send (pd_transport_t *t, const char *envelope_from, const char *const *recipients,
               const char *message_id, GBytes *raw, GError **err)
{
  (void) message_id;
  sendmail_t *s = t->state;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, s->program);
  g_ptr_array_add (argv, (char *) "-i");
  g_ptr_array_add (argv, (char *) "-f");
  g_ptr_array_add (argv, (char *) envelope_from);
  g_ptr_array_add (argv, (char *) "--");
  for (gsize i = 0; recipients[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) recipients[i]);
  g_ptr_array_add (argv, NULL);

  GPid pid = 0;
  int in_fd = -1, out_fd = -1, err_fd = -1;
  GError *local = NULL;
  if (!g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CLOEXEC_PIPES,
                                         child_setup, NULL, -1, -1, -1, NULL, NULL, 0, &pid,
                                         &in_fd, &out_fd, &err_fd, &local))
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_UNAVAILABLE, "cannot start %s: %s",
                   s->program, local->message);
      g_error_free (local);
      return false;
    }
  fcntl (in_fd, F_SETFL, fcntl (in_fd, F_GETFL) | O_NONBLOCK);

  gsize len = 0;
  const char *data = g_bytes_get_data (raw, &len);
  gsize written = 0;
  bool input_broken = false;
  g_autoptr (GString) output = g_string_new (NULL);
  gint64 deadline = now_ms () + s->timeout_ms;
  bool timed_out = false;
  if (len == 0)
    {
      close (in_fd);
      in_fd = -1;
    }
  /* Writes the message and reads what sendmail prints at the same time:
   * a child that answers before it has read everything must not block us,
   * nor we it. */
  while (in_fd >= 0 || out_fd >= 0 || err_fd >= 0)
    {
      struct pollfd fds[3];
      int n = 0;
      if (in_fd >= 0)
        fds[n++] = (struct pollfd) { .fd = in_fd, .events = POLLOUT };
      if (out_fd >= 0)
        fds[n++] = (struct pollfd) { .fd = out_fd, .events = POLLIN };
      if (err_fd >= 0)
        fds[n++] = (struct pollfd) { .fd = err_fd, .events = POLLIN };
      gint64 left = deadline - now_ms ();
      if (left <= 0)
        {
          timed_out = true;
          break;
        }
      int rc = poll (fds, n, (int) MIN (left, G_MAXINT));
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc < 0)
        break;
      for (int i = 0; i < n; i++)
        {
          if (fds[i].revents == 0)
            continue;
          if (fds[i].fd == in_fd)
            {
              ssize_t w = write (in_fd, data + written, len - written);
              if (w > 0)
                written += (gsize) w;
              else if (w < 0 && errno != EAGAIN && errno != EINTR)
                input_broken = true;  /* EPIPE: it stopped reading */
              if (written == len || input_broken)
                {
                  close (in_fd);
                  in_fd = -1;
                }
              continue;
            }
          char buf[4096];
          ssize_t r = read (fds[i].fd, buf, sizeof buf);
          if (r > 0)
            {
              if (output->len < OUTPUT_KEPT)
                g_string_append_len (output, buf, MIN ((gsize) r, OUTPUT_KEPT - output->len));
              continue;
            }
          if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
          if (fds[i].fd == out_fd)
            {
              close (out_fd);
              out_fd = -1;
            }
          else
            {
              close (err_fd);
              err_fd = -1;
            }
        }
    }
  if (in_fd >= 0)
    close (in_fd);
  if (out_fd >= 0)
    close (out_fd);
  if (err_fd >= 0)
    close (err_fd);

  /* The pipes closed; the child exits now, or is killed, with whatever it
   * started, at the deadline. */
  int status = 0;
  if (timed_out)
    kill_child (pid);
  while (true)
    {
      pid_t r = waitpid (pid, &status, timed_out ? 0 : WNOHANG);
      if (r == pid)
        break;
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY,
                       "lost track of %s: %s", s->program, g_strerror (errno));
          return false;
        }
      if (now_ms () >= deadline)
        {
          timed_out = true;
          kill_child (pid);
          continue;
        }
      g_usleep (10 * 1000);
    }
  g_spawn_close_pid (pid);
  if (timed_out && WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL)
    {
      g_autofree char *text = said (output);
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY,
                   "%s did not finish within %u seconds%s", s->program, s->timeout_ms / 1000, text);
      return false;
    }
  g_autofree char *text = said (output);
  if (WIFSIGNALED (status))
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY, "%s was killed by signal %d%s",
                   s->program, WTERMSIG (status), text);
      return false;
    }
  int code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
  if (code == 0 && (input_broken || written < len))
    {
      g_set_error (err, PD_TRANSPORT_ERROR, PD_TRANSPORT_ERROR_TEMPORARY,
                   "%s exited before reading the whole message%s", s->program, text);
      return false;
    }
  if (code == 0)
    return true;
  g_set_error (err, PD_TRANSPORT_ERROR,
               code == EX_TEMPFAIL_STATUS ? PD_TRANSPORT_ERROR_TEMPORARY : PD_TRANSPORT_ERROR_PERMANENT,
               "%s exited with status %d%s", s->program, code, text);
  return false;
}

const pd_transport_backend_t pd_transport_sendmail = {
  .scheme = "sendmail",
  .open = sendmail_open,
  .send = sendmail_send,
  .close = sendmail_close,
};
