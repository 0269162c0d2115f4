/* source.h - where raw messages come from: files, Maildir folders, mbox
 * files and standard input (IMAP comes with the mail loop). A source hands
 * over one message at a time and holds at most the size limit of it, so
 * memory stays bounded by the limit however big the mailbox or the message
 * is. */
#ifndef POSTDESK_SOURCE_H
#define POSTDESK_SOURCE_H

#include "postdesk/common.h"

/* The largest limit a caller may pass: SQLite's own limit on one value is
 * 1 GB, and max_message_bytes cannot be set higher than this either. */
#define PD_SOURCE_MAX_BYTES (512 * 1024 * 1024)

/* Of a message over the limit, this much is handed over (the rest is only
 * counted), so that the quarantine keeps its header section and the start
 * of its body: enough to see who wrote and about what. A header section
 * longer than this is over the MIME parser's own cap anyway. */
#define PD_SOURCE_KEEP_BYTES (1024 * 1024)

/* How far into a stream postdesk looks to decide whether it is mail. */
#define PD_SOURCE_SNIFF_BYTES (64 * 1024)

/* Called once per message. 'raw' is borrowed for the call: the whole
 * message, or, when 'true_size' is larger than 'len', only its first 'len'
 * bytes (the message was over the limit). 'true_size' is the size of the
 * whole message: the file's size, or the bytes counted while skipping.
 * 'origin' names where it came from: the file, "FILE#N" for the Nth
 * message of an mbox, or "-" / "-#N" for standard input. 'received' is when
 * the source says the message arrived (a Maildir file's delivery time, an
 * mbox "From " line's date), 0 when it does not know. Return false (with
 * err set) to stop. */
typedef bool (*pd_source_fn) (const char *raw, gsize len, gint64 true_size, const char *origin,
                              pd_time_t received, gpointer user_data, GError **err);

/* Reads 'path', holding at most 'max_bytes' (at most PD_SOURCE_MAX_BYTES)
 * of any one message; a larger message is handed over truncated to its
 * first PD_SOURCE_KEEP_BYTES with its true size.
 *
 * "-" is standard input: an mbox when its first line starts with "From ",
 * else one message; nothing at all is not an error and calls 'fn' never;
 * a stream that does not start like mail (a header line or a "From " line,
 * no NUL byte in the header section) is refused with PD_ERROR_PARSE before
 * more than PD_SOURCE_SNIFF_BYTES are read. A folder with cur/ or new/ is a
 * Maildir (new/ then cur/, in name order); any other folder is read as a
 * folder of message files (in name order, not recursive), where a file
 * that does not look like mail is skipped. A regular file whose first line
 * starts with "From " is an mbox (mboxrd unescaping); any other regular
 * file is one message. Anything else (a device, a FIFO, a socket) is
 * refused with PD_ERROR_IO, unread.
 *
 * A file inside a folder that cannot be read or is skipped is logged with
 * its reason, counted in *skipped and passed over, so one bad file does not
 * hold up a mailbox. Returns false with PD_ERROR_IO when 'path' itself
 * cannot be read, or with the callback's error when it stops. */
bool pd_source_read (const char *path, gsize max_bytes, pd_source_fn fn, gpointer user_data,
                     guint *skipped, GError **err);

#endif
