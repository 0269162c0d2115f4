/* peak-rss.c - runs a command and reports its peak memory and times.
 *
 *   peak-rss CMD ARGS...
 *
 * Prints to stderr "peak-rss: <KB> KB, wall <s> s, user <s> s, sys <s> s"
 * once the command has ended, and exits with the command's own status, so a
 * script can keep the command's stdout apart and still notice a failure.
 * The command's stdin, stdout and stderr are passed through untouched.
 *
 * Peak RSS comes from wait4(), i.e. the kernel's high-water mark of the
 * child (ru_maxrss, in KB of 1024 bytes); unlike sampling /proc it cannot
 * miss a short spike. A command killed by a signal gives exit status
 * 128 + signal number, as the shell reports it; one that cannot be started
 * gives 127 (not found) or 126 (not executable), also like the shell.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
seconds_of (struct timeval tv)
{
  return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static double
now_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: peak-rss CMD ARGS...\n");
      return 2;
    }

  /* Like time(1), leave an interrupt from the terminal to the command: it
   * decides whether to stop, and we still report what it used. */
  struct sigaction ignore, old_int, old_quit;
  memset (&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset (&ignore.sa_mask);
  sigaction (SIGINT, &ignore, &old_int);
  sigaction (SIGQUIT, &ignore, &old_quit);

  double start = now_seconds ();
  pid_t pid = fork ();
  if (pid < 0)
    {
      fprintf (stderr, "peak-rss: fork: %s\n", strerror (errno));
      return 1;
    }
  if (pid == 0)
    {
      sigaction (SIGINT, &old_int, NULL);
      sigaction (SIGQUIT, &old_quit, NULL);
      execvp (argv[1], argv + 1);
      int e = errno;
      fprintf (stderr, "peak-rss: %s: %s\n", argv[1], strerror (e));
      _exit (e == ENOENT ? 127 : 126);
    }

  int status;
  struct rusage ru;
  pid_t r;
  do
    r = wait4 (pid, &status, 0, &ru);
  while (r < 0 && errno == EINTR);
  double wall = now_seconds () - start;
  if (r < 0)
    {
      fprintf (stderr, "peak-rss: wait4: %s\n", strerror (errno));
      return 1;
    }

  fprintf (stderr, "peak-rss: %ld KB, wall %.2f s, user %.2f s, sys %.2f s\n",
           ru.ru_maxrss, wall, seconds_of (ru.ru_utime), seconds_of (ru.ru_stime));
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 1;
}
