/* testutil.h - helpers shared by the GTest unit tests. */
#ifndef POSTDESK_TESTUTIL_H
#define POSTDESK_TESTUTIL_H

#include <glib.h>

/* g_test_init with TAP output (prove reads it) and GMime initialised. */
void pd_test_init (int *argc, char ***argv);

/* A fresh temporary folder, removed with its contents when the test
 * program exits. (borrowed: valid until exit) */
const char *pd_test_tmpdir (void);

/* Absolute path of tests/corpus/NAME in the source tree (transfer full). */
char *pd_test_corpus_path (const char *name);

/* Contents of tests/corpus/NAME; aborts the test when it cannot be read.
 * (transfer full) */
GBytes *pd_test_corpus (const char *name);

#endif
