/* fuzz.h - what every postdesk fuzz target shares. */
#ifndef POSTDESK_FUZZ_H
#define POSTDESK_FUZZ_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A critical is GLib's word for "a caller broke a contract" (a failed
 * g_return_if_fail, a template variable of the wrong kind): for a fuzzer
 * that is a bug like any crash, so it aborts and libFuzzer keeps the
 * input. Warnings and messages are what hostile input is expected to cause
 * (a rule stopped at its match limit) and printing them for every one of
 * millions of inputs would only slow the run, so they are dropped. */
static inline void
pd_fuzz_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) data;
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL))
    {
      fprintf (stderr, "%s-CRITICAL: %s\n", domain != NULL ? domain : "?", message);
      abort ();
    }
}

static inline void
pd_fuzz_init_logs (void)
{
  g_log_set_default_handler (pd_fuzz_log, NULL);
}

#endif
