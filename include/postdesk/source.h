/* source.h - where raw messages come from: files, Maildir folders, mbox
 * files and standard input (IMAP comes with the mail loop). A source hands
 * over one message at a time, so memory stays bounded by the largest single
 * message however big the mailbox is. */
#ifndef POSTDESK_SOURCE_H
#define POSTDESK_SOURCE_H

#include "postdesk/common.h"

/* Messages larger than this cannot be kept even in quarantine (SQLite's own
 * limit on one value is 1 GB); the source reports an error naming the file
 * and leaves it where it is. */
#define PD_SOURCE_MAX_BYTES (512 * 1024 * 1024)

/* Called once per message. 'raw' is borrowed for the call. 'origin' names
 * where it came from: the file, "FILE#N" for the Nth message of an mbox, or
 * "-" / "-#N" for standard input. Return false (with err set) to stop. */
typedef bool (*pd_source_fn) (const char *raw, gsize len, const char *origin,
                              gpointer user_data, GError **err);

/* Reads 'path': "-" is standard input; a folder with cur/ or new/ is a
 * Maildir (new/ then cur/, in name order); any other folder is read as a
 * folder of message files (in name order, not recursive); a file whose
 * first line starts with "From " is an mbox (mboxrd unescaping); any other
 * file is one message. A file inside a folder that cannot be read is logged
 * with its reason, counted in *skipped and passed over, so one bad file does
 * not hold up a mailbox. Returns false with PD_ERROR_IO when 'path' itself
 * cannot be read, or with the callback's error when it stops. */
bool pd_source_read (const char *path, pd_source_fn fn, gpointer user_data,
                     guint *skipped, GError **err);

#endif
